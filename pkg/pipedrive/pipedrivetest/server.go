// Package pipedrivetest is Pipedrive's REST API v1 for one company over
// real HTTP, in memory, standing in for https://COMPANY.pipedrive.com in
// tests of the native Pipedrive connector. It serves, under /api/v1 and
// /v1, the endpoints the connector uses, as Pipedrive's v1 OpenAPI
// document and its developer docs describe them:
//
//   - users (GET/POST /users, GET/PUT /users/{id}, GET /users/find with
//     term and search_by_email, GET /users/me): POST needs an e-mail and
//     takes access [{app, admin, permission_set_id}] and active_flag; PUT
//     changes active_flag only ("Currently, only active_flag can be
//     updated"), the rest of its body is ignored; a deactivated user stays
//     in the company, listed, found and billed;
//   - permission sets (GET /permissionSets?app=);
//   - teams (GET /legacyTeams, GET /legacyTeams/{id}/users, GET
//     /legacyTeams/user/{id}, POST and DELETE /legacyTeams/{id}/users with
//     {"users": [ids]}), also under their old /teams path;
//   - visibility roles (GET /roles, POST and DELETE
//     /roles/{id}/assignments with {"user_id"}): a user holds exactly one
//     role, and removing the assignment puts them back in the default role.
//
// Every answer is Pipedrive's envelope: {"success": true, "data": …,
// "additional_data": …} or {"success": false, "error": …, "error_info": …,
// "data": null, "additional_data": null}. Lists read with start and limit
// (at most 500) carry additional_data.pagination {start, limit,
// more_items_in_collection, next_start}.
//
// Authentication is the x-api-token header (the legacy api_token query
// parameter is accepted too, and counted in Stats.QueryToken, so a test
// can assert the token never travels in a URL). Limits are Pipedrive's
// token-based ones: each request costs its documented tokens from a
// daily budget that resets at midnight UTC (every request is then 429
// until the reset), and a burst limit of BurstPerWindow requests per
// 2-second window per token (429 with retry-after). Every authenticated
// answer carries x-ratelimit-limit, x-ratelimit-remaining,
// x-ratelimit-reset (seconds), x-daily-ratelimit-token-limit,
// x-daily-ratelimit-token-remaining and, for POST/PUT, the fair-use count
// x-daily-requests-left. WithRateScale shortens the burst window.
//
// What the docs do not say and the fake assumes (unverified against a
// live company): the 429 body text, the answer to adding an e-mail the
// company already has (400, see ErrDuplicate), the name a fresh user
// gets (the address's local part until they sign up), /users/find
// returning data null when nothing matches, and /users honouring start
// and limit (its OpenAPI entry lists no paging parameters).
//
// Test controls add what exists outside Keycard (AddUser, AddTeam,
// AddRole, AddPermissionSet), inject failures (FailNext, FailNextOn,
// ExhaustDailyBudget) and report what was served (Requests, User).
package pipedrivetest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// Pipedrive's documented limits (Rate limiting, core API concepts) for an
// API token on the lowest plan.
const (
	BurstPerWindow   = 20              // requests per 2-second window (Lite/Essential, api_token)
	BurstWindow      = 2 * time.Second // the burst limit's window
	TokensPerSeat    = 30_000          // daily budget base per seat; × plan multiplier (1 Lite … 7 Ultimate)
	DefaultSeats     = 10              // seats the fake's company pays for
	FairUseWritesDay = 10_000          // POST/PUT a day (x-daily-requests-left)
)

// Option configures New.
type Option func(*config)

type config struct {
	token  string
	domain string
	now    func() time.Time
	scale  float64
	burst  int
	budget int
}

// WithClock sets the clock behind the limits and timestamps.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRateScale makes the burst window f times shorter (the count stays
// as documented); f <= 0 means 1. The daily budget still resets at
// midnight UTC of the clock.
func WithRateScale(f float64) Option { return func(c *config) { c.scale = f } }

// WithBurstLimit sets the requests a window allows (default
// BurstPerWindow; Growth 40, Premium 100, Ultimate 120).
func WithBurstLimit(n int) Option { return func(c *config) { c.burst = n } }

// WithDailyBudget sets the company's daily token budget (default
// TokensPerSeat × DefaultSeats).
func WithDailyBudget(tokens int) Option { return func(c *config) { c.budget = tokens } }

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "POST /users", "GET /users/{id}", …
	ByStatus    map[int]int
	RateLimited int // 429 answers, burst and daily
	QueryToken  int // requests that sent api_token in the URL
	TokensSpent int
}

// Server is a running fake of one company.
type Server struct {
	ts     *httptest.Server
	token  string
	domain string
	now    func() time.Time

	mu       sync.Mutex
	db       *store
	failures fakehttp.Failures
	stats    Stats
	burst    *fakehttp.Window
	daily    *budget
}

