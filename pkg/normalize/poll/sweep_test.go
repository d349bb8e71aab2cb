package poll

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
)

func TestSweepOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		active        []string
		inactive      []string
		roster        Roster // nil: no roster
		wantIDs       []string
		wantAbsentees int
		wantGuard     bool
		wantErr       bool
		wantOutcome   string
	}{
		{
			name:   "directory plus absentees",
			active: ids(1, 4), inactive: []string{"5"},
			// 5 was terminated and 9 deleted without a webhook; duplicates
			// and empty ids in the roster are ignored.
			roster:  roster{ids: []string{"1", "2", "2", "3", "5", "9", ""}},
			wantIDs: []string{"1", "2", "3", "4", "5", "9"}, wantAbsentees: 2, wantOutcome: sweepOK,
		},
		{
			name:   "no roster: directory only",
			active: ids(1, 3), wantIDs: ids(1, 3), wantOutcome: sweepOK,
		},
		{
			name:   "guard trips when the directory shrinks below the share",
			active: ids(1, 3), roster: roster{ids: ids(1, 12)},
			wantIDs: ids(1, 3), wantAbsentees: 9, wantGuard: true, wantOutcome: sweepGuardTripped,
		},
		{
			name:   "guard trips on an empty directory (404) with a large roster",
			roster: roster{ids: ids(1, 10)}, wantAbsentees: 10, wantGuard: true, wantOutcome: sweepGuardTripped,
		},
		{
			name:   "exactly the share: guard holds",
			active: ids(1, 6), roster: roster{ids: ids(1, 12)},
			wantIDs: ids(1, 12), wantAbsentees: 6, wantOutcome: sweepOK,
		},
		{
			name:   "below the guard's minimum count: absentees rechecked",
			roster: roster{ids: ids(1, 9)}, wantIDs: ids(1, 9), wantAbsentees: 9, wantOutcome: sweepOK,
		},
		{
			name:   "roster fails: directory still rechecked, sweep failed",
			active: ids(1, 2), roster: roster{err: errors.New("snapshot store down")},
			wantIDs: ids(1, 2), wantErr: true, wantOutcome: sweepFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			for _, id := range tt.active {
				e.hr.Put(bamboohrtest.Employee{ID: id, FirstName: "E" + id, Status: "Active"})
			}
			for _, id := range tt.inactive {
				e.hr.Put(bamboohrtest.Employee{ID: id, FirstName: "E" + id, Status: "Inactive"})
			}
			start := t0.Add(1500 * time.Millisecond) // recorded at second resolution
			p := e.poller(t, Config{Now: func() time.Time { return start }}, nil, tt.roster)
			start = start.Truncate(time.Second)

			rep, err := p.SweepOnce(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("SweepOnce error = %v, want error %v", err, tt.wantErr)
			}
			if rep.Stored != len(tt.wantIDs) || rep.Absentees != tt.wantAbsentees || rep.GuardTripped != tt.wantGuard ||
				rep.Directory != len(tt.active) || !rep.Start.Equal(start) {
				t.Errorf("report = %+v", rep)
			}

			var got []string
			for _, m := range inbox(t, e.js, SubjectSweep) {
				r := decode(t, m)
				id := "sweep:" + strconv.FormatInt(start.Unix(), 10) + ":" + r.employee
				want := seen{subject: SubjectSweep, msgID: id, eventID: id, kind: KindSweep,
					occurredAt: start.Format(time.RFC3339Nano), employee: r.employee, action: webhook.Updated, timestamp: start}
				if r != want {
					t.Errorf("recheck = %+v\nwant       %+v", r, want)
				}
				got = append(got, r.employee)
			}
			slices.Sort(got)
			want := slices.Clone(tt.wantIDs)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("rechecked %v, want %v", got, want)
			}

			if n := count(p.m.sweeps.WithLabelValues(tt.wantOutcome)); n != 1 {
				t.Errorf("sweeps{%s} = %d, want 1", tt.wantOutcome, n)
			}
			wantTrips := 0
			if tt.wantGuard {
				wantTrips = 1
			}
			if n := count(p.m.guardTrips); n != wantTrips {
				t.Errorf("guard trips = %d, want %d", n, wantTrips)
			}
			if n := count(p.m.rechecks.WithLabelValues(KindSweep, recheckStored)); n != len(tt.wantIDs) {
				t.Errorf("sweep rechecks stored metric = %d, want %d", n, len(tt.wantIDs))
			}
			if tt.wantErr {
				return
			}
			wantStored(t, e.js, SweepKey, start)

			// The same sweep again (same start second) stores nothing new.
			rep, err = p.SweepOnce(context.Background())
			if err != nil || rep.Stored != 0 || rep.Duplicates != len(tt.wantIDs) {
				t.Errorf("repeated sweep: %+v, %v; want only %d duplicates", rep, err, len(tt.wantIDs))
			}
		})
	}
}

// Run sweeps at once when the deployment never swept, records it in KV, and
// a second replica does not sweep again until SweepInterval has passed.
func TestRunSweepsOncePerInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.at(t0.Add(-48 * time.Hour)).Put(bamboohrtest.Employee{ID: "1", FirstName: "A", Status: "Active"})
	e.hr.Put(bamboohrtest.Employee{ID: "2", FirstName: "B", Status: "Active"})
	cfg := Config{Interval: 10 * time.Millisecond, SweepInterval: time.Hour}

	a := e.poller(t, cfg, nil, nil)
	stopA := run(t, a)
	waitFor(t, "the first sweep", func() bool { return count(a.m.sweeps.WithLabelValues(sweepOK)) == 1 })
	waitFor(t, "a few polls", func() bool { return count(a.m.polls.WithLabelValues(pollOK)) >= 3 })
	stopA()
	wantStored(t, e.js, SweepKey, t0)
	if n := len(inbox(t, e.js, SubjectSweep)); n != 2 {
		t.Errorf("HR_INBOX holds %d sweep rechecks, want 2", n)
	}

	b := e.poller(t, cfg, nil, nil)
	stopB := run(t, b)
	waitFor(t, "a few polls", func() bool { return count(b.m.polls.WithLabelValues(pollOK)) >= 3 })
	stopB()
	if n := count(b.m.sweeps.WithLabelValues(sweepOK)); n != 0 {
		t.Errorf("second replica swept %d times within the interval, want 0", n)
	}

	later := t0.Add(time.Hour + time.Second)
	cfg.Now = func() time.Time { return later }
	c := e.poller(t, cfg, nil, nil)
	run(t, c)
	waitFor(t, "the next sweep", func() bool { return count(c.m.sweeps.WithLabelValues(sweepOK)) == 1 })
	waitFor(t, "the sweep time in KV", func() bool { at, _ := stored(t, e.js, SweepKey); return at.Equal(later) })
	if n := len(inbox(t, e.js, SubjectSweep)); n != 4 {
		t.Errorf("HR_INBOX holds %d sweep rechecks, want 4", n)
	}
}
