package main

import (
	"errors"
	"io"
	"net"
	"net/url"
	"testing"
	"time"
)

// KEYCARD_HTTP_READ_HEADER_TIMEOUT reaches the single binary's webhook
// listener: a client that never finishes its headers is cut at it.
func TestWebhookListenerHeaderTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	t.Setenv("KEYCARD_HTTP_READ_HEADER_TIMEOUT", timeout.String())
	in := start(t, t.TempDir())
	defer in.stop(t)
	u, err := url.Parse(in.webhookURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	if _, err := io.WriteString(conn, "POST "+u.Path+" HTTP/1.1\r\nHost: keycard\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	took := time.Since(began)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("the listener kept a half-sent request open for %s", took)
	}
	if took < timeout-100*time.Millisecond || took > timeout+time.Second {
		t.Fatalf("cut after %s; want about %s", took, timeout)
	}
}
