package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/worker"
)

// Period is a calendar month, quarter or year in UTC: [Start, End).
type Period struct {
	Name  string    `json:"name"` // 2026-11, 2026-Q4, 2026
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Month parses "2026-11".
func Month(s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return Period{Name: s, Start: t, End: t.AddDate(0, 1, 0)}, nil
}

// Quarter parses "2026-Q4".
func Quarter(s string) (Period, error) {
	var y, q int
	if n, err := fmt.Sscanf(s, "%4d-Q%1d", &y, &q); err != nil || n != 2 || q < 1 || q > 4 || len(s) != 7 {
		return Period{}, fmt.Errorf("quarter %q: want YYYY-Qn, n from 1 to 4", s)
	}
	start := time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	return Period{Name: s, Start: start, End: start.AddDate(0, 3, 0)}, nil
}

// Year parses "2026".
func Year(s string) (Period, error) {
	y, err := strconv.Atoi(s)
	if err != nil || len(s) != 4 {
		return Period{}, fmt.Errorf("year %q: want YYYY", s)
	}
	start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	return Period{Name: s, Start: start, End: start.AddDate(1, 0, 0)}, nil
}

// Latency is a distribution of durations: nearest-rank percentiles (the
// smallest value at least q of the sample is at or below), so every
// figure is a time something really took.
type Latency struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	Max time.Duration `json:"max_ns"`
}

func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	rank := func(q float64) time.Duration { return ds[int(math.Ceil(q*float64(len(ds))))-1] }
	return Latency{N: len(ds), P50: rank(0.50), P95: rank(0.95), Max: ds[len(ds)-1]}
}

// AppActivity is one app's figures for a period.
type AppActivity struct {
	App string `json:"app"`
	// Joiners (hired, rehired), movers (moved, updated) and leavers
	// (terminated) whose change the app applied in the period: HR
	// events, each counted once however often it was delivered or
	// replayed; dry-run apps' plans are not counted.
	Joiners int `json:"joiners"`
	Movers  int `json:"movers"`
	Leavers int `json:"leavers"`
	// Access is time-to-access of the joiners, Revoke time-to-revoke of
	// the leavers: from when the HR change took effect (the later of its
	// occurred and effective times) to the audit record of the apply.
	Access Latency `json:"time_to_access"`
	Revoke Latency `json:"time_to_revoke"`
	// Failures are events dead-lettered in the period; Replays the
	// operator's replays handled (provctl dlq replay, held release);
	// Reevaluations the re-evaluations a policy change or a reconcile
	// fix handed to the worker.
	Failures      int `json:"failures"`
	Replays       int `json:"replays"`
	Reevaluations int `json:"reevaluations"`
}

// Direction is which way a kind of HR event moves access.
func Direction(k event.Kind) string {
	switch k {
	case event.Hired, event.Rehired:
		return "joiner"
	case event.Terminated:
		return "leaver"
	}
	return "mover"
}

// Activity counts the audit records stored in p, per app, in the order
// of apps (apps with records but not named are appended, sorted). start
// is when each HR event (by id) took effect, from HR_EVENTS; an event not
// found there (aged out) starts at the record's occurred time.
func Activity(p Period, apps []string, records []worker.Record, start map[string]time.Time) []AppActivity {
	byApp := map[string]*AppActivity{}
	var order []string
	get := func(app string) *AppActivity {
		a := byApp[app]
		if a == nil {
			a = &AppActivity{App: app}
			byApp[app] = a
			order = append(order, app)
		}
		return a
	}
	for _, app := range apps {
		get(app)
	}
	type key struct{ app, id string }
	seen := map[key]bool{}
	access, revoke := map[string][]time.Duration{}, map[string][]time.Duration{}
	slices.SortStableFunc(records, func(a, b worker.Record) int { return a.At.Compare(b.At) })
	for _, r := range records {
		if !p.Contains(r.At) {
			continue
		}
		a := get(r.App)
		switch {
		case r.Outcome == "dead_lettered":
			a.Failures++
		case r.Replay && r.Reason != "":
			a.Reevaluations++
		case r.Replay:
			a.Replays++
		}
		if r.Outcome != "applied" || r.Mode != "apply" || r.Reason != "" || seen[key{r.App, r.EventID}] {
			continue
		}
		seen[key{r.App, r.EventID}] = true
		from, ok := start[r.EventID]
		if !ok {
			from = r.OccurredAt
		}
		took := max(r.At.Sub(from), 0)
		switch Direction(r.Kind) {
		case "joiner":
			a.Joiners++
			if !from.IsZero() {
				access[r.App] = append(access[r.App], took)
			}
		case "leaver":
			a.Leavers++
			if !from.IsZero() {
				revoke[r.App] = append(revoke[r.App], took)
			}
		default:
			a.Movers++
		}
	}
	out := make([]AppActivity, 0, len(order))
	named := len(apps)
	extra := slices.Clone(order[named:])
	slices.SortFunc(extra, cmp.Compare[string])
	for _, app := range append(order[:named:named], extra...) {
		a := byApp[app]
		a.Access, a.Revoke = latency(access[app]), latency(revoke[app])
		out = append(out, *a)
	}
	return out
}
