// Command worker runs the per-application workers of a configuration
// against an external NATS (KEYCARD_WORKER_APPS picks some apps, so each
// app can be its own deployment). The single binary runs the same code.
package main

import (
	"context"
	"io"

	"github.com/kelseyhightower/envconfig"

	"keycard/pkg/service"
	"keycard/pkg/workers"
)

func main() { service.Main("worker", run) }

// run reads the process environment (envconfig has no injectable lookup);
// Main stops it on a signal.
func run(ctx context.Context, stdout io.Writer) error {
	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	pol, err := workers.LoadPolicy(cfg.Settings)
	if err != nil {
		return err
	}
	rt, err := service.Setup(ctx, cfg.Base, "worker", stdout, service.External(cfg.Base, "keycard-worker"))
	if err != nil {
		return err
	}
	return rt.Run(ctx, func(ctx context.Context) error {
		return workers.ServeReloading(ctx, rt.JS, pol, cfg.Settings, cfg.StreamReplicas, rt.Log, rt.Registry, workers.Reloads())
	})
}