// New starts a server on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	c := config{domain: "acme", now: time.Now, scale: 1, burst: BurstPerWindow, budget: TokensPerSeat * DefaultSeats}
	for _, o := range opts {
		o(&c)
	}
	if c.token == "" {
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		c.token = hex.EncodeToString(b)
	}
	if c.scale <= 0 {
		c.scale = 1
	}
	now := c.now()
	s := &Server{
		token: c.token, domain: c.domain, now: c.now,
		db:    newStore(now),
		stats: Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
		burst: fakehttp.NewWindow(c.burst, max(time.Duration(float64(BurstWindow)/c.scale), time.Millisecond), now),
		daily: newBudget(c.budget, FairUseWritesDay, now),
	}
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API root with a trailing slash, as the connector's base_url
// wants it: http://127.0.0.1:PORT/api/v1/.
func (s *Server) URL() string { return s.ts.URL + "/api/v1/" }

// Token is the API token the server accepts.
func (s *Server) Token() string { return s.token }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next request, whatever its route, with status in
// Pipedrive's shape for it, with retry-after when after > 0: a 429 is the
// burst limit (x-ratelimit-remaining 0 and x-ratelimit-reset), a 403 a
// permission refusal, a 5xx a server error.
func (s *Server) FailNext(status int, after time.Duration) { s.FailNextOn("", 1, status, after, "") }

// FailNextOn answers the next n requests to route ("POST /users", as
// Stats names routes; "" any) with status and Pipedrive's message for
// it, or message when set.
func (s *Server) FailNextOn(route string, n, status int, after time.Duration, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures.Add(n, fakehttp.Failure{Route: route, Status: status, RetryAfter: after, Message: message})
}

// ExhaustDailyBudget spends what is left of today's token budget: every
// request is refused with 429 until midnight UTC.
func (s *Server) ExhaustDailyBudget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.daily.roll(s.now())
	s.daily.spent = s.daily.limit
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// ServeHTTP runs the pipeline: count → auth → daily budget → burst limit
// → injected failure → handler. The limit headers go on every
// authenticated answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &fakehttp.StatusWriter{ResponseWriter: w}
	rt := s.route(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByRoute[rt.name]++
	defer func() { s.stats.ByStatus[sw.Status]++ }()
	sw.Header().Set("X-Correlation-Id", newID())
	if e := s.serve(sw, r, rt); e != nil {
		writeError(sw, e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.authenticate(r); e != nil {
		w.Header().Set("X-401-By-Gw", "true")
		return e
	}
	now := s.now()
	write := r.Method == http.MethodPost || r.Method == http.MethodPut
	if !s.daily.take(now, rt.cost, write) {
		s.rateHeaders(w, now, write)
		s.stats.RateLimited++
		return &apiError{status: http.StatusTooManyRequests, message: "Request over limit: the company's daily API token budget is used up", code: http.StatusTooManyRequests}
	}
	s.stats.TokensSpent += rt.cost
	ok := s.burst.Take(now)
	s.rateHeaders(w, now, write)
	if !ok {
		s.stats.RateLimited++
		w.Header().Set("Retry-After", fakehttp.Seconds(s.burst.Reset().Sub(now)))
		return overLimit()
	}
	if f, ok := s.failures.Take(rt.name); ok {
		return s.injected(w, f)
	}
	if rt.handler == nil {
		return &apiError{status: http.StatusNotFound, message: "Unknown method ."}
	}
	return rt.handler(w, r, rt)
}

// authenticate accepts the x-api-token header, and the legacy api_token
// query parameter (counted).
func (s *Server) authenticate(r *http.Request) *apiError {
	tok := r.Header.Get("X-Api-Token")
	if q := r.URL.Query().Get("api_token"); q != "" {
		s.stats.QueryToken++
		if tok == "" {
			tok = q
		}
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) != 1 {
		return &apiError{status: http.StatusUnauthorized, message: "unauthorized access", code: http.StatusUnauthorized}
	}
	return nil
}

// injected is the answer Pipedrive gives with f's status.
func (s *Server) injected(w http.ResponseWriter, f fakehttp.Failure) *apiError {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fakehttp.Seconds(f.RetryAfter))
	}
	e := &apiError{status: f.Status, message: f.Message}
	switch {
	case f.Status == http.StatusTooManyRequests:
		s.stats.RateLimited++
		w.Header().Set("X-Ratelimit-Remaining", "0")
		e = overLimit()
	case f.Status == http.StatusUnauthorized:
		e.message, e.code = "unauthorized access", http.StatusUnauthorized
	case f.Status == http.StatusForbidden:
		e.message = "You do not have permissions to do this."
	case f.Status == http.StatusBadRequest:
		e.message = "Bad request"
	case f.Status == http.StatusNotFound:
		e.message = "Not found"
	case f.Status >= 500:
		e.message = "Internal server error"
	}
	if f.Message != "" {
		e.message = f.Message
	}
	return e
}

func overLimit() *apiError {
	return &apiError{status: http.StatusTooManyRequests, message: "Request over limit", code: http.StatusTooManyRequests}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
