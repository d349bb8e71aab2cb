// Package gitlabtest is a GitLab self-managed instance's REST API v4 over
// real HTTP, in memory, standing in for https://gitlab.example.com/api/v4
// in tests of the native GitLab connector. It serves the endpoints the
// connector uses, as GitLab's API documentation (Users, User moderation,
// Group and project members, Groups) and lib/api/users.rb and members.rb
// describe them, in the JSON shapes client-go decodes:
//
//   - users: GET /users (search, username, extern_uid with provider,
//     active, blocked, humans, exclude_internal; extern_uid and provider
//     only for an administrator), GET/PUT /users/:id, POST /users (409
//     "Email has already been taken" for any primary or secondary address,
//     409 "Username has already been taken", 400 for a missing password
//     choice or a bad username), GET /user, GET /users/:id/memberships;
//   - moderation: POST /users/:id/block (201, also for a blocked user; 403
//     for an LDAP-blocked user or the token's own), /unblock (201; 403 for
//     LDAP-blocked and deactivated users), /deactivate (403 unless the user
//     is dormant), /activate, /approve;
//   - groups, addressed by id or URL-encoded full path: GET /groups/:id,
//     GET /groups/:id/descendant_groups, GET /groups/:id/members (direct
//     members), GET/PUT/DELETE /groups/:id/members/:user_id, POST
//     /groups/:id/members (201; 409 "Member already exists"; 400 when the
//     level is below one inherited from an ancestor); DELETE honours
//     skip_subresources.
//
// Lists are paged with per_page (default 20, at most 100) and page, with
// GitLab's X-Page, X-Per-Page, X-Next-Page, X-Prev-Page, X-Total and
// X-Total-Pages headers and a Link header (prev, next, first, last).
//
// Requests authenticate with PRIVATE-TOKEN (or Authorization: Bearer); a
// wrong token is 401 {"message":"401 Unauthorized"}. Token is an
// administrator's; UserToken is a regular user's, which admin endpoints
// refuse with 403 {"message":"403 Forbidden"}.
//
// The authenticated API throttle (Rack::Attack's throttle_authenticated_api,
// off by default on a real instance; here on at its documented defaults of
// 7,200 requests per 3,600 s unless WithRateLimit says otherwise) counts
// every request in fixed windows; every answer carries RateLimit-Name,
// -Limit (a minute's worth), -Observed, -Remaining and -Reset, and past the
// limit the answer is 429 with the plain-text body "Retry later",
// RateLimit-ResetTime and Retry-After. WithRateScale runs the windows
// faster.
//
// Test controls add what exists outside Keycard (AddGroup, AddUser,
// AddIdentity, AddSecondaryEmail, AddMember, SetState), inject failures
// (FailNext, FailNextOn) and report what was served (Requests, User, Users,
// Members, Seats).
package gitlabtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// GitLab's documented defaults for the authenticated API throttle ("User
// and IP rate limits": off by default; when an administrator turns it on,
// 7,200 requests per user per 3,600 s).
const (
	DefaultRequestsPerPeriod = 7200
	DefaultPeriod            = time.Hour
)

// Option configures New.
type Option func(*config)

type config struct {
	token     string
	userToken string
	now       func() time.Time
	scale     float64
	limit     int
	period    time.Duration
}

// WithRateScale makes the throttle's period f times shorter (an hour lasts
// 3.6 s at 1000); the counts stay as configured. f <= 0 means 1.
func WithRateScale(f float64) Option { return func(c *config) { c.scale = f } }

// WithRateLimit sets the authenticated API throttle: n requests per
// period; n <= 0 turns it off (a real instance's default).
func WithRateLimit(n int, period time.Duration) Option {
	return func(c *config) { c.limit, c.period = n, period }
}

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "POST /users/:id/block", …
	ByStatus    map[int]int
	RateLimited int
}

type failure struct {
	route      string // "" any route
	status     int
	retryAfter time.Duration
	message    string
}

// Server is a running fake of one GitLab instance.
type Server struct {
	ts        *httptest.Server
	token     string
	userToken string
	now       func() time.Time

	mu       sync.Mutex
	seq      int64
	adminID  int64 // the user Token belongs to
	userID   int64 // the user UserToken belongs to
	users    map[int64]*user
	groups   map[int64]*group
	failures []failure
	stats    Stats
	throttle *throttle
}

