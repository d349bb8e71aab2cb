package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"keycard/pkg/ratelimit"
)

// learner is what both limiters add to Limiter: the app's answers in, the
// pace out.
type learner interface {
	ratelimit.Limiter
	Observe(ctx context.Context, key string, o ratelimit.Outcome)
	Pace(key string) int
}

func openLearner(t *testing.T, newLimiter func(map[string]ratelimit.Limit) ratelimit.Limiter, lim ratelimit.Limit) learner {
	t.Helper()
	l, ok := newLimiter(map[string]ratelimit.Limit{app: lim}).(learner)
	if !ok {
		t.Fatal("the limiter takes no feedback")
	}
	return l
}

// app is the key waitAll waits on.
const app = "okta"

var (
	accepted = ratelimit.Outcome{}
	// throttled is a 429 asking for 300 ms: shorter than the one-cut
	// window (1 s), so the window, not the pause, makes 429s one signal.
	throttled = ratelimit.Outcome{Throttled: true, RetryAfter: 300 * time.Millisecond}
)

func TestAdaptive(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("RisesToCeiling", func(t *testing.T) { t.Parallel(); testRises(t, b) })
			t.Run("CutOncePerWindow", func(t *testing.T) { t.Parallel(); testCut(t, b) })
			t.Run("DocumentedStaysFixed", func(t *testing.T) { t.Parallel(); testDocumented(t, b) })
			t.Run("FasterAfterRising", func(t *testing.T) { t.Parallel(); testFaster(t, b) })
			if b.shared {
				t.Run("SharedPace", func(t *testing.T) { t.Parallel(); testSharedPace(t, b) })
			}
		})
	}
}

// From 60/min the pace climbs a quarter of the start (15) every 10
// accepted writes, and stops at the ceiling.
func testRises(t *testing.T, b backend) {
	lim := openLearner(t, b.open(t), ratelimit.Limit{PerMinute: 60, Adaptive: true, MaxPerMinute: 120})
	for i := 1; i <= 100; i++ {
		lim.Observe(t.Context(), app, accepted)
		if got, want := lim.Pace(app), min(120, 60+15*(i/10)); got != want {
			t.Fatalf("after %d accepted writes the pace is %d/min; want %d", i, got, want)
		}
	}
}

// A 429 halves the pace once however many writes in flight get one, no
// write goes before its Retry-After, writes accepted within the window
// do not count, and the next window cuts again.
func testCut(t *testing.T, b backend) {
	lim := openLearner(t, b.open(t), ratelimit.Limit{PerMinute: 600, Burst: 5, Adaptive: true})
	for range 20 {
		lim.Observe(t.Context(), app, accepted)
	}
	if got := lim.Pace(app); got != 900 {
		t.Fatalf("pace after 20 accepted writes = %d; want 900", got)
	}
	start := time.Now()
	for range 5 {
		lim.Observe(t.Context(), app, throttled)
	}
	if got := lim.Pace(app); got != 450 {
		t.Fatalf("pace after five 429s in one window = %d; want 450 (one cut)", got)
	}
	mustPause(t, lim, start)
	for range 10 {
		lim.Observe(t.Context(), app, accepted) // sent before the cut
	}
	if got := lim.Pace(app); got != 450 {
		t.Fatalf("pace after 10 writes accepted within the cut's window = %d; want 450", got)
	}
	time.Sleep(time.Until(start.Add(1300 * time.Millisecond)))
	lim.Observe(t.Context(), app, throttled)
	if got := lim.Pace(app); got != 225 {
		t.Fatalf("pace after a 429 in the next window = %d; want 225", got)
	}
	time.Sleep(time.Until(start.Add(2600 * time.Millisecond)))
	lim.Observe(t.Context(), app, throttled)
	if got := lim.Pace(app); got != 150 {
		t.Fatalf("pace after a 429 in a third window = %d; want the floor, a quarter of the start (150)", got)
	}
}

// A documented limit is a ceiling: accepted writes never raise it and a
// 429 pauses without cutting it.
func testDocumented(t *testing.T, b backend) {
	lim := openLearner(t, b.open(t), ratelimit.Limit{PerMinute: 180, Burst: 19})
	for range 100 {
		lim.Observe(t.Context(), app, accepted)
	}
	start := time.Now()
	lim.Observe(t.Context(), app, throttled)
	if got := lim.Pace(app); got != 180 {
		t.Fatalf("documented pace after 100 accepted writes and a 429 = %d; want 180", got)
	}
	mustPause(t, lim, start)
}

// The raised pace is the one Wait paces at: 21 writes at 6,000/min take
// 200 ms; at the starting 600/min they would take 2 s.
func testFaster(t *testing.T, b backend) {
	lim := openLearner(t, b.open(t), ratelimit.Limit{PerMinute: 600, Burst: 1, Adaptive: true})
	for range 360 {
		lim.Observe(t.Context(), app, accepted)
	}
	if got := lim.Pace(app); got != 6000 {
		t.Fatalf("pace after 360 accepted writes = %d; want the ceiling, 6000", got)
	}
	elapsed := waitAll(t, 21, 2, func() ratelimit.Limiter { return lim })
	if least, slowest := 20*interval/10, 20*interval*3/4; elapsed < least || elapsed > slowest {
		t.Fatalf("21 waits took %v; want ≥ %v (the raised pace) and well under the start's 2s (≤ %v)", elapsed, least, slowest)
	}
}

// Two replicas share one pace: what one learns the other paces at, and
// the pause one's 429 sets holds on a replica that asks afterwards.
func testSharedPace(t *testing.T, b backend) {
	newLimiter := b.open(t)
	lim := ratelimit.Limit{PerMinute: 600, Burst: 5, Adaptive: true}
	a, c := openLearner(t, newLimiter, lim), openLearner(t, newLimiter, lim)
	for range 10 {
		a.Observe(t.Context(), app, accepted)
	}
	if err := c.Wait(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	if got := c.Pace(app); got != 750 {
		t.Fatalf("replica B's pace after A's 10 accepted writes = %d; want 750", got)
	}
	start := time.Now()
	a.Observe(t.Context(), app, throttled)
	c.Observe(t.Context(), app, throttled) // the same window: no second cut
	if got := c.Pace(app); got != 375 {
		t.Fatalf("replica B's pace after a 429 on each replica = %d; want 375 (one cut)", got)
	}
	mustPause(t, openLearner(t, newLimiter, lim), start) // a third replica
}

// mustPause fails unless lim's next write waits out the Retry-After of a
// 429 observed at start.
func mustPause(t *testing.T, lim ratelimit.Limiter, start time.Time) {
	t.Helper()
	if err := lim.Wait(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	// Redis counts the pause in whole milliseconds of its own clock.
	if waited := time.Since(start); waited < throttled.RetryAfter-5*time.Millisecond {
		t.Fatalf("a write went %v after the 429; want none before its Retry-After (%v)", waited, throttled.RetryAfter)
	}
}
