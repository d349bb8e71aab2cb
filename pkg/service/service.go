// Package service is the start-up and shutdown every Keycard process
// shares: environment, logger, NATS connection, streams, metrics registry,
// the ops endpoints, and running the process's parts until a signal.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/logging"
	"keycard/pkg/opshttp"
	"keycard/pkg/streams"
)

// Main is a service command's main: it runs run until SIGINT or SIGTERM
// (then run's parts stop and it returns) and exits 1 with "name: error"
// on stderr when run fails. run reads its own environment, so that each
// command's envconfig.Process call says what it reads.
func Main(name string, run func(ctx context.Context, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Base is the environment every process reads; README.md lists it.
type Base struct {
	MetricsAddr     string        `envconfig:"KEYCARD_METRICS_ADDR" default:":9090"`
	NATSURL         string        `envconfig:"NATS_URL"`
	StreamReplicas  int           `envconfig:"KEYCARD_STREAM_REPLICAS" default:"1"`
	InboxDuplicates time.Duration `envconfig:"KEYCARD_INBOX_DEDUP_WINDOW" default:"6h"`
	LogLevel        string        `envconfig:"KEYCARD_LOG_LEVEL" default:"info"`
	LogFormat       string        `envconfig:"KEYCARD_LOG_FORMAT" default:"json"`
}

// Connector opens the NATS connection and returns the function that closes
// it (and, for the embedded server, the server too).
type Connector func(log zerolog.Logger) (*nats.Conn, func(), error)

// External connects to Base.NATSURL; standalone services use it.
func External(b Base, name string) Connector {
	return func(log zerolog.Logger) (*nats.Conn, func(), error) {
		if b.NATSURL == "" {
			return nil, nil, errors.New("NATS_URL is not set")
		}
		// Publishes made while disconnected fail at once instead of being
		// buffered: a caller that answers "accepted" only after a PubAck
		// must learn about the outage now, not find its message flushed
		// minutes later.
		nc, err := nats.Connect(b.NATSURL,
			nats.Name(name),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(time.Second),
			nats.ReconnectBufSize(-1),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn().Err(err).Msg("NATS disconnected") }),
			nats.ReconnectHandler(func(c *nats.Conn) {
				log.Info().Str("server", c.ConnectedUrlRedacted()).Msg("NATS reconnected")
			}),
		)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to NATS: %w", err)
		}
		log.Info().Str("nats", nc.ConnectedUrlRedacted()).Msg("connected to NATS")
		return nc, nc.Close, nil
	}
}

// Runtime is what a process's parts are built from.
type Runtime struct {
	Log      zerolog.Logger
	JS       jetstream.JetStream
	Registry *prometheus.Registry
	base     Base
	close    func()
}

// Setup builds the logger, connects, and creates or updates the streams.
// The caller must Close the runtime (Run does it).
func Setup(ctx context.Context, b Base, name string, stdout io.Writer, connect Connector) (*Runtime, error) {
	log, err := logging.New(stdout, b.LogLevel, b.LogFormat)
	if err != nil {
		return nil, err
	}
	log = log.With().Str("service", name).Logger()
	nc, closeNATS, err := connect(log)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		closeNATS()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := streams.Ensure(sctx, js, b.StreamOptions()); err != nil {
		closeNATS()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Runtime{Log: log, JS: js, Registry: reg, base: b, close: closeNATS}, nil
}

// StreamOptions are the stream settings Base implies.
func (b Base) StreamOptions() streams.Options {
	return streams.Options{Replicas: b.StreamReplicas, InboxDuplicates: b.InboxDuplicates}
}

// Part is one long-running piece of a process; it returns when ctx is done.
type Part func(ctx context.Context) error

// Run serves /metrics, /healthz and /readyz and runs every part until ctx
// is done or one fails, then closes NATS. Parts stop first, so in-flight
// work finishes before the connection goes.
func (rt *Runtime) Run(ctx context.Context, parts ...Part) error {
	defer rt.close()
	ln, srv, err := opshttp.Listen(rt.base.MetricsAddr, opshttp.Handler(rt.Registry, map[string]opshttp.ReadyCheck{
		"jetstream": streams.Ready(rt.JS),
	}), opshttp.Timeouts{})
	if err != nil {
		return err
	}
	rt.Log.Info().Str("url", "http://"+ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return opshttp.Serve(gctx, srv, ln, 5*time.Second) })
	for _, p := range parts {
		g.Go(func() error { return p(gctx) })
	}
	return g.Wait()
}
