// Package githubtest is a GitHub REST API for one organisation over real
// HTTP, in memory, standing in for api.github.com in tests of the native
// GitHub connector. It serves the endpoints the connector uses, as the
// GitHub REST documentation (API version 2022-11-28) describes them and in
// the JSON shapes go-github decodes:
//
//   - org memberships (GET/PUT/DELETE /orgs/{org}/memberships/{username}):
//     PUT for someone outside the org invites them (state "pending") and
//     never adds them directly; DELETE removes a member from every team and
//     cancels a pending invitation;
//   - invitations (GET/POST /orgs/{org}/invitations, DELETE …/{id},
//     GET …/{id}/teams, GET /orgs/{org}/failed_invitations): by invitee id
//     or e-mail; an invitation expires into the failed list (Expire);
//   - members and outside collaborators (GET /orgs/{org}/members,
//     /outside_collaborators);
//   - teams and team memberships (GET /orgs/{org}/teams, …/{slug},
//     …/{slug}/members, …/{slug}/invitations, GET/PUT/DELETE
//     …/{slug}/memberships/{username}): a team membership of a pending
//     member is pending too and becomes active when the invitation is
//     accepted (Accept).
//
// Lists are paged with per_page (default 30, at most 100) and page, and a
// Link header (first, prev, next, last) as GitHub sends it. Every answer
// carries the primary rate limit headers (x-ratelimit-limit, -remaining,
// -used, -reset, -resource); past the limit the answer is 403 with
// remaining 0. Content-creating requests (POST, PUT, PATCH, DELETE) share
// the secondary limit GitHub documents (80 a minute, 500 an hour), answered
// 403 with retry-after; invitations share the organisation's cap (500 in
// 24 hours; 50 for a new organisation, WithNewOrg), answered 422 "Over
// invitation rate limit". WithRateScale runs every window faster.
//
// Test controls add what exists outside Keycard (AddMember, AddTeam,
// AddOutsideCollaborator, NoSuchUser), act for people (Accept,
// AcceptEmail, Expire), inject failures (FailNext, FailNextOn) and report
// what was served (Requests, Membership, Invitations).
package githubtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// GitHub's documented limits (rate limits for the REST API; the
// invitation cap from "Set organization membership for a user").
const (
	PrimaryPerHour       = 5000 // a user's token; 15,000 for an app on GHEC
	SecondaryPerMinute   = 80   // content-creating requests
	SecondaryPerHour     = 500  // content-creating requests
	InvitationsPerDay    = 500  // an organisation older than a month or on a paid plan
	NewOrgInvitationsDay = 50   // a new organisation on the free plan
)

// Option configures New.
type Option func(*config)

type config struct {
	org         string
	token       string
	now         func() time.Time
	scale       float64
	basePath    string
	primary     int
	invitations int
	status429   bool
	echoAuth    bool
}

// WithToken sets the token the server accepts; by default a random one.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithClock sets the clock behind rate limits, resets and timestamps.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRateScale makes every window f times shorter (an hour of primary
// limit lasts 3.6 s at 1000); the counts stay as documented. f <= 0 means 1.
func WithRateScale(f float64) Option { return func(c *config) { c.scale = f } }

// WithBasePath serves the API under a prefix, as GitHub Enterprise Server
// does ("/api/v3"); URL includes it.
func WithBasePath(p string) Option {
	return func(c *config) { c.basePath = "/" + strings.Trim(p, "/") }
}

// WithPrimaryLimit sets the requests an hour the token may make (default
// PrimaryPerHour).
func WithPrimaryLimit(n int) Option { return func(c *config) { c.primary = n } }

// WithInvitationCap caps invitations at n in 24 hours.
func WithInvitationCap(n int) Option { return func(c *config) { c.invitations = n } }

// WithRateLimit429 answers rate limits with 429 instead of 403 (GitHub
// documents either).
func WithRateLimit429() Option { return func(c *config) { c.status429 = true } }

// WithEchoAuthorization makes every error answer's message repeat the
// request's Authorization header, as a debugging proxy or a careless
// vendor does: a client must not pass it on to its logs or errors.
func WithEchoAuthorization() Option { return func(c *config) { c.echoAuth = true } }

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "PUT /orgs/{org}/memberships/{username}", …
	ByStatus    map[int]int
	RateLimited int // primary and secondary rate-limit answers
}

// Server is a running fake of one organisation.
type Server struct {
	ts       *httptest.Server
	org      string
	orgID    int64
	token    string
	now      func() time.Time
	scale    float64
	basePath string
	limit429 bool
	echoAuth bool

	mu          sync.Mutex
	seq         int64
	users       map[string]*user // by lower-case login
	missing     map[string]bool
	members     map[string]*member
	invitations map[int64]*invitation // pending
	failed      map[int64]*invitation
	teams       map[string]*team // by slug
	outside     map[string]bool
	failures    fakehttp.Failures
	stats       Stats
	primary     *fakehttp.Window
	secondary   []*bucket
	invited     *fakehttp.Window
}

