// Package natstest starts a real, embedded NATS server with JetStream on a
// random loopback port for tests, and can stop and restart it on the same
// port and store to exercise outages.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/natsembed"
	"keycard/pkg/streams"
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

// WithStreams starts a server, defines Keycard's streams on it with
// default options (as every service does at start) and returns a client:
// what most tests of a consumer or publisher begin with.
func WithStreams(t testing.TB) (*Server, jetstream.JetStream) {
	t.Helper()
	s := Start(t)
	_, js := s.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatal(err)
	}
	return s, js
}

// Messages returns every message stored in stream, in order (deleted ones,
// such as purged schedules, are skipped).
func Messages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
