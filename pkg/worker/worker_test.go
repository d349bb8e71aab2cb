package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/fault"
	"keycard/pkg/ledger"
	"keycard/pkg/natstest"
	"keycard/pkg/streams"
)

const app = "slack"

// evaluate is a tiny policy: everyone active gets "everyone", engineers "eng".
func evaluate(e event.Employee) (connector.Want, []string, []string) {
	managed := map[connector.Kind][]string{connector.Group: {"everyone", "eng"}}
	if e.StateOn("2026-11-25") != event.Active {
		return connector.Want{Managed: managed}, nil, nil
	}
	groups := []string{"everyone"}
	matched := []string{"birthright"}
	if e.Department == "Engineering" {
		groups, matched = append(groups, "eng"), append(matched, "engineering")
	}
	return connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Group: groups}, Managed: managed}, matched, nil
}

type harness struct {
	js     jetstream.JetStream
	app    *connector.Memory
	ledger *ledger.KV
	w      *Worker
}

func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	return startHarness(t, newStreams(t), edit)
}

// newStreams starts a server with the streams and connects to it.
func newStreams(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.WithStreams(t)
	return js
}

// startHarness runs a worker on js's streams until the test ends.
func startHarness(t *testing.T, js jetstream.JetStream, edit func(*Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := ledger.NewKV(ctx, js, "idem", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{js: js, app: connector.NewMemory(), ledger: l}
	cfg := Config{App: app, Connector: h.app, Evaluate: evaluate, Ledger: l, Versions: l,
		Lease: time.Second, AckWait: 3 * time.Second, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		InProcess: 300 * time.Millisecond, MaxDeliver: 5}
	if edit != nil {
		edit(&cfg)
	}
	w, err := New(ctx, js, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func employee(id, dept string) event.Employee {
	return event.Employee{ID: id, FirstName: "Ada", LastName: "L" + id, WorkEmail: "a" + id + "@example.com",
		Status: event.StatusActive, EmploymentType: "employee", Department: dept, HireDate: "2024-01-01"}
}

func ev(kind event.Kind, seq uint64, e event.Employee) event.Event {
	return event.Event{ID: event.ID("bamboohr", e.ID, seq), Kind: kind, Sequence: seq, Source: "bamboohr",
		OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
}

func leaver(id string) event.Employee {
	e := employee(id, "Engineering")
	e.Status = event.StatusInactive
	return e
}

// publish stores e on HR_EVENTS; msgID lets a test store one event twice.
func (h *harness) publish(t *testing.T, e event.Event, msgID string) {
	t.Helper()
	data, _ := json.Marshal(e)
	msg := nats.NewMsg(e.Subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// settled: both event durables (joiners and movers; leavers) have nothing
// pending or unacknowledged.
func (h *harness) settled(t *testing.T) bool {
	t.Helper()
	for _, name := range []string{"worker-" + app, "worker-" + app + "-leavers"} {
		cons, err := h.js.Consumer(context.Background(), streams.Events, name)
		if err != nil {
			return false
		}
		info, err := cons.Info(context.Background())
		if err != nil || info.NumAckPending != 0 || info.NumPending != 0 {
			return false
		}
	}
	return true
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (h *harness) audits(t *testing.T) []Record {
	t.Helper()
	var out []Record
	for _, m := range natstest.Messages(t, h.js, streams.Audit) {
		var r Record
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (h *harness) account(t *testing.T, employeeID string) *connector.Account {
	t.Helper()
	for _, a := range h.app.Accounts() {
		if a.ExternalID == employeeID {
			return &a
		}
	}
	return nil
}

func auditOutcomes(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s:%d:%s", r.EmployeeID, r.Sequence, r.Outcome))
	}
	return out
}

func TestHireMoveLeaveRehire(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	e := employee("1", "Sales")
	steps := []struct {
		ev     event.Event
		active bool
		groups []string
	}{
		{ev(event.Hired, 1, e), true, []string{"everyone"}},
		{ev(event.Moved, 2, employee("1", "Engineering")), true, []string{"eng", "everyone"}},
		{ev(event.Terminated, 3, leaver("1")), false, nil},
		{ev(event.Rehired, 4, employee("1", "Engineering")), true, []string{"eng", "everyone"}},
	}
	for i, s := range steps {
		h.publish(t, s.ev, s.ev.ID)
		waitFor(t, fmt.Sprintf("step %d audited", i), func() bool { return len(h.audits(t)) == i+1 })
		a := h.account(t, "1")
		got := slices.Sorted(slices.Values(a.Memberships[connector.Group]))
		if a.Active != s.active || !slices.Equal(got, s.groups) {
			t.Fatalf("step %d: account active=%v groups=%v, want %v %v", i, a.Active, got, s.active, s.groups)
		}
	}
	if n := len(h.app.Accounts()); n != 1 {
		t.Fatalf("%d accounts, want one account through hire, leave and rehire", n)
	}
	recs := h.audits(t)
	if got := auditOutcomes(recs); !slices.Equal(got, []string{"1:1:applied", "1:2:applied", "1:3:applied", "1:4:applied"}) {
		t.Fatalf("audit = %v", got)
	}
	if recs[1].Matched[1] != "engineering" || recs[2].Actions[len(recs[2].Actions)-1].Op != connector.OpDeactivate {
		t.Fatalf("audit lacks the why or the what: %+v", recs[1:3])
	}
}

func TestDuplicateAndStaleApplyOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	hire := ev(event.Hired, 1, employee("2", "Engineering"))
	h.publish(t, hire, "first")
	h.publish(t, hire, "redelivered-copy") // same event id, stored twice
	move := ev(event.Moved, 2, employee("2", "Sales"))
	waitFor(t, "hire applied", func() bool { return len(h.audits(t)) == 1 })
	h.publish(t, move, move.ID)
	waitFor(t, "move applied", func() bool { return len(h.audits(t)) == 2 })
	writes := h.app.Writes()
	h.publish(t, hire, "late-copy") // an old snapshot arriving late
	time.Sleep(500 * time.Millisecond)
	if h.app.Writes() != writes {
		t.Fatal("a duplicate or stale event wrote to the app")
	}
	a := h.account(t, "2")
	if got := slices.Sorted(slices.Values(a.Memberships[connector.Group])); !slices.Equal(got, []string{"everyone"}) {
		t.Fatalf("groups %v: the stale hire undid the move", got)
	}
}

func TestTransientErrorsThenSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.app.FailNext(fault.RetryAfter(150*time.Millisecond, errors.New("429 Too Many Requests")), errors.New("503 Service Unavailable"), errors.New("connection reset"))
	start := time.Now()
	h.publish(t, ev(event.Hired, 1, employee("3", "Engineering")), "h3")
	waitFor(t, "hire applied", func() bool { return h.account(t, "3") != nil && len(h.audits(t)) == 1 })
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("applied after %s: the 429's Retry-After was not honoured", took)
	}
	if got := auditOutcomes(h.audits(t)); !slices.Equal(got, []string{"3:1:applied"}) {
		t.Fatalf("audit = %v", got)
	}
	if n := len(natstest.Messages(t, h.js, streams.DLQ)); n != 0 {
		t.Fatalf("%d dead letters for transient errors", n)
	}
}

func dlq(t *testing.T, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	return natstest.Messages(t, js, streams.DLQ)
}

func TestPermanentErrorDeadLettersThenReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.app.FailNext(fault.Permanent(errors.New("400 invalid userName")))
	hire := ev(event.Hired, 1, employee("4", "Engineering"))
	h.publish(t, hire, "h4")
	waitFor(t, "dead letter", func() bool { return len(dlq(t, h.js)) == 1 })
	m := dlq(t, h.js)[0]
	for k, want := range map[string]string{
		deadletter.HeaderApp: app, deadletter.HeaderErrorClass: deadletter.ClassPermanent,
		deadletter.HeaderSubject: hire.Subject(), deadletter.HeaderStream: streams.Events, deadletter.HeaderAttempts: "1",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("dead letter %s = %q, want %q", k, got, want)
		}
	}
	if got := m.Header.Get(deadletter.HeaderError); got != "create: 400 invalid userName" {
		t.Errorf("dead letter error = %q", got)
	}
	if m.Subject != "dlq.slack.hired._34" && m.Subject != "dlq.slack.hired.4" {
		t.Errorf("dead letter subject %s", m.Subject)
	}
	h.w.refreshQueues(context.Background())
	if got := testutil.ToFloat64(h.w.metrics.deadLetters); got != 1 {
		t.Errorf("dead-letter gauge = %v, want 1", got)
	}
	if st, ok, _ := h.ledger.Get(context.Background(), app+":"+hire.ID); !ok || st != ledger.StateDead {
		t.Fatalf("ledger state %s %v, want dead", st, ok)
	}
	// The cause is fixed; on-call replays it (twice: a double click).
	for range 2 {
		replay := nats.NewMsg(streams.ReplaySubject(app, event.EmployeeKey("4")))
		replay.Data = m.Data
		replay.Header.Set(jetstream.MsgIDHeader, "replay:slack:"+fmt.Sprint(m.Sequence))
		if _, err := h.js.PublishMsg(context.Background(), replay); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "replay applied", func() bool { return h.account(t, "4") != nil })
	time.Sleep(300 * time.Millisecond)
	if got := auditOutcomes(h.audits(t)); !slices.Equal(got, []string{"4:1:dead_lettered", "4:1:applied"}) {
		t.Fatalf("audit = %v", got)
	}
	if n := len(h.app.Accounts()); n != 1 {
		t.Fatalf("%d accounts after a double replay", n)
	}
}

// TestPanicDeadLetters: a bug that panics on one person's event is a
// permanent failure, dead-lettered at once with the stack, and the worker
// goes on with the next events.
func TestPanicDeadLetters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.Evaluate = func(e event.Employee) (connector.Want, []string, []string) {
			if e.ID == "6" {
				panic("rule bug on " + e.ID)
			}
			return evaluate(e)
		}
	})
	h.publish(t, ev(event.Hired, 1, employee("6", "Engineering")), "h6")
	waitFor(t, "dead letter", func() bool { return len(dlq(t, h.js)) == 1 })
	m := dlq(t, h.js)[0]
	if got := m.Header.Get(deadletter.HeaderError); !strings.HasPrefix(got, "panic: rule bug on 6") || !strings.Contains(got, "goroutine") {
		t.Fatalf("dead letter error = %q, want the panic and its stack", got)
	}
	if got, attempts := m.Header.Get(deadletter.HeaderErrorClass), m.Header.Get(deadletter.HeaderAttempts); got != deadletter.ClassPermanent || attempts != "1" {
		t.Fatalf("dead letter class %s after %s attempts, want permanent after 1", got, attempts)
	}
	h.publish(t, ev(event.Hired, 1, employee("7", "Engineering")), "h7")
	waitFor(t, "next hire applied", func() bool { return h.account(t, "7") != nil })
	// The audit record follows the account by a moment.
	waitFor(t, "audit", func() bool { return len(h.audits(t)) == 2 })
	if got := auditOutcomes(h.audits(t)); !slices.Equal(got, []string{"6:1:dead_lettered", "7:1:applied"}) {
		t.Fatalf("audit = %v", got)
	}
}

func TestMaxDeliveriesDeadLetter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxDeliver = 3 })
	errs := make([]error, 200)
	for i := range errs {
		errs[i] = errors.New("503 Service Unavailable")
	}
	h.app.FailNext(errs...)
	h.publish(t, ev(event.Hired, 1, employee("5", "Engineering")), "h5")
	waitFor(t, "dead letter", func() bool { return len(dlq(t, h.js)) == 1 })
	m := dlq(t, h.js)[0]
	if m.Header.Get(deadletter.HeaderErrorClass) != deadletter.ClassExhausted || m.Header.Get(deadletter.HeaderAttempts) != "3" {
		t.Fatalf("dead letter class %q attempts %q, want exhausted after 3", m.Header.Get(deadletter.HeaderErrorClass), m.Header.Get(deadletter.HeaderAttempts))
	}
	cons, err := h.js.Consumer(context.Background(), streams.Events, "worker-"+app)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nothing stuck", func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

