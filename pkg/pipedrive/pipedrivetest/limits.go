package pipedrivetest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// window counts requests in fixed windows, the burst limit: the count
// starts again when the window it announces in x-ratelimit-reset ends.
type window struct {
	limit  int
	length time.Duration
	start  time.Time
	used   int
}

func newWindow(limit int, length time.Duration, now time.Time) *window {
	return &window{limit: limit, length: length, start: now}
}

func (w *window) roll(now time.Time) {
	if !now.Before(w.start.Add(w.length)) {
		w.start, w.used = now, 0
	}
}

func (w *window) take(now time.Time) bool {
	w.roll(now)
	if w.used >= w.limit {
		return false
	}
	w.used++
	return true
}

func (w *window) remaining(now time.Time) int {
	w.roll(now)
	return max(w.limit-w.used, 0)
}

func (w *window) reset() time.Time { return w.start.Add(w.length) }

// budget is the company's daily token budget and the POST/PUT fair-use
// count, both reset at midnight UTC.
type budget struct {
	limit, spent   int
	writes, writen int
	day            time.Time // midnight UTC starting the current day
}

func newBudget(limit, writes int, now time.Time) *budget {
	return &budget{limit: limit, writes: writes, day: midnight(now)}
}

func midnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (b *budget) roll(now time.Time) {
	if day := midnight(now); day.After(b.day) {
		b.day, b.spent, b.writen = day, 0, 0
	}
}

// take spends cost tokens, or refuses once the budget is used up. A
// request is refused whole: none are spent.
func (b *budget) take(now time.Time, cost int, write bool) bool {
	b.roll(now)
	if b.spent >= b.limit {
		return false
	}
	b.spent = min(b.spent+cost, b.limit)
	if write {
		b.writen++
	}
	return true
}

// rateHeaders are the limit headers Pipedrive sends on every answer to an
// authenticated request; x-daily-requests-left only on POST and PUT.
func (s *Server) rateHeaders(w http.ResponseWriter, now time.Time, write bool) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(s.burst.limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(s.burst.remaining(now)))
	h.Set("X-Ratelimit-Reset", seconds(s.burst.reset().Sub(now)))
	h.Set("X-Daily-Ratelimit-Token-Limit", strconv.Itoa(s.daily.limit))
	h.Set("X-Daily-Ratelimit-Token-Remaining", strconv.Itoa(max(s.daily.limit-s.daily.spent, 0)))
	if write {
		h.Set("X-Daily-Requests-Left", strconv.Itoa(max(s.daily.writes-s.daily.writen, 0)))
	}
}

// seconds renders a wait in whole seconds, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}
