package workers

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/policy"
)

// ServeReloading is Serve that loads KEYCARD_CONFIG again on each value
// from reload (SIGHUP, see Reloads). A file that loads replaces the
// running workers: they stop taking events, let those in flight finish,
// and start again on the new policy, whose change then reaches everyone
// (see convergence). A file that does not load is logged with its file,
// line and field, and the running policy stays.
func ServeReloading(ctx context.Context, js jetstream.JetStream, cfg *policy.Config, s Settings, replicas int, log zerolog.Logger,
	reg prometheus.Registerer, reload <-chan os.Signal) error {
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- Serve(runCtx, js, cfg, s, replicas, log, reg) }()
		var next *policy.Config
		for next == nil {
			select {
			case err := <-done:
				stop()
				return err
			case <-reload:
				loaded, err := LoadPolicy(s)
				if err != nil {
					log.Error().Err(err).Msg("reload: the file does not load; the running policy stays")
					continue
				}
				next = loaded
			}
		}
		log.Info().Str("file", next.File).Msg("reload: restarting the workers on the new policy")
		stop()
		if err := <-done; err != nil {
			return err
		}
		cfg = next
	}
}

// Reloads is the channel ServeReloading reloads on: SIGHUP.
func Reloads() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c
}
