package poll

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
)

func TestPollOncePublishesOneRecheckPerChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.at(t0.Add(-48 * time.Hour)).Put(bamboohrtest.Employee{ID: "1", Status: "Active"})
	e.hr.Put(bamboohrtest.Employee{ID: "2", Status: "Active"})
	e.hr.Put(bamboohrtest.Employee{ID: "9", Status: "Active"}) // unchanged in the window
	e.at(t0.Add(-2*time.Hour)).Update("1", func(x *bamboohrtest.Employee) { x.Department = "Sales" })
	e.at(t0.Add(-90 * time.Minute)).Put(bamboohrtest.Employee{ID: "3", Status: "Active"})
	e.at(t0.Add(-time.Hour)).Delete("2")
	e.at(t0.Add(-30 * time.Minute)).Put(bamboohrtest.Employee{ID: "x.7", Status: "Active"})

	p := e.poller(t, Config{}, nil, nil)
	rep, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	latest := t0.Add(-30 * time.Minute)
	want := PollReport{Since: t0.Add(-24 * time.Hour), Cursor: latest, Changed: 4, Stored: 4, Advanced: true}
	if rep != want {
		t.Errorf("report = %+v, want %+v", rep, want)
	}

	tests := []struct {
		name     string
		employee string
		key      string
		action   webhook.Action
		at       time.Time
	}{
		{"updated", "1", "1", webhook.Updated, t0.Add(-2 * time.Hour)},
		{"deleted", "2", "2", webhook.Deleted, t0.Add(-time.Hour)},
		{"inserted", "3", "3", webhook.Created, t0.Add(-90 * time.Minute)},
		{"inserted, id encoded in keys", "x.7", "_782e37", webhook.Created, t0.Add(-30 * time.Minute)},
	}
	got := map[string]seen{}
	for _, m := range inbox(t, e.js, SubjectPoll) {
		r := decode(t, m)
		if _, dup := got[r.employee]; dup {
			t.Errorf("employee %s rechecked twice", r.employee)
		}
		got[r.employee] = r
	}
	if len(got) != len(tests) {
		t.Errorf("rechecked %d employees, want %d: %+v", len(got), len(tests), got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "poller:" + tt.key + ":" + strconv.FormatInt(tt.at.Unix(), 10)
			want := seen{
				subject: SubjectPoll, msgID: id, eventID: id, kind: KindPoll,
				occurredAt: tt.at.Format(time.RFC3339Nano), employee: tt.employee, action: tt.action, timestamp: tt.at,
			}
			if r := got[tt.employee]; r != want {
				t.Errorf("recheck = %+v\nwant       %+v", r, want)
			}
		})
	}
	wantStored(t, e.js, CursorKey, latest)
	if n := count(p.m.rechecks.WithLabelValues(KindPoll, recheckStored)); n != 4 {
		t.Errorf("rechecks stored metric = %d, want 4", n)
	}
	if n := count(p.m.polls.WithLabelValues(pollOK)); n != 1 {
		t.Errorf("polls{ok} = %d, want 1", n)
	}
	if n := count(p.m.pollCursor); n != int(latest.Unix()) {
		t.Errorf("cursor gauge = %d, want %d", n, latest.Unix())
	}
}

func TestPollDedupCursorAndRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.at(t0.Add(-time.Hour)).Put(bamboohrtest.Employee{ID: "1", Status: "Active"})

	p := e.poller(t, Config{}, nil, nil)
	steps := []struct {
		name string
		p    *Poller
		do   func()
		want PollReport
	}{
		{
			name: "first poll: from now - InitialLookback",
			p:    p,
			want: PollReport{Since: t0.Add(-24 * time.Hour), Cursor: t0.Add(-time.Hour), Changed: 1, Stored: 1, Advanced: true},
		},
		{
			name: "same change polled again is stored once",
			p:    p,
			want: PollReport{Since: t0.Add(-time.Hour), Cursor: t0.Add(-time.Hour), Changed: 1, Duplicates: 1},
		},
		{
			// A new instance an hour later must read the cursor, not start
			// again from its own now - InitialLookback.
			name: "restarted poller continues from the stored cursor",
			p:    e.poller(t, Config{Now: func() time.Time { return t0.Add(time.Hour) }}, nil, nil),
			do: func() {
				e.at(t0.Add(10*time.Minute)).Update("1", func(x *bamboohrtest.Employee) { x.JobTitle = "Lead" })
				e.hr.Put(bamboohrtest.Employee{ID: "5", Status: "Active"})
			},
			want: PollReport{Since: t0.Add(-time.Hour), Cursor: t0.Add(10 * time.Minute), Changed: 2, Stored: 2, Advanced: true},
		},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		rep, err := s.p.PollOnce(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if rep != s.want {
			t.Errorf("%s: report = %+v\nwant %+v", s.name, rep, s.want)
		}
		wantStored(t, e.js, CursorKey, s.want.Cursor)
	}
	if n := len(inbox(t, e.js, SubjectPoll)); n != 3 {
		t.Errorf("HR_INBOX holds %d poll rechecks, want 3", n)
	}
	if n := count(p.m.rechecks.WithLabelValues(KindPoll, recheckDuplicate)); n != 1 {
		t.Errorf("duplicate rechecks metric = %d, want 1", n)
	}
}