// A worker that died holding the lease: the next one waits for the lease
// to expire, then applies once.
func TestCrashedHolderAppliesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	hire := ev(event.Hired, 1, employee("6", "Engineering"))
	claim, err := h.ledger.Claim(context.Background(), app+":"+hire.ID, 2*time.Second, ledger.NewHolder("another-instance"))
	if err != nil || !claim.Acquired() {
		t.Fatalf("claim: %+v %v", claim, err)
	}
	h.publish(t, hire, "h6")
	time.Sleep(time.Second)
	if h.account(t, "6") != nil {
		t.Fatal("applied while another worker held the lease")
	}
	waitFor(t, "applied after the lease expired", func() bool { return h.account(t, "6") != nil })
	time.Sleep(300 * time.Millisecond)
	if got := auditOutcomes(h.audits(t)); !slices.Equal(got, []string{"6:1:applied"}) {
		t.Fatalf("audit = %v", got)
	}
}

func TestGuardHoldsMassTermination(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Guard = GuardLimits{MaxDeactivations: 2, Window: time.Hour}; c.Concurrency = 1 })
	for i := range 5 {
		id := fmt.Sprint(10 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "hire"+id)
	}
	waitFor(t, "hires", func() bool { return len(h.app.Accounts()) == 5 })
	for i := range 5 {
		id := fmt.Sprint(10 + i)
		h.publish(t, ev(event.Terminated, 2, leaver(id)), "leave"+id)
	}
	waitFor(t, "3 held", func() bool { return len(natstest.Messages(t, h.js, streams.Held)) == 3 })
	h.w.refreshQueues(context.Background())
	if got := testutil.ToFloat64(h.w.metrics.heldNow); got != 3 {
		t.Fatalf("held gauge = %v, want 3", got)
	}
	active := func() int {
		n := 0
		for _, a := range h.app.Accounts() {
			if a.Active {
				n++
			}
		}
		return n
	}
	if active() != 3 {
		t.Fatalf("%d accounts still active, want 3 held", active())
	}
	// An operator releases one held action (provctl held release).
	held := natstest.Messages(t, h.js, streams.Held)[0]
	rel := nats.NewMsg(streams.ReplaySubject(app, "x"))
	rel.Data = held.Data
	rel.Header.Set(HeaderGuardBypass, "true")
	rel.Header.Set(jetstream.MsgIDHeader, "release:1")
	if _, err := h.js.PublishMsg(context.Background(), rel); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "released leaver deactivated", func() bool { return active() == 2 })
}

