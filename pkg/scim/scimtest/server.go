// Package scimtest is a SCIM 2.0 service provider (RFC 7643, RFC 7644) over
// real HTTP with an in-memory store, standing in for the SaaS vendors in
// tests. Quirks switch on documented vendor behaviour — what DELETE does,
// hidden deactivated users, conflicts on deactivated emails, missing
// endpoints, rate limits signalled by 429 and Retry-After — and the presets
// (Slack, Atlassian, GitHubEMU, GitLab, Notion, Figma, Miro, Asana) set them
// from /work/shared/reference/connectors.md.
//
// Test controls inject failures (FailNext), latency (Delay) and rate limits
// (RateLimit, driven by an injectable clock), and report what was served
// (Requests, Users, Groups).
package scimtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// Option configures New. Quirks values (and the vendor presets) are Options.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	token    string
	now      func() time.Time
	scale    float64
	basePath string
	quirks   Quirks
	echoAuth bool
}

// WithToken sets the bearer token; by default a random one is made.
func WithToken(token string) Option { return optionFunc(func(c *config) { c.token = token }) }

// WithClock sets the clock behind rate limits and meta timestamps.
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// WithRateScale multiplies every limit's refill rate by f (f > 1 refills
// faster); bucket sizes stay as documented. f <= 0 means 1.
func WithRateScale(f float64) Option { return optionFunc(func(c *config) { c.scale = f }) }

// WithBasePath serves the API under a prefix such as "/scim/v2"; URL
// includes it.
func WithBasePath(p string) Option {
	return optionFunc(func(c *config) { c.basePath = "/" + strings.Trim(p, "/") })
}

// WithEchoAuthorization makes every error answer's detail repeat the
// request's Authorization header, as a debugging proxy or a careless
// vendor does: a client must not pass it on to its logs or errors.
func WithEchoAuthorization() Option { return optionFunc(func(c *config) { c.echoAuth = true }) }

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "GET /Users", "PATCH /Users/{id}", …
	ByStatus    map[int]int
	RateLimited int // 429 responses of any cause
}

type failure struct {
	status     int
	detail     string
	retryAfter time.Duration // sent as Retry-After when > 0
}

type record struct {
	doc      map[string]any
	unlinked bool
	ord      int64 // place in creation order
}

// Server is a running SCIM service provider.
type Server struct {
	ts       *httptest.Server
	token    string
	now      func() time.Time
	scale    float64
	basePath string
	quirks   Quirks
	echoAuth bool
	done     chan struct{}
	close    sync.Once

	mu         sync.Mutex
	users      map[string]*record
	userOrder  []string
	groups     map[string]*record
	groupOrder []string
	seq        int
	limits     []Limit
	lim        *limiter
	failures   []failure
	delay      time.Duration
	stats      Stats
	locked     map[string]bool

	ord      int64            // last record.ord handed out
	uidx     userIndex        // user attribute indexes (index.go)
	memberOf map[string]idSet // member id → ids of the groups listing it
}

// New starts a server on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	c := config{now: time.Now, scale: 1}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		c.token = "scimtest-" + hex.EncodeToString(b)
	}
	if c.scale <= 0 {
		c.scale = 1
	}
	if c.basePath == "/" {
		c.basePath = ""
	}
	s := &Server{
		token:    c.token,
		now:      c.now,
		scale:    c.scale,
		basePath: c.basePath,
		quirks:   c.quirks,
		echoAuth: c.echoAuth,
		done:     make(chan struct{}),
		users:    map[string]*record{},
		groups:   map[string]*record{},
		limits:   slices.Clone(c.quirks.Limits),
		stats:    Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
		locked:   map[string]bool{},
		uidx:     newUserIndex(),
		memberOf: map[string]idSet{},
	}
	s.lim = newLimiter(s.limits, s.scale, s.now())
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the base URL of the API, e.g. http://127.0.0.1:PORT/scim/v2.
func (s *Server) URL() string { return s.ts.URL + s.basePath }

