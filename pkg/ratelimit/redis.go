package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter shared by every replica using the same Redis: GCRA
// (redis_rate) on the key "rate:<key>", one Lua call per attempt. A
// refused attempt sleeps the RetryAfter Redis computed and tries again.
// Waiters of one Priority are served in no particular order; High waiters
// on any replica go before Normal ones (redis_priority.go). A Redis error
// is returned (wrapped): the caller retries the event later rather than
// writing unpaced. The rate passed to redis_rate is the pace every
// replica shares (redis_pace.go).
type Redis struct {
	rdb    *redis.Client
	lim    *redis_rate.Limiter
	limits map[string]Limit
	paces  *sharedPaces
}

// NewRedis returns a Redis limiter pacing each key in limits.
func NewRedis(rdb *redis.Client, limits map[string]Limit) *Redis {
	l := &Redis{rdb: rdb, lim: redis_rate.NewLimiter(rdb), limits: make(map[string]Limit, len(limits)),
		paces: newSharedPaces(rdb, limits)}
	for key, lim := range limits {
		if lim.PerMinute <= 0 {
			continue
		}
		l.limits[key] = lim
	}
	return l
}

// minRetry keeps a refused waiter from spinning when RetryAfter rounds to
// nothing.
const minRetry = time.Millisecond

// StoreError is the pacer's Redis failing while pacing Key: transient,
// and to the worker's circuit a store failure like the ledger's.
type StoreError struct {
	Key string
	Err error
}

func (e *StoreError) Error() string { return fmt.Sprintf("rate limit %s: %v", e.Key, e.Err) }
func (e *StoreError) Unwrap() error { return e.Err }

// Wait implements Limiter.
func (l *Redis) Wait(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lim, ok := l.limits[key]
	if !ok {
		return nil
	}
	gcra := redis_rate.Limit{Rate: lim.PerMinute, Period: time.Minute, Burst: lim.burst()}
	lane := newLane(l.rdb, key, lim, PriorityFrom(ctx))
	defer lane.leave(ctx)
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &StoreError{Key: key, Err: err}
	}
	for {
		cur, paused := l.paces.current(ctx, key, gcra)
		if paused > 0 {
			if err := sleep(ctx, paused); err != nil {
				return err
			}
			continue
		}
		aside, err := lane.standAside(ctx)
		if err != nil {
			return fail(err)
		}
		if aside > 0 {
			if err := sleep(ctx, aside); err != nil {
				return err
			}
			continue
		}
		res, err := l.lim.Allow(ctx, key, cur)
		if err != nil {
			return fail(err)
		}
		if res.Allowed > 0 {
			return nil
		}
		if err := sleep(ctx, max(res.RetryAfter, minRetry)); err != nil {
			return err
		}
	}
}
