package normalize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/streams"
	"keycard/pkg/testclock"
)

type harness struct {
	nats  *natstest.Server
	js    jetstream.JetStream
	fake  *bamboohrtest.Server
	api   *panicky
	n     *Normalizer
	clock *testclock.Clock
	reg   *prometheus.Registry
}

// newHarness runs a normalizer against a real embedded NATS and the fake
// BambooHR, with retries scaled down to milliseconds.
func newHarness(t *testing.T, edit func(*Options, *bamboohr.Config)) *harness {
	t.Helper()
	// The clock runs with real time from wherever a test sets it, so a
	// test can stand just before midnight of an effective date and let
	// the real schedule fire.
	h := &harness{fake: bamboohrtest.New(), clock: testclock.Running(time.Now()), reg: prometheus.NewRegistry()}
	t.Cleanup(h.fake.Close)
	h.nats, h.js = natstest.WithStreams(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := h.fake.Config()
	cfg.MaxAttempts, cfg.InitialBackoff, cfg.MaxBackoff, cfg.Timeout = 2, 5*time.Millisecond, 20*time.Millisecond, 300*time.Millisecond
	cfg.MaxRetryAfter = 50 * time.Millisecond
	cfg.ContractEndField, cfg.TimeZoneField = "contractEndDate", "timeZone"
	opts := Options{Now: h.clock.Now, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxDeliver: 8, Concurrency: 4,
		AckWait: 2 * time.Second, PullExpiry: 2 * time.Second}
	if edit != nil {
		edit(&opts, &cfg)
	}
	api, err := bamboohr.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.api = &panicky{Fetcher: api}
	h.n, err = New(ctx, h.js, h.api, opts, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), h.reg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// panicky is the BambooHR client with a switch that makes the
// normalizer's handler panic on one person, as a bug in it would.
type panicky struct {
	Fetcher
	on sync.Map // employee id → true
}

func (p *panicky) Employee(ctx context.Context, id string) (bamboohr.Employee, error) {
	if _, ok := p.on.Load(id); ok {
		panic("bug while fetching " + id)
	}
	return p.Fetcher.Employee(ctx, id)
}

// deliver stores a raw delivery in HR_INBOX the way the ingester does.
func (h *harness) deliver(t *testing.T, body string) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	msg := nats.NewMsg(streams.InboxSubject("bamboohr"))
	msg.Data = []byte(body)
	msg.Header.Set(jetstream.MsgIDHeader, "bamboohr:"+hex.EncodeToString(sum[:]))
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) deliverEvent(t *testing.T, typ, id string) {
	t.Helper()
	h.deliver(t, `{"type":"`+typ+`","timestamp":"`+time.Now().UTC().Format(time.RFC3339Nano)+`","data":{"companyId":"1","employeeId":"`+id+`"}}`)
}

// drain waits until both consumers have nothing pending or in flight.
func (h *harness) drain(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		idle := true
		for _, c := range []struct{ stream, name string }{{streams.Inbox, InboxConsumer}, {streams.Sched, DueConsumer}} {
			cons, err := h.js.Consumer(ctx, c.stream, c.name)
			if err != nil {
				idle = false
				break
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				idle = false
			}
		}
		if idle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	var state []string
	for _, c := range []struct{ stream, name string }{{streams.Inbox, InboxConsumer}, {streams.Sched, DueConsumer}} {
		if cons, err := h.js.Consumer(ctx, c.stream, c.name); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				state = append(state, fmt.Sprintf("%s: pending %d, ack pending %d, redelivered %d, waiting %d",
					c.name, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting))
			}
		}
	}
	t.Fatalf("normalizer did not drain within 15s: %v", state)
}

// events returns every event in HR_EVENTS, each validated against the
// JSON Schema.
func (h *harness) events(t *testing.T) []event.Event {
	t.Helper()
	return readAll(t, h.js, streams.Events, func(data []byte) event.Event {
		if err := event.Validate(data); err != nil {
			t.Fatalf("event violates the schema: %v\n%s", err, data)
		}
		var ev event.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	})
}

func readAll[T any](t *testing.T, js jetstream.JetStream, stream string, decode func([]byte) T) []T {
	t.Helper()
	var out []T
	for _, m := range natstest.Messages(t, js, stream) {
		out = append(out, decode(m.Data))
	}
	return out
}

// schedule returns the live schedule for an employee, if any.
func (h *harness) schedule(t *testing.T, id string) (due, bool) {
	t.Helper()
	s, err := h.js.Stream(context.Background(), streams.Sched)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), scheduleSubject(event.EmployeeKey(id)))
	if err != nil {
		return due{}, false
	}
	var d due
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d, true
}
