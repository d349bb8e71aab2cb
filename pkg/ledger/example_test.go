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
	me := ledger.NewHolder("keycard-0")                        // stable instance id, new boot id per start

	key := "okta:01J0000000000000000000000" // <app>:<event id>
	const lease = 10 * time.Second          // renew every lease/3 while applying (see pkg/worker)
	c, err := l.Claim(ctx, key, lease, me)
	switch {
	case err != nil:
		return // transient: Nak and retry later
	case c.State == ledger.StateDone, c.State == ledger.StateDead:
		return // already handled: Ack and skip
	case !c.Acquired():
		_ = c.Retry // another worker holds it: NakWithDelay(c.Retry)
		return
	}
	token, err := l.Renew(ctx, key, c.Token, lease) // the heartbeat, from a goroutine in real use
	if err != nil {
		return // lost (or the store failed): stop before the next outside write
	}
	if err := apply(ctx); err != nil {
		_ = l.Release(ctx, key, token) // transient: let the retry claim it
		return
	}
	if err := l.Done(ctx, key, token); errors.Is(err, ledger.ErrLeaseLost) {
		return // our lease expired mid-way; the app is converged anyway (idempotent)
	}
}