// The share limit: with 25 known accounts and max_share 0.1, at most 2
// deactivations pass in the window; the rest are held.
func TestGuardShareLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Guard = GuardLimits{MaxShare: 0.1, Window: time.Hour} })
	for i := range 25 {
		id := fmt.Sprint(100 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Sales")), "hire"+id)
	}
	waitFor(t, "hires", func() bool { return len(h.audits(t)) == 25 })
	for i := range 4 {
		id := fmt.Sprint(100 + i)
		h.publish(t, ev(event.Terminated, 2, leaver(id)), "leave"+id)
	}
	waitFor(t, "2 held", func() bool { return len(natstest.Messages(t, h.js, streams.Held)) == 2 })
	time.Sleep(200 * time.Millisecond)
	deactivated := 0
	for _, a := range h.app.Accounts() {
		if !a.Active {
			deactivated++
		}
	}
	if deactivated != 2 {
		t.Fatalf("%d deactivated, want 2 (10%% of 25)", deactivated)
	}
}

// A hire and the termination right behind it, handled at once by several
// goroutines: the app must end with the person deactivated (or never
// created), never active.
func TestSamePersonEventsDoNotRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Concurrency = 8 })
	for i := range 20 {
		id := fmt.Sprint(300 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "hire"+id)
		h.publish(t, ev(event.Terminated, 2, leaver(id)), "leave"+id)
	}
	waitFor(t, "all handled", func() bool { return h.settled(t) })
	for _, a := range h.app.Accounts() {
		if a.Active {
			t.Errorf("account of %s is active after its termination", a.ExternalID)
		}
	}
}