// Token is the bearer token the server accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// SetToken makes the server accept only tok from now on: the old token is
// revoked (every request with it gets the vendor's 401) until it is set
// back.
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Quirks returns the vendor behaviour in force.
func (s *Server) Quirks() Quirks { return s.quirks }

// Close stops the server, cutting short any Delay in progress.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// FailNext answers the next n authorised requests with status and a SCIM
// error carrying detail (Retry-After: 1 on 429 and 503). Calls queue up.
func (s *Server) FailNext(n, status int, detail string) {
	var after time.Duration
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		after = time.Second
	}
	s.FailNextRetryAfter(n, status, after, detail)
}

// FailNextRetryAfter is FailNext with the Retry-After the failures carry
// (whole seconds, rounded up; 0: none), on any status: vendors differ in
// what they send (GitHub's rate-limit 403s carry one), and a client must
// be seen to pass on the server's value, not a default.
func (s *Server) FailNextRetryAfter(n, status int, after time.Duration, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, detail, after})
	}
}

// Delay holds every later request for d before it is processed (writes
// hold their resource lock meanwhile). Zero turns it off.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// RateLimit replaces every limit that covers a write method with one bucket
// of perMinute writes (POST, PUT, PATCH, DELETE) holding burst tokens; read
// limits stay. perMinute <= 0 removes write limits.
func (s *Server) RateLimit(perMinute, burst int) {
	s.replaceLimits(func(l Limit) bool {
		return l.Methods == nil || slices.ContainsFunc(l.Methods, func(m string) bool { return m != http.MethodGet })
	}, Limit{Name: "writes", Methods: writeMethods(), Requests: perMinute, Per: time.Minute, Burst: burst})
}

// ReadRateLimit replaces the GET-only limits with one bucket of perMinute
// reads holding burst tokens. perMinute <= 0 removes them.
func (s *Server) ReadRateLimit(perMinute, burst int) {
	s.replaceLimits(func(l Limit) bool {
		return l.Methods != nil && !slices.ContainsFunc(l.Methods, func(m string) bool { return m != http.MethodGet })
	}, Limit{Name: "reads", Methods: []string{http.MethodGet}, Requests: perMinute, Per: time.Minute, Burst: burst})
}

// SetLimits replaces all rate limits; buckets start full.
func (s *Server) SetLimits(limits ...Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = slices.Clone(limits)
	s.lim = newLimiter(s.limits, s.scale, s.now())
}

func (s *Server) replaceLimits(drop func(Limit) bool, add Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limits := slices.DeleteFunc(slices.Clone(s.limits), drop)
	if add.Requests > 0 {
		limits = append(limits, add)
	}
	s.limits = limits
	s.lim = newLimiter(s.limits, s.scale, s.now())
}

// Limits returns the rate limits in force.
func (s *Server) Limits() []Limit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.limits)
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// route splits a request path into resource ("Users", "Groups",
// "ServiceProviderConfig", "ResourceTypes", "Schemas" or "" when unknown)
// and id, and
// names the route for Stats.
func (s *Server) route(r *http.Request) (resource, id, name string) {
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, s.basePath)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", "", r.Method + " " + p
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case len(parts) == 1 && slices.Contains([]string{"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas"}, parts[0]):
		return parts[0], "", r.Method + " /" + parts[0]
	case len(parts) == 2 && (parts[0] == "Users" || parts[0] == "Groups") && parts[1] != "":
		if id, err := url.PathUnescape(parts[1]); err == nil {
			return parts[0], id, r.Method + " /" + parts[0] + "/{id}"
		}
	}
	return "", "", r.Method + " " + rest
}

