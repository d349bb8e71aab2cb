package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The High lane across replicas. GCRA serves whoever asks first, so on its
// own a leaver on one replica competes with every joiner of every replica.
// Each waiting High waiter keeps an entry in the sorted set
// "rate:<key>:high" (member → expiry, Redis's clock), refreshed at every
// attempt and removed when it is served; a Normal waiter that sees the set
// non-empty stands aside for one token interval instead of asking. Entries
// of a waiter that died expire. A Normal waiter stands aside at most
// highStreak times, so a stream of leavers cannot stop joiners for good.

// highLane counts the live High waiters of KEYS[1] after dropping the
// expired ones, first adding or refreshing ARGV[1] (when not empty) for
// ARGV[2] ms. TIME: every replica reads the same clock.
var highLane = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  local ttl = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('ZCARD', KEYS[1])
`)

// lane is one waiter's place in its key's High lane.
type lane struct {
	rdb      *redis.Client
	set      string
	high     bool
	member   string
	ttl      time.Duration
	interval time.Duration // a Normal waiter's step aside
	yielded  int
}

var waiterSeq atomic.Uint64

// processID tells this process's High waiters from other replicas'.
var processID = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

func newLane(rdb *redis.Client, key string, lim Limit, p Priority) *lane {
	interval := time.Minute / time.Duration(lim.PerMinute)
	return &lane{
		rdb: rdb, set: "rate:" + key + ":high", high: p >= High,
		member: fmt.Sprintf("%s-%d", processID, waiterSeq.Add(1)),
		// Longer than a High waiter's sleep between attempts (at most a
		// token interval), so a live waiter's entry never lapses.
		ttl:      2*interval + time.Second,
		interval: min(max(interval, 5*time.Millisecond), time.Second),
	}
}

// standAside says how long a Normal waiter leaves the next token to the
// High lane (0: ask now). A High waiter announces itself and asks now.
func (l *lane) standAside(ctx context.Context) (time.Duration, error) {
	if l.high {
		return 0, highLane.Run(ctx, l.rdb, []string{l.set}, l.member, l.ttl.Milliseconds()).Err()
	}
	if l.yielded >= highStreak {
		return 0, nil
	}
	n, err := highLane.Run(ctx, l.rdb, []string{l.set}, "", 0).Int()
	if err != nil || n == 0 {
		return 0, err
	}
	l.yielded++
	return l.interval, nil
}

// leave takes a High waiter out of the lane, even after ctx ended.
func (l *lane) leave(ctx context.Context) {
	if !l.high {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = l.rdb.ZRem(ctx, l.set, l.member).Err() // else it expires
}