// Two replicas poll at once: the one that writes second must not move the
// cursor back to its older "latest".
func TestPollCursorNeverMovesBack(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		t.Run("existing cursor "+strconv.FormatBool(existing), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			ctx := context.Background()
			e.at(t0.Add(-2 * time.Hour)).Put(bamboohrtest.Employee{ID: "1", Status: "Active"})
			hook := &hookHR{HR: e.client}
			a := e.poller(t, Config{}, hook, nil)
			b := e.poller(t, Config{}, nil, nil)
			if existing {
				if _, err := a.PollOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.at(t0.Add(-time.Hour)).Put(bamboohrtest.Employee{ID: "2", Status: "Active"})
			hook.after = func() { // a has its answer; b polls and writes first
				e.at(t0.Add(-30 * time.Minute)).Put(bamboohrtest.Employee{ID: "3", Status: "Active"})
				if _, err := b.PollOnce(ctx); err != nil {
					t.Error(err)
				}
			}
			rep, err := a.PollOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Conflict || rep.Advanced {
				t.Errorf("report = %+v, want a conflict and no advance", rep)
			}
			wantStored(t, e.js, CursorKey, t0.Add(-30*time.Minute))
			if n := count(a.m.polls.WithLabelValues(pollConflict)); n != 1 {
				t.Errorf("polls{conflict} = %d, want 1", n)
			}
			if n := len(inbox(t, e.js, SubjectPoll)); n != 3 {
				t.Errorf("HR_INBOX holds %d poll rechecks, want 3 (one per employee)", n)
			}
		})
	}
}

// BambooHR failures: the cursor stays, the loop waits the interval (or the
// server's Retry-After when longer) and a later tick gets everything.
func TestRunRetriesBambooHRFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		interval    time.Duration
		inject      func(*bamboohrtest.Server)
		failures    int
		wantOutcome string
		wantWaits   []time.Duration // after each failed poll
	}{
		{
			name:     "429 with a Retry-After longer than the interval",
			interval: time.Second,
			inject:   func(s *bamboohrtest.Server) { s.Throttle(1, 3*time.Second) },
			failures: 1, wantOutcome: pollAPIError, wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name:     "429 with a Retry-After shorter than the interval",
			interval: time.Minute,
			inject:   func(s *bamboohrtest.Server) { s.Throttle(1, time.Second) },
			failures: 1, wantOutcome: pollAPIError, wantWaits: []time.Duration{time.Minute},
		},
		{
			name:     "503 twice",
			interval: time.Minute,
			inject:   func(s *bamboohrtest.Server) { s.Outage(2) },
			failures: 2, wantOutcome: pollAPIError, wantWaits: []time.Duration{time.Minute, time.Minute},
		},
		{
			name:     "403 is logged and retried, not fatal",
			interval: time.Minute,
			inject:   func(s *bamboohrtest.Server) { s.Fail(1, http.StatusForbidden, "no permission") },
			failures: 1, wantOutcome: pollAPIPermanent, wantWaits: []time.Duration{time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// One attempt per call, so each failure reaches the poller.
			e := newEnv(t, func(c *bamboohr.Config) { c.MaxAttempts = 1 })
			ctx := context.Background()
			e.at(t0.Add(-2 * time.Hour)).Put(bamboohrtest.Employee{ID: "1", Status: "Active"})
			d := newDriver()
			p := e.poller(t, Config{Interval: tt.interval, SweepInterval: -1, After: d.After}, nil, nil)
			if _, err := p.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			e.at(t0.Add(-time.Hour)).Put(bamboohrtest.Employee{ID: "2", Status: "Active"})
			e.at(t0.Add(-30 * time.Minute)).Put(bamboohrtest.Employee{ID: "3", Status: "Active"})
			tt.inject(e.hr)

			stop := run(t, p)
			for i, want := range tt.wantWaits {
				if got := d.next(t); got != want {
					t.Errorf("wait after failure %d = %v, want %v", i+1, got, want)
				}
				wantStored(t, e.js, CursorKey, t0.Add(-2*time.Hour))
				if n := len(inbox(t, e.js, SubjectPoll)); n != 1 {
					t.Errorf("after failure %d HR_INBOX holds %d poll rechecks, want 1", i+1, n)
				}
				d.release(t)
			}
			if got := d.next(t); got != tt.interval {
				t.Errorf("wait after success = %v, want %v", got, tt.interval)
			}
			stop()

			if n := count(p.m.polls.WithLabelValues(tt.wantOutcome)); n != tt.failures {
				t.Errorf("polls{%s} = %d, want %d", tt.wantOutcome, n, tt.failures)
			}
			if n := count(p.m.polls.WithLabelValues(pollOK)); n != 2 {
				t.Errorf("polls{ok} = %d, want 2", n)
			}
			wantStored(t, e.js, CursorKey, t0.Add(-30*time.Minute))
			assertRechecked(t, e, "1", "2", "3")
		})
	}
}

