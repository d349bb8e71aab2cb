package bamboohr_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/fault"
	"keycard/pkg/testclock"
)

// testKey looks like a real key (40 hex digits) so redaction applies.
const testKey = "0123456789abcdef0123456789abcdef01234567"

func newFake(t *testing.T, opts ...bamboohrtest.Option) *bamboohrtest.Server {
	t.Helper()
	srv := bamboohrtest.New(append([]bamboohrtest.Option{bamboohrtest.WithAPIKey(testKey)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, cfg bamboohr.Config) *bamboohr.Client {
	t.Helper()
	c, err := bamboohr.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func assertRequests(t *testing.T, srv *bamboohrtest.Server, ep bamboohrtest.Endpoint, want int) {
	t.Helper()
	if got := srv.Requests()[ep]; got != want {
		t.Errorf("%s requests = %d, want %d", ep, got, want)
	}
}

func TestEmployee(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stored  bamboohrtest.Employee
		gateway bool
		want    bamboohr.Employee
	}{
		{
			name: "typed fields, empty dates served as 0000-00-00",
			stored: bamboohrtest.Employee{
				ID: "5", FirstName: "Ada", LastName: "Lovelace", WorkEmail: "ada@example.com",
				Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering",
				Division: "R&D", JobTitle: "Engineer", Location: "London", SupervisorEID: "1",
				SupervisorEmail: "boss@example.com", HireDate: "2026-12-01",
			},
			want: bamboohr.Employee{
				ID: "5", FirstName: "Ada", LastName: "Lovelace", DisplayName: "Ada Lovelace",
				WorkEmail: "ada@example.com", Status: bamboohr.StatusActive, EmploymentStatus: "Full-Time",
				Department: "Engineering", Division: "R&D", JobTitle: "Engineer", Location: "London",
				SupervisorID: "1", SupervisorEmail: "boss@example.com", HireDate: "2026-12-01",
			},
		},
		{
			name: "numbers, nulls, custom, time zone and contract end",
			stored: bamboohrtest.Employee{
				ID: "6", FirstName: "Bo", LastName: "Li", PreferredName: "Bob", Status: "Inactive",
				TerminationDate: "2026-11-30",
				Fields: map[string]any{
					"id": 6, "supervisorEId": json.Number("2"), "department": nil,
					"customShirt": "L", "4047": 3.5, "customTZ": "Europe/Berlin",
					"customEnd": "0000-00-00", "customUnrequested": "x",
				},
			},
			want: bamboohr.Employee{
				ID: "6", FirstName: "Bo", LastName: "Li", PreferredName: "Bob", DisplayName: "Bob Li",
				Status: bamboohr.StatusInactive, SupervisorID: "2", TerminationDate: "2026-11-30",
				TimeZone: "Europe/Berlin", Custom: map[string]string{"customShirt": "L", "4047": "3.5"},
			},
		},
		{
			name:    "legacy gateway base URL",
			stored:  bamboohrtest.Employee{ID: "7", FirstName: "Cy", LastName: "Ng", Status: "Active"},
			gateway: true,
			want: bamboohr.Employee{
				ID: "7", FirstName: "Cy", LastName: "Ng", DisplayName: "Cy Ng", Status: bamboohr.StatusActive,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			srv.Put(tt.stored)
			cfg := srv.Config()
			cfg.CustomFields = []string{"customShirt", "4047", "customMissing"}
			cfg.TimeZoneField = "customTZ"
			cfg.ContractEndField = "customEnd"
			if tt.gateway {
				cfg.BaseURL = srv.GatewayURL()
			}
			got, err := newClient(t, cfg).Employee(t.Context(), tt.stored.ID)
			if err != nil {
				t.Fatalf("Employee: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Employee =\n%+v\nwant\n%+v", got, tt.want)
			}
			assertRequests(t, srv, bamboohrtest.EndpointEmployee, 1)
		})
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, user, pass, accept, fields, onlyCurrent, since string
		auth                                                         bool
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		got <- seen{
			method: r.Method, path: r.URL.EscapedPath(), user: user, pass: pass, auth: ok,
			accept: r.Header.Get("Accept"), fields: r.URL.Query().Get("fields"),
			onlyCurrent: r.URL.Query().Get("onlyCurrent"), since: r.URL.Query().Get("since"),
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/changed"):
			_, _ = w.Write([]byte(`{"latest": null, "employees": []}`))
		case strings.HasSuffix(r.URL.Path, "/directory"):
			_, _ = w.Write([]byte(`{"fields": [], "employees": []}`))
		default:
			_, _ = w.Write([]byte(`{"id": "5"}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, bamboohr.Config{BaseURL: srv.URL, APIKey: testKey, CustomFields: []string{"customA"}, TimeZoneField: "customTZ"})
	berlin := time.FixedZone("CET", 3600)

	tests := []struct {
		name string
		call func(context.Context) error
		want seen
	}{
		{
			name: "employee",
			call: func(ctx context.Context) error { _, err := c.Employee(ctx, "5"); return err },
			want: seen{
				path:        "/api/v1/employees/5",
				fields:      "firstName,lastName,preferredName,displayName,workEmail,status,employmentHistoryStatus,department,division,jobTitle,location,supervisorEId,supervisorEmail,hireDate,terminationDate,customA,customTZ",
				onlyCurrent: "true",
			},
		},
		{
			name: "employee id is escaped",
			call: func(ctx context.Context) error { _, err := c.Employee(ctx, "5/../directory"); return err },
			want: seen{path: "/api/v1/employees/5%2F..%2Fdirectory", onlyCurrent: "true"},
		},
		{
			name: "changed since, converted to UTC and URL-encoded",
			call: func(ctx context.Context) error {
				_, err := c.Changed(ctx, time.Date(2026, 11, 25, 19, 0, 0, 0, berlin))
				return err
			},
			want: seen{path: "/api/v1/employees/changed", since: "2026-11-25T18:00:00Z"},
		},
		{
			name: "directory",
			call: func(ctx context.Context) error { _, err := c.Directory(ctx); return err },
			want: seen{path: "/api/v1/employees/directory"},
		},
	}
	for _, tt := range tests {
		// Not parallel: the subtests share one recording server.
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(t.Context()); err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.method != http.MethodGet || !s.auth || s.user != testKey || s.pass != "x" || s.accept != "application/json" {
				t.Errorf("method %q, basic auth %v user %q password %q, Accept %q; want GET, key/x, application/json",
					s.method, s.auth, s.user, s.pass, s.accept)
			}
			if s.path != tt.want.path || s.since != tt.want.since || s.onlyCurrent != tt.want.onlyCurrent {
				t.Errorf("path %q since %q onlyCurrent %q; want %q %q %q",
					s.path, s.since, s.onlyCurrent, tt.want.path, tt.want.since, tt.want.onlyCurrent)
			}
			if tt.want.fields != "" && s.fields != tt.want.fields {
				t.Errorf("fields = %q\nwant     %q", s.fields, tt.want.fields)
			}
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(*bamboohrtest.Server)
		key      string
		id       string
		status   int
		wantMsg  string
		notFound bool
	}{
		{
			name: "wrong key", key: "ffffffffffffffffffffffffffffffffffffffff", id: "5",
			status: 401, wantMsg: "get employee 5: bamboohr: 401 Unauthorized (API key rejected): " + bamboohrtest.MsgInvalidKey,
		},
		{
			name: "forbidden", id: "5",
			setup: func(s *bamboohrtest.Server) {
				s.Fail(1, http.StatusForbidden, "You do not have access to this employee")
			},
			status:  403,
			wantMsg: "get employee 5: bamboohr: 403 Forbidden (the API key's user lacks permission): You do not have access to this employee",
		},
		{
			name: "unknown employee", id: "404404",
			status: 404, wantMsg: "get employee 404404: bamboohr: 404 Not Found: " + bamboohrtest.MsgNotFound, notFound: true,
		},
		{
			name: "bad request", id: "5",
			setup:  func(s *bamboohrtest.Server) { s.Fail(1, http.StatusBadRequest, "Bad field list") },
			status: 400, wantMsg: "get employee 5: bamboohr: 400 Bad Request: Bad field list",
		},
		{
			name: "message echoing the key is redacted", id: "5",
			setup:  func(s *bamboohrtest.Server) { s.Fail(1, http.StatusUnauthorized, "key "+testKey+" expired") },
			status: 401, wantMsg: "get employee 5: bamboohr: 401 Unauthorized (API key rejected): key [redacted] expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			srv.Put(bamboohrtest.Employee{ID: "5", FirstName: "Ada"})
			if tt.setup != nil {
				tt.setup(srv)
			}
			cfg := srv.Config()
			if tt.key != "" {
				cfg.APIKey = tt.key
			}
			var sl sleeps
			cfg.Sleep = sl.sleep
			_, err := newClient(t, cfg).Employee(t.Context(), tt.id)
			if err == nil {
				t.Fatal("Employee: no error")
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q\nwant    %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), cfg.APIKey) || strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the API key", err)
			}
			if !fault.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false", err)
			}
			if got := errors.Is(err, bamboohr.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
			}
			var apiErr *bamboohr.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Errorf("APIError = %+v, want status %d", apiErr, tt.status)
			}
			if _, ok := fault.RetryAfterHint(err); ok {
				t.Error("RetryAfter reports a hint for a permanent error")
			}
			assertRequests(t, srv, bamboohrtest.EndpointEmployee, 1)
			if len(sl.all()) != 0 {
				t.Errorf("slept %v before giving up on a permanent error", sl.all())
			}
		})
	}
}

func TestTransientRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		setup        func(*bamboohrtest.Server)
		wantRequests int
		minSleeps    []time.Duration // lower bound of each wait
	}{
		{
			name:         "429 with Retry-After is honoured",
			setup:        func(s *bamboohrtest.Server) { s.Throttle(1, time.Second) },
			wantRequests: 2,
			minSleeps:    []time.Duration{time.Second},
		},
		{
			name:         "429 without Retry-After backs off",
			setup:        func(s *bamboohrtest.Server) { s.Throttle(1, 0) },
			wantRequests: 2,
			minSleeps:    []time.Duration{0},
		},
		{
			name:         "503 twice",
			setup:        func(s *bamboohrtest.Server) { s.Outage(2) },
			wantRequests: 3,
			minSleeps:    []time.Duration{0, 0},
		},
		{
			name:         "429 then 503",
			setup:        func(s *bamboohrtest.Server) { s.Throttle(1, 2*time.Second); s.Outage(1) },
			wantRequests: 3,
			minSleeps:    []time.Duration{2 * time.Second, 0},
		},
		{
			name:         "502",
			setup:        func(s *bamboohrtest.Server) { s.Fail(1, http.StatusBadGateway, "") },
			wantRequests: 2,
			minSleeps:    []time.Duration{0},
		},
		{
			name:         "504",
			setup:        func(s *bamboohrtest.Server) { s.Fail(1, http.StatusGatewayTimeout, "") },
			wantRequests: 2,
			minSleeps:    []time.Duration{0},
		},
		{
			name:         "408",
			setup:        func(s *bamboohrtest.Server) { s.Fail(1, http.StatusRequestTimeout, "") },
			wantRequests: 2,
			minSleeps:    []time.Duration{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			srv.Put(bamboohrtest.Employee{ID: "5", FirstName: "Ada", Status: "Active"})
			tt.setup(srv)
			var sl sleeps
			cfg := srv.Config()
			cfg.Sleep = sl.sleep
			cfg.MaxRetryAfter = 5 * time.Second
			got, err := newClient(t, cfg).Employee(t.Context(), "5")
			if err != nil {
				t.Fatalf("Employee: %v", err)
			}
			if got.FirstName != "Ada" {
				t.Errorf("FirstName = %q, want Ada", got.FirstName)
			}
			assertRequests(t, srv, bamboohrtest.EndpointEmployee, tt.wantRequests)
			waits := sl.all()
			if len(waits) != len(tt.minSleeps) {
				t.Fatalf("waits = %v, want %d of them", waits, len(tt.minSleeps))
			}
			for i, w := range waits {
				if w < tt.minSleeps[i] || w > tt.minSleeps[i]+cfg.MaxBackoff {
					t.Errorf("wait %d = %s, want within [%s, %s]", i, w, tt.minSleeps[i], tt.minSleeps[i]+cfg.MaxBackoff)
				}
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		setup        func(*bamboohrtest.Server)
		wantHint     time.Duration
		wantRequests int
		wantWaits    int
		wantMsg      string
	}{
		{
			name:         "429 every time",
			setup:        func(s *bamboohrtest.Server) { s.Throttle(10, 2*time.Second) },
			wantHint:     2 * time.Second,
			wantRequests: 3,
			wantWaits:    2,
			wantMsg:      "get employee 5: after 3 attempts: bamboohr: 429 Too Many Requests: " + bamboohrtest.MsgRateLimited + " (retry after 2s)",
		},
		{
			name:         "Retry-After beyond MaxRetryAfter returns at once",
			setup:        func(s *bamboohrtest.Server) { s.Throttle(10, 90*time.Second) },
			wantHint:     90 * time.Second,
			wantRequests: 1,
			wantMsg:      "get employee 5: server asks to wait longer than 5s: bamboohr: 429 Too Many Requests: " + bamboohrtest.MsgRateLimited + " (retry after 1m30s)",
		},
		{
			name:         "503 every time, no hint",
			setup:        func(s *bamboohrtest.Server) { s.Outage(10) },
			wantRequests: 3,
			wantWaits:    2,
			wantMsg:      "get employee 5: after 3 attempts: bamboohr: 503 Service Unavailable: " + bamboohrtest.MsgUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			srv.Put(bamboohrtest.Employee{ID: "5"})
			tt.setup(srv)
			var sl sleeps
			cfg := srv.Config()
			cfg.Sleep = sl.sleep
			cfg.MaxRetryAfter = 5 * time.Second
			_, err := newClient(t, cfg).Employee(t.Context(), "5")
			if err == nil {
				t.Fatal("Employee: no error")
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q\nwant    %q", err, tt.wantMsg)
			}
			if fault.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true", err)
			}
			hint, ok := fault.RetryAfterHint(err)
			if hint != tt.wantHint || ok != (tt.wantHint > 0) {
				t.Errorf("RetryAfter = %s, %v; want %s", hint, ok, tt.wantHint)
			}
			assertRequests(t, srv, bamboohrtest.EndpointEmployee, tt.wantRequests)
			if got := len(sl.all()); got != tt.wantWaits {
				t.Errorf("waited %d times, want %d", got, tt.wantWaits)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.Put(bamboohrtest.Employee{ID: "5", FirstName: "Ada"})
	srv.Delay(5 * time.Second)
	cfg := srv.Config()
	cfg.Timeout = 50 * time.Millisecond
	cfg.MaxAttempts = 2
	var sl sleeps
	cfg.Sleep = sl.sleep
	c := newClient(t, cfg)

	start := time.Now()
	_, err := c.Employee(t.Context(), "5")
	if err == nil {
		t.Fatal("Employee: no error")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %s, want about 2×50ms", elapsed)
	}
	want := "get employee 5: after 2 attempts: bamboohr: no response within 50ms: context deadline exceeded"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if fault.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("IsPermanent = %v, Is(DeadlineExceeded) = %v; want false, true",
			fault.IsPermanent(err), errors.Is(err, context.DeadlineExceeded))
	}
	assertRequests(t, srv, bamboohrtest.EndpointEmployee, 2)

	srv.Delay(0)
	if _, err := c.Employee(t.Context(), "5"); err != nil {
		t.Errorf("Employee after the delay is lifted: %v", err)
	}
}

func TestCallerContext(t *testing.T) {
	t.Parallel()
	t.Run("deadline while waiting on Retry-After", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		srv.Put(bamboohrtest.Employee{ID: "5"})
		srv.Throttle(1, time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newClient(t, srv.Config()).Employee(ctx, "5") // real sleep
		if elapsed := time.Since(start); elapsed > 900*time.Millisecond {
			t.Errorf("took %s; the caller's deadline was 50ms", elapsed)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want context.DeadlineExceeded", err)
		}
		if hint, ok := fault.RetryAfterHint(err); !ok || hint != time.Second {
			t.Errorf("RetryAfter = %s, %v; want 1s, true", hint, ok)
		}
		assertRequests(t, srv, bamboohrtest.EndpointEmployee, 1)
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newClient(t, srv.Config()).Changed(ctx, time.Now())
		if !errors.Is(err, context.Canceled) || fault.IsPermanent(err) {
			t.Errorf("error = %v, want context.Canceled, not permanent", err)
		}
		if strings.Count(err.Error(), "context canceled") != 1 {
			t.Errorf("error %q repeats the cause", err)
		}
	})
}

func TestTransportFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		handler       http.HandlerFunc
		closed        bool
		maxBody       int64
		wantRequests  int
		wantPermanent bool
		wantMsg       string
	}{
		{
			name:         "connection refused is retried",
			closed:       true,
			wantRequests: 0,
			wantMsg:      "after 3 attempts: bamboohr: ",
		},
		{
			name: "body over the limit",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"id": "5", "firstName": "` + strings.Repeat("a", 2048) + `"}`))
			},
			maxBody:       1024,
			wantRequests:  1,
			wantPermanent: true,
			wantMsg:       "response body exceeds 1024 bytes",
		},
		{
			name: "XML instead of JSON",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				_, _ = w.Write([]byte(`<?xml version="1.0"?><employee id="5"/>`))
			},
			wantRequests: 1,
			wantMsg:      "response is XML or HTML, not JSON",
		},
		{
			name: "connection dropped mid-body is retried",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "100")
				_, _ = w.Write([]byte(`{"id": `))
			},
			wantRequests: 3,
			wantMsg:      "after 3 attempts: bamboohr: unexpected EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			requests := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				tt.handler(w, r)
			}))
			if tt.closed {
				srv.Close()
			} else {
				t.Cleanup(srv.Close)
			}
			var sl sleeps
			_, err := newClient(t, bamboohr.Config{
				BaseURL: srv.URL, APIKey: testKey, MaxAttempts: 3, MaxBodyBytes: tt.maxBody, Sleep: sl.sleep,
			}).Employee(t.Context(), "5")
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantMsg)
			}
			if got := fault.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.wantPermanent)
			}
			mu.Lock()
			defer mu.Unlock()
			if requests != tt.wantRequests {
				t.Errorf("requests = %d, want %d", requests, tt.wantRequests)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	clk := testclock.New(t0)
	srv := newFake(t, bamboohrtest.WithClock(clk.Now))
	for _, id := range []string{"2", "9", "10"} {
		srv.Put(bamboohrtest.Employee{ID: id, Status: "Active"})
	}
	clk.Set(t1)
	srv.Update("10", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	srv.Delete("9")
	clk.Set(t2)
	srv.Put(bamboohrtest.Employee{ID: "11", Status: "Active"})
	c := newClient(t, srv.Config())

	type change struct {
		id     string
		action bamboohr.Action
		at     time.Time
	}
	tests := []struct {
		name       string
		since      time.Time
		want       []change
		wantLatest time.Time
	}{
		{
			name:  "everything, ordered numerically",
			since: t0.Add(-time.Minute),
			want: []change{
				{"2", bamboohr.ActionInserted, t0},
				{"9", bamboohr.ActionDeleted, t1},
				{"10", bamboohr.ActionInserted, t1},
				{"11", bamboohr.ActionInserted, t2},
			},
			wantLatest: t2,
		},
		{
			name:  "since in another zone",
			since: t0.Add(30 * time.Minute).In(time.FixedZone("UTC+2", 2*3600)),
			want: []change{
				{"9", bamboohr.ActionDeleted, t1},
				{"10", bamboohr.ActionUpdated, t1},
				{"11", bamboohr.ActionInserted, t2},
			},
			wantLatest: t2,
		},
		{
			name:       "since is inclusive in the fake",
			since:      t2,
			want:       []change{{"11", bamboohr.ActionInserted, t2}},
			wantLatest: t2,
		},
		{
			name:  "nothing changed",
			since: t2.Add(time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Changed(t.Context(), tt.since)
			if err != nil {
				t.Fatalf("Changed: %v", err)
			}
			if !got.Latest.Equal(tt.wantLatest) {
				t.Errorf("Latest = %v, want %v", got.Latest, tt.wantLatest)
			}
			if len(got.Employees) != len(tt.want) {
				t.Fatalf("Employees = %+v, want %+v", got.Employees, tt.want)
			}
			for i, g := range got.Employees {
				w := tt.want[i]
				if g.ID != w.id || g.Action != w.action || !g.LastChanged.Equal(w.at) {
					t.Errorf("Employees[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		stored        []bamboohrtest.Employee
		setup         func(*bamboohrtest.Server)
		want          []bamboohr.Employee
		wantPermanent bool
	}{
		{
			name: "active employees only, sorted by id",
			stored: []bamboohrtest.Employee{
				{ID: "10", FirstName: "Zoe", LastName: "Zed", WorkEmail: "zoe@example.com", Status: "Active", Department: "Sales", SupervisorEID: "9", HireDate: "2020-01-01"},
				{ID: "9", FirstName: "Al", LastName: "Able", Status: "Active"},
				{ID: "8", FirstName: "Gone", LastName: "Person", Status: "Inactive"},
			},
			want: []bamboohr.Employee{
				{ID: "9", FirstName: "Al", LastName: "Able", DisplayName: "Al Able", Status: bamboohr.StatusActive},
				{ID: "10", FirstName: "Zoe", LastName: "Zed", DisplayName: "Zoe Zed", WorkEmail: "zoe@example.com", Status: bamboohr.StatusActive, Department: "Sales"},
			},
		},
		{
			name:   "empty directory is no error",
			stored: nil,
			want:   []bamboohr.Employee{},
		},
		{
			name:   "only inactive employees",
			stored: []bamboohrtest.Employee{{ID: "8", Status: "Inactive"}},
			want:   []bamboohr.Employee{},
		},
		{
			name:          "directory sharing off",
			stored:        []bamboohrtest.Employee{{ID: "9", Status: "Active"}},
			setup:         func(s *bamboohrtest.Server) { s.Fail(1, http.StatusForbidden, "Directory is not shared") },
			wantPermanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			for _, e := range tt.stored {
				srv.Put(e)
			}
			if tt.setup != nil {
				tt.setup(srv)
			}
			got, err := newClient(t, srv.Config()).Directory(t.Context())
			if tt.wantPermanent {
				if !fault.IsPermanent(err) {
					t.Fatalf("error = %v, want a permanent one", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Directory: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Directory =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     bamboohr.Config
		wantErr string
	}{
		{"no key", bamboohr.Config{Company: "acme"}, "API key is required"},
		{"no company", bamboohr.Config{APIKey: testKey}, "company or base URL is required"},
		{"negative timeout", bamboohr.Config{Company: "acme", APIKey: testKey, Timeout: -time.Second}, "timeout is negative"},
		{"negative attempts", bamboohr.Config{Company: "acme", APIKey: testKey, MaxAttempts: -1}, "must not be negative"},
		{"bad alias", bamboohr.Config{Company: "acme", APIKey: testKey, TimeZoneField: "time zone"}, `field alias "time zone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bamboohr.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the API key", err)
			}
		})
	}
}

func TestEmptyID(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	_, err := newClient(t, srv.Config()).Employee(t.Context(), " ")
	if !fault.IsPermanent(err) {
		t.Errorf("error = %v, want a permanent one", err)
	}
	assertRequests(t, srv, bamboohrtest.EndpointEmployee, 0)
}

func TestDirectoryDecoding(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	got, err := newClient(t, bamboohr.Config{BaseURL: srv.URL, APIKey: testKey}).Directory(t.Context())
	if err != nil {
		t.Fatalf("Directory: %v", err)
	}
	want := []bamboohr.Employee{
		{ID: "5", FirstName: "Al", LastName: "Able", DisplayName: "Al Able", Status: bamboohr.StatusActive},
		{ID: "41", FirstName: "Zoe", LastName: "Zed", DisplayName: "Zoe Zed", WorkEmail: "zoe@example.com", Department: "Sales", Status: bamboohr.StatusActive},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Directory =\n%+v\nwant\n%+v", got, want)
	}
}
