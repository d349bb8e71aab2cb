// Command ingester is Keycard's public webhook endpoint as a separate
// deployable, for a scaled-out installation against an external NATS
// cluster. The single binary (services/keycard) serves the same handler.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/logging"
	"keycard/pkg/natsconn"
	"keycard/pkg/opshttp"
	"keycard/pkg/streams"
	"keycard/services/ingester/ingest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ingester:", err)
		os.Exit(1)
	}
}

// run reads the process environment (envconfig has no injectable lookup).
func run(ctx context.Context, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	if err := cfg.Settings.Validate(cfg.InboxDuplicates); err != nil {
		return err
	}
	log, err := logging.New(stdout, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	log = log.With().Str("service", "ingester").Logger()
	if cfg.Settings.InsecureSkipVerify {
		log.Warn().Msg("KEYCARD_INSECURE_SKIP_VERIFY is set: webhook signatures are NOT checked")
	}

	nc, err := natsconn.Connect(cfg.NATSURL, "keycard-ingester", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = streams.Ensure(sctx, js, streams.Options{Replicas: cfg.StreamReplicas, InboxDuplicates: cfg.InboxDuplicates})
	cancel()
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := ingest.New(cfg.Settings, js, log, reg, time.Now)
	ln, srv, err := ingest.Listen(cfg.HTTPAddr, h)
	if err != nil {
		return err
	}
	opsLn, opsSrv, err := opshttp.Listen(cfg.MetricsAddr, opshttp.Handler(reg, map[string]opshttp.ReadyCheck{
		"jetstream": streams.Ready(js),
	}))
	if err != nil {
		ln.Close()
		return err
	}
	log.Info().Str("url", "http://"+opsLn.Addr().String()).Msg("serving /metrics, /healthz, /readyz")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ingest.Serve(gctx, ln, srv, cfg.Settings, log) })
	g.Go(func() error { return opshttp.Serve(gctx, opsSrv, opsLn, 5*time.Second) })
	return g.Wait() // the deferred Close runs after every in-flight publish finished
}
