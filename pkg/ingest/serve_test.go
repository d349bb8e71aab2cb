package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/natstest"
	"keycard/pkg/opshttp"
)

// startListener serves the webhook listener as Start builds it, on a
// loopback port, until the test ends; it returns the listener's address.
func startListener(t *testing.T, s Settings) string {
	t.Helper()
	_, js := natstest.WithStreams(t)
	var logs bytes.Buffer
	serve, err := Start("127.0.0.1:0", s, js, zerolog.New(zerolog.SyncWriter(&logs)), prometheus.NewRegistry(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var line struct{ URL string }
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &line); err != nil || line.URL == "" {
		t.Fatalf("no URL logged: %v %q", err, logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return strings.TrimSuffix(strings.TrimPrefix(line.URL, "http://"), Path)
}

// cutAfter opens a connection to addr, writes head at once and then one
// byte of dribble a second (in another goroutine), and returns how long
// the server took to close the connection, with what it answered.
func cutAfter(t *testing.T, addr, head, dribble string) <-chan cut {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	began := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i = (i + 1) % len(dribble) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(conn, dribble[i:i+1]); err != nil {
				return
			}
		}
	}()
	out := make(chan cut, 1)
	go func() {
		defer close(stop)
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a server that never cuts fails, not hangs
		answer, err := io.ReadAll(conn)
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			err = nil // EOF, or a reset: the server closed it
		}
		out <- cut{after: time.Since(began), answer: string(answer), err: err}
	}()
	return out
}

type cut struct {
	after  time.Duration
	answer string
	err    error // non-nil: the server did not close the connection
}

// A client that sends its headers and then dribbles its body a byte a
// second is cut off at the read timeout; one that never finishes its
// headers, at the header timeout; and neither holds up a delivery sent
// meanwhile.
func TestSlowClientsAreCut(t *testing.T) {
	s := testSettings()
	s.PublishTimeout = 500 * time.Millisecond
	s.Timeouts = opshttp.Timeouts{ReadHeader: time.Second, Read: 1500 * time.Millisecond, Write: 3 * time.Second, Idle: 5 * time.Second}
	addr := startListener(t, s)

	slowBody := cutAfter(t, addr, "POST "+Path+" HTTP/1.1\r\nHost: keycard\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", `"type":`)
	slowloris := cutAfter(t, addr, "POST "+Path+" HTTP/1.1\r\nHost: keycard\r\n", "X-Never-Ends: yes")

	time.Sleep(200 * time.Millisecond)
	body := []byte(`{"type":"employee.created","timestamp":"2026-12-04T09:00:00Z","data":{"companyId":"1","employeeId":"2001"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+Path, bytes.NewReader(body))
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(testKey), body, ts))
	sent := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(sent)
	if resp.StatusCode != http.StatusAccepted || took > 500*time.Millisecond {
		t.Fatalf("a delivery beside the slow clients = %d after %s; want 202 at once", resp.StatusCode, took)
	}
	t.Logf("a delivery beside the slow clients: 202 in %s", took.Round(time.Millisecond))

	for _, c := range []struct {
		name    string
		got     <-chan cut
		timeout time.Duration
	}{
		{"a body dribbled 1 byte/s", slowBody, s.Read},
		{"headers never finished", slowloris, s.ReadHeader},
	} {
		got := <-c.got
		if got.err != nil {
			t.Errorf("%s: the read ended with %v after %s; want the server to close the connection", c.name, got.err, got.after)
			continue
		}
		if got.after < c.timeout-100*time.Millisecond || got.after > c.timeout+time.Second {
			t.Errorf("%s: cut after %s; want about %s", c.name, got.after, c.timeout)
		}
		t.Logf("%s: cut after %s (timeout %s), answer %q", c.name, got.after.Round(time.Millisecond), c.timeout, firstLine(got.answer))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
