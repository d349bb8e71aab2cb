// Command normalizer turns raw deliveries in HR_INBOX into canonical
// lifecycle events in HR_EVENTS, as a separate deployable against an
// external NATS. The single binary (services/keycard) runs the same code.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kelseyhightower/envconfig"

	"keycard/pkg/normalize"
	"keycard/pkg/service"
)

func main() { service.Main("normalizer", run) }

// run reads the process environment (envconfig has no injectable lookup);
// Main stops it on a signal.
func run(ctx context.Context, stdout io.Writer) error {
	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	if !cfg.Configured() {
		return fmt.Errorf("BAMBOOHR_API_KEY and BAMBOOHR_COMPANY (or BAMBOOHR_API_URL) must be set")
	}
	rt, err := service.Setup(ctx, cfg.Base, "normalizer", stdout, service.External(cfg.Base, "keycard-normalizer"))
	if err != nil {
		return err
	}
	return rt.Run(ctx, func(ctx context.Context) error {
		return normalize.Serve(ctx, rt.JS, cfg.Settings, cfg.StreamReplicas, rt.Log, rt.Registry)
	})
}
