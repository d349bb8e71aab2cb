// Package googletest is a fake Google Workspace over real HTTP: the Admin
// SDK Directory API (users, their sign-in sessions, application-specific
// passwords and OAuth tokens, groups and members), the Enterprise License
// Manager API, and the OAuth token endpoint a service account with
// domain-wide delegation signs its JWT assertions for. It stands in for
// Google in tests of keycard/pkg/google and is built from Google's
// documented behaviour (/work/shared/reference/connectors.md §3.6):
//
//   - errors in Google's JSON shape, {"error":{"code":…,"message":…,
//     "errors":[{"reason":…}]}}, with its reasons (duplicate, notFound,
//     userRateLimitExceeded, …);
//   - 409 "Entity already exists." for a second user with one address
//     (aliases included) and 409 "Member already exists." for a second
//     membership;
//   - a renamed user keeps the old address as an alias, so users.get by
//     the old address still answers with the user;
//   - users.list pages of at most 500, with pageToken and the externalId:
//     and email: queries;
//   - a per-user query quota (2,400 a minute by default) answered with
//     403 userRateLimitExceeded (or 429, see WithRateLimitStatus);
//   - access tokens only for a JWT signed with the service account's key,
//     impersonating an admin, for scopes the admin authorised
//     (unauthorized_client otherwise), and each API method checks its
//     scope.
//
// Test controls inject failures (FailNext), change the quota, seed users,
// groups, org units, sessions and licence seats, and report what was
// served.
package googletest

import (
	"cmp"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// DefaultQueriesPerMinute is the Directory API's documented default quota:
// 2,400 queries a minute per user per project.
const DefaultQueriesPerMinute = 2400

// Option configures New.
type Option func(*config)

type config struct {
	domain      string
	admin       string
	now         func() time.Time
	scale       float64
	perMinute   int
	limitStatus int
	delegated   []string
}

// WithRateScale multiplies the quota's refill rate by f (f > 1 refills
// faster); the bucket holds a minute's quota as documented. f <= 0 means 1.
func WithRateScale(f float64) Option { return func(c *config) { c.scale = f } }

// WithQueriesPerMinute sets the per-user quota (default
// DefaultQueriesPerMinute); n <= 0 removes it.
func WithQueriesPerMinute(n int) Option { return func(c *config) { c.perMinute = n } }

// WithRateLimitStatus sets how an exhausted quota is answered: 403 with
// reason userRateLimitExceeded (the default, as the Directory API
// documents it) or 429 with reason rateLimitExceeded (Google's newer
// front ends).
func WithRateLimitStatus(status int) Option { return func(c *config) { c.limitStatus = status } }

// WithDelegatedScopes sets the scopes the super admin authorised for the
// service account's client id (default: every scope the fake knows).
func WithDelegatedScopes(scopes ...string) Option {
	return func(c *config) { c.delegated = slices.Clone(scopes) }
}

// Failure is an injected error answer.
type Failure struct {
	Status int
	// Reason is errors[].reason; default: Google's for the status
	// (badRequest, forbidden, notFound, rateLimitExceeded, backendError).
	Reason string
	// Message defaults to "injected failure".
	Message string
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) when
	// positive.
	RetryAfter time.Duration
	// Method, when set, is the API method that fails ("asps.list"); the
	// failure waits for a request to it. Default: the next request.
	Method string
}

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "users.insert", "members.delete", …
	ByStatus    map[int]int
	RateLimited int // quota answers (403 userRateLimitExceeded or 429)
	Tokens      int // token endpoint requests
}

// Server is a running fake.
type Server struct {
	ts       *httptest.Server
	mux      *http.ServeMux
	sa       serviceAccount
	project  string
	domain   string
	customer string
	now      func() time.Time
	scale    float64
	status   int // quota answer

	mu        sync.Mutex
	grants    map[string]grant
	admins    map[string]bool
	delegated []string
	db        *store
	failures  []Failure
	perMinute int
	buckets   map[string]*bucket // by impersonated admin
	stats     Stats
}

// AllScopes are the scopes the fake knows.
var allScopes = []string{ScopeUser, ScopeUserReadonly, ScopeUserSecurity, ScopeGroup, ScopeGroupReadonly, ScopeMember, ScopeMemberReadonly, ScopeLicensing}

