// Command ingester is Keycard's public webhook endpoint as a separate
// deployable, for a scaled-out installation against an external NATS
// cluster. The single binary (services/keycard) serves the same handler.
package main

import (
	"context"
	"io"
	"time"

	"github.com/kelseyhightower/envconfig"

	"keycard/pkg/ingest"
	"keycard/pkg/service"
)

func main() { service.Main("ingester", run) }

// run reads the process environment (envconfig has no injectable lookup);
// Main stops it on a signal.
func run(ctx context.Context, stdout io.Writer) error {
	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	if err := cfg.Settings.Validate(cfg.InboxDuplicates); err != nil {
		return err
	}
	rt, err := service.Setup(ctx, cfg.Base, "ingester", stdout, service.External(cfg.Base, "keycard-ingester"))
	if err != nil {
		return err
	}
	serve, err := ingest.Start(cfg.HTTPAddr, cfg.Settings, rt.JS, rt.Log, rt.Registry, time.Now)
	if err != nil {
		return err
	}
	return rt.Run(ctx, serve)
}