// ServeHTTP runs the pipeline: count → auth → injected failure → rate
// limit → resource lock → delay → handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &fakehttp.StatusWriter{ResponseWriter: w}
	resource, id, routeName := s.route(r)
	s.mu.Lock()
	s.stats.Total++
	s.stats.ByRoute[routeName]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stats.ByStatus[sw.Status]++
		if sw.Status == http.StatusTooManyRequests {
			s.stats.RateLimited++
		}
		s.mu.Unlock()
	}()
	if err := s.serve(sw, r, resource, id); err != nil {
		if s.echoAuth {
			err.detail += " (Authorization: " + r.Header.Get("Authorization") + ")"
		}
		writeError(sw, err)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, resource, id string) *scimError {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimtest"`)
		return errorf(http.StatusUnauthorized, "", "missing or invalid bearer token")
	}
	s.mu.Lock()
	var fail *failure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	var wait time.Duration
	limited := false
	if fail == nil {
		var ok bool
		wait, ok = s.lim.take(r.Method, resource, s.now())
		limited = !ok
	}
	delay := s.delay
	s.mu.Unlock()
	if fail != nil {
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(fail.retryAfter))
		}
		return errorf(fail.status, "", "%s", fail.detail)
	}
	if limited {
		w.Header().Set("Retry-After", retryAfter(wait))
		return errorf(http.StatusTooManyRequests, "", "rate limited: retry after %s seconds", retryAfter(wait))
	}
	if resource == "Groups" && s.quirks.NoGroups {
		return errorf(http.StatusNotFound, "", "%s serves Users only; there is no /Groups endpoint", s.vendor())
	}
	h, err := s.handler(r.Method, resource, id)
	if err != nil {
		return err
	}
	if id != "" && r.Method != http.MethodGet && s.quirks.LockWrites {
		key := resource + "/" + id
		s.mu.Lock()
		busy := s.locked[key]
		s.locked[key] = true
		s.mu.Unlock()
		if busy {
			w.Header().Set("Retry-After", "1")
			return errorf(http.StatusTooManyRequests, "", "resource_locked")
		}
		defer func() {
			s.mu.Lock()
			delete(s.locked, key)
			s.mu.Unlock()
		}()
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return errorf(http.StatusServiceUnavailable, "", "request cancelled")
		case <-s.done:
			return errorf(http.StatusServiceUnavailable, "", "server closing")
		}
	}
	return h(w, r, id)
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.Token())) == 1
}

func (s *Server) vendor() string {
	if s.quirks.Vendor == "" {
		return "this service provider"
	}
	return s.quirks.Vendor
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, id string) *scimError

func (s *Server) handler(method, resource, id string) (handlerFunc, *scimError) {
	type key struct {
		method, resource string
		byID             bool
	}
	users, groups := s.kind(kindUser), s.kind(kindGroup)
	routes := map[key]handlerFunc{
		{http.MethodGet, "ServiceProviderConfig", false}: s.serviceProviderConfig,
		{http.MethodGet, "ResourceTypes", false}:         s.resourceTypes,
		{http.MethodGet, "Schemas", false}:               s.schemas,
		{http.MethodGet, "Users", false}:                 users.list,
		{http.MethodPost, "Users", false}:                users.create,
		{http.MethodGet, "Users", true}:                  users.get,
		{http.MethodPut, "Users", true}:                  users.replace,
		{http.MethodPatch, "Users", true}:                users.patch,
		{http.MethodDelete, "Users", true}:               users.delete,
		{http.MethodGet, "Groups", false}:                groups.list,
		{http.MethodPost, "Groups", false}:               groups.create,
		{http.MethodGet, "Groups", true}:                 groups.get,
		{http.MethodPut, "Groups", true}:                 groups.replace,
		{http.MethodPatch, "Groups", true}:               groups.patch,
		{http.MethodDelete, "Groups", true}:              groups.delete,
	}
	if resource == "" {
		return nil, errorf(http.StatusNotFound, "", "no such endpoint")
	}
	if method == http.MethodPatch && s.quirks.NoPatch || method == http.MethodPut && s.quirks.NoPut {
		return nil, errorf(http.StatusNotImplemented, "", "%s does not support %s", s.vendor(), method)
	}
	h, ok := routes[key{method, resource, id != ""}]
	if !ok {
		return nil, errorf(http.StatusMethodNotAllowed, "", "method %s not allowed here", method)
	}
	return h, nil
}

