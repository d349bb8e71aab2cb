package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/natstest"
	"keycard/pkg/streams"
)

const testKey = "test-private-key-not-real"

// now is the clock of the reference's vectors B and C (2026-11-25T18:00Z).
var now = time.Unix(1795629600, 0)

func testSettings() Settings {
	return Settings{WebhookKey: testKey, MaxBodyBytes: 1 << 20, MaxAge: 3 * time.Hour, MaxFuture: 5 * time.Minute,
		PublishTimeout: 2 * time.Second, MaxInFlight: 16, RetryAfter: 30 * time.Second}
}

type env struct {
	url  string
	js   jetstream.JetStream
	nats *natstest.Server
	h    *Handler
}

func newEnv(t *testing.T, s Settings) *env {
	t.Helper()
	ns, js := natstest.WithStreams(t)
	h := New(s, js, zerolog.Nop(), prometheus.NewRegistry(), func() time.Time { return now })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, js: js, nats: ns, h: h}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bamboohr", "webhook", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) post(t *testing.T, body []byte, ts, sig string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(webhook.HeaderTimestamp, ts)
	}
	if sig != "" {
		req.Header.Set(webhook.HeaderSignature, sig)
	}
	return do(t, req)
}

func (e *env) postSigned(t *testing.T, body []byte, ts string) response {
	t.Helper()
	return e.post(t, body, ts, webhook.Sign([]byte(testKey), body, ts))
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// stored returns every message in HR_INBOX.
func (e *env) stored(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	return natstest.Messages(t, e.js, streams.Inbox)
}

func TestAcceptsBothStyles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	for _, name := range []string{"vector-b.json", "vector-c.json"} {
		body := fixture(t, name)
		r := e.post(t, body, "1795629600", map[string]string{
			"vector-b.json": "7b2bbe1536577ab343a57ad2a9054539105bc45271e1653eb53da3f8abdb0cd5",
			"vector-c.json": "d3425aec85f546cf935e41689a0b567a6ca6217e31bcd100f5093baf17ce5c58",
		}[name])
		if r.status != http.StatusAccepted || r.body["duplicate"] != false {
			t.Fatalf("%s: got %d %s, want 202 not duplicate", name, r.status, r.raw)
		}
	}
	msgs := e.stored(t)
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "hr.inbox.bamboohr" || !bytes.Equal(m.Data, fixture(t, "vector-b.json")) {
		t.Fatalf("stored %s %q, want the raw body on hr.inbox.bamboohr", m.Subject, m.Data)
	}
	for h, want := range map[string]string{
		"Keycard-Kind":        "employee.updated",
		"Keycard-Occurred-At": "2026-11-25T18:00:00Z",
		"Keycard-Received-At": "2026-11-25T18:00:00Z",
	} {
		if got := m.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "bamboohr:") || m.Header.Get("Keycard-Event-Id") != id {
		t.Errorf("ids: Nats-Msg-Id %q, Keycard-Event-Id %q", id, m.Header.Get("Keycard-Event-Id"))
	}
	if tp := m.Header.Get("traceparent"); !validTraceparent.MatchString(tp) {
		t.Errorf("traceparent %q is not W3C", tp)
	}
	if got := msgs[1].Header.Get("Keycard-Kind"); got != "employee_with_fields" {
		t.Errorf("batch kind %q", got)
	}
}

func TestDuplicateStoredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	body := fixture(t, "vector-c.json")
	first := e.postSigned(t, body, "1795629600")
	// BambooHR's retry 5 minutes later, re-signed with a new timestamp.
	retry := e.postSigned(t, body, "1795629900")
	same := e.postSigned(t, body, "1795629600")
	for i, r := range []response{first, retry, same} {
		if r.status != http.StatusAccepted {
			t.Fatalf("post %d: %d %s", i, r.status, r.raw)
		}
	}
	if first.body["duplicate"] != false || retry.body["duplicate"] != true || same.body["duplicate"] != true {
		t.Fatalf("duplicate flags: %v %v %v", first.body["duplicate"], retry.body["duplicate"], same.body["duplicate"])
	}
	if first.body["id"] != retry.body["id"] {
		t.Fatalf("ids differ: %v vs %v", first.body["id"], retry.body["id"])
	}
	if n := len(e.stored(t)); n != 1 {
		t.Fatalf("stored %d messages, want 1", n)
	}
	if got := testutil.ToFloat64(e.h.metrics.requests.WithLabelValues(outcomeDuplicate)); got != 2 {
		t.Fatalf("duplicate counter = %v, want 2", got)
	}
}

func TestRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.MaxBodyBytes = 4096
	e := newEnv(t, s)
	good := fixture(t, "vector-b.json")
	goodSig := webhook.Sign([]byte(testKey), good, "1795629600")
	big := append([]byte(`{"employees":[{"id":"1","fields":{"x":"`), bytes.Repeat([]byte("a"), 5000)...)
	big = append(big, []byte(`"}}]}`)...)
	tests := []struct {
		name     string
		method   string
		body     []byte
		ts, sig  string
		chunked  bool
		status   int
		wantText string
	}{
		{name: "missing signature", body: good, ts: "1795629600", status: 401, wantText: "missing X-BambooHR-Signature"},
		{name: "missing timestamp", body: good, sig: goodSig, status: 401, wantText: "missing X-BambooHR-Timestamp"},
		{name: "wrong signature", body: good, ts: "1795629600", sig: "18999da95113e7dab923631c39c619bbcd3962e7fefc196b74bd22acda88d289", status: 401, wantText: "does not match"},
		{name: "tampered body", body: append(bytes.Clone(good[:len(good)-1]), ' ', '}'), ts: "1795629600", sig: goodSig, status: 401, wantText: "does not match"},
		{name: "stale timestamp", body: good, ts: "1795618000", sig: webhook.Sign([]byte(testKey), good, "1795618000"), status: 401, wantText: "outside the accepted window"},
		{name: "body over cap", body: big, ts: "1795629600", sig: webhook.Sign([]byte(testKey), big, "1795629600"), status: 413, wantText: "exceeds 4096 bytes"},
		{name: "body over cap, chunked", body: big, ts: "1795629600", sig: webhook.Sign([]byte(testKey), big, "1795629600"), chunked: true, status: 413, wantText: "exceeds"},
		{name: "not JSON", body: []byte("hello"), ts: "1795629600", sig: webhook.Sign([]byte(testKey), []byte("hello"), "1795629600"), status: 400, wantText: "malformed"},
		{name: "wrong shape", body: []byte(`{"type":"company.updated"}`), ts: "1795629600", sig: webhook.Sign([]byte(testKey), []byte(`{"type":"company.updated"}`), "1795629600"), status: 400, wantText: "unsupported event type"},
		{name: "GET", method: http.MethodGet, status: 405, wantText: "only POST"},
		{name: "PUT", method: http.MethodPut, body: good, ts: "1795629600", sig: goodSig, status: 405, wantText: "only POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(method, e.url+Path, body)
			if tt.ts != "" {
				req.Header.Set(webhook.HeaderTimestamp, tt.ts)
			}
			if tt.sig != "" {
				req.Header.Set(webhook.HeaderSignature, tt.sig)
			}
			r := do(t, req)
			if r.status != tt.status || !strings.Contains(r.raw, tt.wantText) {
				t.Fatalf("got %d %s, want %d mentioning %q", r.status, r.raw, tt.status, tt.wantText)
			}
			if strings.Contains(r.raw, testKey) || (tt.sig != "" && strings.Contains(r.raw, tt.sig)) {
				t.Fatalf("error body echoes a secret: %s", r.raw)
			}
			if tt.status == 405 && r.header.Get("Allow") != "POST" {
				t.Fatalf("Allow = %q", r.header.Get("Allow"))
			}
		})
	}
	if n := len(e.stored(t)); n != 0 {
		t.Fatalf("bad input stored %d messages", n)
	}
}

func TestNATSDownThenBack(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.PublishTimeout = 300 * time.Millisecond
	e := newEnv(t, s)
	hire := []byte(`{"type":"employee.created","timestamp":"2026-11-25T17:59:00Z","data":{"companyId":"1","employeeId":"501"}}`)

	e.nats.Stop()
	r := e.postSigned(t, hire, "1795629600")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "30" {
		t.Fatalf("with NATS down: %d Retry-After=%q %s, want 503 with Retry-After 30", r.status, r.header.Get("Retry-After"), r.raw)
	}

	e.nats.Restart(t)
	// BambooHR retries the same body 5 minutes later; the client reconnects
	// on its own, so retry until the connection is back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = e.postSigned(t, hire, "1795629900")
		if r.status == http.StatusAccepted || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.status != http.StatusAccepted {
		t.Fatalf("after restart: %d %s", r.status, r.raw)
	}
	msgs := e.stored(t)
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, hire) {
		t.Fatalf("stored %d messages after the outage, want exactly the hire once", len(msgs))
	}
}

// blockingPublisher holds every publish until released; it stands in for a
// slow JetStream to exercise the in-flight bound.
type blockingPublisher struct {
	release chan struct{}
	started chan struct{}
}

func (b blockingPublisher) PublishMsg(ctx context.Context, _ *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return &jetstream.PubAck{Stream: streams.Inbox, Sequence: 1}, nil
	case <-ctx.Done():
		return nil, errors.New("timeout")
	}
}

func TestBoundsInFlight(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.MaxInFlight = 2
	pub := blockingPublisher{release: make(chan struct{}), started: make(chan struct{}, 2)}
	srv := httptest.NewServer(New(s, pub, zerolog.Nop(), prometheus.NewRegistry(), func() time.Time { return now }))
	defer srv.Close()
	e := &env{url: srv.URL}

	var wg sync.WaitGroup
	results := make([]response, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(`{"type":"employee.created","data":{"employeeId":"` + strconv.Itoa(i) + `"}}`)
			results[i] = e.postSigned(t, body, "1795629600")
		}()
	}
	<-pub.started
	<-pub.started
	third := e.postSigned(t, fixture(t, "vector-b.json"), "1795629600")
	if third.status != http.StatusServiceUnavailable || third.header.Get("Retry-After") == "" {
		t.Fatalf("third concurrent delivery: %d %s, want 503 with Retry-After", third.status, third.raw)
	}
	close(pub.release)
	wg.Wait()
	for i, r := range results {
		if r.status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d %s", i, r.status, r.raw)
		}
	}
}