// New starts a server on a loopback port, holding the administrator
// "root" (Token's user). Close it when done.
func New(opts ...Option) *Server {
	c := config{now: time.Now, scale: 1, limit: DefaultRequestsPerPeriod, period: DefaultPeriod}
	for _, o := range opts {
		o(&c)
	}
	if c.token == "" {
		c.token = "glpat-" + randomHex(10)
	}
	c.userToken = "glpat-" + randomHex(10)
	if c.scale <= 0 {
		c.scale = 1
	}
	s := &Server{
		token: c.token, userToken: c.userToken, now: c.now,
		seq:    1,
		users:  map[int64]*user{},
		groups: map[int64]*group{},
		stats:  Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
	}
	if c.limit > 0 {
		s.throttle = newThrottle(c.limit, c.period, c.scale)
	}
	root := &user{id: 1, username: "root", name: "Administrator", email: "admin@example.com", state: StateActive, admin: true, created: c.now()}
	s.users[root.id], s.adminID = root, root.id
	s.seq = 100
	s.ts = httptest.NewServer(s)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// URL is the instance's root, http://127.0.0.1:PORT, as the connector's
// base_url names it (the API is under /api/v4).
func (s *Server) URL() string { return s.ts.URL }

// Token is the administrator's personal access token.
func (s *Server) Token() string { return s.token }

// UserToken is the token of a regular user, "dev" (made on the first
// call): admin endpoints answer it 403.
func (s *Server) UserToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userID == 0 {
		dev := &user{id: s.nextID(), username: "dev", name: "Developer", email: "dev@example.com", state: StateActive, created: s.now()}
		s.users[dev.id], s.userID = dev, dev.id
	}
	return s.userToken
}

// AdminID is the id of the user Token belongs to.
func (s *Server) AdminID() int64 { return s.adminID }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next request, whatever its route, with status,
// carrying Retry-After when after > 0, in GitLab's shape for that status: a
// 429 is the throttle's plain-text "Retry later", others the JSON message
// GitLab gives ("403 Forbidden", "500 Internal Server Error", …).
func (s *Server) FailNext(status int, after time.Duration) { s.FailNextOn("", 1, status, after, "") }

// FailNextOn answers the next n requests to route ("POST /users", as Stats
// names routes; "" any) with status and GitLab's message for it, or
// message when set.
func (s *Server) FailNextOn(route string, n, status int, after time.Duration, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{route: route, status: status, retryAfter: after, message: message})
	}
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// ServeHTTP runs the pipeline: count → auth → throttle → injected failure
// → handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &fakehttp.StatusWriter{ResponseWriter: w}
	rt := route(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByRoute[rt.name]++
	defer func() { s.stats.ByStatus[sw.Status]++ }()
	sw.Header().Set("X-Request-Id", "fake-"+strconv.Itoa(s.stats.Total))
	if e := s.serve(sw, r, rt); e != nil {
		e.write(sw)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt routed) *apiError {
	caller := s.authenticate(r)
	if caller == nil {
		return &apiError{status: http.StatusUnauthorized, message: "401 Unauthorized"}
	}
	if s.throttle != nil {
		now := s.now()
		ok := s.throttle.take(now)
		s.throttle.headers(w, now, !ok)
		if !ok {
			s.stats.RateLimited++
			return retryLater()
		}
	}
	if i := slices.IndexFunc(s.failures, func(f failure) bool { return f.route == "" || f.route == rt.name }); i >= 0 {
		f := s.failures[i]
		s.failures = slices.Delete(s.failures, i, i+1)
		return s.injected(w, f)
	}
	if rt.handler == nil {
		return &apiError{status: http.StatusNotFound, message: "404 Not Found"}
	}
	if rt.admin && !caller.admin {
		return forbidden()
	}
	return rt.handler(s, w, r, rt, caller)
}

// authenticate returns the token's user: PRIVATE-TOKEN, or a bearer token
// (GitLab accepts personal access tokens either way).
func (s *Server) authenticate(r *http.Request) *user {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if tok == "" {
		if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") {
			tok = strings.TrimSpace(v)
		}
	}
	switch {
	case tok == "":
		return nil
	case subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1:
		return s.users[s.adminID]
	case s.userID != 0 && subtle.ConstantTimeCompare([]byte(tok), []byte(s.userToken)) == 1:
		return s.users[s.userID]
	}
	return nil
}

func (s *Server) injected(w http.ResponseWriter, f failure) *apiError {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", seconds(f.retryAfter))
	}
	e := &apiError{status: f.status, message: f.message}
	switch {
	case f.status == http.StatusTooManyRequests:
		s.stats.RateLimited++
		e = retryLater()
	case f.message != "":
	case f.status == http.StatusForbidden:
		e.message = "403 Forbidden"
	case f.status == http.StatusBadRequest:
		e.message = "400 Bad request"
	default:
		e.message = strconv.Itoa(f.status) + " " + http.StatusText(f.status)
	}
	return e
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