// NATS goes away between BambooHR's answer and the publishes: the cursor
// stays, and once NATS is back the same changes are published. Employee 2
// changed before employee 3, so a cursor advanced too early (to 3's time)
// would lose employee 2.
func TestRunSurvivesNATSOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.at(t0.Add(-2 * time.Hour)).Put(bamboohrtest.Employee{ID: "1", Status: "Active"})
	hook := &hookHR{HR: e.client}
	d := newDriver()
	p := e.poller(t, Config{Interval: time.Minute, SweepInterval: -1, PublishTimeout: 500 * time.Millisecond, After: d.After}, hook, nil)
	if _, err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.at(t0.Add(-time.Hour)).Put(bamboohrtest.Employee{ID: "2", Status: "Active"})
	e.at(t0.Add(-30 * time.Minute)).Put(bamboohrtest.Employee{ID: "3", Status: "Active"})
	hook.mu.Lock()
	hook.after = e.ns.Stop
	hook.mu.Unlock()

	stop := run(t, p)
	if got := d.next(t); got != time.Minute {
		t.Errorf("wait after the failed poll = %v, want 1m", got)
	}
	if n := count(p.m.polls.WithLabelValues(pollPublishError)); n != 1 {
		t.Errorf("polls{publish_error} = %d, want 1", n)
	}
	e.ns.Restart(t)
	waitFor(t, "the test connection to reconnect", func() bool { return e.js.Conn().IsConnected() })
	wantStored(t, e.js, CursorKey, t0.Add(-2*time.Hour))

	// Ticks until a poll succeeds (the poller's own reconnect may need one).
	for count(p.m.polls.WithLabelValues(pollOK)) < 2 {
		d.release(t)
		d.next(t)
	}
	stop()
	wantStored(t, e.js, CursorKey, t0.Add(-30*time.Minute))
	assertRechecked(t, e, "1", "2", "3")
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative interval", Config{Interval: -time.Second}},
		{"share above 1", Config{MinDirectoryShare: 1.5}},
		{"negative share", Config{MinDirectoryShare: -0.1}},
		{"negative guard minimum", Config{GuardMinActive: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.cfg, &bamboohr.Client{}, nopJS{}, nil, zerolog.Nop(), prometheus.NewRegistry()); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

// nopJS satisfies JetStream for constructor tests that never publish.
type nopJS struct{ JetStream }

// assertRechecked checks that HR_INBOX holds exactly one poll recheck for
// each of ids.
func assertRechecked(t *testing.T, e *env, ids ...string) {
	t.Helper()
	per := map[string]int{}
	for _, m := range inbox(t, e.js, SubjectPoll) {
		per[decode(t, m).employee]++
	}
	for _, id := range ids {
		if per[id] != 1 {
			t.Errorf("employee %s rechecked %d times, want 1 (all: %v)", id, per[id], per)
		}
	}
	if len(per) != len(ids) {
		t.Errorf("rechecked %v, want exactly %v", per, ids)
	}
}
