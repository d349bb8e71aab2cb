// Package natsembed runs a NATS server with JetStream inside the process,
// for the single binary and for tests.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// Options configure the embedded server.
type Options struct {
	Name     string // server name; stable across restarts of one store
	StoreDir string // JetStream file store
	// Listen is a host:port for external clients (provctl, the nats CLI,
	// separate services). Empty means in-process connections only; port 0
	// picks a free port.
	Listen string
	// SyncAlways fsyncs every write before the PubAck. Without it the file
	// store syncs every SyncInterval (the server's default is 2 minutes), so a
	// power loss or kernel crash can lose acknowledged messages.
	SyncAlways   bool
	SyncInterval time.Duration
}

// Start starts the server and waits until it accepts connections. The
// caller owns the server and must call Shutdown and WaitForShutdown.
func Start(o Options, log zerolog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   o.Name,
		JetStream:    true,
		StoreDir:     o.StoreDir,
		NoSigs:       true, // otherwise SIGINT/SIGTERM call os.Exit
		SyncAlways:   o.SyncAlways,
		SyncInterval: o.SyncInterval,
		DontListen:   o.Listen == "",
	}
	if o.Listen != "" {
		host, port, err := splitListen(o.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS: %w", err)
	}
	ns.SetLoggerV2(logAdapter{log.With().Str("component", "nats-server").Logger()}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready within 30s")
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, errors.New("embedded NATS started without JetStream (is the store directory writable?)")
	}
	return ns, nil
}

// splitListen parses host:port; port 0 means "any free port", which the
// server spells -1 (its 0 means the default 4222).
func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("NATS listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("NATS listen address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// logAdapter sends the server's log lines to zerolog.
type logAdapter struct{ log zerolog.Logger }

func (l logAdapter) Noticef(f string, v ...any) { l.log.Info().Msgf(f, v...) }
func (l logAdapter) Warnf(f string, v ...any)   { l.log.Warn().Msgf(f, v...) }
func (l logAdapter) Fatalf(f string, v ...any)  { l.log.Error().Msgf(f, v...) }
func (l logAdapter) Errorf(f string, v ...any)  { l.log.Error().Msgf(f, v...) }
func (l logAdapter) Debugf(f string, v ...any)  { l.log.Debug().Msgf(f, v...) }
func (l logAdapter) Tracef(f string, v ...any)  { l.log.Trace().Msgf(f, v...) }
