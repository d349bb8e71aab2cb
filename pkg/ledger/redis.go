package ledger

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the production backend. A lease is `SET <prefix>l:<key>
// processing:<token> NX PX <lease>`, the token being
// "<random>:<boot>:<instance>"; Renew (PEXPIRE), Done, Dead and Release are
// Lua compare-and-sets on that exact value, so a worker whose lease
// expired can never overwrite a newer claim. Redis expires keys on its own
// clock, so worker clocks never matter. Versions live under <prefix>v:<key>
// without a TTL. Every operation is one round trip; works on Redis ≥ 6.
type Redis struct {
	rdb     *redis.Client
	prefix  string
	doneTTL time.Duration
}

var _ interface {
	Ledger
	Versions
} = (*Redis)(nil)

// NewRedis returns a ledger and version guard stored in rdb under prefix
// (e.g. "keycard:idem:"). done and dead keys are kept for doneTTL, which
// must outlast every redelivery and replay of an event (the stream's
// MaxAge plus the DLQ's retention); doneTTL ≤ 0 keeps them forever.
func NewRedis(rdb *redis.Client, prefix string, doneTTL time.Duration) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, doneTTL: doneTTL}
}

// The scripts return integers or strings, never a bare false (which
// go-redis would surface as redis.Nil).
var (
	// KEYS[1] key; ARGV[1] value; ARGV[2] lease in ms; ARGV[3] our
	// instance, ARGV[4] our boot. → {1} when set, {2} when taken over from
	// our instance's earlier boot, else {0, current value, PTTL}. The
	// pattern mirrors holderToken: processing:<random>:<boot>:<instance>.
	claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
local v = redis.call('GET', KEYS[1])
if ARGV[3] ~= '' then
  local boot, inst = string.match(v, '^processing:[^:]*:([^:]+):(.*)$')
  if inst == ARGV[3] and boot ~= ARGV[4] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return {2}
  end
end
return {0, v, redis.call('PTTL', KEYS[1])}`)

	// KEYS[1] key; ARGV[1] expected value; ARGV[2] lease in ms.
	// → 1 when extended, else 0.
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

	// KEYS[1] key; ARGV[1] expected value; ARGV[2] new value; ARGV[3] TTL in
	// ms, 0 for none. → 1 when swapped, else 0.
	swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1`)

	// KEYS[1] key; ARGV[1] expected value. → 1 when deleted, else 0.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1`)

	// KEYS[1] key. Deletes a dead key. → the value it found, '' if absent.
	reopenScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return ''
end
if v == 'dead' then
  redis.call('DEL', KEYS[1])
end
return v`)

	// KEYS[1] key; ARGV[1] decimal sequence without leading zeros. Compares
	// as strings (length, then bytes) so every uint64 is exact; Lua numbers
	// are doubles. → 1 when set, else 0.
	advanceScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local new = ARGV[1]
if cur and (#cur > #new or (#cur == #new and cur >= new)) then
  return 0
end
redis.call('SET', KEYS[1], new)
return 1`)
)

func (l *Redis) key(k string) string        { return l.prefix + "l:" + k }
func (l *Redis) versionKey(k string) string { return l.prefix + "v:" + k }

func (l *Redis) fail(op, key string, err error) error {
	return &StoreError{Backend: "redis", Op: op, Key: key, Err: err}
}

