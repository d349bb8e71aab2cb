package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/circuit"
	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/fault"
)

// failing is the app with a switch: while fail holds an error every Find
// returns it (the first call of every plan); refuse holds errors for one
// person (by employee id).
type failing struct {
	*connector.Memory
	fail   atomic.Pointer[error]
	refuse sync.Map
	finds  atomic.Int32
}

func (f *failing) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	f.finds.Add(1)
	if err := f.fail.Load(); err != nil {
		return nil, *err
	}
	if err, ok := f.refuse.Load(p.EmployeeID); ok {
		return nil, err.(error)
	}
	return f.Memory.Find(ctx, p)
}

func (f *failing) set(err error) {
	if err == nil {
		f.fail.Store(nil)
		return
	}
	f.fail.Store(&err)
}

// pausedHarness runs a worker over a failing app with a circuit that
// trips after 3 failures of any reason and probes every 50ms with the
// app's own switch.
func pausedHarness(t *testing.T) (*harness, *failing, *circuit.Breaker) {
	t.Helper()
	js := newStreams(t)
	kv, err := circuit.OpenBucket(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	app := &failing{Memory: connector.NewMemory()}
	br, err := circuit.New(t.Context(), kv, circuit.Config{App: "slack", Trip: map[circuit.Reason]int{circuit.Outage: 3},
		ProbeEvery: 50 * time.Millisecond, ProbeMax: 100 * time.Millisecond,
		Probe: func(context.Context, circuit.Reason) error {
			if err := app.fail.Load(); err != nil {
				return *err
			}
			return nil
		}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { br.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h := startHarness(t, js, func(c *Config) { c.Connector, c.Circuit, c.MaxDeliver = app, br, 3 })
	h.app = app.Memory
	return h, app, br
}

// Issue 12: an app whose token is revoked pauses after 3 refusals instead
// of dead-lettering every event; its consumers stop pulling; once a probe
// succeeds every event is applied exactly once. The events that failed
// were delivered more often than MaxDeliver (3) allows and still were not
// dead-lettered.
func TestRevokedTokenPausesNotDeadLetters(t *testing.T) {
	t.Parallel()
	h, app, br := pausedHarness(t)
	app.set(fault.Auth(fault.Permanent(errors.New("scim: GET /Users: 401 Unauthorized (token rejected)"))))
	const people = 20
	for i := range people {
		id := fmt.Sprint(100 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "h"+id)
	}
	waitFor(t, "paused", br.Shut)
	if st := br.State(); st.Reason != circuit.Auth || st.Cause != "find account: scim: GET /Users: 401 Unauthorized (token rejected)" {
		t.Fatalf("state = %+v, want auth with the first refusal as cause", st)
	}
	time.Sleep(200 * time.Millisecond) // what was in flight settles
	before := app.finds.Load()
	time.Sleep(500 * time.Millisecond)
	if after := app.finds.Load(); after != before {
		t.Fatalf("the paused app was called %d more times: its consumers must stop pulling", after-before)
	}
	if n := len(dlq(t, h.js)); n != 0 {
		t.Fatalf("%d dead letters for a refused token", n)
	}
	t.Logf("paused after %d calls to the app for %d events", before, people)

	app.set(nil) // the token is rotated
	waitFor(t, "everyone applied", func() bool { return len(h.app.Accounts()) == people && h.settled(t) })
	if n := len(dlq(t, h.js)); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	if st := br.State(); st.Open || st.ClosedBy != "probe" {
		t.Fatalf("state = %+v, want closed by the probe", st)
	}
	applied := 0
	for _, o := range auditOutcomes(h.audits(t)) {
		if o[len(o)-len("applied"):] == "applied" {
			applied++
		}
	}
	if applied != people {
		t.Fatalf("%d applied audit records for %d people", applied, people)
	}
}

// A vendor outage (5xx without a wait) pauses the app the same way, and a
// refusal for one event while the app answers others is still a dead
// letter after MaxDeliver: only the app's failure is spared.
func TestOutagePausesAndLoneRefusalDeadLetters(t *testing.T) {
	t.Parallel()
	h, app, br := pausedHarness(t)
	app.set(errors.New("scim: GET /Users: 502 Bad Gateway"))
	for i := range 10 {
		id := fmt.Sprint(200 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "h"+id)
	}
	waitFor(t, "paused", br.Shut)
	if st := br.State(); st.Reason != circuit.Outage {
		t.Fatalf("reason %s, want outage", st.Reason)
	}
	app.set(nil)
	waitFor(t, "everyone applied", func() bool { return len(h.app.Accounts()) == 10 && h.settled(t) })
	if n := len(dlq(t, h.js)); n != 0 {
		t.Fatalf("%d dead letters after an outage", n)
	}

	// One person's create refused with 403 while the app answers: below
	// the trip, retried like a transient failure, then dead-lettered.
	app.refuse.Store("300", fault.Auth(fault.Permanent(errors.New("403 Forbidden: cannot manage this user"))))
	h.publish(t, ev(event.Hired, 1, employee("300", "Engineering")), "h300")
	for i := range 5 {
		id := fmt.Sprint(301 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "h"+id)
	}
	waitFor(t, "the lone refusal dead-lettered", func() bool { return len(dlq(t, h.js)) == 1 && h.settled(t) })
	if br.Shut() {
		t.Fatal("paused by refusals spread between successes")
	}
}
