// Command keycard is the whole of Keycard in one process: an embedded NATS
// JetStream server with its file store under KEYCARD_DATA_DIR and the
// webhook ingester (later issues add the normalizer and workers). It is
// what `make run` starts.
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
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/logging"
	"keycard/pkg/natsconn"
	"keycard/pkg/natsembed"
	"keycard/pkg/opshttp"
	"keycard/pkg/streams"
	"keycard/services/ingester/ingest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "keycard:", err)
		os.Exit(1)
	}
}

// run reads the process environment (envconfig has no injectable lookup)
// and returns when ctx is cancelled or a signal arrives.
func run(ctx context.Context, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	if err := cfg.Validate(cfg.InboxDuplicates); err != nil {
		return err
	}
	log, err := logging.New(stdout, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	if cfg.InsecureSkipVerify {
		log.Warn().Msg("KEYCARD_INSECURE_SKIP_VERIFY is set: webhook signatures are NOT checked")
	}

	nc, shutdownNATS, err := connect(cfg, log)
	if err != nil {
		return err
	}
	defer shutdownNATS()
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
	h := ingest.New(cfg.Settings, js, log.With().Str("component", "ingester").Logger(), reg, time.Now)
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
	err = g.Wait()
	log.Info().Err(err).Msg("keycard stopped")
	return err
}

// connect returns a connection to NATS_URL or, by default, to a server
// embedded in this process, and the function that closes both in order.
func connect(cfg config, log zerolog.Logger) (*nats.Conn, func(), error) {
	if cfg.NATSURL != "" {
		nc, err := natsconn.Connect(cfg.NATSURL, "keycard", log)
		if err != nil {
			return nil, nil, err
		}
		log.Info().Str("nats", nc.ConnectedUrlRedacted()).Msg("using external NATS")
		return nc, nc.Close, nil
	}
	always, interval, err := cfg.syncMode()
	if err != nil {
		return nil, nil, err
	}
	storeDir := cfg.DataDir // the server adds its own jetstream/ below it
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	ns, err := natsembed.Start(natsembed.Options{
		Name: "keycard", StoreDir: storeDir, Listen: cfg.NATSListen, SyncAlways: always, SyncInterval: interval,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("keycard"))
	if err != nil {
		shutdownServer(ns)
		return nil, nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	ev := log.Info().Str("store", storeDir).Str("sync", cfg.NATSSync)
	if cfg.NATSListen != "" {
		ev = ev.Str("nats", ns.ClientURL())
	}
	ev.Msg("embedded NATS JetStream ready")
	return nc, func() { nc.Close(); shutdownServer(ns) }, nil
}

func shutdownServer(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}
