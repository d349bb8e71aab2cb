package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Every replica shares one pace per key, in the hash rate:<key>:pace
// (fields rate, oks, window, pause; times in ms of Redis TIME). The
// scripts apply aimd.observe's rules atomically, so two replicas' 429s
// in one window cut once, and time comes from Redis alone: the pause
// one replica's 429 sets is honoured by another whose clock is off.
// What a script returns is relative (the pause left), which any clock
// can add to its own now.

// paceTTL is how long a replica reuses the pace it last read before
// reading it again: an adaptive key reads it with every answer anyway
// (Observe returns it), so this only bounds how late an idle replica, or
// one pacing a documented limit, sees another's pause.
const paceTTL = time.Second

// paceKeep is how long a learned pace outlives the last answer: an app
// idle for a day starts again from its configured pace, since what was
// learned may no longer hold.
const paceKeep = 24 * time.Hour

var readPace = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v = redis.call('HMGET', KEYS[1], 'rate', 'pause')
return {tonumber(v[1]) or -1, math.max((tonumber(v[2]) or 0) - now, 0)}
`)

// ARGV: start, floor, ceiling, step, adaptive, throttled, retry_after_ms,
// cut_window_ms, ok_streak, keep_ms.
var observePace = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v = redis.call('HMGET', KEYS[1], 'rate', 'oks', 'window', 'pause')
local floor, ceiling = tonumber(ARGV[2]), tonumber(ARGV[3])
local rate = math.min(math.max(tonumber(v[1]) or tonumber(ARGV[1]), floor), ceiling)
local oks, window, pause = tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
local adaptive = ARGV[5] == '1'
if ARGV[6] == '1' then
  local after = tonumber(ARGV[7])
  if now < window then
    window = math.max(window, now + after)
  else
    if adaptive then rate = math.max(floor, math.floor(rate / 2)) end
    oks = 0
    window = now + math.max(after, tonumber(ARGV[8]))
  end
  pause = math.max(pause, now + after)
elseif adaptive and now >= window then
  oks = oks + 1
  if oks >= tonumber(ARGV[9]) then
    oks = 0
    rate = math.min(ceiling, rate + tonumber(ARGV[4]))
  end
end
redis.call('HSET', KEYS[1], 'rate', rate, 'oks', oks, 'window', window, 'pause', pause)
redis.call('PEXPIRE', KEYS[1], ARGV[10])
return {rate, math.max(pause - now, 0)}
`)

// sharedPaces is a Redis limiter's view of the shared paces.
type sharedPaces struct {
	rdb   *redis.Client
	now   func() time.Time
	rules map[string]aimd // read-only after newSharedPaces

	mu    sync.Mutex
	known map[string]knownPace
}

// knownPace is the last answer about one key, on this process's clock.
type knownPace struct {
	rate  int
	pause time.Time // the pause ends then
	read  time.Time
}

func newSharedPaces(rdb *redis.Client, limits map[string]Limit) *sharedPaces {
	s := &sharedPaces{rdb: rdb, now: time.Now, rules: map[string]aimd{}, known: map[string]knownPace{}}
	for key, lim := range limits {
		if lim.PerMinute > 0 {
			s.rules[key] = lim.aimd()
		}
	}
	return s
}

func paceKey(key string) string { return "rate:" + key + ":pace" }

// current is the limit to ask redis_rate for now, and how long key is
// still paused. A Redis error keeps the pace last known (else the
// starting one): the Allow that follows reports the error if Redis is
// really gone, so no write goes unpaced.
func (s *sharedPaces) current(ctx context.Context, key string, base redis_rate.Limit) (redis_rate.Limit, time.Duration) {
	a := s.rules[key]
	now := s.now()
	s.mu.Lock()
	k, ok := s.known[key]
	s.mu.Unlock()
	if !ok || now.Sub(k.read) >= paceTTL {
		if v, err := readPace.Run(ctx, s.rdb, []string{paceKey(key)}).Int64Slice(); err == nil && len(v) == 2 {
			k = s.remember(key, a, v, now)
		} else if !ok {
			k.rate = a.start
		}
	}
	base.Rate = k.rate
	return base, k.pause.Sub(now)
}

// remember stores a script's answer {rate or -1, pause left in ms}.
func (s *sharedPaces) remember(key string, a aimd, v []int64, now time.Time) knownPace {
	k := knownPace{rate: a.start, pause: now.Add(time.Duration(v[1]) * time.Millisecond), read: now}
	if v[0] >= 0 {
		k.rate = a.clamp(int(v[0]))
	}
	s.mu.Lock()
	s.known[key] = k
	s.mu.Unlock()
	return k
}

// Observe implements the feedback every Limiter takes (see Local.Observe),
// on the pace every replica shares. An accepted write on a limit that is
// not adaptive changes nothing and costs no round trip. A Redis error
// loses this one answer: the pace is not learned, and Wait goes on with
// the last one known.
func (l *Redis) Observe(ctx context.Context, key string, o Outcome) {
	s := l.paces
	a, ok := s.rules[key]
	if !ok || (!a.adaptive && !o.Throttled) {
		return
	}
	now := s.now()
	v, err := observePace.Run(ctx, s.rdb, []string{paceKey(key)},
		a.start, a.floor, a.ceiling, a.step, flag(a.adaptive), flag(o.Throttled), o.RetryAfter.Milliseconds(),
		cutWindow.Milliseconds(), okStreak, paceKeep.Milliseconds()).Int64Slice()
	if err == nil && len(v) == 2 {
		s.remember(key, a, v, now)
	}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Pace is key's pace in writes a minute as this replica last read it
// (no round trip); 0 for a key without a limit.
func (l *Redis) Pace(key string) int {
	s := l.paces
	a, ok := s.rules[key]
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.known[key]; ok {
		return k.rate
	}
	return a.start
}
