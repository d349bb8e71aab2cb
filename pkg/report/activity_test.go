package report

import (
	"testing"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/worker"
)

func TestPeriods(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		parse      func(string) (Period, error)
		in         string
		start, end time.Time
		wantErr    bool
	}{
		{name: "month", parse: Month, in: "2026-11", start: day(2026, 11, 1), end: day(2026, 12, 1)},
		{name: "december rolls the year", parse: Month, in: "2026-12", start: day(2026, 12, 1), end: day(2027, 1, 1)},
		{name: "quarter", parse: Quarter, in: "2026-Q4", start: day(2026, 10, 1), end: day(2027, 1, 1)},
		{name: "first quarter", parse: Quarter, in: "2026-Q1", start: day(2026, 1, 1), end: day(2026, 4, 1)},
		{name: "year", parse: Year, in: "2026", start: day(2026, 1, 1), end: day(2027, 1, 1)},
		{name: "bad month", parse: Month, in: "2026-13", wantErr: true},
		{name: "quarter five", parse: Quarter, in: "2026-Q5", wantErr: true},
		{name: "quarter trailing", parse: Quarter, in: "2026-Q41", wantErr: true},
		{name: "short year", parse: Year, in: "26", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && (!p.Start.Equal(tt.start) || !p.End.Equal(tt.end)) {
				t.Errorf("%s = [%s, %s), want [%s, %s)", tt.in, p.Start, p.End, tt.start, tt.end)
			}
		})
	}
}

// Twenty joiners served in 1..20 minutes: nearest rank puts p50 at the
// 10th and p95 at the 19th. A redelivered record counts once, a dry-run
// app's plan and a policy re-evaluation not at all, and a record outside
// the month is left out.
func TestActivityPercentiles(t *testing.T) {
	t.Parallel()
	p, _ := Month("2026-11")
	base := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	var recs []worker.Record
	start := map[string]time.Time{}
	for i := 1; i <= 20; i++ {
		id := "hire-" + string(rune('a'+i))
		start[id] = base
		recs = append(recs, worker.Record{App: "slack", EventID: id, Kind: event.Hired, Mode: "apply", Outcome: "applied",
			OccurredAt: base, At: base.Add(time.Duration(i) * time.Minute)})
	}
	recs = append(recs,
		worker.Record{App: "slack", EventID: "hire-b", Kind: event.Hired, Mode: "apply", Outcome: "applied", Replay: true, At: base.Add(time.Hour)},
		worker.Record{App: "slack", EventID: "p1", Kind: event.Updated, Mode: "apply", Outcome: "applied", Replay: true, Reason: "policy", At: base},
		worker.Record{App: "slack", EventID: "x", Kind: event.Terminated, Mode: "apply", Outcome: "applied", At: p.End},
		worker.Record{App: "github", EventID: "hire-b", Kind: event.Hired, Mode: "dry-run", Outcome: "applied", At: base},
	)
	got := Activity(p, []string{"github", "slack"}, recs, start)
	if len(got) != 2 || got[0].App != "github" || got[1].App != "slack" {
		t.Fatalf("apps = %+v", got)
	}
	if g := got[0]; g.Joiners != 0 || g.Access.N != 0 {
		t.Errorf("github (dry-run) = %+v, want nothing counted", g)
	}
	s := got[1]
	want := Latency{N: 20, P50: 10 * time.Minute, P95: 19 * time.Minute, Max: 20 * time.Minute}
	if s.Joiners != 20 || s.Leavers != 0 || s.Replays != 1 || s.Reevaluations != 1 || s.Access != want {
		t.Errorf("slack = %+v, want 20 joiners, access %+v, 1 replay, 1 re-evaluation", s, want)
	}
}
