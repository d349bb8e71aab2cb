package normalize

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Subjects of effective-date schedules. The schedule's subject is its
// identity (one live schedule per person: publishing again replaces it,
// purging cancels it); the server fires it onto the due subject, which the
// normalizer consumes as a re-check.
func scheduleSubject(key string) string { return "hr.sched.at." + key }

// DueSubjects is what the normalizer's second consumer reads.
const DueSubjects = "hr.sched.due.>"

func dueSubject(key string) string { return "hr.sched.due." + key }

// dueTTL cleans fired re-checks out of HR_SCHED (it has no MaxAge, so that
// schedules months ahead never expire).
const dueTTL = 30 * 24 * time.Hour

// due is the body of a schedule and of the re-check it fires.
type due struct {
	EmployeeID string    `json:"employee_id"`
	Reason     string    `json:"reason"` // start_date, termination_date, contract_end_date
	At         time.Time `json:"at"`
}

// nextEffective is the next date on which r's state will change by itself,
// at the configured local time, and why; zero if none.
func (n *Normalizer) nextEffective(r Snapshot, loc *time.Location, now time.Time) (time.Time, string, error) {
	today := now.In(loc).Format(time.DateOnly)
	type candidate struct{ date, clock, reason string }
	var cands []candidate
	switch r.State {
	case pending:
		cands = append(cands, candidate{r.Employee.HireDate, n.opts.JoinerTime, "start_date"})
	case active:
		cands = append(cands,
			candidate{r.Employee.TerminationDate, n.opts.LeaverTime, "termination_date"},
			candidate{r.Employee.ContractEndDate, n.opts.LeaverTime, "contract_end_date"})
	}
	var best time.Time
	reason := ""
	for _, c := range cands {
		if c.date == "" || c.date <= today {
			continue
		}
		t, err := at(c.date, c.clock, loc)
		if err != nil {
			return time.Time{}, "", err
		}
		if best.IsZero() || t.Before(best) {
			best, reason = t, c.reason
		}
	}
	return best, reason, nil
}

// reschedule makes HR_SCHED hold exactly the next effective-date re-check
// for r: a new or moved date replaces the schedule, a rescinded one
// cancels it. It returns the schedule now in force.
func (n *Normalizer) reschedule(ctx context.Context, key, id string, r Snapshot, loc *time.Location, now time.Time) (time.Time, error) {
	when, reason, err := n.nextEffective(r, loc, now)
	if err != nil {
		return r.ScheduleAt, err
	}
	if when.Equal(r.ScheduleAt) {
		return when, nil
	}
	if when.IsZero() {
		err := n.sched.Purge(ctx, jetstream.WithPurgeSubject(scheduleSubject(key)))
		if err != nil {
			return r.ScheduleAt, fmt.Errorf("cancel schedule for %s: %w", id, err)
		}
		n.metrics.schedules.WithLabelValues("cancelled").Inc()
		n.log.Info().Str("employee", id).Msg("effective-date schedule cancelled")
		return when, nil
	}
	body, err := json.Marshal(due{EmployeeID: id, Reason: reason, At: when})
	if err != nil {
		return r.ScheduleAt, err
	}
	msg := nats.NewMsg(scheduleSubject(key))
	msg.Data = body
	msg.Header.Set(event.HeaderEventID, "sched:"+key+":"+strconv.FormatInt(when.Unix(), 10))
	_, err = n.js.PublishMsg(ctx, msg,
		jetstream.WithScheduleAt(serverTime(when, now)),
		jetstream.WithScheduleTarget(dueSubject(key)),
		jetstream.WithScheduleTTL(dueTTL),
		jetstream.WithExpectStream(streams.Sched))
	if err != nil {
		return r.ScheduleAt, fmt.Errorf("schedule %s for %s: %w", reason, id, err)
	}
	n.metrics.schedules.WithLabelValues("set").Inc()
	n.log.Info().Str("employee", id).Str("reason", reason).Time("at", when).Msg("effective-date schedule set")
	return when, nil
}

// serverTime maps an instant on the normalizer's clock (injectable, so
// tests can stand just before a date) to the server's real clock, rounded
// up to whole seconds plus one: "@at" has second precision and must not
// fire before the date has begun on our clock.
func serverTime(when, now time.Time) time.Time {
	t := time.Now().Add(when.Sub(now))
	return t.Truncate(time.Second).Add(2 * time.Second)
}