// New starts a server on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	c := config{org: "acme", now: time.Now, scale: 1, primary: PrimaryPerHour, invitations: InvitationsPerDay}
	for _, o := range opts {
		o(&c)
	}
	if c.token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		c.token = "github_pat_" + hex.EncodeToString(b)
	}
	if c.scale <= 0 {
		c.scale = 1
	}
	if c.basePath == "/" {
		c.basePath = ""
	}
	now := c.now()
	s := &Server{
		org: c.org, orgID: 9000, token: c.token, now: c.now, scale: c.scale, basePath: c.basePath, limit429: c.status429, echoAuth: c.echoAuth,
		seq:         100,
		users:       map[string]*user{},
		missing:     map[string]bool{},
		members:     map[string]*member{},
		invitations: map[int64]*invitation{},
		failed:      map[int64]*invitation{},
		teams:       map[string]*team{},
		outside:     map[string]bool{},
		stats:       Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
		primary:     fakehttp.NewWindow(c.primary, scaled(time.Hour, c.scale), now),
		secondary: []*bucket{
			newBucket(SecondaryPerMinute, scaled(time.Minute, c.scale), now),
			newBucket(SecondaryPerHour, scaled(time.Hour, c.scale), now),
		},
		invited: fakehttp.NewWindow(c.invitations, scaled(24*time.Hour, c.scale), now),
	}
	s.ts = httptest.NewServer(s)
	return s
}

func scaled(d time.Duration, f float64) time.Duration {
	return max(time.Duration(float64(d)/f), time.Millisecond)
}

// URL is the API root with a trailing slash, as go-github wants its base
// URL: http://127.0.0.1:PORT/ (or …/api/v3/ with WithBasePath).
func (s *Server) URL() string { return s.ts.URL + s.basePath + "/" }

// Org is the organisation's login.
func (s *Server) Org() string { return s.org }

// Token is the token the server accepts.
func (s *Server) Token() string { return s.token }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next request, whatever its route, with status,
// carrying retry-after when after > 0, in GitHub's shape for that status:
// a 429 (or a 403 with after > 0) is a secondary rate limit, a 403
// otherwise a permission refusal, a 5xx a server error.
func (s *Server) FailNext(status int, after time.Duration) { s.FailNextOn("", 1, status, after, "") }

// FailNextOn answers the next n requests to route ("PUT
// /orgs/{org}/memberships/{username}", as Stats names routes; "" any)
// with status and GitHub's message for it, or message when set.
func (s *Server) FailNextOn(route string, n, status int, after time.Duration, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures.Add(n, fakehttp.Failure{Route: route, Status: status, RetryAfter: after, Message: message})
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// ServeHTTP runs the pipeline: count → auth → primary limit → injected
// failure → secondary limit → handler. The rate limit headers go on every
// authenticated answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &fakehttp.StatusWriter{ResponseWriter: w}
	rt := s.route(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByRoute[rt.name]++
	defer func() { s.stats.ByStatus[sw.Status]++ }()
	sw.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	sw.Header().Set("X-GitHub-Request-Id", strconv.Itoa(s.stats.Total))
	if e := s.serve(sw, r, rt); e != nil {
		if s.echoAuth {
			e.message += " (Authorization: " + r.Header.Get("Authorization") + ")"
		}
		writeError(sw, e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.authenticate(r); e != nil {
		return e
	}
	now := s.now()
	ok := s.primary.Take(now)
	s.rateHeaders(w, now)
	if !ok {
		s.stats.RateLimited++
		return &apiError{status: s.limitStatus(), message: "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
			doc: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"}
	}
	if f, ok := s.failures.Take(rt.name); ok {
		return s.injected(w, f)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if wait, ok := take(s.secondary, now); !ok {
			s.stats.RateLimited++
			w.Header().Set("Retry-After", fakehttp.Seconds(wait))
			return secondaryLimit(s.limitStatus())
		}
	}
	if rt.handler == nil {
		return notFound(rt.doc)
	}
	return rt.handler(w, r, rt)
}

func (s *Server) limitStatus() int {
	if s.limit429 {
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

// authenticate accepts "Bearer TOKEN" and "token TOKEN", as GitHub does.
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &apiError{status: http.StatusUnauthorized, message: "Requires authentication", doc: "https://docs.github.com/rest"}
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) != 1 {
		return &apiError{status: http.StatusUnauthorized, message: "Bad credentials", doc: "https://docs.github.com/rest"}
	}
	return nil
}

// injected is the answer GitHub gives with f's status.
func (s *Server) injected(w http.ResponseWriter, f fakehttp.Failure) *apiError {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fakehttp.Seconds(f.RetryAfter))
	}
	e := &apiError{status: f.Status, message: f.Message}
	switch {
	case f.Status == http.StatusTooManyRequests, f.Status == http.StatusForbidden && f.RetryAfter > 0:
		s.stats.RateLimited++
		e = secondaryLimit(f.Status)
	case f.Status == http.StatusForbidden:
		e.message, e.doc = "Resource not accessible by personal access token", "https://docs.github.com/rest/orgs/members"
	case f.Status == http.StatusBadRequest:
		e.message = "Problems parsing JSON"
	case f.Status == http.StatusUnprocessableEntity:
		e.message = "Validation Failed"
	case f.Status >= 500:
		e.message = "Server Error"
	}
	if f.Message != "" {
		e.message = f.Message
	}
	return e
}

func secondaryLimit(status int) *apiError {
	return &apiError{status: status,
		message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
		doc:     "https://docs.github.com/free-pro-team@latest/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"}
}
