package pipedrivetest

import (
	"net/http"
	"strconv"
	"time"

	"keycard/pkg/fakehttp"
)

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
	h.Set("X-Ratelimit-Limit", strconv.Itoa(s.burst.Limit()))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(s.burst.Remaining(now)))
	h.Set("X-Ratelimit-Reset", fakehttp.Seconds(s.burst.Reset().Sub(now)))
	h.Set("X-Daily-Ratelimit-Token-Limit", strconv.Itoa(s.daily.limit))
	h.Set("X-Daily-Ratelimit-Token-Remaining", strconv.Itoa(max(s.daily.limit-s.daily.spent, 0)))
	if write {
		h.Set("X-Daily-Requests-Left", strconv.Itoa(max(s.daily.writes-s.daily.writen, 0)))
	}
}
