package bamboohrtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/testclock"
)

func newServer(t *testing.T, opts ...bamboohrtest.Option) *bamboohrtest.Server {
	t.Helper()
	srv := bamboohrtest.New(opts...)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status     int
	message    string // x-bamboohr-error-message
	retryAfter string
	body       map[string]any
}

// request is a change to the default, well-formed request.
type request struct {
	noAuth   bool
	key      string
	noAccept bool
}

func get(t *testing.T, srv *bamboohrtest.Server, rawURL string, r request) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.noAuth {
		key := srv.APIKey()
		if r.key != "" {
			key = r.key
		}
		req.SetBasicAuth(key, "x")
	}
	if !r.noAccept {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{
		status:     resp.StatusCode,
		message:    resp.Header.Get("x-bamboohr-error-message"),
		retryAfter: resp.Header.Get("Retry-After"),
	}
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		if err := d.Decode(&out.body); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	} else if len(b) != 0 {
		t.Errorf("error body = %q, want empty", b)
	}
	return out
}

func TestAuthAndAccept(t *testing.T) {
	t.Parallel()
	srv := newServer(t, bamboohrtest.WithAPIKey("secret-key"))
	srv.Put(bamboohrtest.Employee{ID: "5"})
	tests := []struct {
		name        string
		req         request
		wantStatus  int
		wantMessage string
	}{
		{"good key", request{}, http.StatusOK, ""},
		{"wrong key", request{key: "other-key"}, http.StatusUnauthorized, bamboohrtest.MsgInvalidKey},
		{"no credentials", request{noAuth: true}, http.StatusUnauthorized, bamboohrtest.MsgInvalidKey},
		{"no Accept", request{noAccept: true}, http.StatusNotAcceptable, bamboohrtest.MsgNotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := get(t, srv, srv.URL()+"/api/v1/employees/5", tt.req)
			if got.status != tt.wantStatus || got.message != tt.wantMessage {
				t.Errorf("got %d %q, want %d %q", got.status, got.message, tt.wantStatus, tt.wantMessage)
			}
		})
	}
}

