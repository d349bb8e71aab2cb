package pipedrivetest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is one decoded response.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, s *Server, method, path, body string, header map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(s.URL(), "/")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Token", s.Token())
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: %d body %q is not JSON", method, path, resp.StatusCode, raw)
	}
	return a
}

// wantFailure checks Pipedrive's error envelope.
func wantFailure(t *testing.T, a answer, status int, says string) {
	t.Helper()
	if a.status != status || a.body["success"] != false || !strings.Contains(a.body["error"].(string), says) ||
		a.body["error_info"] == nil || a.body["data"] != nil {
		t.Errorf("answer %d %v; want %d with success false, error %q, error_info and data null", a.status, a.body, status, says)
	}
}

// The envelope, the error bodies and the limit headers are Pipedrive's.
func TestEnvelopeAndErrors(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	a := do(t, s, http.MethodPost, "/users", `{"email":"ada@example.com","access":[{"app":"sales"}]}`, nil)
	data, _ := a.body["data"].(map[string]any)
	if a.status != 200 || a.body["success"] != true || data["email"] != "ada@example.com" || data["active_flag"] != true || data["activated"] != false {
		t.Fatalf("add user = %d %v", a.status, a.body)
	}
	for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Daily-Ratelimit-Token-Limit", "X-Daily-Ratelimit-Token-Remaining", "X-Daily-Requests-Left"} {
		if a.header.Get(h) == "" {
			t.Errorf("POST answer lacks %s", h)
		}
	}
	if got := do(t, s, http.MethodGet, "/users/me", "", nil); got.header.Get("X-Daily-Requests-Left") != "" {
		t.Error("a GET carries x-daily-requests-left: Pipedrive sends it for POST/PUT")
	}
	id := strconv.Itoa(int(data["id"].(float64)))

	wantFailure(t, do(t, s, http.MethodPost, "/users", `{"email":"ADA@example.com"}`, nil), 400, ErrDuplicate)
	wantFailure(t, do(t, s, http.MethodPost, "/users", `{"email":"not an address"}`, nil), 400, "Email is not valid")
	wantFailure(t, do(t, s, http.MethodPost, "/users", `{"email":"b@example.com","access":[{"app":"sales","permission_set_id":"nope"}]}`, nil), 400, "Permission set")
	wantFailure(t, do(t, s, http.MethodGet, "/users/99999", "", nil), 404, "User not found or not accessible.")
	wantFailure(t, do(t, s, http.MethodPut, "/users/"+id, `{"name":"x"}`, nil), 400, "active_flag")
	wantFailure(t, do(t, s, http.MethodGet, "/legacyTeams/99999/users", "", nil), 404, "Team 99999 does not exist")
	bad := do(t, s, http.MethodGet, "/users", "", map[string]string{"X-Api-Token": "wrong"})
	wantFailure(t, bad, 401, "unauthorized access")
	if bad.body["errorCode"] != float64(401) || bad.header.Get("X-Ratelimit-Limit") != "" {
		t.Errorf("401 = %v %v; want errorCode 401 and no limit headers (the gateway answers)", bad.body, bad.header)
	}
	s.FailNext(http.StatusForbidden, 0)
	wantFailure(t, do(t, s, http.MethodPut, "/users/"+id, `{"active_flag":false}`, nil), 403, "You do not have permissions to do this.")

	// PUT changes active_flag and nothing else.
	put := do(t, s, http.MethodPut, "/users/"+id, `{"active_flag":false,"email":"other@example.com"}`, nil)
	if u, _ := s.User(int(data["id"].(float64))); put.status != 200 || u.Active || u.Email != "ada@example.com" {
		t.Errorf("PUT = %d, user %+v; want active_flag false and the address kept", put.status, u)
	}
	// The legacy query parameter works, and is counted.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"users/me?api_token="+s.Token(), nil)
	resp, err := s.Client().Do(req)
	if err != nil || resp.StatusCode != 200 || s.Requests().QueryToken != 1 {
		t.Errorf("api_token query = %v %v, counted %d", resp, err, s.Requests().QueryToken)
	}
	resp.Body.Close()
}

