// Package natstest starts a real, embedded NATS server with JetStream on a
// random loopback port for tests, and can stop and restart it on the same
// port and store to exercise outages.
package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/natsembed"
)

// Server is a running test server.
type Server struct {
	URL  string
	opts natsembed.Options
	ns   *server.Server
}

// Start starts a server that is shut down when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{opts: natsembed.Options{Name: "test", StoreDir: t.TempDir(), Listen: "127.0.0.1:0"}}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	ns, err := natsembed.Start(s.opts, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s.ns = ns
	port := ns.Addr().(*net.TCPAddr).Port
	s.opts.Listen = fmt.Sprintf("127.0.0.1:%d", port) // a restart reuses it
	s.URL = ns.ClientURL()
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop() {
	if s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.ns = nil
}

// Restart starts the server again on the same port with the same store.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Connect returns a JetStream client, closed when the test ends. The
// connection reconnects forever so it survives Restart.
func (s *Server) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