// ms rounds d up to whole milliseconds (PX's unit).
func ms(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// Claim implements Ledger.
func (l *Redis) Claim(ctx context.Context, key string, lease time.Duration, h Holder) (Claim, error) {
	if err := checkLease("claim", key, lease); err != nil {
		return Claim{}, err
	}
	if err := h.check(key); err != nil {
		return Claim{}, err
	}
	token := holderToken(h)
	res, err := claimScript.Run(ctx, l.rdb, []string{l.key(key)}, processingPrefix+token, ms(lease), h.Instance, h.Boot).Slice()
	if err != nil {
		return Claim{}, l.fail("claim", key, err)
	}
	if len(res) == 1 {
		took, _ := res[0].(int64)
		return Claim{State: StateProcessing, Token: token, TookOver: took == 2}, nil
	}
	if len(res) != 3 {
		return Claim{}, l.fail("claim", key, errors.New("unexpected script reply"))
	}
	v, _ := res[1].(string)
	st, _, err := parseState(v)
	if err != nil {
		return Claim{}, l.fail("claim", key, err)
	}
	c := Claim{State: st}
	if st == StateProcessing {
		pttl, _ := res[2].(int64)
		c.Retry = max(time.Duration(pttl)*time.Millisecond, time.Millisecond)
	}
	return c, nil
}

// Renew implements Ledger; the token stays the same.
func (l *Redis) Renew(ctx context.Context, key, token string, lease time.Duration) (string, error) {
	if err := checkLease("renew", key, lease); err != nil {
		return "", err
	}
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key(key)}, processingPrefix+token, ms(lease)).Int()
	if err != nil {
		return "", l.fail("renew", key, err)
	}
	if n == 0 {
		return "", leaseLost("renew", key)
	}
	return token, nil
}

// Done implements Ledger.
func (l *Redis) Done(ctx context.Context, key, token string) error {
	return l.finish(ctx, "done", key, token, StateDone)
}

// Dead implements Ledger.
func (l *Redis) Dead(ctx context.Context, key, token string) error {
	return l.finish(ctx, "dead", key, token, StateDead)
}

func (l *Redis) finish(ctx context.Context, op, key, token string, to State) error {
	ttl := int64(0)
	if l.doneTTL > 0 {
		ttl = ms(l.doneTTL)
	}
	n, err := swapScript.Run(ctx, l.rdb, []string{l.key(key)}, processingPrefix+token, string(to), ttl).Int()
	if err != nil {
		return l.fail(op, key, err)
	}
	if n == 0 {
		return leaseLost(op, key)
	}
	return nil
}

// Release implements Ledger.
func (l *Redis) Release(ctx context.Context, key, token string) error {
	n, err := releaseScript.Run(ctx, l.rdb, []string{l.key(key)}, processingPrefix+token).Int()
	if err != nil {
		return l.fail("release", key, err)
	}
	if n == 0 {
		return leaseLost("release", key)
	}
	return nil
}

// Reopen implements Ledger.
func (l *Redis) Reopen(ctx context.Context, key string) error {
	v, err := reopenScript.Run(ctx, l.rdb, []string{l.key(key)}).Text()
	if err != nil {
		return l.fail("reopen", key, err)
	}
	if v == "" || v == string(StateDead) {
		return nil
	}
	st, _, err := parseState(v)
	if err != nil {
		return l.fail("reopen", key, err)
	}
	return notDead(key, st)
}

// Get implements Ledger.
func (l *Redis) Get(ctx context.Context, key string) (State, bool, error) {
	v, err := l.rdb.Get(ctx, l.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, l.fail("get", key, err)
	}
	st, _, err := parseState(v)
	if err != nil {
		return "", false, l.fail("get", key, err)
	}
	return st, true, nil
}

// Applied implements Versions.
func (l *Redis) Applied(ctx context.Context, key string) (uint64, error) {
	v, err := l.rdb.Get(ctx, l.versionKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, l.fail("applied", key, err)
	}
	n, err := parseSeq(v)
	if err != nil {
		return 0, l.fail("applied", key, err)
	}
	return n, nil
}

// Advance implements Versions.
func (l *Redis) Advance(ctx context.Context, key string, seq uint64) (bool, error) {
	if seq == 0 {
		return false, nil // never greater than "none"
	}
	n, err := advanceScript.Run(ctx, l.rdb, []string{l.versionKey(key)}, strconv.FormatUint(seq, 10)).Int()
	if err != nil {
		return false, l.fail("advance", key, err)
	}
	return n == 1, nil
}
