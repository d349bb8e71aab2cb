package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// today is the clock of the table tests: 2026-11-25, midday UTC.
var today = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func person(id string) bamboohrtest.Employee {
	return bamboohrtest.Employee{
		ID: id, FirstName: "Ada", LastName: "Lovelace", WorkEmail: "ada" + id + "@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering",
		JobTitle: "Engineer", Location: "London", SupervisorEID: "7", HireDate: "2024-01-15",
	}
}

// step is one thing that happens in BambooHR, and the webhook about it.
type step func(t *testing.T, h *harness)

func hire(e bamboohrtest.Employee) step {
	return func(t *testing.T, h *harness) { h.fake.Put(e); h.deliverEvent(t, "employee.created", e.ID) }
}

func change(id string, fn func(*bamboohrtest.Employee)) step {
	return func(t *testing.T, h *harness) {
		if !h.fake.Update(id, fn) {
			t.Fatalf("no employee %s in the fake", id)
		}
		h.deliverEvent(t, "employee.updated", id)
	}
}

func webhookOnly(typ, id string) step {
	return func(t *testing.T, h *harness) { h.deliverEvent(t, typ, id) }
}

// settled waits for the normalizer before the next step, so that steps
// happen in order as they would minutes apart in real life.
func settled(s step) step {
	return func(t *testing.T, h *harness) { s(t, h); h.drain(t) }
}

func kinds(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s:%s:%d", ev.Employee.ID, ev.Kind, ev.Sequence))
	}
	return out
}