// readBody decodes a JSON object request body, numbers kept exact.
func readBody(r *http.Request) (map[string]any, *scimError) {
	if e := checkContentType(r); e != nil {
		return nil, e
	}
	var body map[string]any
	if err := decodeJSON(http.MaxBytesReader(nil, r.Body, maxPayload), &body); err != nil {
		return nil, errorf(http.StatusBadRequest, typeInvalidSyntax, "request body: %v", err)
	}
	if body == nil {
		return nil, errorf(http.StatusBadRequest, typeInvalidSyntax, "request body must be a JSON object")
	}
	return body, nil
}

const maxPayload = 1 << 20

func checkContentType(r *http.Request) *scimError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/scim+json" && mt != "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "", "content type %q is not application/scim+json", ct)
	}
	return nil
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request, _ string) *scimError {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{spcSchema},
		"documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
		"patch":            map[string]any{"supported": !s.quirks.NoPatch},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": s.quirks.pageSize()},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": false},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token",
			"description": "Authentication with a bearer token in the Authorization header", "primary": true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.URL() + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *Server) resourceTypes(w http.ResponseWriter, _ *http.Request, _ string) *scimError {
	user := map[string]any{
		"schemas": []string{rtSchema}, "id": "User", "name": "User", "endpoint": "/Users", "schema": userSchema,
		"meta": map[string]any{"resourceType": "ResourceType", "location": s.URL() + "/ResourceTypes/User"},
	}
	if !s.quirks.NoEnterpriseUser {
		user["schemaExtensions"] = []any{map[string]any{"schema": enterpriseSchema, "required": false}}
	}
	types := []any{user}
	if !s.quirks.NoGroups {
		types = append(types, map[string]any{
			"schemas": []string{rtSchema}, "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": groupSchema,
			"meta": map[string]any{"resourceType": "ResourceType", "location": s.URL() + "/ResourceTypes/Group"},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{listSchema}, "totalResults": len(types), "itemsPerPage": len(types),
		"startIndex": 1, "Resources": types,
	})
	return nil
}

// schemas serves /Schemas (RFC 7643 §7): the attributes this server
// stores, by name (sub-attributes and characteristics left out).
func (s *Server) schemas(w http.ResponseWriter, _ *http.Request, _ string) *scimError {
	schema := func(id, name string, attrs ...string) map[string]any {
		list := make([]any, len(attrs))
		for i, a := range attrs {
			list[i] = map[string]any{"name": a}
		}
		return map[string]any{"schemas": []string{schemaSchema}, "id": id, "name": name, "attributes": list,
			"meta": map[string]any{"resourceType": "Schema", "location": s.URL() + "/Schemas/" + id}}
	}
	list := []any{schema(userSchema, "User", "userName", "name", "displayName", "nickName", "profileUrl", "title",
		"userType", "preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers",
		"ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates")}
	if !s.quirks.NoGroups {
		list = append(list, schema(groupSchema, "Group", "displayName", "members"))
	}
	if !s.quirks.NoEnterpriseUser {
		list = append(list, schema(enterpriseSchema, "EnterpriseUser", "employeeNumber", "costCenter", "organization",
			"division", "department", "manager"))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{listSchema}, "totalResults": len(list), "itemsPerPage": len(list),
		"startIndex": 1, "Resources": list,
	})
	return nil
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%06d", prefix, s.seq)
}

func (s *Server) timestamp() string { return s.now().UTC().Format(time.RFC3339Nano) }
