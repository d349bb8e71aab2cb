package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keycard/pkg/ratelimit"
	"keycard/pkg/redistest"
)

// backend opens a fresh store and returns a constructor of Limiters on it;
// shared backends' Limiters draw on one budget.
type backend struct {
	name   string
	shared bool
	open   func(t *testing.T) func(map[string]ratelimit.Limit) ratelimit.Limiter
}

var backends = []backend{
	{"Local", false, func(*testing.T) func(map[string]ratelimit.Limit) ratelimit.Limiter {
		return func(l map[string]ratelimit.Limit) ratelimit.Limiter { return ratelimit.NewLocal(l) }
	}},
	{"Redis", true, func(t *testing.T) func(map[string]ratelimit.Limit) ratelimit.Limiter {
		t.Helper()
		opts, err := redis.ParseURL(redistest.Start(t))
		if err != nil {
			t.Fatal(err)
		}
		return func(l map[string]ratelimit.Limit) ratelimit.Limiter {
			rdb := redis.NewClient(opts) // one client per replica
			t.Cleanup(func() { _ = rdb.Close() })
			return ratelimit.NewRedis(rdb, l)
		}
	}},
}

// interval is the spacing of 600/min.
const interval = 100 * time.Millisecond

// upper is the generous upper bound for a theoretical minimum least: it
// catches a wrong unit or a lost wake-up, not slowness; a loaded machine
// (-race, parallel packages) adds scheduling latency to every slot.
func upper(least time.Duration) time.Duration { return 3*least + 500*time.Millisecond }

func TestLimiters(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("Pacing", func(t *testing.T) { t.Parallel(); testPacing(t, b) })
			t.Run("Unlimited", func(t *testing.T) { t.Parallel(); testUnlimited(t, b) })
			t.Run("Cancel", func(t *testing.T) { t.Parallel(); testCancel(t, b) })
			if b.shared {
				t.Run("SharedBudget", func(t *testing.T) { t.Parallel(); testShared(t, b) })
			}
		})
	}
}

func testPacing(t *testing.T, b backend) {
	tests := []struct {
		name    string
		limit   ratelimit.Limit
		waits   int
		workers int
	}{
		{"sequential burst 1", ratelimit.Limit{PerMinute: 600, Burst: 1}, 11, 1},
		{"concurrent burst 3", ratelimit.Limit{PerMinute: 600, Burst: 3}, 13, 4},
		{"burst 0 means 1", ratelimit.Limit{PerMinute: 600}, 6, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := b.open(t)(map[string]ratelimit.Limit{"okta": tt.limit})
			burst := max(tt.limit.Burst, 1)
			want := time.Duration(tt.waits-burst) * interval
			elapsed := waitAll(t, tt.waits, tt.workers, func() ratelimit.Limiter { return lim })
			if elapsed < want || elapsed > upper(want) {
				t.Fatalf("%d waits took %v; want ≥ %v (theoretical minimum) and ≤ %v", tt.waits, elapsed, want, upper(want))
			}
		})
	}
}

func testShared(t *testing.T, b backend) {
	limits := map[string]ratelimit.Limit{"okta": {PerMinute: 600, Burst: 1}}
	newLimiter := b.open(t)
	replicas := []ratelimit.Limiter{newLimiter(limits), newLimiter(limits)}
	const waits = 12 // 6 per replica
	want := (waits - 1) * interval
	var i int
	var mu sync.Mutex
	elapsed := waitAll(t, waits, 2, func() ratelimit.Limiter {
		mu.Lock()
		defer mu.Unlock()
		i++
		return replicas[i%2]
	})
	if elapsed < want || elapsed > upper(want) {
		t.Fatalf("%d waits over two replicas took %v; want ≥ %v (one shared budget) and ≤ %v", waits, elapsed, want, upper(want))
	}
}

func testUnlimited(t *testing.T, b backend) {
	lim := b.open(t)(map[string]ratelimit.Limit{
		"okta":  {PerMinute: 1, Burst: 1},
		"slack": {PerMinute: 0},
	})
	for _, key := range []string{"unknown", "slack"} {
		start := time.Now()
		for range 100 {
			if err := lim.Wait(t.Context(), key); err != nil {
				t.Fatalf("Wait(%q): %v", key, err)
			}
		}
		if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
			t.Fatalf("100 waits on unlimited %q took %v", key, elapsed)
		}
	}
}

func testCancel(t *testing.T, b backend) {
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{"cancelled while waiting", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx
		}, context.Canceled},
		{"deadline while waiting", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
		{"already cancelled", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := b.open(t)(map[string]ratelimit.Limit{"okta": {PerMinute: 1, Burst: 1}})
			if err := lim.Wait(t.Context(), "okta"); err != nil { // spends the burst
				t.Fatalf("first Wait: %v", err)
			}
			start := time.Now()
			err := lim.Wait(tt.ctx(t), "okta") // the next slot is a minute away
			if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
				t.Fatalf("Wait returned after %v; want promptly after the context ended", elapsed)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Wait = %v; want %v", err, tt.want)
			}
		})
	}
}

// waitAll runs waits Waits on key "okta" across workers goroutines, each
// Wait on the Limiter next returns, and reports the wall time.
func waitAll(t *testing.T, waits, workers int, next func() ratelimit.Limiter) time.Duration {
	t.Helper()
	jobs := make(chan ratelimit.Limiter, waits)
	for range waits {
		jobs <- next()
	}
	close(jobs)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for lim := range jobs {
				if err := lim.Wait(t.Context(), "okta"); err != nil {
					t.Errorf("Wait: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
