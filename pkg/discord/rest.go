package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Limits the client keeps itself, whatever the worker's pace.
const (
	// GlobalPerSecond is Discord's global limit per bot
	// (docs/topics/rate-limits); the client stays under it in process.
	GlobalPerSecond = 50
	// maxInlineWait is the longest the client waits for a spent bucket
	// to reset before sending; a longer wait goes back to the worker as
	// fault.RetryAfter, so no call sleeps on a limit for long.
	maxInlineWait = 2 * time.Second
	// maxBody bounds what is read of an answer.
	maxBody = 8 << 20
)

// rest is a small Discord REST v10 client: bot auth, JSON, Discord's rate
// limit headers and 429s, and errors that never hold the token or an
// invite code.
//
// It is a plain net/http client, not discordgo's Session: discordgo builds
// every URL from package-level variables (discordgo.EndpointAPI and the
// functions derived from it, for API v9), so pointing it at a test server
// means mutating global state that parallel tests would race on; and its
// bucket limiter sleeps with time.Sleep, outside any context, before a
// request and after a 429, for as long as Discord says. Here a spent
// bucket waits at most maxInlineWait on the request's context and a 429
// comes back as the worker's fault.RetryAfter. discordgo's types (Member,
// Role, Invite, User, APIErrorMessage) still decode Discord's JSON.
type rest struct {
	hc      *http.Client
	base    *url.URL // …/api/v10/
	token   string
	timeout time.Duration
	now     func() time.Time
	observe func(context.Context, ratelimit.Outcome)

	mu          sync.Mutex
	routeBucket map[string]string  // route template → X-RateLimit-Bucket
	buckets     map[string]*bucket // bucket (or route) + major parameter
	globalUntil time.Time          // a global 429's end
	tokens      float64            // the process's own global bucket
	filled      time.Time
}

// bucket is what Discord's headers said of one bucket: its size, what
// is left until reset, and its window (the longest Reset-After seen), to
// refill it when reset passes before an answer says more.
type bucket struct {
	limit     int
	remaining int
	reset     time.Time
	window    time.Duration
}

func newREST(hc *http.Client, base *url.URL, token string, timeout time.Duration, now func() time.Time, observe func(context.Context, ratelimit.Outcome)) *rest {
	return &rest{hc: hc, base: base, token: token, timeout: timeout, now: now, observe: observe,
		routeBucket: map[string]string{}, buckets: map[string]*bucket{}, tokens: GlobalPerSecond}
}

// call is one request: method, the route's template (for buckets and
// errors), the path below the API root, query, JSON body (nil: none) and
// where to decode the answer (nil: ignore it).
type call struct {
	method string
	route  string // "guilds/{guild.id}/members/{user.id}"
	major  string // the guild or channel id the route is counted by
	path   string
	query  url.Values
	body   any
	out    any
	reason string // X-Audit-Log-Reason
	paced  bool   // a write or a paced read: its answer feeds the pacer
}

func (c call) name() string { return c.method + " " + c.route }

// do runs c within the client's timeout.
func (r *rest) do(ctx context.Context, c call) error {
	if err := r.admit(ctx, c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	u := r.base.JoinPath(c.path)
	u.RawQuery = c.query.Encode()
	var body io.Reader
	if c.body != nil {
		raw, err := json.Marshal(c.body)
		if err != nil {
			return fault.Permanent(fmt.Errorf("discord: %s: encode: %w", c.name(), err))
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return fault.Permanent(fmt.Errorf("discord: %s: %w", c.name(), err))
	}
	req.Header.Set("Authorization", "Bot "+r.token)
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/keycard, 1) keycard")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.reason != "" {
		req.Header.Set("X-Audit-Log-Reason", url.PathEscape(c.reason))
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return transportError(c.name(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return transportError(c.name(), err)
	}
	r.learn(c, resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := answerError(c.name(), resp.StatusCode, resp.Header, raw, r.token, r.now())
		if e.Scope == ScopeGlobal {
			r.pauseGlobal(e.RetryAfter)
		}
		r.answered(ctx, c, e)
		return e
	}
	r.answered(ctx, c, nil)
	if c.out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, c.out); err != nil {
		// An answer that does not decode will not decode on retry.
		return fault.Permanent(fmt.Errorf("discord: %s: decode answer: %w", c.name(), err))
	}
	return nil
}

// answered tells the pacer how Discord answered a paced request: a rate
// limit of the bot's pauses the app; a 5xx says nothing about the pace.
func (r *rest) answered(ctx context.Context, c call, e *Error) {
	if r.observe == nil {
		return
	}
	switch {
	case e != nil && e.Throttled():
		r.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: e.RetryAfter})
	case c.paced && (e == nil || e.Status < 500 && e.Status != http.StatusTooManyRequests):
		r.observe(ctx, ratelimit.Outcome{})
	}
}

