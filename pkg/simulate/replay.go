package simulate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
)

// DocumentedLatency is Keycard's time from an HR change's effective time
// to applied when nothing else is known, and DocumentedLatencyBasis says
// where it comes from.
const (
	DocumentedLatency      = 3*time.Second + 8380*time.Microsecond
	DocumentedLatencyBasis = "assumed: up to 3 s for the effective-date schedule to fire (pkg/normalize/schedule.go rounds up to the second, plus 2 s) " +
		"+ the pipeline's p99 of 8.38 ms measured by make bench (README, Performance: a fake BambooHR, an app answering at once); " +
		"a real BambooHR fetch, the app's own API time and its pace come on top"
)

// Window is a date range, [From, To).
type Window struct{ From, To time.Time }

// Figures are the times a replay sets against each other.
type Figures struct {
	Keycard      time.Duration // effective time → applied, for joiners and leavers alike
	KeycardBasis string        // where Keycard's figure comes from
	ManualAccess time.Duration // the user's own figure today
	ManualRevoke time.Duration
}

// Replay is a date range of joiners and leavers and the time Keycard
// would have saved.
type Replay struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"` // exclusive
	Months     []Month   `json:"months"`
	Joiners    int       `json:"joiners"`
	Leavers    int       `json:"leavers"`
	HoursSaved float64   `json:"hours_saved"`
	// Notes say which figure is measured and which assumed.
	Notes []string `json:"notes"`
}

// Month is one calendar month of a replay (the HR date's month). Times
// are in seconds from the effective time.
type Month struct {
	Month         string  `json:"month"` // YYYY-MM
	Joiners       int     `json:"joiners"`
	Leavers       int     `json:"leavers"`
	AccessKeycard float64 `json:"access_keycard_seconds"`
	AccessManual  float64 `json:"access_manual_seconds"`
	RevokeKeycard float64 `json:"revoke_keycard_seconds"`
	RevokeManual  float64 `json:"revoke_manual_seconds"`
	// HoursSaved is joiners × (manual − Keycard access) + leavers ×
	// (manual − Keycard revoke), in hours.
	HoursSaved float64 `json:"hours_saved"`
}

// ReplayRange finds, in people's start and termination (or contract end)
// dates, the joiners and leavers whose change took effect in w (by the
// normalizer's joiner/leaver clock times, m) and sets Keycard's time to
// access and to revoke against the manual one, month by month. Only
// changes that touch access count: a joiner the policy grants an account
// somewhere on their start date, a leaver it granted one the day before
// their last.
func ReplayRange(people []event.Employee, cfg *policy.Config, m normalize.Mapping, w Window, f Figures) (Replay, error) {
	r := Replay{From: w.From, To: w.To}
	months := map[string]*Month{}
	month := func(date string) *Month {
		k := date[:7]
		if months[k] == nil {
			months[k] = &Month{Month: k}
		}
		return months[k]
	}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(w.From) && t.Before(w.To) }
	for _, e := range people {
		start, err := m.StartsAt(e)
		if err != nil {
			return r, fmt.Errorf("employee %s: %w", e.ID, err)
		}
		if in(start) && grantsAny(cfg, e, e.HireDate) {
			month(e.HireDate).Joiners++
			r.Joiners++
		}
		end, err := m.EndsAt(e)
		if err != nil {
			return r, fmt.Errorf("employee %s: %w", e.ID, err)
		}
		if in(end) {
			// An export shows a leaver as they are now (inactive,
			// terminated): their access is the policy's for them as they
			// were on their last day before leaving.
			was := e
			was.Status, was.TerminationDate, was.ContractEndDate = event.StatusActive, "", ""
			if strings.EqualFold(was.EmploymentStatus, "Terminated") {
				was.EmploymentStatus = ""
			}
			last := end.AddDate(0, 0, -1).Format(time.DateOnly)
			if grantsAny(cfg, was, last) {
				month(end.Format(time.DateOnly)).Leavers++
				r.Leavers++
			}
		}
	}
	keycard := f.Keycard.Seconds()
	savedJoin := (f.ManualAccess - f.Keycard).Hours()
	savedLeave := (f.ManualRevoke - f.Keycard).Hours()
	for _, k := range slices.Sorted(maps.Keys(months)) {
		mo := months[k]
		mo.AccessKeycard, mo.RevokeKeycard = keycard, keycard
		mo.AccessManual, mo.RevokeManual = f.ManualAccess.Seconds(), f.ManualRevoke.Seconds()
		mo.HoursSaved = float64(mo.Joiners)*savedJoin + float64(mo.Leavers)*savedLeave
		r.HoursSaved += mo.HoursSaved
		r.Months = append(r.Months, *mo)
	}
	r.Notes = []string{
		"joiners and leavers per month: measured, from the HR records' start and termination dates (effective at KEYCARD_JOINER_TIME / KEYCARD_LEAVER_TIME in each person's zone)",
		fmt.Sprintf("Keycard's %s: %s", f.Keycard, f.KeycardBasis),
		fmt.Sprintf("manual %s to access and %s to revoke: entered by you (--manual-access, --manual-revoke)", f.ManualAccess, f.ManualRevoke),
		"a change entered in HR after it took effect waits for the webhook or the 5-minute poll: not in these figures",
	}
	return r, nil
}

// grantsAny says whether the policy gives e an account in any app on day.
func grantsAny(cfg *policy.Config, e event.Employee, day string) bool {
	for _, d := range cfg.Evaluate(e, day).Apps {
		if d.Account {
			return true
		}
	}
	return false
}
