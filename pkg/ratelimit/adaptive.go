package ratelimit

import (
	"context"
	"time"
)

// The pace of an Adaptive limit follows AIMD (additive increase,
// multiplicative decrease, as TCP's congestion window): a vendor that
// publishes no limit tells us it only with a 429, so the pace climbs by
// a fixed step while writes are accepted and halves at a 429. A climb by
// steps costs one 429 per sawtooth near the vendor's real limit and
// averages three quarters of it; halving backs off at once from a limit
// the vendor just enforced.
//
// The step is counted in accepted writes, not in time, so the climb
// speeds up with the pace: from 60/min, +15/min every 10 writes reaches
// 240/min after 120 writes (55 s instead of 120 s at the fixed start)
// and the 600/min ceiling after 360.
const (
	// okStreak is how many writes in a row must be accepted before the
	// pace rises one step.
	okStreak = 10
	// cutWindow is the least time between two cuts: the 429s of writes
	// already in flight when the first came are the same signal, whatever
	// Retry-After said.
	cutWindow = time.Second
	// DefaultCeiling multiplies the starting pace when an adaptive limit
	// sets no MaxPerMinute.
	DefaultCeiling = 10
)

// aimd is one key's rules, from its Limit. A limit that is not adaptive
// has floor = ceiling = start: it is never cut nor raised, only paused.
type aimd struct {
	adaptive              bool
	start, floor, ceiling int
	step                  int
}

func (l Limit) aimd() aimd {
	a := aimd{start: l.PerMinute, floor: l.PerMinute, ceiling: l.PerMinute}
	if !l.Adaptive {
		return a
	}
	a.adaptive = true
	a.floor = max(1, l.PerMinute/4)
	a.step = max(1, l.PerMinute/4)
	a.ceiling = l.MaxPerMinute
	if a.ceiling < l.PerMinute {
		a.ceiling = DefaultCeiling * l.PerMinute
	}
	return a
}

// clamp keeps a pace learned under other rules (another replica's
// configuration, an earlier one) within these.
func (a aimd) clamp(rate int) int { return min(max(rate, a.floor), a.ceiling) }

// pace is what one key has learned. Redis keeps the same fields in the
// hash rate:<key>:pace and applies the same rules in Lua (redis_pace.go).
type pace struct {
	rate   int       // writes a minute now
	oks    int       // writes accepted since the last step or cut
	window time.Time // until then a 429 is part of the last cut, and an accepted write was sent before it
	pause  time.Time // no write before then: the vendor's Retry-After
}

// observe applies one answer at now.
func (a aimd) observe(p *pace, o Outcome, now time.Time) {
	if o.Throttled {
		if now.Before(p.window) {
			p.window = later(p.window, now.Add(o.RetryAfter))
		} else {
			if a.adaptive {
				p.rate = max(a.floor, p.rate/2)
			}
			p.oks = 0
			p.window = now.Add(max(o.RetryAfter, cutWindow))
		}
		p.pause = later(p.pause, now.Add(o.RetryAfter))
		return
	}
	if !a.adaptive || now.Before(p.window) {
		return
	}
	if p.oks++; p.oks >= okStreak {
		p.oks = 0
		p.rate = min(a.ceiling, p.rate+a.step)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Observe implements the feedback every Limiter takes: the app's answer
// to one request on key. A 429 pauses the key for its Retry-After and,
// when the limit is adaptive, cuts the pace; an accepted write counts
// towards the next step up.
func (l *Local) Observe(_ context.Context, key string, o Outcome) {
	b, ok := l.buckets[key]
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	b.refill(now) // what accrued so far accrued at the old pace
	before := b.pace
	b.rules.observe(&b.pace, o, now)
	b.perSec = float64(b.pace.rate) / 60
	if b.pace.pause.After(b.last) {
		// The bucket fills again from the pause's end, with the one token
		// the vendor's Retry-After promises.
		b.tokens, b.last = 1, b.pace.pause
	}
	if b.pace != before {
		b.wake() // a waiter's delay was computed at the old pace
	}
}

// Pace is key's current pace in writes a minute; 0 for a key without a
// limit.
func (l *Local) Pace(key string) int {
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pace.rate
}