// New starts a fake on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	c := config{domain: "example.com", now: time.Now, scale: 1, perMinute: DefaultQueriesPerMinute, limitStatus: http.StatusForbidden, delegated: allScopes}
	for _, o := range opts {
		o(&c)
	}
	c.admin = cmp.Or(c.admin, "admin@"+c.domain)
	if c.scale <= 0 {
		c.scale = 1
	}
	sa, err := newServiceAccount("keycard-test")
	if err != nil {
		panic("googletest: generate key: " + err.Error())
	}
	s := &Server{
		sa: sa, project: "keycard-test", domain: c.domain, customer: "C0" + strings.ToUpper(digits(7)),
		now: c.now, scale: c.scale, status: c.limitStatus,
		grants: map[string]grant{}, admins: map[string]bool{c.admin: true}, delegated: c.delegated,
		db: newStore(), perMinute: c.perMinute, buckets: map[string]*bucket{},
		stats: Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API root to give the client libraries (option.WithEndpoint):
// the Directory API lives under /admin/directory/v1/, the License Manager
// under /apps/licensing/v1/.
func (s *Server) URL() string { return s.ts.URL + "/" }

// TokenURL is the token endpoint, the token_uri of Key.
func (s *Server) TokenURL() string { return s.ts.URL + "/token" }

// Key is the service account's JSON key file, its token_uri pointing at
// the fake.
func (s *Server) Key() []byte { return s.sa.keyJSON(s.project, s.TokenURL()) }

// AccessTokens are the access tokens the token endpoint has issued, so a
// test can check that none of them leaked.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.grants))
}

// ClientID is the service account's OAuth client id, the one a super
// admin authorises for domain-wide delegation.
func (s *Server) ClientID() string { return s.sa.clientID }

// AdminEmail is the super admin the service account may impersonate.
func (s *Server) AdminEmail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.admins {
		return a
	}
	return ""
}

// Domain is the tenant's primary domain.
func (s *Server) Domain() string { return s.domain }

// CustomerID is the tenant's customer id (users carry it; the License
// Manager's listings take it).
func (s *Server) CustomerID() string { return s.customer }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next n API requests (not token requests; those to
// f.Method when set) with f. Calls queue up.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// SetQueriesPerMinute replaces the per-user quota; buckets start full.
// n <= 0 removes it.
func (s *Server) SetQueriesPerMinute(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMinute = n
	s.buckets = map[string]*bucket{}
}

// Delegate replaces the scopes authorised for the service account's
// client id; tokens already issued keep theirs.
func (s *Server) Delegate(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delegated = slices.Clone(scopes)
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// ServeHTTP serves the token endpoint and the APIs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.serveToken(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handler is one API method: it runs holding s.mu, for the admin g.
type handler func(w http.ResponseWriter, r *http.Request, g grant) *apiError

// handle registers method's handler at pattern: count → auth and scope →
// injected failure → quota → handler.
func (s *Server) handle(pattern, method string, scopes []string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &fakehttp.StatusWriter{ResponseWriter: w}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stats.Total++
		s.stats.ByRoute[method]++
		defer func() { s.stats.ByStatus[sw.Status]++ }()
		if err := s.serve(sw, r, method, scopes, h); err != nil {
			writeError(sw, err)
		}
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, method string, scopes []string, h handler) *apiError {
	g, err := s.authorize(r, scopes)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(s.failures, func(f Failure) bool { return f.Method == "" || f.Method == method }); i >= 0 {
		f := s.failures[i]
		s.failures = slices.Delete(s.failures, i, i+1)
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
		}
		return errorf(f.Status, cmp.Or(f.Reason, defaultReason(f.Status)), "%s", cmp.Or(f.Message, "injected failure"))
	}
	if s.perMinute > 0 {
		b, ok := s.buckets[g.subject]
		if !ok {
			b = newBucket(s.perMinute, s.scale, s.now())
			s.buckets[g.subject] = b
		}
		if !b.take(s.now()) {
			s.stats.RateLimited++
			if s.status == http.StatusTooManyRequests {
				return errorf(http.StatusTooManyRequests, ReasonRateLimit,
					"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.")
			}
			return errorf(http.StatusForbidden, ReasonUserRateLimit,
				"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.")
		}
	}
	return h(w, r, g)
}

func defaultReason(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return ReasonBadRequest
	case status == http.StatusForbidden:
		return ReasonForbidden
	case status == http.StatusNotFound:
		return ReasonNotFound
	case status == http.StatusConflict:
		return ReasonDuplicate
	case status == http.StatusTooManyRequests:
		return ReasonRateLimit
	case status >= 500:
		return ReasonBackendError
	}
	return ""
}

