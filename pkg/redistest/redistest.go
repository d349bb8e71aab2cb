// Package redistest starts a real, throwaway redis-server for a test: no
// persistence, its own free loopback port, killed when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fallback is where Debian's redis-server package puts the binary.
const fallback = "/usr/bin/redis-server"

// startTimeout bounds how long one server may take to answer PING.
const startTimeout = 10 * time.Second

// Start runs redis-server on a free 127.0.0.1 port and returns its URL
// ("redis://127.0.0.1:PORT"), for redis.ParseURL. The server is killed
// when the test ends. A missing binary fails the test: tests never skip.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL
}

// Server is a running redis-server a test can stop and start again on
// the same port (an outage), with what it held lost: no persistence.
type Server struct {
	URL  string
	bin  string
	port int
	stop func()
}

// StartServer is Start returning the server, for Stop and Restart.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat(fallback); serr != nil {
			t.Fatal("redis-server not installed: run `make test` (it installs it) or apt-get install redis-server")
		}
		bin = fallback
	}
	// Another process can take the port between picking and binding it;
	// pick again a few times before giving up.
	var errs []error
	for range 3 {
		port, err := freePort()
		if err == nil {
			s := &Server{bin: bin, port: port}
			if err = s.start(t); err == nil {
				return s
			}
		}
		errs = append(errs, err)
	}
	t.Fatalf("start redis-server: %v", errors.Join(errs...))
	return nil
}

// Stop kills the server (SIGKILL: an outage, not a shutdown).
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Restart starts the server again on its port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(t); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start(t testing.TB) error {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", t.TempDir(),
		"--logfile", "",
	)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(startTimeout)
	for {
		if ping(addr) == nil {
			s.URL, s.stop = "redis://"+addr, stop
			t.Cleanup(s.Stop)
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, out.String())
		}
	}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends PING in RESP and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line) // e.g. -LOADING
	}
	return nil
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