// Lists read with start and limit carry additional_data.pagination.
func TestPagination(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	for i := range 6 {
		s.AddUser("p"+strconv.Itoa(i)+"@example.com", "P", true)
	}
	var ids []float64
	start := "0"
	for pages := 0; ; pages++ {
		a := do(t, s, http.MethodGet, "/users?start="+start+"&limit=3", "", nil)
		pg := a.body["additional_data"].(map[string]any)["pagination"].(map[string]any)
		for _, u := range a.body["data"].([]any) {
			ids = append(ids, u.(map[string]any)["id"].(float64))
		}
		if pg["limit"] != float64(3) {
			t.Fatalf("pagination %v", pg)
		}
		if pg["more_items_in_collection"] != true {
			if _, ok := pg["next_start"]; ok || pages != 2 {
				t.Fatalf("last page %v after %d pages", pg, pages)
			}
			break
		}
		start = strconv.Itoa(int(pg["next_start"].(float64)))
	}
	if len(ids) != 7 { // the admin and 6
		t.Fatalf("listed %v; want 7 users once each", ids)
	}
	if a := do(t, s, http.MethodGet, "/users?limit=9999", "", nil); a.body["additional_data"].(map[string]any)["pagination"].(map[string]any)["limit"] != float64(500) {
		t.Errorf("limit not capped at 500: %v", a.body["additional_data"])
	}
	if a := do(t, s, http.MethodGet, "/users/find?term=nobody@example.com&search_by_email=1", "", nil); a.status != 200 || a.body["data"] != nil {
		t.Errorf("find nothing = %d %v; want data null", a.status, a.body)
	}
}

// The burst limit refuses the request past BurstPerWindow in a window
// with 429, retry-after and remaining 0; the daily budget refuses every
// request until midnight UTC.
func TestLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := New(WithClock(clock), WithBurstLimit(3), WithDailyBudget(100))
	defer s.Close()
	for range 3 {
		if a := do(t, s, http.MethodGet, "/users/me", "", nil); a.status != 200 {
			t.Fatalf("within the burst: %d", a.status)
		}
	}
	a := do(t, s, http.MethodGet, "/users/me", "", nil)
	wantFailure(t, a, 429, "Request over limit")
	if a.header.Get("Retry-After") != "2" || a.header.Get("X-Ratelimit-Remaining") != "0" || a.header.Get("X-Ratelimit-Reset") != "2" {
		t.Errorf("burst 429 headers %v", a.header)
	}
	mu.Lock()
	now = now.Add(BurstWindow)
	mu.Unlock()
	// 3 × 2 + 20 + 40 + 40 tokens: the find that passes 100 is the last served.
	for _, path := range []string{"/users", "/users/find?term=x&search_by_email=1", "/users/find?term=x&search_by_email=1"} {
		if a := do(t, s, http.MethodGet, path, "", nil); a.status != 200 {
			t.Fatalf("%s within the budget: %d", path, a.status)
		}
	}
	a = do(t, s, http.MethodGet, "/users/me", "", nil)
	wantFailure(t, a, 429, "daily API token budget")
	if a.header.Get("X-Daily-Ratelimit-Token-Remaining") != "0" {
		t.Errorf("daily 429 headers %v", a.header)
	}
	mu.Lock()
	now = now.Add(time.Minute) // past midnight UTC
	mu.Unlock()
	if a := do(t, s, http.MethodGet, "/users/me", "", nil); a.status != 200 || a.header.Get("X-Daily-Ratelimit-Token-Remaining") != "98" {
		t.Errorf("after midnight = %d %v", a.status, a.header)
	}
	if st := s.Requests(); st.RateLimited != 2 || st.ByStatus[429] != 2 {
		t.Errorf("stats %+v", st)
	}
}

// Teams and roles behave as documented: team users are added and removed
// by id lists; a user holds one role, back to the default on removal.
func TestTeamsAndRoles(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	ids := s.AddTeam("eng")
	role := s.AddRole("Sales EU")
	u := s.AddUser("ada@example.com", "Ada", true)
	team, uid, rid := strconv.Itoa(ids[0]), strconv.Itoa(u), strconv.Itoa(role)
	do(t, s, http.MethodPost, "/legacyTeams/"+team+"/users", `{"users":[`+uid+`]}`, nil)
	do(t, s, http.MethodPost, "/teams/"+team+"/users", `{"users":[`+uid+`]}`, nil) // the old path
	if got, _ := s.User(u); len(got.Teams) != 1 || got.Teams[0] != "eng" {
		t.Fatalf("teams %v; want [eng] once", got.Teams)
	}
	wantFailure(t, do(t, s, http.MethodPost, "/legacyTeams/"+team+"/users", `{"users":[424242]}`, nil), 400, "does not exist")
	do(t, s, http.MethodPost, "/roles/"+rid+"/assignments", `{"user_id":`+uid+`}`, nil)
	if got, _ := s.User(u); got.Role != "Sales EU" {
		t.Fatalf("role %q", got.Role)
	}
	do(t, s, http.MethodDelete, "/roles/"+rid+"/assignments", `{"user_id":`+uid+`}`, nil)
	do(t, s, http.MethodDelete, "/legacyTeams/"+team+"/users", `{"users":[`+uid+`]}`, nil)
	if got, _ := s.User(u); got.Role != DefaultRole || len(got.Teams) != 0 {
		t.Fatalf("after removal %+v", got)
	}
}
