package scimtest

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// post creates a user with a fresh userName and returns the answer.
func (c client) post(n int) response {
	c.t.Helper()
	return c.do(http.MethodPost, "/Users", userBody(fmt.Sprintf("user%d", n), nil))
}

func wantLimited(t *testing.T, r response, retryAfter string) {
	t.Helper()
	r.wantError(t, http.StatusTooManyRequests, "")
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, WithClock(clock.Now))
	s.RateLimit(60, 3)
	n := 0
	for range 3 {
		n++
		c.post(n).want(t, http.StatusCreated)
	}
	n++
	wantLimited(t, c.post(n), "1")
	c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK) // reads are limited separately

	clock.Advance(time.Second) // one token back
	c.post(n).want(t, http.StatusCreated)
	n++
	wantLimited(t, c.post(n), "1")

	clock.Advance(time.Hour) // refills to the burst, not beyond
	for range 3 {
		n++
		c.post(n).want(t, http.StatusCreated)
	}
	n++
	wantLimited(t, c.post(n), "1")

	if st := s.Requests(); st.RateLimited != 3 || st.ByStatus[http.StatusTooManyRequests] != 3 {
		t.Errorf("stats = %+v", st)
	}
	if len(s.Users()) != 7 {
		t.Errorf("users = %d: a 429 must not store anything", len(s.Users()))
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		perMinute int
		advance   time.Duration
		want      string
	}{
		{"one every 10s, empty", 6, 0, "10"},
		{"one every 10s, 4s later", 6, 4 * time.Second, "6"},
		{"one every 10s, 9.5s later", 6, 9500 * time.Millisecond, "1"},
		{"fractional wait rounds up", 7, 0, "9"},
		{"faster than a second", 600, 0, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			s, c := start(t, WithClock(clock.Now))
			s.RateLimit(tt.perMinute, 1)
			c.post(1).want(t, http.StatusCreated)
			clock.Advance(tt.advance)
			wantLimited(t, c.post(2), tt.want)
		})
	}
}

func TestReadRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, WithClock(clock.Now))
	s.ReadRateLimit(30, 2)
	c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
	c.do(http.MethodGet, filterQuery(`userName eq "x"`), nil).want(t, http.StatusOK)
	wantLimited(t, c.do(http.MethodGet, "/Users/u1", nil), "2")
	c.post(1).want(t, http.StatusCreated)
	clock.Advance(2 * time.Second)
	c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
}

func TestVendorLimits(t *testing.T) {
	t.Parallel()
	t.Run("slack user writes burst 20", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		_, c := start(t, Slack(), WithClock(clock.Now))
		for i := range 20 {
			c.post(i).want(t, http.StatusCreated)
		}
		wantLimited(t, c.post(20), "1") // 180/min: one token every 333ms
		c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		c.createGroup("groups have their own endpoint limit")
		clock.Advance(334 * time.Millisecond)
		c.post(20).want(t, http.StatusCreated)
	})
	t.Run("miro GET Groups 5 per 30s", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		_, c := start(t, Miro(), WithClock(clock.Now))
		for range 5 {
			c.do(http.MethodGet, "/Groups", nil).want(t, http.StatusOK)
		}
		wantLimited(t, c.do(http.MethodGet, "/Groups", nil), "6")
		c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
	})
	t.Run("scaled refill", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		_, c := start(t, Miro(), WithClock(clock.Now), WithRateScale(10))
		for range 5 {
			c.do(http.MethodGet, "/Groups", nil).want(t, http.StatusOK)
		}
		wantLimited(t, c.do(http.MethodGet, "/Groups", nil), "1")
		clock.Advance(600 * time.Millisecond)
		c.do(http.MethodGet, "/Groups", nil).want(t, http.StatusOK)
	})
	t.Run("github emu user assignments per hour", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s, c := start(t, GitHubEMU(), WithClock(clock.Now))
		s.SetLimits(Limit{Name: "assignments", Methods: []string{http.MethodPost}, Resource: "Users", Requests: 2, Per: time.Hour})
		c.post(1).want(t, http.StatusCreated)
		c.post(2).want(t, http.StatusCreated)
		wantLimited(t, c.post(3), "1800")
	})
}

func TestLimitOverrides(t *testing.T) {
	t.Parallel()
	s, _ := start(t, Slack())
	s.RateLimit(0, 0)
	if l := s.Limits(); len(l) != 1 || l[0].Name != "org reads" {
		t.Errorf("after RateLimit(0, 0): %v", l)
	}
	s.RateLimit(10, 1)
	s.ReadRateLimit(0, 0)
	if l := s.Limits(); len(l) != 1 || l[0].Name != "writes" {
		t.Errorf("after ReadRateLimit(0, 0): %v", l)
	}
}

func TestInjectedFailuresSpendNoTokens(t *testing.T) {
	t.Parallel()
	s, c := start(t, WithClock(newFakeClock().Now))
	s.RateLimit(60, 1)
	s.FailNext(2, http.StatusBadGateway, "bad gateway")
	c.post(1).wantError(t, http.StatusBadGateway, "")
	c.post(1).wantError(t, http.StatusBadGateway, "")
	c.post(1).want(t, http.StatusCreated)
	wantLimited(t, c.post(2), "1")
}