func TestClassification(t *testing.T) {
	t.Parallel()
	contractor := person("40")
	contractor.EmploymentHistoryStatus = "Contractor"
	future := person("50")
	future.HireDate = "2026-12-07"
	tests := []struct {
		name    string
		steps   []step
		want    []string
		changed map[int][]string // event index → changed_fields
	}{
		{name: "hire", steps: []step{hire(person("1"))}, want: []string{"1:hired:1"}},
		{
			name: "create then update pair is one hire",
			steps: []step{func(t *testing.T, h *harness) {
				h.fake.Put(person("2"))
				h.deliverEvent(t, "employee.created", "2")
				h.deliver(t, `{"type":"employee.updated","timestamp":"2026-11-25T12:00:01Z","data":{"companyId":"1","employeeId":"2","changedFields":["jobTitle"]}}`)
			}},
			want: []string{"2:hired:1"},
		},
		{
			name: "department, title and manager changes are moves",
			steps: []step{
				settled(hire(person("3"))),
				settled(change("3", func(e *bamboohrtest.Employee) { e.Department = "Sales" })),
				settled(change("3", func(e *bamboohrtest.Employee) { e.JobTitle = "Account Executive" })),
				settled(change("3", func(e *bamboohrtest.Employee) { e.SupervisorEID = "8" })),
			},
			want:    []string{"3:hired:1", "3:moved:2", "3:moved:3", "3:moved:4"},
			changed: map[int][]string{1: {"department"}, 2: {"job_title"}, 3: {"manager_id"}},
		},
		{
			name:    "plain field update",
			steps:   []step{settled(hire(person("4"))), settled(change("4", func(e *bamboohrtest.Employee) { e.PreferredName = "Addie" }))},
			want:    []string{"4:hired:1", "4:updated:2"},
			changed: map[int][]string{1: {"display_name", "preferred_name"}}, // the fake derives the display name
		},
		{
			name:  "webhook for an unrelated field changes nothing",
			steps: []step{settled(hire(person("5"))), settled(webhookOnly("employee.updated", "5"))},
			want:  []string{"5:hired:1"},
		},
		{
			name: "termination effective today acts now",
			steps: []step{settled(hire(person("6"))), settled(change("6", func(e *bamboohrtest.Employee) {
				e.TerminationDate, e.EmploymentHistoryStatus = "2026-11-25", "Terminated"
			}))},
			want: []string{"6:hired:1", "6:terminated:2"},
		},
		{
			name: "termination in the past, status already inactive",
			steps: []step{settled(hire(person("7"))), settled(change("7", func(e *bamboohrtest.Employee) {
				e.Status, e.TerminationDate = "Inactive", "2026-11-20"
			}))},
			want: []string{"7:hired:1", "7:terminated:2"},
		},
		{
			name: "future termination is an update now",
			steps: []step{settled(hire(person("8"))), settled(change("8", func(e *bamboohrtest.Employee) {
				e.TerminationDate = "2026-12-31"
			}))},
			want:    []string{"8:hired:1", "8:updated:2"},
			changed: map[int][]string{1: {"termination_date"}},
		},
		{
			name: "rescinded termination",
			steps: []step{
				settled(hire(person("9"))),
				settled(change("9", func(e *bamboohrtest.Employee) { e.TerminationDate = "2026-12-31" })),
				settled(change("9", func(e *bamboohrtest.Employee) { e.TerminationDate = "" })),
			},
			want: []string{"9:hired:1", "9:updated:2", "9:updated:3"},
		},
		{
			name: "rehire after termination",
			steps: []step{
				settled(hire(person("10"))),
				settled(change("10", func(e *bamboohrtest.Employee) { e.Status, e.TerminationDate = "Inactive", "2026-11-01" })),
				settled(change("10", func(e *bamboohrtest.Employee) {
					e.Status, e.TerminationDate, e.HireDate = "Active", "", "2026-11-24"
				})),
			},
			want: []string{"10:hired:1", "10:terminated:2", "10:rehired:3"},
		},
		{
			name: "contractor converted to employee",
			steps: []step{settled(hire(contractor)), settled(change("40", func(e *bamboohrtest.Employee) {
				e.EmploymentHistoryStatus = "Full-Time"
			}))},
			want:    []string{"40:hired:1", "40:moved:2"},
			changed: map[int][]string{1: {"employment_status", "employment_type"}},
		},
		{
			name: "legacy batch of several employees",
			steps: []step{func(t *testing.T, h *harness) {
				for _, id := range []string{"21", "22", "23"} {
					h.fake.Put(person(id))
				}
				h.deliver(t, `{"employees":[{"id":"21","action":"Created"},{"id":22,"action":"Created"},{"id":"23","action":"Updated","changedFields":["Department"],"fields":{"Department":{"value":"Engineering"}}}]}`)
			}},
			want: []string{"21:hired:1", "22:hired:1", "23:hired:1"},
		},
		{
			name: "deleted employee is a termination",
			steps: []step{settled(hire(person("30"))), settled(func(t *testing.T, h *harness) {
				h.fake.Delete("30")
				h.deliverEvent(t, "employee.deleted", "30")
			})},
			want: []string{"30:hired:1", "30:terminated:2"},
		},
		{
			name: "record that now 404s is a termination",
			steps: []step{settled(hire(person("31"))), settled(func(t *testing.T, h *harness) {
				h.fake.Delete("31")
				h.deliverEvent(t, "employee.updated", "31")
			})},
			want: []string{"31:hired:1", "31:terminated:2"},
		},
		{
			name:  "future hire waits for the start date",
			steps: []step{settled(hire(future))},
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			h.clock.Set(today)
			for _, s := range tt.steps {
				s(t, h)
			}
			h.drain(t)
			evs := h.events(t)
			slices.SortStableFunc(evs, func(a, b event.Event) int { return strings.Compare(a.Employee.ID, b.Employee.ID) })
			if got := kinds(evs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("events = %v, want %v", got, tt.want)
			}
			for i, want := range tt.changed {
				if got := evs[i].ChangedFields; !reflect.DeepEqual(got, want) {
					t.Errorf("event %d changed_fields = %v, want %v", i, got, want)
				}
			}
			for i, ev := range evs {
				if (i == 0 || evs[i-1].Employee.ID != ev.Employee.ID) != (ev.Previous == nil) {
					t.Errorf("event %d: previous = %v; want null exactly on a person's first event", i, ev.Previous)
				}
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options, _ *bamboohr.Config) { o.LeaverTime, o.JoinerTime = "00:00", "00:00" })
	h.clock.Set(today)
	e := person("60")
	e.TerminationDate = "2026-12-31"
	hire(e)(t, h)
	h.drain(t)
	if d, ok := h.schedule(t, "60"); !ok || d.Reason != "termination_date" || !d.At.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule = %+v, %v; want termination_date at 2026-12-31T00:00Z", d, ok)
	}
	// The date moves: the schedule is replaced, not doubled.
	change("60", func(e *bamboohrtest.Employee) { e.TerminationDate = "2026-12-15" })(t, h)
	h.drain(t)
	if d, ok := h.schedule(t, "60"); !ok || !d.At.Equal(time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("moved schedule = %+v, %v", d, ok)
	}
	// Rescinded: the schedule is cancelled.
	change("60", func(e *bamboohrtest.Employee) { e.TerminationDate = "" })(t, h)
	h.drain(t)
	if d, ok := h.schedule(t, "60"); ok {
		t.Fatalf("rescinded termination still scheduled: %+v", d)
	}
	// A contractor's end date and a time zone from HR: 18:00 in Berlin.
	h2 := newHarness(t, nil)
	h2.clock.Set(today)
	c := person("61")
	c.Fields = map[string]any{"contractEndDate": "2027-01-31", "timeZone": "Europe/Berlin"}
	hire(c)(t, h2)
	h2.drain(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if d, ok := h2.schedule(t, "61"); !ok || d.Reason != "contract_end_date" || !d.At.Equal(time.Date(2027, 1, 31, 18, 0, 0, 0, berlin)) {
		t.Fatalf("contract end schedule = %+v, %v; want 2027-01-31 18:00 Europe/Berlin", d, ok)
	}
}

// TestScheduleFires stands the clock seconds before midnight of a leaver's
// last day and of a joiner's first day, and lets the real JetStream
// schedules fire.
func TestScheduleFires(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options, _ *bamboohr.Config) { o.LeaverTime, o.JoinerTime = "00:00", "00:00" })
	h.clock.Set(time.Date(2026, 11, 30, 23, 59, 58, 0, time.UTC))
	leaver, joiner := person("70"), person("71")
	leaver.TerminationDate = "2026-12-01"
	joiner.HireDate = "2026-12-01"
	hire(leaver)(t, h)
	hire(joiner)(t, h)
	h.drain(t)
	if got := kinds(h.events(t)); !reflect.DeepEqual(got, []string{"70:hired:1"}) {
		t.Fatalf("before the dates: %v, want only the leaver's hire", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		evs := h.events(t)
		slices.SortStableFunc(evs, func(a, b event.Event) int { return strings.Compare(a.Employee.ID, b.Employee.ID) })
		if got = kinds(evs); len(got) >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.drain(t)
	want := []string{"70:hired:1", "70:terminated:2", "71:hired:1"}
	if got = kinds(h.events(t)); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("after the schedules fired: %v, want %v", got, want)
	}
	if _, ok := h.schedule(t, "70"); ok {
		t.Error("the fired schedule is still there")
	}
}

func TestTransientAPIErrorsRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(f *bamboohrtest.Server)
	}{
		{"429 with Retry-After", func(f *bamboohrtest.Server) { f.Throttle(5, 100*time.Millisecond) }},
		{"503 outage", func(f *bamboohrtest.Server) { f.Outage(5) }},
		{"timeout", func(f *bamboohrtest.Server) {
			f.Delay(time.Second)
			time.AfterFunc(700*time.Millisecond, func() { f.Delay(0) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			h.clock.Set(today)
			h.fake.Put(person("80"))
			tt.fault(h.fake)
			h.deliverEvent(t, "employee.created", "80")
			// A NAKed delivery waiting for its redelivery counts neither as
			// pending nor as ack pending, so drain alone can return between
			// two attempts: wait for the event first.
			for deadline := time.Now().Add(15 * time.Second); len(h.events(t)) == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			h.drain(t)
			if got := kinds(h.events(t)); !reflect.DeepEqual(got, []string{"80:hired:1"}) {
				t.Fatalf("events = %v, want exactly one hire", got)
			}
			if n := len(readAll(t, h.js, streams.DLQ, func(b []byte) []byte { return b })); n != 0 {
				t.Fatalf("%d dead letters for a transient fault", n)
			}
		})
	}
}

func TestPoisonIsDeadLettered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(t *testing.T, h *harness)
		wantError string
		wantClass string
	}{
		{"malformed body", func(t *testing.T, h *harness) { h.deliver(t, `{"employees":[]}`) }, "is empty", deadletter.ClassPermanent},
		{"403 from BambooHR", func(t *testing.T, h *harness) {
			h.fake.Put(person("90"))
			h.fake.Fail(1, http.StatusForbidden, "no access to this employee")
			h.deliverEvent(t, "employee.created", "90")
		}, "no access to this employee", deadletter.ClassPermanent},
		{"outage longer than MaxDeliver", func(t *testing.T, h *harness) {
			h.fake.Put(person("91"))
			h.fake.Outage(1000)
			h.deliverEvent(t, "employee.created", "91")
		}, "503", deadletter.ClassExhausted},
		{"throttled longer than MaxDeliver", func(t *testing.T, h *harness) {
			h.fake.Put(person("92"))
			h.fake.Throttle(1000, 10*time.Millisecond)
			h.deliverEvent(t, "employee.created", "92")
		}, "429 Too Many Requests", deadletter.ClassExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options, _ *bamboohr.Config) { o.MaxDeliver = 3 })
			h.clock.Set(today)
			tt.setup(t, h)
			h.drain(t)
			type letter struct {
				errText, class, attempts, subject string
			}
			ctx := context.Background()
			s, _ := h.js.Stream(ctx, streams.DLQ)
			m, err := s.GetLastMsgForSubject(ctx, "dlq.normalizer.>")
			if err != nil {
				t.Fatalf("no dead letter: %v", err)
			}
			got := letter{m.Header.Get(deadletter.HeaderError), m.Header.Get(deadletter.HeaderErrorClass), m.Header.Get(deadletter.HeaderAttempts), m.Header.Get(deadletter.HeaderSubject)}
			if !strings.Contains(got.errText, tt.wantError) || got.class != tt.wantClass || got.subject != "hr.inbox.bamboohr" {
				t.Fatalf("dead letter = %+v, want error containing %q, class %s", got, tt.wantError, tt.wantClass)
			}
			if strings.Contains(got.errText, h.fake.APIKey()) {
				t.Fatal("dead letter reason leaks the API key")
			}
			if n := strings.Count(got.errText, "retry after"); n > 1 {
				t.Fatalf("dead letter reason says its delay %d times: %q", n, got.errText)
			}
			if evs := h.events(t); len(evs) != 0 {
				t.Fatalf("events = %v, want none", kinds(evs))
			}
		})
	}
}

