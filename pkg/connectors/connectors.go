// Package connectors is the one list of the app types Keycard runs: the
// policy loader checks a file against it, the worker builds each app's
// connector from it, and provctl probes with it. A new connector is one
// line here.
package connectors

import (
	"keycard/pkg/connector/registry"
	"keycard/pkg/discord"
	"keycard/pkg/github"
	"keycard/pkg/google"
	"keycard/pkg/scim"
)

// noConnector is why the types below github are simulated.
const noConnector = "no connector yet: runs dry-run in memory"

// Registry returns every app type, one line each.
func Registry() *registry.Registry {
	return registry.New(
		scim.Factory{},
		google.Factory{},
		github.Factory{},
		registry.Simulated{Name: "gitlab", Keys: []string{"org"}, Why: noConnector},
		discord.Factory{},
		registry.Simulated{Name: "pipedrive", Why: noConnector},
		registry.Simulated{Name: registry.TypeDryRun, Why: "dryrun type: plans only, in memory"},
	)
}
