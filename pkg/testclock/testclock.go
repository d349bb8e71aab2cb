// Package testclock is the one settable clock of Keycard's tests. Every
// component takes its time from a func() time.Time (Config.Now, WithClock
// options); a test hands it Clock.Now and moves time with Set or Advance
// instead of waiting.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock a test sets. It stands still (New) or runs with real
// time from wherever it was set (Running). Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	running bool
	since   time.Time // real time when t was set, for a running clock
}

// New returns a clock standing at t until it is Set or Advanced.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Running returns a clock that shows t now and advances with real time,
// for a test that sets the date (just before midnight of an effective
// date) and lets real timers fire from there.
func Running(t time.Time) *Clock { return &Clock{t: t, running: true, since: time.Now()} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.t.Add(time.Since(c.since))
	}
	return c.t
}

// Set makes the clock show t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.since = t, time.Now()
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