// A rule that fails to evaluate (e.g. a missing custom field) must not
// strip memberships it may have granted: removals wait, additions go on.
func TestRuleWarningsKeepMemberships(t *testing.T) {
	t.Parallel()
	var warn atomic.Bool
	h := newHarness(t, func(c *Config) {
		c.Evaluate = func(e event.Employee) (connector.Want, []string, []string) {
			want, matched, _ := evaluate(e)
			if warn.Load() {
				// The engineering rule failed: only birthright is certain.
				want.Memberships[connector.Group] = []string{"everyone"}
				return want, matched[:1], []string{"engineering: no such key: cost_center"}
			}
			return want, matched, nil
		}
	})
	h.publish(t, ev(event.Hired, 1, employee("400", "Engineering")), "h400")
	waitFor(t, "hire", func() bool { return len(h.audits(t)) == 1 })
	warn.Store(true)
	h.publish(t, ev(event.Updated, 2, employee("400", "Engineering")), "u400")
	waitFor(t, "update", func() bool { return len(h.audits(t)) == 2 })
	a := h.account(t, "400")
	if got := slices.Sorted(slices.Values(a.Memberships[connector.Group])); !slices.Equal(got, []string{"eng", "everyone"}) {
		t.Fatalf("groups %v: a failed rule removed what it may grant", got)
	}
}

