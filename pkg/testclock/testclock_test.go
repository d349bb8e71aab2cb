package testclock

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

func TestStandingClock(t *testing.T) {
	t.Parallel()
	c := New(t0)
	time.Sleep(2 * time.Millisecond)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("a standing clock moved to %s", got)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Advance(1h): %s", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set: %s", got)
	}
}

func TestRunningClock(t *testing.T) {
	t.Parallel()
	c := Running(t0)
	time.Sleep(5 * time.Millisecond)
	if d := c.Now().Sub(t0); d < 5*time.Millisecond || d > time.Minute {
		t.Fatalf("a running clock moved %s in 5ms", d)
	}
	later := t0.Add(24 * time.Hour)
	c.Set(later)
	if d := c.Now().Sub(later); d < 0 || d > time.Minute {
		t.Fatalf("after Set the clock is %s off", d)
	}
	c.Advance(time.Hour)
	if d := c.Now().Sub(later.Add(time.Hour)); d < 0 || d > time.Minute {
		t.Fatalf("after Advance the clock is %s off", d)
	}
}
