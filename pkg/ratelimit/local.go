package ratelimit

import (
	"context"

	"golang.org/x/time/rate"
)

// Local is an in-process Limiter: each key has a token bucket refilled at
// PerMinute/60 a second holding Burst tokens. Waiters are served in order
// of arrival. Replicas do not share it: use Redis for that.
type Local struct {
	limiters map[string]*rate.Limiter
}

// NewLocal returns a Local pacing each key in limits.
func NewLocal(limits map[string]Limit) *Local {
	l := &Local{limiters: make(map[string]*rate.Limiter, len(limits))}
	for key, lim := range limits {
		if lim.PerMinute <= 0 {
			continue
		}
		l.limiters[key] = rate.NewLimiter(rate.Limit(float64(lim.PerMinute)/60), lim.burst())
	}
	return l
}

// Wait implements Limiter. Unlike rate.Limiter.Wait it returns ctx.Err(),
// and gives the reserved slot back when ctx ends first.
func (l *Local) Wait(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lim, ok := l.limiters[key]
	if !ok {
		return nil
	}
	r := lim.Reserve()
	if err := sleep(ctx, r.Delay()); err != nil {
		r.Cancel()
		return err
	}
	return nil
}