// persons records who the worker asks the app to create; links says
// whether it links managers.
type persons struct {
	connector.Connector
	links   bool
	mu      sync.Mutex
	created []connector.Person
}

func (p *persons) LinksManagers() bool { return p.links }

func (p *persons) Create(ctx context.Context, who connector.Person) (connector.Account, error) {
	p.mu.Lock()
	p.created = append(p.created, who)
	p.mu.Unlock()
	return p.Connector.Create(ctx, who)
}

// An app that links managers is told the manager's account id in it, from
// Keycard's own earlier sync of the manager; another app is not asked to
// pay for the look-up.
func TestManagerAccountID(t *testing.T) {
	t.Parallel()
	for _, links := range []bool{true, false} {
		rec := &persons{links: links}
		h := newHarness(t, func(c *Config) { rec.Connector = c.Connector; c.Connector = rec })
		h.publish(t, ev(event.Hired, 1, employee("10", "Engineering")), "h10")
		waitFor(t, "manager hired", func() bool { return h.account(t, "10") != nil && len(h.audits(t)) == 1 })
		report := employee("11", "Engineering")
		report.ManagerID = "10"
		h.publish(t, ev(event.Hired, 1, report), "h11")
		waitFor(t, "report hired", func() bool { return h.account(t, "11") != nil })
		rec.mu.Lock()
		if len(rec.created) != 2 {
			t.Fatalf("created %+v", rec.created)
		}
		want := ""
		if links {
			want = h.account(t, "10").ID
		}
		if got := rec.created[1].ManagerAccountID; got != want {
			t.Fatalf("links %v: ManagerAccountID = %q, want %q", links, got, want)
		}
		if rec.created[0].ManagerAccountID != "" {
			t.Fatalf("manager without a manager got ManagerAccountID %q", rec.created[0].ManagerAccountID)
		}
		rec.mu.Unlock()
	}
}

// The share limit is a share of every account the app holds, also those
// Keycard never made: 25 hires in an app of 100 accounts may lose 10 in
// the window, not 2.
func TestGuardShareOfTheAppsCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Guard = GuardLimits{MaxShare: 0.1, Window: time.Hour} })
	for i := range 75 {
		id := fmt.Sprint(900 + i)
		if _, err := h.app.Create(context.Background(), connector.Person{EmployeeID: "other" + id, Email: "o" + id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 25 {
		id := fmt.Sprint(100 + i)
		h.publish(t, ev(event.Hired, 1, employee(id, "Sales")), "hire"+id)
	}
	waitFor(t, "hires", func() bool { return len(h.audits(t)) == 25 })
	for i := range 4 {
		id := fmt.Sprint(100 + i)
		h.publish(t, ev(event.Terminated, 2, leaver(id)), "leave"+id)
	}
	waitFor(t, "leavers", func() bool { return len(h.audits(t)) == 29 })
	if n := len(natstest.Messages(t, h.js, streams.Held)); n != 0 {
		t.Fatalf("%d held, want none (4 of 100 accounts is under 10%%)", n)
	}
}

// A mover whose department the app refuses (a partial update) still gets
// the access the move grants: the event is applied, not dead-lettered,
// and the audit record carries the refusal.
func TestPartialUpdateIsAppliedWithWarning(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.publish(t, ev(event.Hired, 1, employee("500", "Sales")), "h500")
	waitFor(t, "hire", func() bool { return len(h.audits(t)) == 1 })
	h.app.FailNext(fault.Partial(fault.Permanent(errors.New("400 invalidPath: department"))))
	h.publish(t, ev(event.Moved, 2, employee("500", "Engineering")), "m500")
	waitFor(t, "move", func() bool { return len(h.audits(t)) == 2 })
	recs := h.audits(t)
	if got := auditOutcomes(recs); !slices.Equal(got, []string{"500:1:applied", "500:2:applied"}) {
		t.Fatalf("audit = %v", got)
	}
	if !strings.Contains(recs[1].Warning, "update: 400 invalidPath: department") || recs[1].Error != "" {
		t.Fatalf("audit of the move: warning %q, error %q; want the refusal as a warning", recs[1].Warning, recs[1].Error)
	}
	if got := slices.Sorted(slices.Values(h.account(t, "500").Memberships[connector.Group])); !slices.Equal(got, []string{"eng", "everyone"}) {
		t.Fatalf("groups %v after the move", got)
	}
	if n := len(dlq(t, h.js)); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
}
