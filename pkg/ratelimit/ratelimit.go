// Package ratelimit paces writes to each SaaS app below its documented
// limit, so steady state sees no 429 (DESIGN.md §2: rate limits are paced,
// not discovered). A worker calls Wait(ctx, app) before every write.
//
// Two implementations: Local (an in-process token bucket) for the
// single-binary mode, and Redis (GCRA via redis_rate) when several replicas
// must share one app's budget. Both learn from the app's answers
// (Observe): an Adaptive limit climbs while the app accepts writes and
// halves on a 429 (adaptive.go); every limit pauses for a 429's
// Retry-After.
package ratelimit

import (
	"context"
	"time"
)

// Limiter paces writes per key (an app name).
type Limiter interface {
	// Wait blocks until one write is allowed for key, or until ctx ends,
	// when it returns ctx.Err(). A key without a configured Limit is not
	// limited: Wait returns at once.
	Wait(ctx context.Context, key string) error
}

// Limit is one app's budget: PerMinute writes a minute on average, with up
// to Burst at once after an idle period. PerMinute ≤ 0 means no limit;
// Burst < 1 is taken as 1.
//
// An Adaptive limit treats PerMinute as where to start, for a vendor that
// publishes no limit: the pace rises while no 429 is seen, up to
// MaxPerMinute (default 10 × PerMinute), and halves on a 429, down to a
// quarter of PerMinute. A limit that is not Adaptive (a documented one)
// never rises above PerMinute nor is cut: a 429 only pauses it.
type Limit struct {
	PerMinute    int
	Burst        int
	Adaptive     bool
	MaxPerMinute int
}

func (l Limit) burst() int { return max(l.Burst, 1) }

// Outcome is how the app answered one request: Throttled (a 429, or the
// vendor's equivalent), with the delay the app asked for, if any.
type Outcome struct {
	Throttled  bool
	RetryAfter time.Duration
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
