package poll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"keycard/pkg/fault"
)

// PollReport says what one changed-since poll did.
type PollReport struct {
	// Since is the cursor the poll asked from.
	Since time.Time
	// Cursor is the cursor after the poll (Since when it did not move).
	Cursor time.Time
	// Changed is how many employees BambooHR listed.
	Changed int
	// Stored and Duplicates count the rechecks JetStream acknowledged as
	// new and as already stored (the same change polled again).
	Stored, Duplicates int
	// Advanced says the cursor was written; Conflict that another replica
	// wrote it first (this poll's rechecks are stored all the same, and the
	// next poll reads the newer cursor).
	Advanced, Conflict bool
}

// PollOnce polls changed-since once from the stored cursor, publishes one
// recheck per changed employee and, once every recheck is acknowledged,
// moves the cursor forward with compare-and-set. On any error the cursor
// stays where it was, so the next poll asks again; rechecks already stored
// are then deduplicated by their Nats-Msg-Id.
func (p *Poller) PollOnce(ctx context.Context) (PollReport, error) {
	start := time.Now()
	rep, outcome, err := p.poll(ctx)
	if err != nil && ctx.Err() != nil {
		return rep, err // shutting down: neither a failure nor a success
	}
	p.m.polls.WithLabelValues(outcome).Inc()
	p.m.pollDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return rep, err
	}
	p.m.pollLastSuccess.Set(float64(p.cfg.Now().Unix()))
	p.m.pollCursor.Set(float64(rep.Cursor.Unix()))
	p.log.Info().Time("since", rep.Since).Time("cursor", rep.Cursor).Int("changed", rep.Changed).
		Int("stored", rep.Stored).Int("duplicates", rep.Duplicates).Bool("advanced", rep.Advanced).
		Bool("conflict", rep.Conflict).Dur("duration", time.Since(start)).Msg("poll")
	return rep, nil
}

func (p *Poller) poll(ctx context.Context) (PollReport, string, error) {
	var rep PollReport
	cursor, rev, err := p.state.get(ctx, CursorKey)
	if err != nil {
		return rep, pollStateError, fmt.Errorf("poll: %w", err)
	}
	rep.Since = cursor
	if rev == 0 {
		rep.Since = p.cfg.Now().Add(-p.cfg.InitialLookback).UTC().Truncate(time.Second)
	}
	rep.Cursor = rep.Since

	changes, err := p.hr.Changed(ctx, rep.Since)
	if err != nil {
		outcome := pollAPIError
		if fault.IsPermanent(err) {
			outcome = pollAPIPermanent
		}
		return rep, outcome, fmt.Errorf("poll: %w", err)
	}
	rep.Changed = len(changes.Employees)

	next := changes.Latest
	for _, c := range changes.Employees {
		dup, err := p.publish(ctx, pollRecheck(c))
		if err != nil {
			return rep, pollPublishError, fmt.Errorf("poll: recheck employee %s: %w", c.ID, err)
		}
		p.m.countRecheck(KindPoll, dup)
		if dup {
			rep.Duplicates++
		} else {
			rep.Stored++
		}
		if changes.Latest.IsZero() && c.LastChanged.After(next) {
			next = c.LastChanged
		}
	}

	// Never backwards, and no write when nothing moved. Without a stored
	// cursor the starting point is written, so a restart continues from
	// it instead of sliding the lookback window forward.
	if rev != 0 && !next.After(cursor) {
		return rep, pollOK, nil
	}
	if !next.After(rep.Since) {
		next = rep.Since
	}
	next = next.UTC()
	err = p.state.put(ctx, CursorKey, next, rev)
	switch {
	case errors.Is(err, errConflict):
		rep.Conflict = true
		return rep, pollConflict, nil
	case err != nil:
		return rep, pollStateError, fmt.Errorf("poll: advance cursor to %s: %w", next.Format(time.RFC3339), err)
	}
	rep.Cursor, rep.Advanced = next, true
	return rep, pollOK, nil
}
