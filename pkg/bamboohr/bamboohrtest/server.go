// Package bamboohrtest is a fake BambooHR API for tests: a real
// httptest.Server that serves employees from memory, with BambooHR's
// documented behaviour (shared/reference/bamboohr.md §4):
//
//   - HTTP Basic auth with the API key as user name; a wrong key gets 401.
//   - Errors carry their detail in the x-bamboohr-error-message header and
//     an empty body.
//   - GET /api/v1/employees/{id}?fields=a,b returns id plus the requested
//     fields it knows (default firstName,lastName); unknown fields are left
//     out; more than 400 fields gives 400; an unknown id gives 404. Empty
//     dates are served as "0000-00-00", other empty fields as null.
//   - GET /api/v1/employees/changed?since=T lists ids whose lastChanged is
//     at or after T, with action Inserted, Updated or Deleted; a missing or
//     invalid since gives 400.
//   - GET /api/v1/employees/directory lists Active employees; 404 if none.
//   - The same endpoints under the legacy /api/gateway.php/{company}/v1/
//     prefix, where company must match.
//
// Where the documentation is silent the fake picks one plausible answer and
// says so: the since bound is inclusive; "latest" is the newest reported
// lastChanged (null when nothing changed); an empty change set is served as
// [] (PHP's empty array). A request without Accept: application/json gets
// 406 here, where BambooHR would answer XML. onlyCurrent is accepted and
// ignored: the fake keeps no history tables, so every value is current.
//
// Test controls (Put, Update, Delete, Throttle, Outage, Fail, Delay) are
// safe to call while requests are in flight.
package bamboohrtest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/bamboohr"
)

// Defaults for a new Server.
const (
	DefaultAPIKey  = "test-api-key"
	DefaultCompany = "acme"
)

// Error messages the fake sends in x-bamboohr-error-message.
const (
	MsgInvalidKey     = "Invalid API key"
	MsgNotFound       = "Employee not found"
	MsgTooManyFields  = "Too many fields requested; the limit is 400"
	MsgEmptyDirectory = "empty directory"
	MsgRateLimited    = "Rate limit exceeded"
	MsgUnavailable    = "Service temporarily unavailable"
	MsgNotAcceptable  = "Send Accept: application/json; this fake does not speak XML"
)

// Endpoint names one API operation, for Requests.
type Endpoint string

// Endpoints the fake serves.
const (
	EndpointEmployee  Endpoint = "employee"
	EndpointChanged   Endpoint = "changed"
	EndpointDirectory Endpoint = "directory"
)

// Employee is one stored record. The typed fields are served under their
// BambooHR aliases. Fields holds any other alias (custom fields, a time zone
// or contract end date) and overrides a typed field of the same alias, so a
// test can serve a number (json.Number("5") or 5), a bool, or null (nil) in
// any field, "id" included.
type Employee struct {
	ID                      string
	FirstName               string
	LastName                string
	PreferredName           string
	DisplayName             string // derived from the names when empty
	WorkEmail               string
	Status                  string // "Active" or "Inactive"
	EmploymentHistoryStatus string
	Department              string
	Division                string
	JobTitle                string
	Location                string
	SupervisorEID           string
	SupervisorEmail         string
	HireDate                string // YYYY-MM-DD; empty is served as 0000-00-00
	TerminationDate         string // YYYY-MM-DD; empty is served as 0000-00-00
	Fields                  map[string]any
}

