// Package connectors is the one list of the app types Keycard runs: the
// policy loader checks a file against it, the worker builds each app's
// connector from it, and provctl probes with it. A new connector is one
// line here.
package connectors

import (
	"keycard/pkg/connector/registry"
	"keycard/pkg/discord"
	"keycard/pkg/github"
	"keycard/pkg/gitlab"
	"keycard/pkg/google"
	"keycard/pkg/pipedrive"
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
		gitlab.Factory{},
		discord.Factory{},
		pipedrive.Factory{},
		registry.Simulated{Name: registry.TypeDryRun, Why: "dryrun type: plans only, in memory"},
		registry.Retired{Name: "invision", Why: "InVision shut down at the end of 2024 (the vendor's announcement); " +
			"Freehand boards can be imported into Miro. Remove the app, or grant its people a miro app: README.md, section Retired applications"},
	)
}
