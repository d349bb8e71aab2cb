package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/connectors"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/policy"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

const key = "e2e-key-not-real"

// logTail collects run's log lines so the test can learn the addresses it
// chose (every address is port 0) and read what it logged.
type logTail struct {
	mu    sync.Mutex
	lines []map[string]any // the JSON ones, decoded
	raw   []string         // every line as written
	pw    *io.PipeWriter
}

func newLogTail() *logTail {
	pr, pw := io.Pipe()
	l := &logTail{pw: pw}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 16<<20) // a long line must not stop the scan (and block run's writes)
		for sc.Scan() {
			var m map[string]any
			ok := json.Unmarshal(sc.Bytes(), &m) == nil
			l.mu.Lock()
			l.raw = append(l.raw, sc.Text())
			if ok {
				l.lines = append(l.lines, m)
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *logTail) Write(p []byte) (int, error) { return l.pw.Write(p) }

// rawLines returns a copy of every line logged so far.
func (l *logTail) rawLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.raw)
}

// field waits for a log line with message msg and returns its field f.
func (l *logTail) field(t *testing.T, msg, f string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, m := range l.lines {
			if m["message"] == msg {
				if v, ok := m[f].(string); ok {
					l.mu.Unlock()
					return v
				}
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line %q with field %q", msg, f)
	return ""
}

type instance struct {
	webhookURL, opsURL, natsURL string
	key                         string // the webhook key
	logs                        *logTail
	cancel                      context.CancelFunc
	done                        chan error
}

// start runs the single binary in-process with dataDir; it is not
// parallel-safe (t.Setenv), which is why these tests are sequential.
func start(t *testing.T, dataDir string) *instance {
	t.Helper()
	return startKeyed(t, dataDir, key)
}

// startKeyed is start with webhookKey as the webhook key.
func startKeyed(t *testing.T, dataDir, webhookKey string) *instance {
	t.Helper()
	t.Setenv("BAMBOOHR_WEBHOOK_KEY", webhookKey)
	t.Setenv("KEYCARD_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("KEYCARD_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("KEYCARD_NATS_LISTEN", "127.0.0.1:0")
	t.Setenv("KEYCARD_DATA_DIR", dataDir)
	logs := newLogTail()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{key: webhookKey, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, logs) }()
	in.webhookURL = logs.field(t, "accepting BambooHR webhooks", "url")
	in.opsURL = logs.field(t, "serving /metrics, /healthz, /readyz", "url")
	in.natsURL = logs.field(t, "embedded NATS JetStream ready", "nats")
	return in
}

// startWithConfig writes yaml as KEYCARD_CONFIG and starts the binary on
// a fresh data directory; the test stops it.
func startWithConfig(t *testing.T, yaml string) *instance {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYCARD_CONFIG", file)
	return start(t, t.TempDir())
}

// send posts a signed webhook of type typ for employee id, now, and
// fails unless it is accepted.
func (in *instance) send(t *testing.T, typ, id string) {
	t.Helper()
	body := fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":{"companyId":"1","employeeId":%q}}`, typ, time.Now().UTC().Format(time.RFC3339Nano), id)
	if code, resp := postSigned(t, in.webhookURL, in.key, []byte(body)); code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, resp)
	}
}

func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	return postSigned(t, url, key, body)
}

// postSigned posts body signed with webhookKey.
func postSigned(t *testing.T, url, webhookKey string, body []byte) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(webhookKey), body, ts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func inbox(t *testing.T, natsURL string) []*jetstream.RawStreamMsg {
	t.Helper()
	return streamMsgs(t, natsURL, streams.Inbox)
}

func streamMsgs(t *testing.T, natsURL, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	var msgs []*jetstream.RawStreamMsg
	withJS(t, natsURL, func(js jetstream.JetStream) { msgs = natstest.Messages(t, js, stream) })
	return msgs
}

// withJS runs fn on a connection of its own to natsURL.
func withJS(t *testing.T, natsURL string, fn func(jetstream.JetStream)) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	fn(js)
}

func TestSingleBinaryEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	in := start(t, dataDir)

	if code, body := get(t, in.opsURL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	hire := []byte(`{"type":"employee.created","timestamp":"2026-11-25T09:00:00+0000","data":{"companyId":"1","employeeId":"1001"}}`)
	leaver := []byte(`{"employees":[{"action":"Updated","changedFields":["Status"],"fields":{"Status":"Inactive"},"id":"1002","timestamp":"2026-11-25T09:01:00+0000"}]}`)
	for _, b := range [][]byte{hire, leaver, hire} {
		if code, body := post(t, in.webhookURL, b); code != http.StatusAccepted {
			t.Fatalf("POST = %d %s", code, body)
		}
	}
	if code, body := post(t, in.webhookURL, []byte(`{"nope":1}`)); code != http.StatusBadRequest {
		t.Fatalf("bad shape = %d %s", code, body)
	}
	msgs := inbox(t, in.natsURL)
	if len(msgs) != 2 || !bytes.Equal(msgs[0].Data, hire) || !bytes.Equal(msgs[1].Data, leaver) {
		t.Fatalf("HR_INBOX holds %d messages, want the hire and the leaver once each", len(msgs))
	}
	_, metrics := get(t, in.opsURL+"/metrics")
	for _, want := range []string{
		`keycard_ingester_requests_total{outcome="accepted"} 2`,
		`keycard_ingester_requests_total{outcome="duplicate"} 1`,
		`keycard_ingester_requests_total{outcome="bad_request"} 1`,
		`keycard_ingester_publish_duration_seconds_count 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, key) {
		t.Error("/metrics contains the webhook key")
	}
	in.stop(t)

	// The file store survives a restart: nothing accepted is lost, and the
	// dedup window still knows the hire.
	in = start(t, dataDir)
	defer in.stop(t)
	if code, body := post(t, in.webhookURL, hire); code != http.StatusAccepted || !strings.Contains(body, `"duplicate":true`) {
		t.Fatalf("hire after restart = %d %s, want 202 duplicate", code, body)
	}
	if n := len(inbox(t, in.natsURL)); n != 2 {
		t.Fatalf("after restart HR_INBOX holds %d messages, want 2", n)
	}
}

// With a BambooHR tenant configured, a signed hire webhook becomes one
// canonical event in HR_EVENTS, and a termination a second one.
func TestSingleBinaryNormalizes(t *testing.T) {
	fake := bamboohrtest.New()
	defer fake.Close()
	fake.Put(bamboohrtest.Employee{ID: "1001", FirstName: "Grace", LastName: "Hopper", WorkEmail: "grace@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", HireDate: "2024-03-01"})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	const example = "../../deployments/keycard.example.yaml"
	cfg, err := policy.Load(example, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYCARD_CONFIG", example)
	in := start(t, t.TempDir())
	defer in.stop(t)

	hire := []byte(`{"type":"employee.created","timestamp":"2026-11-25T09:00:00+0000","data":{"companyId":"1","employeeId":"1001"}}`)
	if code, body := post(t, in.webhookURL, hire); code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, body)
	}
	if kinds := waitKinds(t, in.natsURL, 1); !slices.Equal(kinds, []string{"hired"}) {
		t.Fatalf("HR_EVENTS kinds = %v, want [hired]", kinds)
	}
	// The leave comes once every app has applied the hire, as it would days
	// later (had it come at once, the hire would be skipped as stale).
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && len(streamMsgs(t, in.natsURL, streams.Audit)) < len(cfg.Apps); {
		time.Sleep(50 * time.Millisecond)
	}
	fake.Update("1001", func(e *bamboohrtest.Employee) { e.Status, e.TerminationDate = "Inactive", "2026-11-20" })
	leave := []byte(`{"type":"employee.updated","timestamp":"2026-11-25T10:00:00+0000","data":{"companyId":"1","employeeId":"1001","changedFields":["status"]}}`)
	if code, body := post(t, in.webhookURL, leave); code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, body)
	}
	if kinds := waitKinds(t, in.natsURL, 2); !slices.Equal(kinds, []string{"hired", "terminated"}) {
		t.Fatalf("HR_EVENTS kinds = %v, want [hired terminated]", kinds)
	}
	// Every app of the example config planned the hire and the leave
	// (dry-run: no credentials), each recorded once in AUDIT.
	var got []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		for _, m := range streamMsgs(t, in.natsURL, streams.Audit) {
			var r worker.Record
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s:%s:%s:%s", r.App, r.Kind, r.Outcome, r.Mode))
		}
		if len(got) >= 2*len(cfg.Apps) {
			break
		}
	}
	slices.Sort(got)
	var want []string
	for _, a := range cfg.Apps {
		outcome := "applied"
		if a.Name == "pipedrive" {
			outcome = "noop" // pipedrive is for Sales people only: nothing to do for this one
		}
		want = append(want, a.Name+":hired:"+outcome+":dry-run", a.Name+":terminated:"+outcome+":dry-run")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("AUDIT = %v, want %v", got, want)
	}
}

// waitKinds waits until HR_EVENTS holds n events, validating each against
// the schema, and returns their kinds.
func waitKinds(t *testing.T, natsURL string, n int) []string {
	t.Helper()
	var kinds []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		kinds = kinds[:0]
		for _, m := range streamMsgs(t, natsURL, streams.Events) {
			if err := event.Validate(m.Data); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
			kinds = append(kinds, m.Header.Get(event.HeaderKind))
		}
		if len(kinds) >= n {
			break
		}
	}
	return kinds
}

func TestRefusesToStartWithoutKey(t *testing.T) {
	t.Setenv("BAMBOOHR_WEBHOOK_KEY", "")
	t.Setenv("KEYCARD_INSECURE_SKIP_VERIFY", "false")
	t.Setenv("KEYCARD_DATA_DIR", t.TempDir())
	var out bytes.Buffer
	err := run(context.Background(), &out)
	if err == nil || !strings.Contains(err.Error(), "BAMBOOHR_WEBHOOK_KEY is not set") {
		t.Fatalf("run = %v, want a clear refusal", err)
	}
}

func TestRejectsBadSettings(t *testing.T) {
	for _, tt := range []struct{ env, val, want string }{
		{"KEYCARD_NATS_SYNC", "sometimes", "KEYCARD_NATS_SYNC"},
		{"KEYCARD_WEBHOOK_MAX_AGE", "7h", "exceeds the HR_INBOX dedup window"},
		{"KEYCARD_LOG_LEVEL", "loud", "log level"},
		{"KEYCARD_MAX_BODY_BYTES", "lots", "KEYCARD_MAX_BODY_BYTES"},
		{"KEYCARD_HTTP_READ_TIMEOUT", "-1s", "KEYCARD_HTTP_READ_TIMEOUT must not be negative"},
		{"KEYCARD_HTTP_WRITE_TIMEOUT", "1s", "KEYCARD_HTTP_WRITE_TIMEOUT (1s) must exceed KEYCARD_PUBLISH_TIMEOUT (2s)"},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("BAMBOOHR_WEBHOOK_KEY", key)
			t.Setenv("KEYCARD_DATA_DIR", t.TempDir())
			t.Setenv("KEYCARD_NATS_LISTEN", "")
			t.Setenv(tt.env, tt.val)
			err := run(context.Background(), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// make demo: the fake tenant's first sweep flows through the normalizer to
// every app of the example policy, without a single webhook.
func TestDemo(t *testing.T) {
	t.Setenv("KEYCARD_DEMO", "true")
	const example = "../../deployments/keycard.example.yaml"
	cfg, err := policy.Load(example, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYCARD_CONFIG", example)
	in := start(t, t.TempDir())
	defer in.stop(t)
	kinds := map[string]string{}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && len(kinds) < 4; time.Sleep(50 * time.Millisecond) {
		for _, m := range streamMsgs(t, in.natsURL, streams.Events) {
			var ev event.Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			kinds[ev.Employee.ID] = string(ev.Kind)
		}
	}
	want := map[string]string{"1001": "hired", "1002": "hired", "1003": "hired", "1004": "terminated"}
	if !maps.Equal(kinds, want) {
		t.Fatalf("demo events = %v, want %v (1005 starts next week)", kinds, want)
	}
	var audits int
	wantAudits := len(want) * len(cfg.Apps)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && audits < wantAudits; time.Sleep(50 * time.Millisecond) {
		audits = len(streamMsgs(t, in.natsURL, streams.Audit))
	}
	if audits != wantAudits {
		t.Fatalf("%d audit records, want %d people × %d apps", audits, len(want), len(cfg.Apps))
	}
}

func TestDemoRefusedWithRealTenant(t *testing.T) {
	t.Setenv("KEYCARD_DEMO", "true")
	t.Setenv("BAMBOOHR_API_KEY", "real-key")
	t.Setenv("BAMBOOHR_COMPANY", "acme")
	t.Setenv("BAMBOOHR_WEBHOOK_KEY", key)
	t.Setenv("KEYCARD_NATS_LISTEN", "")
	t.Setenv("KEYCARD_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("KEYCARD_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("KEYCARD_DATA_DIR", t.TempDir())
	err := run(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_DEMO cannot be combined") {
		t.Fatalf("run = %v, want a refusal", err)
	}
}

// The single binary's instance id is its data directory's: the same after
// a restart, another for another directory.
func TestInstanceIDKeptInDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := instanceID(dir)
	if err != nil || first == "" {
		t.Fatalf("instanceID = %q, %v", first, err)
	}
	again, err := instanceID(dir)
	if err != nil || again != first {
		t.Fatalf("after a restart instanceID = %q, %v; want %q", again, err, first)
	}
	if other, err := instanceID(t.TempDir()); err != nil || other == first {
		t.Fatalf("another data directory's instanceID = %q, %v; want a different one", other, err)
	}
}