func (e Employee) clone() Employee {
	e.Fields = maps.Clone(e.Fields)
	return e
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the API key the server accepts.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithCompany sets the company domain used by the legacy gateway paths.
func WithCompany(company string) Option { return func(s *Server) { s.company = company } }

// WithEchoAuthorization makes every error answer's message repeat the
// request's Authorization header (the Basic credentials, the API key in
// base64), as a debugging proxy does: a client must not pass it on.
func WithEchoAuthorization() Option { return func(s *Server) { s.echoAuth = true } }

// WithClock sets the clock that stamps lastChanged. Default time.Now.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

type record struct {
	emp     Employee
	created time.Time
	changed time.Time
}

type fault struct {
	status     int
	message    string
	retryAfter time.Duration
}

// Server is a running fake. Close it when done.
type Server struct {
	srv      *httptest.Server
	apiKey   string
	company  string
	now      func() time.Time
	echoAuth bool

	mu       sync.Mutex
	live     map[string]*record
	deleted  map[string]time.Time
	faults   []fault
	delay    time.Duration
	requests map[Endpoint]int
}

// New starts a fake on a random local port.
func New(opts ...Option) *Server {
	s := &Server{
		apiKey:   DefaultAPIKey,
		company:  DefaultCompany,
		now:      time.Now,
		live:     map[string]*record{},
		deleted:  map[string]time.Time{},
		requests: map[Endpoint]int{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	for _, prefix := range []string{"/api/v1", "/api/gateway.php/{company}/v1"} {
		mux.Handle("GET "+prefix+"/employees/directory", s.endpoint(EndpointDirectory, s.serveDirectory))
		mux.Handle("GET "+prefix+"/employees/changed", s.endpoint(EndpointChanged, s.serveChanged))
		mux.Handle("GET "+prefix+"/employees/{id}", s.endpoint(EndpointEmployee, s.serveEmployee))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// URL is the base URL to put in bamboohr.Config.BaseURL: the stand-in for
// https://{company}.bamboohr.com.
func (s *Server) URL() string { return s.srv.URL }

// GatewayURL is the legacy base URL, .../api/gateway.php/{company}/v1.
func (s *Server) GatewayURL() string {
	return s.srv.URL + "/api/gateway.php/" + s.company + "/v1"
}

// APIKey is the key the server accepts.
func (s *Server) APIKey() string { return s.apiKey }

// Company is the company domain of the legacy gateway paths.
func (s *Server) Company() string { return s.company }

// Config returns a client configuration for this server with test-sized
// timings: 2 s per attempt, 3 attempts, 1–5 ms backoff, and up to 2 s of
// waiting on Retry-After (set Config.Sleep to avoid really waiting).
func (s *Server) Config() bamboohr.Config {
	return bamboohr.Config{
		BaseURL:        s.URL(),
		Company:        s.company,
		APIKey:         s.apiKey,
		Timeout:        2 * time.Second,
		MaxAttempts:    3,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
		MaxRetryAfter:  2 * time.Second,
	}
}

// Put stores e, replacing any employee with the same ID, and stamps it
// changed now: Inserted if new, Updated otherwise. It panics on an empty ID.
func (s *Server) Put(e Employee) {
	if e.ID == "" {
		panic("bamboohrtest: Put with empty ID")
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.live[e.ID]; ok {
		r.emp = e.clone()
		r.changed = now
		return
	}
	delete(s.deleted, e.ID)
	s.live[e.ID] = &record{emp: e.clone(), created: now, changed: now}
}

// Update changes the employee with id through fn and stamps it changed now.
// It reports false, without calling fn, when there is no such employee.
func (s *Server) Update(id string, fn func(*Employee)) bool {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live[id]
	if !ok {
		return false
	}
	e := r.emp.clone()
	fn(&e)
	e.ID = id
	r.emp = e
	r.changed = now
	return true
}

// Delete removes the employee with id; employees/changed reports it as
// Deleted from now on. It reports false when there is no such employee.
func (s *Server) Delete(id string) bool {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[id]; !ok {
		return false
	}
	delete(s.live, id)
	s.deleted[id] = now
	return true
}

// Get returns a copy of the stored employee with id.
func (s *Server) Get(id string) (Employee, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live[id]
	if !ok {
		return Employee{}, false
	}
	return r.emp.clone(), true
}

// Throttle makes the next n requests fail with 429 and, when retryAfter is
// positive, a Retry-After of that many seconds, rounded up.
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.inject(n, fault{status: http.StatusTooManyRequests, message: MsgRateLimited, retryAfter: retryAfter})
}

// Outage makes the next n requests fail with 503 and no Retry-After.
func (s *Server) Outage(n int) {
	s.inject(n, fault{status: http.StatusServiceUnavailable, message: MsgUnavailable})
}

// Fail makes the next n requests fail with status and message, e.g. 403
// for a key without permission.
func (s *Server) Fail(n, status int, message string) {
	s.inject(n, fault{status: status, message: message})
}

// inject queues faults after those already queued, so Throttle(1, d) then
// Outage(1) gives a 429, then a 503, then normal answers.
func (s *Server) inject(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Delay holds every response for d (0 turns it off), or until the client
// gives up.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns how many requests each endpoint received, failed ones
// included.
func (s *Server) Requests() map[Endpoint]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// stamp reads the clock at BambooHR's one-second resolution.
func (s *Server) stamp() time.Time { return s.now().UTC().Truncate(time.Second) }

// endpoint wraps h with what every BambooHR request goes through: counting,
// delay, injected faults, the company of the legacy path, Accept and auth.
func (s *Server) endpoint(ep Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[ep]++
		delay := s.delay
		var f *fault
		if len(s.faults) > 0 {
			next := s.faults[0]
			f = &next
			s.faults = s.faults[1:]
		}
		s.mu.Unlock()
		fail := func(status int, message string) {
			if s.echoAuth {
				message += " (Authorization: " + r.Header.Get("Authorization") + ")"
			}
			writeError(w, status, message)
		}

		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if f != nil {
			if f.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
			}
			fail(f.status, f.message)
			return
		}
		if c := r.PathValue("company"); c != "" && c != s.company {
			fail(http.StatusNotFound, "Unknown company")
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/json") {
			fail(http.StatusNotAcceptable, MsgNotAcceptable)
			return
		}
		user, _, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.apiKey)) != 1 {
			fail(http.StatusUnauthorized, MsgInvalidKey)
			return
		}
		h(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("X-BambooHR-Error-Message", message)
	w.WriteHeader(status)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) serveEmployee(w http.ResponseWriter, r *http.Request) {
	fields := []string{"firstName", "lastName"}
	if q := r.URL.Query(); q.Has("fields") {
		fields = fields[:0]
		for f := range strings.SplitSeq(q.Get("fields"), ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
	}
	if len(fields) > 400 {
		writeError(w, http.StatusBadRequest, MsgTooManyFields)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.live[r.PathValue("id")]
	if !ok {
		writeError(w, http.StatusNotFound, MsgNotFound)
		return
	}
	out := map[string]any{"id": s.value(rec.emp, "id")}
	for _, f := range fields {
		if v, ok := s.fieldValue(rec.emp, f); ok {
			out[f] = v
		}
	}
	writeJSON(w, out)
}

func (s *Server) serveChanged(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("since") {
		writeError(w, http.StatusBadRequest, "Missing required parameter: since")
		return
	}
	since, err := time.Parse(time.RFC3339, q.Get("since"))
	if err != nil {
		since, err = time.Parse("2006-01-02T15:04:05-0700", q.Get("since"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid 'since' parameter; use ISO 8601")
		return
	}
	kind := strings.ToLower(q.Get("type"))
	switch kind {
	case "", "all", "inserted", "updated", "deleted":
	default:
		writeError(w, http.StatusBadRequest, "Invalid 'type' parameter")
		return
	}

	type entry struct {
		ID          string `json:"id"`
		Action      string `json:"action"`
		LastChanged string `json:"lastChanged"`
	}
	const layout = "2006-01-02T15:04:05-07:00"
	entries := map[string]entry{}
	var latest time.Time
	add := func(id, action string, at time.Time) {
		if at.Before(since) || (kind != "" && kind != "all" && kind != strings.ToLower(action)) {
			return
		}
		entries[id] = entry{ID: id, Action: action, LastChanged: at.Format(layout)}
		if at.After(latest) {
			latest = at
		}
	}

	s.mu.Lock()
	for id, rec := range s.live {
		action := "Updated"
		if !rec.created.Before(since) {
			action = "Inserted"
		}
		add(id, action, rec.changed)
	}
	for id, at := range s.deleted {
		add(id, "Deleted", at)
	}
	s.mu.Unlock()

	resp := map[string]any{"latest": nil, "employees": []any{}}
	if len(entries) > 0 {
		resp["latest"] = latest.Format(layout)
		resp["employees"] = entries
	}
	writeJSON(w, resp)
}

// directoryFields are the fields of the directory's fieldset.
var directoryFields = []struct{ id, typ, name string }{
	{"displayName", "text", "Display name"},
	{"firstName", "text", "First name"},
	{"lastName", "text", "Last name"},
	{"preferredName", "text", "Preferred name"},
	{"jobTitle", "list", "Job title"},
	{"workEmail", "email", "Work Email"},
	{"department", "list", "Department"},
	{"location", "list", "Location"},
	{"division", "list", "Division"},
	{"supervisor", "employee", "Supervisor"},
}

func (s *Server) serveDirectory(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	var employees []map[string]any
	for _, rec := range s.live {
		if st, _ := s.fieldValue(rec.emp, "status"); st != "Active" {
			continue
		}
		e := map[string]any{"id": s.value(rec.emp, "id"), "photoUploaded": false}
		for _, f := range directoryFields {
			e[f.id], _ = s.fieldValue(rec.emp, f.id)
		}
		employees = append(employees, e)
	}
	s.mu.Unlock()

	if len(employees) == 0 {
		writeError(w, http.StatusNotFound, MsgEmptyDirectory)
		return
	}
	slices.SortFunc(employees, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["displayName"]), fmt.Sprint(b["displayName"]))
	})
	fieldset := make([]map[string]string, 0, len(directoryFields))
	for _, f := range directoryFields {
		fieldset = append(fieldset, map[string]string{"id": f.id, "type": f.typ, "name": f.name})
	}
	writeJSON(w, map[string]any{"fields": fieldset, "employees": employees})
}

// value is fieldValue for a field the employee always has.
func (s *Server) value(e Employee, alias string) any {
	v, _ := s.fieldValue(e, alias)
	return v
}

// fieldValue returns what BambooHR serves for alias, and whether the field
// exists at all. s.mu must be held.
func (s *Server) fieldValue(e Employee, alias string) (any, bool) {
	if v, ok := e.Fields[alias]; ok {
		return v, true
	}
	text := func(v string) (any, bool) {
		if v == "" {
			return nil, true
		}
		return v, true
	}
	date := func(v string) (any, bool) {
		if v == "" {
			return "0000-00-00", true
		}
		return v, true
	}
	switch alias {
	case "id":
		return e.ID, true
	case "firstName":
		return text(e.FirstName)
	case "lastName":
		return text(e.LastName)
	case "preferredName":
		return text(e.PreferredName)
	case "displayName":
		if e.DisplayName != "" {
			return e.DisplayName, true
		}
		first := e.FirstName
		if e.PreferredName != "" {
			first = e.PreferredName
		}
		return text(strings.TrimSpace(first + " " + e.LastName))
	case "workEmail":
		return text(e.WorkEmail)
	case "status":
		return text(e.Status)
	case "employmentHistoryStatus":
		return text(e.EmploymentHistoryStatus)
	case "department":
		return text(e.Department)
	case "division":
		return text(e.Division)
	case "jobTitle":
		return text(e.JobTitle)
	case "location":
		return text(e.Location)
	case "supervisorEId":
		return text(e.SupervisorEID)
	case "supervisorEmail":
		return text(e.SupervisorEmail)
	case "supervisor": // "Last, First" of the supervisor, read-only
		if sup, ok := s.live[e.SupervisorEID]; ok {
			return text(strings.Trim(sup.emp.LastName+", "+sup.emp.FirstName, ", "))
		}
		return nil, true
	case "hireDate":
		return date(e.HireDate)
	case "terminationDate":
		return date(e.TerminationDate)
	}
	return nil, false
}
