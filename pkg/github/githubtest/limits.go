package githubtest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// bucket is a token bucket: n requests per period, n at once.
type bucket struct {
	size, tokens, perSec float64
	last                 time.Time
}

func newBucket(n int, period time.Duration, now time.Time) *bucket {
	return &bucket{size: float64(n), tokens: float64(n), perSec: float64(n) / period.Seconds(), last: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
		b.last = now
	}
}

func (b *bucket) wait() time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.perSec * float64(time.Second))
}

// take spends a token from every bucket, or none and returns the longest
// wait when one is empty.
func take(bs []*bucket, now time.Time) (time.Duration, bool) {
	var wait time.Duration
	for _, b := range bs {
		b.refill(now)
		wait = max(wait, b.wait())
	}
	if wait > 0 {
		return wait, false
	}
	for _, b := range bs {
		b.tokens--
	}
	return 0, true
}

// rateHeaders are the primary limit headers GitHub sends on every answer.
func (s *Server) rateHeaders(w http.ResponseWriter, now time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.primary.Limit()))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.primary.Remaining(now)))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.primary.Used()))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(s.primary.Reset().UnixNano())/1e9)), 10))
	h.Set("X-RateLimit-Resource", "core")
}
