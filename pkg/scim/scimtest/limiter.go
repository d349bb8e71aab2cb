package scimtest

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bucket is a token bucket driven by the server's clock.
type bucket struct {
	Limit
	rate   float64 // tokens per second, after scaling
	size   float64
	tokens float64
	last   time.Time
}

func newBucket(l Limit, scale float64, now time.Time) *bucket {
	size := l.Burst
	if size <= 0 {
		size = l.Requests
	}
	size = max(size, 1)
	return &bucket{
		Limit:  l,
		rate:   float64(l.Requests) / l.Per.Seconds() * scale,
		size:   float64(size),
		tokens: float64(size),
		last:   now,
	}
}

func (b *bucket) matches(method, resource string) bool {
	if b.Methods != nil && !slices.Contains(b.Methods, method) {
		return false
	}
	return b.Resource == "" || strings.EqualFold(b.Resource, resource)
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// wait is how long until the bucket holds a whole token.
func (b *bucket) wait() time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	if b.rate <= 0 {
		return time.Hour
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// limiter holds the buckets; the server's mutex guards it.
type limiter struct {
	buckets []*bucket
}

func newLimiter(limits []Limit, scale float64, now time.Time) *limiter {
	l := &limiter{}
	for _, lim := range limits {
		if lim.Requests > 0 && lim.Per > 0 {
			l.buckets = append(l.buckets, newBucket(lim, scale, now))
		}
	}
	return l
}

// take spends one token from every matching bucket, or none and returns the
// longest wait when any is empty.
func (l *limiter) take(method, resource string, now time.Time) (time.Duration, bool) {
	var wait time.Duration
	var hit []*bucket
	for _, b := range l.buckets {
		if !b.matches(method, resource) {
			continue
		}
		b.refill(now)
		wait = max(wait, b.wait())
		hit = append(hit, b)
	}
	if wait > 0 {
		return wait, false
	}
	for _, b := range hit {
		b.tokens--
	}
	return 0, true
}

// retryAfter renders a wait as HTTP delay-seconds: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}
