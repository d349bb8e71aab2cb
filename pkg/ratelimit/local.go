package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Local is an in-process Limiter: each key has a token bucket refilled at
// PerMinute/60 a second holding Burst tokens. Waiters are served in order
// of arrival within their Priority, High before Normal. Replicas do not
// share it: use Redis for that.
//
// Not golang.org/x/time/rate: its Reserve hands out future slots in order
// of arrival, so a termination arriving behind 300 queued hires would get
// the 301st slot. Here nobody holds a future slot; a token goes to the
// head of the High queue, else of the Normal queue, when it is there.
type Local struct {
	buckets map[string]*bucket
	now     func() time.Time
}

// NewLocal returns a Local pacing each key in limits.
func NewLocal(limits map[string]Limit) *Local {
	l := &Local{buckets: make(map[string]*bucket, len(limits)), now: time.Now}
	for key, lim := range limits {
		if lim.PerMinute <= 0 {
			continue
		}
		l.buckets[key] = &bucket{perSec: float64(lim.PerMinute) / 60, burst: float64(lim.burst()),
			tokens: float64(lim.burst()), changed: make(chan struct{}),
			rules: lim.aimd(), pace: pace{rate: lim.PerMinute}}
	}
	return l
}

// highStreak is how many tokens in a row High waiters may take while a
// Normal one waits: leavers come first, but a stream of them cannot stop
// joiners for good.
const highStreak = 8

type bucket struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	tokens  float64
	last    time.Time // of the last refill; later than now while the key is paused
	rules   aimd
	pace    pace
	queues  [2][]*waiter  // by Priority
	streak  int           // High tokens in a row while Normal waited
	changed chan struct{} // closed and replaced whenever a waiter leaves
}

// waiter has a field: pointers to zero-size values may compare equal.
type waiter struct{ _ byte }

// Wait implements Limiter. It returns ctx.Err() when ctx ends first, and
// then takes nothing.
func (l *Local) Wait(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, ok := l.buckets[key]
	if !ok {
		return nil
	}
	p := min(max(PriorityFrom(ctx), Normal), High)
	me := &waiter{}
	b.mu.Lock()
	b.queues[p] = append(b.queues[p], me)
	for {
		now := l.now()
		b.refill(now)
		var delay time.Duration
		switch {
		case b.turn() != me:
		case now.Before(b.last):
			delay = b.last.Sub(now) // paused by a 429
		case b.tokens >= 1:
			b.tokens--
			if p == High && len(b.queues[Normal]) > 0 {
				b.streak++
			} else {
				b.streak = 0
			}
			b.leave(p, me)
			b.mu.Unlock()
			return nil
		default:
			delay = time.Duration((1 - b.tokens) / b.perSec * float64(time.Second))
		}
		changed := b.changed
		b.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if delay > 0 {
			t = time.NewTimer(delay)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.leave(p, me)
			b.mu.Unlock()
			return ctx.Err()
		case <-changed:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		b.mu.Lock()
	}
}

// turn is the waiter the next token is for.
func (b *bucket) turn() *waiter {
	hi, lo := b.queues[High], b.queues[Normal]
	if len(hi) > 0 && (len(lo) == 0 || b.streak < highStreak) {
		return hi[0]
	}
	if len(lo) > 0 {
		return lo[0]
	}
	return nil
}

func (b *bucket) refill(now time.Time) {
	if now.Before(b.last) {
		return // paused: nothing accrues before the pause ends
	}
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	b.last = now
}

// leave removes w and wakes the others: the turn may have moved.
func (b *bucket) leave(p Priority, w *waiter) {
	q := b.queues[p]
	for i, x := range q {
		if x == w {
			b.queues[p] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	b.wake()
}

// wake tells every waiter to look again.
func (b *bucket) wake() {
	close(b.changed)
	b.changed = make(chan struct{})
}
