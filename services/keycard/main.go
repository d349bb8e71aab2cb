// Command keycard is the whole of Keycard in one process: an embedded NATS
// JetStream server with its file store under KEYCARD_DATA_DIR (or an
// external NATS_URL), the webhook ingester, the normalizer and a worker for
// every app in KEYCARD_CONFIG. It is what `make run` starts.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"keycard/pkg/ingest"
	"keycard/pkg/natsembed"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/service"
	"keycard/pkg/workers"
)

func main() { service.Main("keycard", run) }

// run reads the process environment (envconfig has no injectable lookup)
// and returns when ctx is cancelled (Main cancels it on a signal).
func run(ctx context.Context, stdout io.Writer) error {

	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	if err := cfg.Validate(cfg.InboxDuplicates); err != nil {
		return err
	}
	var pol *policy.Config
	if cfg.ConfigFile != "" {
		var err error
		if pol, err = workers.LoadPolicy(cfg.WorkerSettings); err != nil {
			return err
		}
	}
	connect := service.External(cfg.Base, "keycard")
	if cfg.NATSURL == "" {
		connect = embedded(cfg)
	}
	rt, err := service.Setup(ctx, cfg.Base, "keycard", stdout, connect)
	if err != nil {
		return err
	}
	serveWebhooks, err := ingest.Start(cfg.HTTPAddr, cfg.IngestSettings, rt.JS, rt.Log.With().Str("component", "ingester").Logger(), rt.Registry, time.Now)
	if err != nil {
		return err
	}
	parts := []service.Part{serveWebhooks}
	if cfg.Demo {
		stopDemo, err := startDemo(&cfg, rt.Log)
		if err != nil {
			return err
		}
		defer stopDemo()
	}
	if cfg.Configured() {
		parts = append(parts, func(ctx context.Context) error {
			return normalize.Serve(ctx, rt.JS, cfg.NormalizerSettings, cfg.StreamReplicas, rt.Log.With().Str("component", "normalizer").Logger(), rt.Registry)
		})
	} else {
		rt.Log.Warn().Msg("BambooHR API not configured (BAMBOOHR_API_KEY, BAMBOOHR_COMPANY): " +
			"deliveries are stored in HR_INBOX and normalized once it is")
	}
	if pol != nil && cfg.InstanceID == "" && cfg.NATSURL == "" {
		// The ledger lives in this data directory, so the directory is the
		// instance: a restart on it takes its own leases over at once.
		if cfg.InstanceID, err = instanceID(cfg.DataDir); err != nil {
			return err
		}
	}
	if pol != nil {
		parts = append(parts, func(ctx context.Context) error {
			return workers.ServeReloading(ctx, rt.JS, pol, cfg.WorkerSettings, cfg.StreamReplicas, rt.Log.With().Str("component", "worker").Logger(), rt.Registry, workers.Reloads())
		})
	} else {
		rt.Log.Warn().Msg("KEYCARD_CONFIG not set: no app workers run (make run uses deployments/keycard.example.yaml)")
	}
	err = rt.Run(ctx, parts...)
	rt.Log.Info().Err(err).Msg("keycard stopped")
	return err
}

// instanceID reads the instance id kept in dataDir, creating it on first
// use. A random id rather than host + path: a data directory moved to
// another machine carries its ledger, and so its leases, with it.
func instanceID(dataDir string) (string, error) {
	file := filepath.Join(dataDir, "instance-id")
	if b, err := os.ReadFile(file); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	id := "keycard-" + rand.Text()
	if err := os.WriteFile(file, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	return id, nil
}

// embedded starts a NATS server inside this process and connects to it.
func embedded(cfg config) service.Connector {
	return func(log zerolog.Logger) (*nats.Conn, func(), error) {
		always, interval, err := cfg.syncMode()
		if err != nil {
			return nil, nil, err
		}
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("data directory: %w", err)
		}
		ns, err := natsembed.Start(natsembed.Options{
			// The server keeps its streams in DataDir/jetstream.
			Name: "keycard", StoreDir: cfg.DataDir, Listen: cfg.NATSListen, SyncAlways: always, SyncInterval: interval,
		}, log)
		if err != nil {
			return nil, nil, err
		}
		nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("keycard"))
		if err != nil {
			shutdownServer(ns)
			return nil, nil, fmt.Errorf("connect to embedded NATS: %w", err)
		}
		ev := log.Info().Str("store", cfg.DataDir).Str("sync", cfg.NATSSync)
		if cfg.NATSListen != "" {
			ev = ev.Str("nats", ns.ClientURL())
		}
		ev.Msg("embedded NATS JetStream ready")
		return nc, func() { nc.Close(); shutdownServer(ns) }, nil
	}
}

func shutdownServer(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}