// TestPanicIsDeadLettered: a record that makes the handler panic is
// dead-lettered as permanent with the stack, and the process goes on
// normalizing the next records (the single binary must not stop).
func TestPanicIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.clock.Set(today)
	h.api.on.Store("95", true)
	hire(person("95"))(t, h)
	h.drain(t)

	ctx := context.Background()
	s, _ := h.js.Stream(ctx, streams.DLQ)
	m, err := s.GetLastMsgForSubject(ctx, "dlq.normalizer.inbox.delivery")
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if got := m.Header.Get(deadletter.HeaderError); !strings.HasPrefix(got, "panic: bug while fetching 95") || !strings.Contains(got, "goroutine") {
		t.Fatalf("dead letter error = %q, want the panic and its stack", got)
	}
	if got, attempts := m.Header.Get(deadletter.HeaderErrorClass), m.Header.Get(deadletter.HeaderAttempts); got != deadletter.ClassPermanent || attempts != "1" {
		t.Fatalf("dead letter class %s after %s attempts, want permanent after 1", got, attempts)
	}

	hire(person("96"))(t, h)
	hire(person("97"))(t, h)
	h.drain(t)
	got := kinds(h.events(t))
	slices.Sort(got)
	if want := []string{"96:hired:1", "97:hired:1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events after the panic = %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(h.n.metrics.messages.WithLabelValues("inbox", "dead_lettered")); got != 1 {
		t.Fatalf("dead_lettered messages = %v, want 1", got)
	}
}

func TestNATSRestartMidStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.clock.Set(today)
	for i := range 20 {
		h.fake.Put(person(fmt.Sprint(100 + i)))
	}
	for i := range 10 {
		h.deliverEvent(t, "employee.created", fmt.Sprint(100+i))
	}
	h.nats.Restart(t)
	for i := 10; i < 20; i++ {
		for {
			err := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, err := h.js.Publish(ctx, streams.InboxSubject("bamboohr"),
					[]byte(fmt.Sprintf(`{"type":"employee.created","data":{"employeeId":"%d"}}`, 100+i)),
					jetstream.WithMsgID(fmt.Sprint("restart-", i)))
				return err
			}()
			if err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	h.drain(t)
	evs := h.events(t)
	seen := map[string]int{}
	for _, ev := range evs {
		if ev.Kind != event.Hired || ev.Sequence != 1 {
			t.Errorf("unexpected %s:%s:%d", ev.Employee.ID, ev.Kind, ev.Sequence)
		}
		seen[ev.Employee.ID]++
	}
	if len(evs) != 20 || len(seen) != 20 {
		t.Fatalf("%d events for %d people, want 20 hires of 20 people", len(evs), len(seen))
	}
}

func TestActiveIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.clock.Set(today)
	gone := person("201")
	gone.Status = "Inactive"
	for _, s := range []step{hire(person("200")), hire(gone), hire(person("202"))} {
		s(t, h)
	}
	h.drain(t)
	ids, err := h.n.ActiveIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !reflect.DeepEqual(ids, []string{"200", "202"}) {
		t.Fatalf("ActiveIDs = %v", ids)
	}
}

// Issue 12: a normalizer killed after publishing a person's event and
// before storing their snapshot, while HR changes the person meanwhile.
// The restart sees no snapshot and classifies a hire again, under the
// same event id: JetStream answers duplicate, and the normalizer adopts
// the event it stored (not what HR says now), so the change made since
// is published as its own event at the next sequence instead of being
// folded into a hire the workers already have.
func TestKilledBetweenPublishAndSnapshot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.fake.Put(person("77"))
	h.deliverEvent(t, "employee.created", "77")
	h.drain(t)
	kv, err := h.js.KeyValue(t.Context(), Bucket)
	if err != nil {
		t.Fatal(err)
	}
	// The crash: the event is in HR_EVENTS, the snapshot is not stored.
	if err := kv.Purge(t.Context(), event.EmployeeKey("77")); err != nil {
		t.Fatal(err)
	}
	h.fake.Update("77", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	h.deliverEvent(t, "employee.updated", "77") // the redelivery after the restart
	h.drain(t)
	evs := h.events(t)
	if got := kinds(evs); !slices.Equal(got, []string{"77:hired:1", "77:moved:2"}) {
		t.Fatalf("events = %v, want the hire once and the move after it", got)
	}
	if d := evs[1].Employee.Department; d != "Sales" {
		t.Fatalf("the move carries department %q, want Sales", d)
	}
	entry, err := kv.Get(t.Context(), event.EmployeeKey("77"))
	if err != nil {
		t.Fatalf("snapshot not stored again: %v", err)
	}
	var snap Snapshot
	if err := json.Unmarshal(entry.Value(), &snap); err != nil || snap.Sequence != 2 {
		t.Fatalf("snapshot sequence %d (%v), want 2", snap.Sequence, err)
	}
}