// admit waits for the process's global bucket and the route's bucket, at
// most maxInlineWait in all and never past ctx; a longer wait is refused
// with fault.RetryAfter, as a 429 would be, without sending.
func (r *rest) admit(ctx context.Context, c call) error {
	for {
		wait, scope := r.reserve(c)
		switch {
		case wait == 0:
			return nil
		case wait > maxInlineWait:
			return &Error{Status: http.StatusTooManyRequests, Route: c.name(), RetryAfter: wait, Scope: scope, Local: true}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("discord: %s: waiting for the rate limit: %w", c.name(), context.Cause(ctx))
		case <-t.C:
		}
	}
}

// reserve takes a request's place in the buckets, or says how long to
// wait for it.
func (r *rest) reserve(c call) (time.Duration, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Before(r.globalUntil) {
		return r.globalUntil.Sub(now), ScopeGlobal
	}
	b := r.buckets[r.bucketKey(c)]
	if b != nil && !now.Before(b.reset) && b.limit > 0 {
		// A new window: as many as the bucket holds, until an answer
		// says otherwise, and no more before the window's end.
		b.remaining, b.reset = b.limit, now.Add(b.window)
	}
	if b != nil && b.remaining <= 0 && now.Before(b.reset) {
		return b.reset.Sub(now), ScopeUser
	}
	if !r.filled.IsZero() {
		r.tokens = math.Min(GlobalPerSecond, r.tokens+now.Sub(r.filled).Seconds()*GlobalPerSecond)
	}
	r.filled = now
	if r.tokens < 1 {
		return time.Duration((1 - r.tokens) / GlobalPerSecond * float64(time.Second)), ScopeGlobal
	}
	r.tokens--
	if b != nil && b.remaining > 0 {
		b.remaining-- // until the answer says better
	}
	return 0, ""
}

func (r *rest) bucketKey(c call) string {
	id, ok := r.routeBucket[c.name()]
	if !ok {
		id = c.name()
	}
	return id + "|" + c.major
}

// pauseGlobal holds every request for a global 429's wait.
func (r *rest) pauseGlobal(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if until := r.now().Add(d); until.After(r.globalUntil) {
		r.globalUntil = until
	}
}

// learn records what an answer's headers say of its bucket
// (docs/topics/rate-limits: X-RateLimit-Bucket, -Remaining,
// -Reset-After). A global 429 carries none of them.
func (r *rest) learn(c call, h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if id := strings.TrimSpace(h.Get("X-RateLimit-Bucket")); id != "" {
		r.routeBucket[c.name()] = id
	}
	remaining, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	after, err2 := strconv.ParseFloat(strings.TrimSpace(h.Get("X-RateLimit-Reset-After")), 64)
	if err1 != nil || err2 != nil || after < 0 || math.IsNaN(after) {
		return
	}
	limit, _ := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	wait := min(time.Duration(after*float64(time.Second)), maxRetryHint)
	key := r.bucketKey(c)
	b := r.buckets[key]
	if b == nil {
		b = &bucket{}
		r.buckets[key] = b
	}
	reset := now.Add(wait)
	switch {
	case reset.After(b.reset.Add(10 * time.Millisecond)):
		// A later window than the one known: its count is the answer's.
		b.remaining = remaining
	case remaining < b.remaining:
		// The same window, and fewer left than counted: answers of
		// other requests, or another client of the bot, came between.
		b.remaining = remaining
	}
	b.limit, b.reset, b.window = max(limit, 0), reset, max(b.window, wait)
}

// isNotFound reports whether err is Discord's 404 with code.
func isNotFound(err error, code int) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusNotFound && e.Code == code
}