func TestEmployeeFields(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.Put(bamboohrtest.Employee{
		ID: "5", FirstName: "Ada", LastName: "Lovelace", Status: "Active", HireDate: "2026-12-01",
		Fields: map[string]any{"customShirt": "M", "department": nil},
	})
	srv.Put(bamboohrtest.Employee{ID: "6", FirstName: "Num", Fields: map[string]any{"id": 6}})
	tooMany := strings.TrimSuffix(strings.Repeat("firstName,", 401), ",")
	base := srv.URL() + "/api/v1/employees/"

	tests := []struct {
		name        string
		path        string
		wantStatus  int
		wantMessage string
		want        map[string]any
	}{
		{
			name: "default fields", path: "5", wantStatus: 200,
			want: map[string]any{"id": "5", "firstName": "Ada", "lastName": "Lovelace"},
		},
		{
			name: "requested fields only, unknown omitted, empty date and text", path: "5?fields=status,customShirt,nope,terminationDate,hireDate,preferredName,department,displayName",
			wantStatus: 200,
			want: map[string]any{
				"id": "5", "status": "Active", "customShirt": "M", "terminationDate": "0000-00-00",
				"hireDate": "2026-12-01", "preferredName": nil, "department": nil, "displayName": "Ada Lovelace",
			},
		},
		{
			name: "spaces around fields", path: "5?fields=%20firstName%20,,", wantStatus: 200,
			want: map[string]any{"id": "5", "firstName": "Ada"},
		},
		{
			name: "numeric id override", path: "6?fields=firstName", wantStatus: 200,
			want: map[string]any{"id": json.Number("6"), "firstName": "Num"},
		},
		{name: "unknown id", path: "7", wantStatus: 404, wantMessage: bamboohrtest.MsgNotFound},
		{name: "401 fields", path: "5?fields=" + tooMany, wantStatus: 400, wantMessage: bamboohrtest.MsgTooManyFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := get(t, srv, base+tt.path, request{})
			if got.status != tt.wantStatus || got.message != tt.wantMessage {
				t.Fatalf("got %d %q, want %d %q", got.status, got.message, tt.wantStatus, tt.wantMessage)
			}
			if tt.want != nil && !reflect.DeepEqual(got.body, tt.want) {
				t.Errorf("body = %v, want %v", got.body, tt.want)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := testclock.New(t0)

	srv := newServer(t, bamboohrtest.WithClock(clock.Now))
	srv.Put(bamboohrtest.Employee{ID: "1"})
	srv.Put(bamboohrtest.Employee{ID: "2"})
	clock.Advance(time.Hour + 500*time.Millisecond) // stamps have one-second resolution
	srv.Update("1", func(e *bamboohrtest.Employee) { e.Status = "Inactive" })
	srv.Delete("2")
	srv.Put(bamboohrtest.Employee{ID: "3"})
	base := srv.URL() + "/api/v1/employees/changed"
	t1 := "2026-11-25T11:00:00+00:00"

	tests := []struct {
		name        string
		query       string
		wantStatus  int
		wantMessage string
		want        map[string]any
	}{
		{
			name: "all since t0", query: "?since=2026-11-25T10:00:00Z", wantStatus: 200,
			want: map[string]any{"latest": t1, "employees": map[string]any{
				"1": map[string]any{"id": "1", "action": "Inserted", "lastChanged": t1},
				"2": map[string]any{"id": "2", "action": "Deleted", "lastChanged": t1},
				"3": map[string]any{"id": "3", "action": "Inserted", "lastChanged": t1},
			}},
		},
		{
			name: "since t1 with an offset, inclusive", query: "?since=2026-11-25T12:00:00%2B01:00", wantStatus: 200,
			want: map[string]any{"latest": t1, "employees": map[string]any{
				"1": map[string]any{"id": "1", "action": "Updated", "lastChanged": t1},
				"2": map[string]any{"id": "2", "action": "Deleted", "lastChanged": t1},
				"3": map[string]any{"id": "3", "action": "Inserted", "lastChanged": t1},
			}},
		},
		{
			name: "type filter", query: "?since=2026-11-25T10:30:00Z&type=deleted", wantStatus: 200,
			want: map[string]any{"latest": t1, "employees": map[string]any{
				"2": map[string]any{"id": "2", "action": "Deleted", "lastChanged": t1},
			}},
		},
		{
			name: "nothing since", query: "?since=2026-11-25T11:00:01Z", wantStatus: 200,
			want: map[string]any{"latest": nil, "employees": []any{}},
		},
		{name: "missing since", query: "", wantStatus: 400, wantMessage: "Missing required parameter: since"},
		{name: "invalid since", query: "?since=yesterday", wantStatus: 400, wantMessage: "Invalid 'since' parameter; use ISO 8601"},
		{name: "unencoded plus", query: "?since=2026-11-25T12:00:00+01:00", wantStatus: 400, wantMessage: "Invalid 'since' parameter; use ISO 8601"},
		{name: "invalid type", query: "?since=2026-11-25T10:00:00Z&type=moved", wantStatus: 400, wantMessage: "Invalid 'type' parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := get(t, srv, base+tt.query, request{})
			if got.status != tt.wantStatus || got.message != tt.wantMessage {
				t.Fatalf("got %d %q, want %d %q", got.status, got.message, tt.wantStatus, tt.wantMessage)
			}
			if tt.want != nil && !reflect.DeepEqual(got.body, tt.want) {
				t.Errorf("body = %v\nwant   %v", got.body, tt.want)
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	url := srv.URL() + "/api/v1/employees/directory"
	if got := get(t, srv, url, request{}); got.status != 404 || got.message != bamboohrtest.MsgEmptyDirectory {
		t.Fatalf("empty directory: got %d %q, want 404 %q", got.status, got.message, bamboohrtest.MsgEmptyDirectory)
	}
	srv.Put(bamboohrtest.Employee{ID: "1", FirstName: "Jane", LastName: "Doe", Status: "Active"})
	srv.Put(bamboohrtest.Employee{ID: "2", FirstName: "Al", LastName: "Able", Status: "Active", SupervisorEID: "1", JobTitle: "Engineer"})
	srv.Put(bamboohrtest.Employee{ID: "3", FirstName: "Ex", LastName: "Employee", Status: "Inactive"})

	got := get(t, srv, url, request{})
	if got.status != 200 {
		t.Fatalf("status %d %q", got.status, got.message)
	}
	if fields, _ := got.body["fields"].([]any); len(fields) == 0 {
		t.Errorf("no fieldset in %v", got.body)
	}
	employees, _ := got.body["employees"].([]any)
	if len(employees) != 2 {
		t.Fatalf("employees = %v, want the 2 active ones", employees)
	}
	first, _ := employees[0].(map[string]any)
	want := map[string]any{
		"id": "2", "displayName": "Al Able", "firstName": "Al", "lastName": "Able", "preferredName": nil,
		"jobTitle": "Engineer", "workEmail": nil, "department": nil, "location": nil, "division": nil,
		"supervisor": "Doe, Jane", "photoUploaded": false,
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first entry = %v\nwant          %v", first, want)
	}
}

func TestGatewayPaths(t *testing.T) {
	t.Parallel()
	srv := newServer(t, bamboohrtest.WithCompany("acme"))
	srv.Put(bamboohrtest.Employee{ID: "5", FirstName: "Ada"})
	tests := []struct {
		name       string
		url        string
		wantStatus int
	}{
		{"current", srv.URL() + "/api/v1/employees/5", 200},
		{"gateway", srv.GatewayURL() + "/employees/5", 200},
		{"gateway, other company", srv.URL() + "/api/gateway.php/other/v1/employees/5", 404},
		{"unknown path", srv.URL() + "/api/v2/employees/5", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := get(t, srv, tt.url, request{}); got.status != tt.wantStatus {
				t.Errorf("status = %d %q, want %d", got.status, got.message, tt.wantStatus)
			}
		})
	}
}

func TestFaultsAndCounters(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.Put(bamboohrtest.Employee{ID: "5", Status: "Active"})
	srv.Throttle(1, 1500*time.Millisecond)
	srv.Outage(1)
	srv.Fail(1, http.StatusForbidden, "nope")

	type want struct {
		status             int
		message, retryHint string
	}
	steps := []struct {
		path string
		want want
	}{
		{"/api/v1/employees/5", want{429, bamboohrtest.MsgRateLimited, "2"}},
		{"/api/v1/employees/directory", want{503, bamboohrtest.MsgUnavailable, ""}},
		{"/api/v1/employees/changed?since=2026-01-01T00:00:00Z", want{403, "nope", ""}},
		{"/api/v1/employees/5", want{200, "", ""}},
	}
	for i, s := range steps {
		got := get(t, srv, srv.URL()+s.path, request{})
		if g := (want{got.status, got.message, got.retryAfter}); g != s.want {
			t.Errorf("step %d: got %+v, want %+v", i, g, s.want)
		}
	}
	wantCounts := map[bamboohrtest.Endpoint]int{
		bamboohrtest.EndpointEmployee: 2, bamboohrtest.EndpointDirectory: 1, bamboohrtest.EndpointChanged: 1,
	}
	if got := srv.Requests(); !reflect.DeepEqual(got, wantCounts) {
		t.Errorf("Requests() = %v, want %v", got, wantCounts)
	}
}

func TestDelayEndsWithTheClient(t *testing.T) {
	t.Parallel()
	srv := bamboohrtest.New()
	srv.Put(bamboohrtest.Employee{ID: "5"})
	srv.Delay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/api/v1/employees/5", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d before the delay", resp.StatusCode)
	}
	start := time.Now()
	srv.Close() // must not wait for the minute
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
}

func TestStoreControls(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	fields := map[string]any{"customA": "1"}
	srv.Put(bamboohrtest.Employee{ID: "5", Fields: fields})
	fields["customA"] = "changed by the caller"
	if e, _ := srv.Get("5"); e.Fields["customA"] != "1" {
		t.Errorf("Put kept the caller's map: %v", e.Fields)
	}
	if !srv.Update("5", func(e *bamboohrtest.Employee) { e.ID = "other"; e.FirstName = "Ada" }) {
		t.Fatal("Update(5) = false")
	}
	if e, ok := srv.Get("5"); !ok || e.FirstName != "Ada" || e.ID != "5" {
		t.Errorf("after Update: %+v, %v", e, ok)
	}
	if srv.Update("6", func(*bamboohrtest.Employee) { t.Error("fn called for an unknown id") }) {
		t.Error("Update(6) = true")
	}
	if !srv.Delete("5") || srv.Delete("5") {
		t.Error("Delete: want true then false")
	}
	if _, ok := srv.Get("5"); ok {
		t.Error("Get after Delete found the employee")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	var wg sync.WaitGroup
	for i := range 8 {
		id := strconv.Itoa(i)
		wg.Go(func() {
			srv.Put(bamboohrtest.Employee{ID: id, Status: "Active"})
			srv.Update(id, func(e *bamboohrtest.Employee) { e.Department = "D" + id })
			get(t, srv, srv.URL()+"/api/v1/employees/"+id, request{})
			get(t, srv, srv.URL()+"/api/v1/employees/directory", request{})
			_ = srv.Requests()
		})
	}
	wg.Wait()
	if got := srv.Requests()[bamboohrtest.EndpointEmployee]; got != 8 {
		t.Errorf("employee requests = %d, want 8", got)
	}
}