// routes registers every API method, with the scopes Google's discovery
// document lists for it.
func (s *Server) routes() {
	const dir = "/admin/directory/v1"
	const lic = "/apps/licensing/v1/product/{productId}"
	user := []string{ScopeUser}
	userRead := []string{ScopeUser, ScopeUserReadonly}
	security := []string{ScopeUserSecurity}
	groupRead := []string{ScopeGroup, ScopeGroupReadonly}
	memberRead := []string{ScopeGroup, ScopeMember, ScopeMemberReadonly, ScopeGroupReadonly}
	member := []string{ScopeGroup, ScopeMember}
	licensing := []string{ScopeLicensing}

	s.handle("POST "+dir+"/users", "users.insert", user, s.insertUser)
	s.handle("GET "+dir+"/users", "users.list", userRead, s.listUsers)
	s.handle("GET "+dir+"/users/{userKey}", "users.get", userRead, s.getUser)
	s.handle("PUT "+dir+"/users/{userKey}", "users.update", user, s.patchUser)
	s.handle("PATCH "+dir+"/users/{userKey}", "users.patch", user, s.patchUser)
	s.handle("POST "+dir+"/users/{userKey}/signOut", "users.signOut", security, s.signOut)
	s.handle("GET "+dir+"/users/{userKey}/asps", "asps.list", security, s.listASPs)
	s.handle("DELETE "+dir+"/users/{userKey}/asps/{codeId}", "asps.delete", security, s.deleteASP)
	s.handle("GET "+dir+"/users/{userKey}/tokens", "tokens.list", security, s.listTokens)
	s.handle("DELETE "+dir+"/users/{userKey}/tokens/{clientId}", "tokens.delete", security, s.deleteToken)

	s.handle("GET "+dir+"/groups", "groups.list", groupRead, s.listGroups)
	s.handle("GET "+dir+"/groups/{groupKey}/members", "members.list", memberRead, s.listMembers)
	s.handle("POST "+dir+"/groups/{groupKey}/members", "members.insert", member, s.insertMember)
	s.handle("DELETE "+dir+"/groups/{groupKey}/members/{memberKey}", "members.delete", member, s.deleteMember)

	s.handle("POST "+lic+"/sku/{skuId}/user", "licenseAssignments.insert", licensing, s.insertLicence)
	s.handle("GET "+lic+"/sku/{skuId}/user/{userId}", "licenseAssignments.get", licensing, s.getLicence)
	s.handle("PATCH "+lic+"/sku/{skuId}/user/{userId}", "licenseAssignments.patch", licensing, s.moveLicence)
	s.handle("PUT "+lic+"/sku/{skuId}/user/{userId}", "licenseAssignments.update", licensing, s.moveLicence)
	s.handle("DELETE "+lic+"/sku/{skuId}/user/{userId}", "licenseAssignments.delete", licensing, s.deleteLicence)
	s.handle("GET "+lic+"/users", "licenseAssignments.listForProduct", licensing, s.listLicences)
	s.handle("GET "+lic+"/sku/{skuId}/users", "licenseAssignments.listForProductAndSku", licensing, s.listLicences)
}

// bucket is a per-minute quota as a token bucket holding a minute's worth,
// driven by the server's clock.
type bucket struct {
	rate   float64 // tokens per second, scaled
	size   float64
	tokens float64
	last   time.Time
}

func newBucket(perMinute int, scale float64, now time.Time) *bucket {
	return &bucket{rate: float64(perMinute) / 60 * scale, size: float64(perMinute), tokens: float64(perMinute), last: now}
}

func (b *bucket) take(now time.Time) bool {
	if now.After(b.last) {
		b.tokens = math.Min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
