package ledger_test

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"keycard/pkg/ledger"
)

// A worker's path through the ledger for one event. (Compiled, not run: it
// needs a Redis.)
func Example() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	l := ledger.NewRedis(rdb, "keycard:idem:", 8*24*time.Hour) // > stream MaxAge + DLQ retention
	apply := func(context.Context) error { return nil }        // converge the app

	key := "okta:01J0000000000000000000000" // <app>:<event id>
	c, err := l.Claim(ctx, key, time.Minute)
	switch {
	case err != nil:
		return // transient: Nak and retry later
	case c.State == ledger.StateDone, c.State == ledger.StateDead:
		return // already handled: Ack and skip
	case !c.Acquired():
		_ = c.Retry // another worker holds it: NakWithDelay(c.Retry)
		return
	}
	if err := apply(ctx); err != nil {
		_ = l.Release(ctx, key, c.Token) // transient: let the retry claim it
		return
	}
	if err := l.Done(ctx, key, c.Token); errors.Is(err, ledger.ErrLeaseLost) {
		return // our lease expired mid-way; the app is converged anyway (idempotent)
	}
}
