package poll

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/natstest"
	"keycard/pkg/streams"
	"keycard/pkg/testclock"
)

// t0 is "now" for the pollers under test; the fake's clock is set around it.
var t0 = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

type env struct {
	ns      *natstest.Server
	js      jetstream.JetStream
	hr      *bamboohrtest.Server
	hrClock *testclock.Clock
	client  *bamboohr.Client
}

// newEnv starts NATS (with the streams) and the BambooHR fake. edit, if
// not nil, adjusts the client's config.
func newEnv(t *testing.T, edit func(*bamboohr.Config)) *env {
	t.Helper()
	ns, js := natstest.WithStreams(t)
	c := testclock.New(t0)
	hr := bamboohrtest.New(bamboohrtest.WithClock(c.Now))
	t.Cleanup(hr.Close)
	cfg := hr.Config()
	if edit != nil {
		edit(&cfg)
	}
	client, err := bamboohr.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{ns: ns, js: js, hr: hr, hrClock: c, client: client}
}

// at stamps the fake's next changes with time at.
func (e *env) at(at time.Time) *bamboohrtest.Server {
	e.hrClock.Set(at)
	return e.hr
}

// poller returns a Poller on a fresh registry, reading the fake through hr
// (e.client when nil). cfg.Now defaults to t0 here.
func (e *env) poller(t *testing.T, cfg Config, hr HR, roster Roster) *Poller {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	if hr == nil {
		hr = e.client
	}
	p, err := New(cfg, hr, e.js, roster, zerolog.New(zerolog.NewTestWriter(t)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs p.Run until the test ends, and checks it stops promptly.
func run(t *testing.T, p *Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(3 * time.Second):
				t.Error("Run did not return within 3s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// inbox returns the HR_INBOX messages on subject, oldest first.
func inbox(t *testing.T, js jetstream.JetStream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streams.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := max(info.State.FirstSeq, 1); seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// stored reads a time from the state bucket; ok is false when absent.
func stored(t *testing.T, js jetstream.JetStream, key string) (time.Time, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, key)
	if err == jetstream.ErrKeyNotFound {
		return time.Time{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		t.Fatal(err)
	}
	return at, true
}

func wantStored(t *testing.T, js jetstream.JetStream, key string, want time.Time) {
	t.Helper()
	got, ok := stored(t, js, key)
	if !ok || !got.Equal(want) {
		t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
	}
}

// seen is what one recheck message says.
type seen struct {
	subject, msgID, eventID, kind, occurredAt string
	employee                                  string
	action                                    webhook.Action
	timestamp                                 time.Time
}

// decode reads a recheck message the way the normalizer does.
func decode(t *testing.T, m *jetstream.RawStreamMsg) seen {
	t.Helper()
	d, err := webhook.Decode(m.Data)
	if err != nil {
		t.Fatalf("webhook.Decode(%s): %v", m.Data, err)
	}
	if d.Style != webhook.StyleFields || len(d.Changes) != 1 {
		t.Fatalf("decoded %+v, want one field-style change", d)
	}
	c := d.Changes[0]
	return seen{
		subject: m.Subject, msgID: m.Header.Get(jetstream.MsgIDHeader), eventID: m.Header.Get("Keycard-Event-Id"),
		kind: m.Header.Get("Keycard-Kind"), occurredAt: m.Header.Get("Keycard-Occurred-At"),
		employee: c.EmployeeID, action: c.Action, timestamp: c.Timestamp,
	}
}

func count(c prometheus.Collector) int { return int(testutil.ToFloat64(c)) }

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// driver replaces Config.After so a test decides when each loop wakes:
// every wait the loop asks for is sent on waits, and the loop wakes when
// the test calls release.
type driver struct {
	waits chan time.Duration
	ticks chan time.Time
}

func newDriver() *driver {
	return &driver{waits: make(chan time.Duration, 64), ticks: make(chan time.Time)}
}

func (d *driver) After(dur time.Duration) <-chan time.Time {
	d.waits <- dur
	return d.ticks
}

// next returns the wait the loop asked for after its latest round.
func (d *driver) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case w := <-d.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not finish a round within 10s")
		return 0
	}
}

// release wakes the waiting loop.
func (d *driver) release(t *testing.T) {
	t.Helper()
	select {
	case d.ticks <- time.Now():
	case <-time.After(10 * time.Second):
		t.Fatal("the loop is not waiting")
	}
}

// hookHR calls after once, right after the first Changed call returns.
type hookHR struct {
	HR
	mu    sync.Mutex
	after func()
}

func (h *hookHR) Changed(ctx context.Context, since time.Time) (bamboohr.Changes, error) {
	ch, err := h.HR.Changed(ctx, since)
	h.mu.Lock()
	f := h.after
	h.after = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return ch, err
}

// roster is a fixed Roster.
type roster struct {
	ids []string
	err error
}

func (r roster) ActiveIDs(context.Context) ([]string, error) { return r.ids, r.err }

func ids(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}
