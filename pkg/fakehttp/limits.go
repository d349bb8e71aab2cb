package fakehttp

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Window counts requests in fixed windows, as GitHub's primary limit and
// Pipedrive's burst limit do: the count starts again at the reset time
// the fake announces. Not safe for concurrent use: the fake's lock
// guards it.
type Window struct {
	limit  int
	length time.Duration
	start  time.Time
	used   int
}

// NewWindow allows limit requests per length, from now.
func NewWindow(limit int, length time.Duration, now time.Time) *Window {
	return &Window{limit: limit, length: length, start: now}
}

func (w *Window) roll(now time.Time) {
	if !now.Before(w.start.Add(w.length)) {
		w.start, w.used = now, 0
	}
}

// Take counts one request, or refuses it when the window is spent.
func (w *Window) Take(now time.Time) bool {
	w.roll(now)
	if w.used >= w.limit {
		return false
	}
	w.used++
	return true
}

// Remaining is what the current window has left.
func (w *Window) Remaining(now time.Time) int {
	w.roll(now)
	return max(w.limit-w.used, 0)
}

// Limit is the requests a window allows; Used those counted in the
// current one.
func (w *Window) Limit() int { return w.limit }
func (w *Window) Used() int  { return w.used }

// Reset is when the current window ends.
func (w *Window) Reset() time.Time { return w.start.Add(w.length) }

// Seconds renders a wait as retry-after delay-seconds: whole, at least 1.
func Seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

// Failure is an answer a test injects: Route "" matches any request.
type Failure struct {
	Route      string
	Status     int
	RetryAfter time.Duration
	Message    string // "" for the vendor's own message for Status
}

// Failures is a queue of injected answers. Not safe for concurrent use:
// the fake's lock guards it.
type Failures []Failure

// Add queues n answers f.
func (q *Failures) Add(n int, f Failure) {
	for range n {
		*q = append(*q, f)
	}
}

// Take removes and returns the first answer queued for route (or for any
// route), if one is.
func (q *Failures) Take(route string) (Failure, bool) {
	i := slices.IndexFunc(*q, func(f Failure) bool { return f.Route == "" || f.Route == route })
	if i < 0 {
		return Failure{}, false
	}
	f := (*q)[i]
	*q = slices.Delete(*q, i, i+1)
	return f, true
}
