package poll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SweepReport says what one sweep did.
type SweepReport struct {
	// Start is the sweep's start time, in each recheck's Nats-Msg-Id.
	Start time.Time
	// Directory is how many active employees the directory listed.
	Directory int
	// BelievedActive is how many employees the Roster believes active.
	BelievedActive int
	// Absentees are believed active but missing from the directory.
	Absentees int
	// Stored and Duplicates count the acknowledged rechecks.
	Stored, Duplicates int
	// GuardTripped says the directory was too small next to BelievedActive,
	// so no absentee was rechecked.
	GuardTripped bool
}

// SweepOnce sweeps now: one recheck per employee in the directory, and one
// per employee the Roster believes active but the directory lacks, unless
// the guard trips. It records the sweep time in KV (never moving it back),
// so Run's next sweep is one SweepInterval later.
func (p *Poller) SweepOnce(ctx context.Context) (SweepReport, error) {
	start := p.cfg.Now().UTC().Truncate(time.Second)
	rep, err := p.sweep(ctx, start)
	if err != nil {
		return rep, err
	}
	last, rev, err := p.state.get(ctx, SweepKey)
	if err == nil && (rev == 0 || start.After(last)) {
		err = p.state.put(ctx, SweepKey, start, rev)
	}
	if err != nil && !errors.Is(err, errConflict) {
		return rep, fmt.Errorf("sweep: record sweep time: %w", err)
	}
	return rep, nil
}

// claimSweep decides whether a sweep is due and, if so, claims it by
// writing its start time with compare-and-set, so that of several replicas
// exactly one sweeps. It returns the claimed start, or a zero start and
// when the next sweep is due.
func (p *Poller) claimSweep(ctx context.Context) (start, next time.Time, err error) {
	last, rev, err := p.state.get(ctx, SweepKey)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("sweep: %w", err)
	}
	now := p.cfg.Now().UTC()
	if rev != 0 && now.Before(last.Add(p.cfg.SweepInterval)) {
		return time.Time{}, last.Add(p.cfg.SweepInterval), nil
	}
	start = now.Truncate(time.Second)
	err = p.state.put(ctx, SweepKey, start, rev)
	if errors.Is(err, errConflict) {
		return time.Time{}, now, nil // another replica claimed it: read again
	}
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("sweep: claim: %w", err)
	}
	return start, time.Time{}, nil
}

// sweep runs one sweep with the given start time and counts and logs it.
func (p *Poller) sweep(ctx context.Context, start time.Time) (SweepReport, error) {
	began := time.Now()
	rep, err := p.sweepRechecks(ctx, start)
	if err != nil && ctx.Err() != nil {
		return rep, err
	}
	outcome := sweepOK
	switch {
	case err != nil:
		outcome = sweepFailed
	case rep.GuardTripped:
		outcome = sweepGuardTripped
	}
	p.m.sweeps.WithLabelValues(outcome).Inc()
	p.m.sweepDuration.Observe(time.Since(began).Seconds())
	if err != nil {
		return rep, err
	}
	p.m.sweepLastSuccess.Set(float64(p.cfg.Now().Unix()))
	ev := p.log.Info()
	if rep.GuardTripped {
		ev = p.log.Error()
	}
	ev.Time("sweep_start", start).Int("directory", rep.Directory).Int("believed_active", rep.BelievedActive).
		Int("absentees", rep.Absentees).Int("stored", rep.Stored).Int("duplicates", rep.Duplicates).
		Bool("guard_tripped", rep.GuardTripped).Dur("duration", time.Since(began)).Msg("sweep")
	return rep, nil
}

func (p *Poller) sweepRechecks(ctx context.Context, start time.Time) (SweepReport, error) {
	rep := SweepReport{Start: start}
	dir, err := p.hr.Directory(ctx)
	if err != nil {
		return rep, fmt.Errorf("sweep: %w", err)
	}
	rep.Directory = len(dir)
	p.m.sweepDirectory.Set(float64(len(dir)))
	listed := make(map[string]bool, len(dir))
	for _, e := range dir {
		listed[e.ID] = true
	}

	// The roster is read before publishing, so its error does not hold up
	// the directory rechecks; it fails the sweep after them, and the retry
	// (same start, same ids) only adds what is missing.
	var believed []string
	var rosterErr error
	if p.roster != nil {
		believed, rosterErr = p.roster.ActiveIDs(ctx)
		if rosterErr != nil {
			rosterErr = fmt.Errorf("sweep: believed-active employees: %w", rosterErr)
		}
	}
	slices.Sort(believed)
	believed = slices.Compact(believed)
	believed = slices.DeleteFunc(believed, func(id string) bool { return id == "" })
	rep.BelievedActive = len(believed)
	var absent []string
	for _, id := range believed {
		if !listed[id] {
			absent = append(absent, id)
		}
	}
	rep.Absentees = len(absent)
	rep.GuardTripped = rep.BelievedActive >= p.cfg.GuardMinActive &&
		float64(rep.Directory) < p.cfg.MinDirectoryShare*float64(rep.BelievedActive)

	ids := make([]string, 0, len(dir)+len(absent))
	for _, e := range dir {
		ids = append(ids, e.ID)
	}
	if rep.GuardTripped {
		p.m.guardTrips.Inc()
		p.log.Error().Int("directory", rep.Directory).Int("believed_active", rep.BelievedActive).
			Int("absentees", rep.Absentees).Float64("min_directory_share", p.cfg.MinDirectoryShare).
			Msg("sweep guard tripped: the directory lists far fewer employees than are believed active " +
				"(wrong base URL or API key permissions, or a BambooHR glitch?); absentee rechecks withheld")
	} else {
		ids = append(ids, absent...)
	}
	for _, id := range ids {
		dup, err := p.publish(ctx, sweepRecheck(id, start))
		if err != nil {
			return rep, fmt.Errorf("sweep: recheck employee %s: %w", id, err)
		}
		p.m.countRecheck(KindSweep, dup)
		if dup {
			rep.Duplicates++
		} else {
			rep.Stored++
		}
	}
	return rep, rosterErr
}
