package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/scim"
)

// testToken is long enough for redaction to apply.
const testToken = "tok-0123456789abcdef"

// recorded is one request the stub saw.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// stub is an httptest server answering with handler and recording every
// request.
type stub struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newStub(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, body []byte)) *stub {
	t.Helper()
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		handler(w, r, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stub) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func newClient(t *testing.T, s *stub, p scim.Profile, mods ...func(*scim.Config)) *scim.Client {
	t.Helper()
	cfg := scim.Config{BaseURL: s.URL + "/scim/v2", Token: testToken, Profile: p}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", scim.ContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func scimError(w http.ResponseWriter, status int, scimType, detail string) {
	writeJSON(w, status, map[string]any{"schemas": []string{scim.ErrorSchema}, "status": strconv.Itoa(status), "scimType": scimType, "detail": detail})
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		auth       scim.Auth
		header     string
		wantHeader string
	}{
		{"bearer default", scim.Auth{}, "Authorization", "Bearer " + testToken},
		{"custom scheme", scim.Auth{Scheme: "token"}, "Authorization", "token " + testToken},
		{"api key header", scim.Auth{Header: "X-Api-Key"}, "X-Api-Key", testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				writeJSON(w, 200, map[string]any{"id": "u1", "userName": "ada", "active": true})
			})
			p := scim.Generic()
			p.Auth = tt.auth
			c := newClient(t, s, p)
			u, err := c.GetUser(context.Background(), "u1")
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if u.ID != "u1" || !u.Active {
				t.Errorf("user = %+v", u)
			}
			r := s.requests()[0]
			checks := map[string]string{
				tt.header:      tt.wantHeader,
				"Content-Type": "application/scim+json",
				"Accept":       "application/scim+json, application/json",
				"User-Agent":   scim.DefaultUserAgent,
			}
			for k, want := range checks {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if r.Method != http.MethodGet || r.Path != "/scim/v2/Users/u1" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
		})
	}
}

func TestResourceIDEscaped(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, map[string]any{"id": "a/b c"})
	})
	c := newClient(t, s, scim.Generic())
	if _, err := c.GetUser(context.Background(), "a/b c"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", ".", ".."} {
		if _, err := c.GetUser(context.Background(), bad); !fault.IsPermanent(err) {
			t.Errorf("GetUser(%q) err = %v, want permanent", bad, err)
		}
	}
	reqs := s.requests()
	if len(reqs) != 1 || reqs[0].Path != "/scim/v2/Users/a/b c" || !strings.Contains(reqs[0].Header.Get("X-Unused")+"ok", "ok") {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestFilterOnTheWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value, want string
	}{
		{"quote", `a"b`, `userName eq "a\"b"`},
		{"backslash", `a\b`, `userName eq "a\\b"`},
		{"plus", "ada+test@example.com", `userName eq "ada+test@example.com"`},
		{"unicode", "zoë@例え.jp", `userName eq "zoë@例え.jp"`},
		{"ampersand and percent", "a&b=c%20d", `userName eq "a&b=c%20d"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				writeJSON(w, 200, map[string]any{"schemas": []string{scim.ListResponseSchema}, "totalResults": 0, "Resources": []any{}})
			})
			c := newClient(t, s, scim.Generic())
			if _, err := c.FindUsers(context.Background(), scim.Eq("userName", tt.value)); err != nil {
				t.Fatalf("FindUsers: %v", err)
			}
			r := s.requests()[0]
			q, err := parseQuery(r.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			if got := q["filter"]; got != tt.want {
				t.Errorf("server read filter %s, want %s", got, tt.want)
			}
			if strings.Contains(r.RawQuery, "+") {
				t.Errorf("raw query %q has '+', ambiguous for servers", r.RawQuery)
			}
		})
	}
}

// parseQuery decodes a query strictly with %-decoding only ('+' stays '+'),
// as a server that does not treat '+' as space would.
func parseQuery(raw string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		dv, err := pathUnescape(v)
		if err != nil {
			return nil, err
		}
		out[k] = dv
	}
	return out, nil
}

func pathUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// pager serves n users named u1…un, honouring startIndex and count but
// never more than perPage at once.
func pager(n, perPage int) func(w http.ResponseWriter, r *http.Request, _ []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		count = min(count, perPage)
		var res []any
		for i := start; i < start+count && i <= n; i++ {
			res = append(res, map[string]any{"id": fmt.Sprintf("u%d", i), "userName": fmt.Sprintf("user%d", i), "active": true})
		}
		writeJSON(w, 200, map[string]any{"schemas": []string{scim.ListResponseSchema}, "totalResults": n, "itemsPerPage": len(res), "startIndex": start, "Resources": res})
	}
}

func TestFindUsersPagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		total       int
		serverPage  int
		pageSize    int
		wantStarts  []string
		wantResults int
	}{
		{"exact pages", 6, 100, 3, []string{"1", "4"}, 6},
		{"partial last page", 7, 100, 3, []string{"1", "4", "7"}, 7},
		{"server lowers count", 5, 2, 3, []string{"1", "3", "5"}, 5},
		{"empty", 0, 100, 3, []string{"1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, pager(tt.total, tt.serverPage))
			p := scim.Generic()
			p.MaxPageSize = tt.pageSize
			c := newClient(t, s, p)
			users, err := c.FindUsers(context.Background(), scim.Filter{})
			if err != nil {
				t.Fatalf("FindUsers: %v", err)
			}
			if len(users) != tt.wantResults {
				t.Errorf("got %d users, want %d", len(users), tt.wantResults)
			}
			for i, u := range users {
				if want := fmt.Sprintf("u%d", i+1); u.ID != want {
					t.Errorf("users[%d].ID = %s, want %s", i, u.ID, want)
				}
			}
			var starts []string
			for _, r := range s.requests() {
				q, _ := parseQuery(r.RawQuery)
				starts = append(starts, q["startIndex"])
				if q["count"] != strconv.Itoa(tt.pageSize) {
					t.Errorf("count = %s, want %d", q["count"], tt.pageSize)
				}
				if _, ok := q["filter"]; ok {
					t.Errorf("zero filter sent as %q", q["filter"])
				}
			}
			if !reflect.DeepEqual(starts, tt.wantStarts) {
				t.Errorf("startIndex sequence %v, want %v", starts, tt.wantStarts)
			}
		})
	}
}

func TestFindUsersBounded(t *testing.T) {
	t.Parallel()
	t.Run("server ignores startIndex", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			writeJSON(w, 200, map[string]any{"totalResults": 1000, "Resources": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}})
		})
		c := newClient(t, s, scim.Generic())
		users, err := c.FindUsers(context.Background(), scim.Filter{})
		if err != nil || len(users) != 2 {
			t.Fatalf("got %d users, %v; want the 2 distinct ones", len(users), err)
		}
		if n := len(s.requests()); n != 2 {
			t.Errorf("%d requests, want 2 (stop at a page of repeats)", n)
		}
	})
	t.Run("max results", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, pager(50, 100))
		c := newClient(t, s, scim.Generic(), func(c *scim.Config) { c.MaxResults = 10 })
		_, err := c.FindUsers(context.Background(), scim.Filter{})
		if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "more than 10") {
			t.Errorf("err = %v, want permanent too-many", err)
		}
	})
	t.Run("callback error stops", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, pager(50, 10))
		c := newClient(t, s, scim.Generic())
		stop := errors.New("enough")
		n := 0
		err := c.EachUser(context.Background(), scim.Filter{}, func(scim.User) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || len(s.requests()) != 1 {
			t.Errorf("err = %v after %d requests", err, len(s.requests()))
		}
	})
}

func TestFilterCheckedAgainstProfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile scim.Profile
		filter  scim.Filter
		groups  bool
		ok      bool
	}{
		{"atlassian single eq", scim.Atlassian(), scim.Eq("externalId", "e1"), false, true},
		{"atlassian refuses and", scim.Atlassian(), scim.And(scim.Eq("userName", "a"), scim.Eq("externalId", "e1")), false, false},
		{"atlassian cannot filter email", scim.Atlassian(), scim.Eq("emails.value", "a@x"), false, false},
		{"slack email attribute", scim.Slack(), scim.Eq("email", "a@x"), false, true},
		{"slack no externalId", scim.Slack(), scim.Eq("externalId", "e1"), false, false},
		{"case-insensitive attribute", scim.Asana(), scim.Eq("USERNAME", "a@x"), false, true},
		{"group by name", scim.Miro(), scim.Eq("displayName", "eng"), true, true},
		{"group by userName", scim.Miro(), scim.Eq("userName", "eng"), true, false},
		{"generic unchecked", scim.Generic(), scim.Eq("title", "x"), false, true},
		{"bad attribute", scim.Generic(), scim.Eq("a b", "x"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, pager(0, 10))
			c := newClient(t, s, tt.profile)
			var err error
			if tt.groups {
				_, err = c.FindGroups(context.Background(), tt.filter)
			} else {
				_, err = c.FindUsers(context.Background(), tt.filter)
			}
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				if !fault.IsPermanent(err) {
					t.Errorf("refusal not permanent: %v", err)
				}
				if n := len(s.requests()); n != 0 {
					t.Errorf("%d requests sent for a refused filter", n)
				}
			}
		})
	}
}

func TestPatchUserBody(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
	c := newClient(t, s, scim.Slack())
	ops := []scim.PatchOp{
		scim.Replace("active", false),
		scim.Replace("name.givenName", "Ada"),
		scim.Remove("title"),
		scim.Add("emails", []scim.Email{{Value: "a@x", Type: "work", Primary: true}}),
		scim.Replace(scim.EnterpriseUserSchema+":manager", scim.Manager{Value: "m1"}),
		scim.Replace("nickName", nil),
	}
	if err := c.PatchUser(context.Background(), "U1", ops); err != nil {
		t.Fatalf("PatchUser: %v", err)
	}
	r := s.requests()[0]
	if r.Method != http.MethodPatch || r.Path != "/scim/v2/Users/U1" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
		`{"op":"replace","path":"active","value":false},` +
		`{"op":"replace","path":"name.givenName","value":"Ada"},` +
		`{"op":"remove","path":"title"},` +
		`{"op":"add","path":"emails","value":[{"value":"a@x","type":"work","primary":true}]},` +
		`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m1"}},` +
		`{"op":"replace","path":"nickName","value":null}]}`
	if string(r.Body) != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
}

func TestPatchUserRefusesBadOps(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
	c := newClient(t, s, scim.Generic())
	for _, ops := range [][]scim.PatchOp{
		nil,
		{{Op: "remove"}},
		{{Op: "upsert", Path: "title"}},
		{scim.Replace(`emails[type eq "work"`, "x")},
	} {
		if err := c.PatchUser(context.Background(), "u1", ops); !fault.IsPermanent(err) {
			t.Errorf("ops %+v: err = %v, want permanent", ops, err)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestPutFallback(t *testing.T) {
	t.Parallel()
	const stored = `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:vendor:ext"],
		"id": "u1", "userName": "ada", "active": true, "title": "Analyst",
		"nickName": "countess",
		"emails": [{"value": "ada@work.example", "type": "work", "primary": true}],
		"urn:vendor:ext": {"seat": "full", "costCode": 7},
		"groups": [{"value": "g1", "display": "eng"}],
		"meta": {"resourceType": "User", "version": "W/\"3\""}
	}`
	noPatch := scim.Generic()
	noPatch.Patch = false

	t.Run("preserves unknown attributes", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			switch r.Method {
			case http.MethodGet:
				w.Header().Set("ETag", `W/"3"`)
				w.Header().Set("Content-Type", scim.ContentType)
				_, _ = io.WriteString(w, stored)
			case http.MethodPut:
				w.Header().Set("Content-Type", scim.ContentType)
				_, _ = w.Write(body)
			default:
				t.Errorf("unexpected %s", r.Method)
			}
		})
		c := newClient(t, s, noPatch)
		err := c.PatchUser(context.Background(), "u1", []scim.PatchOp{
			scim.Replace("active", false),
			scim.Remove("title"),
			scim.Replace(`emails[type eq "work"].value`, "ada@new.example"),
			scim.Replace(scim.EnterpriseUserSchema+":department", "Ops"),
		})
		if err != nil {
			t.Fatalf("PatchUser: %v", err)
		}
		reqs := s.requests()
		if len(reqs) != 2 || reqs[0].Method != http.MethodGet || reqs[1].Method != http.MethodPut {
			t.Fatalf("requests %+v", reqs)
		}
		if got := reqs[1].Header.Get("If-Match"); got != `W/"3"` {
			t.Errorf("If-Match = %q", got)
		}
		var got map[string]any
		if err := json.Unmarshal(reqs[1].Body, &got); err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		_ = json.Unmarshal([]byte(`{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:vendor:ext", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id": "u1", "userName": "ada", "active": false,
			"nickName": "countess",
			"emails": [{"value": "ada@new.example", "type": "work", "primary": true}],
			"urn:vendor:ext": {"seat": "full", "costCode": 7},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}
		}`), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PUT body\n got %s", reqs[1].Body)
		}
	})

	t.Run("412 on PUT is transient", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			if r.Method == http.MethodGet {
				w.Header().Set("ETag", `W/"3"`)
				_, _ = io.WriteString(w, stored)
				return
			}
			scimError(w, http.StatusPreconditionFailed, "", "version mismatch")
		})
		c := newClient(t, s, noPatch)
		err := c.PatchUser(context.Background(), "u1", []scim.PatchOp{scim.Replace("active", false)})
		if err == nil || fault.IsPermanent(err) {
			t.Errorf("err = %v, want transient", err)
		}
	})

	t.Run("noTarget is permanent and sends no PUT", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			_, _ = io.WriteString(w, stored)
		})
		c := newClient(t, s, noPatch)
		err := c.PatchUser(context.Background(), "u1", []scim.PatchOp{scim.Replace(`emails[type eq "home"].value`, "x")})
		var e *scim.Error
		if !fault.IsPermanent(err) || !errors.As(err, &e) || e.ScimType != "noTarget" {
			t.Errorf("err = %v, want permanent noTarget", err)
		}
		if n := len(s.requests()); n != 1 {
			t.Errorf("%d requests, want only the GET", n)
		}
	})
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	type want struct {
		permanent bool
		hint      time.Duration // 0: transient without hint (when !permanent)
		conflict  bool
		notFound  bool
	}
	tests := []struct {
		name    string
		profile scim.Profile
		create  bool
		status  int
		header  http.Header
		body    string
		want    want
	}{
		{"400", scim.Generic(), false, 400, nil, `{"scimType":"invalidValue"}`, want{permanent: true}},
		{"401", scim.Generic(), false, 401, nil, ``, want{permanent: true}},
		{"403 generic", scim.Generic(), false, 403, http.Header{"Retry-After": {"5"}}, ``, want{permanent: true}},
		{"403 github retry-after", scim.GitHubEMU(), false, 403, http.Header{"Retry-After": {"5"}}, `{"message":"secondary rate limit"}`, want{hint: 5 * time.Second}},
		{"403 github exhausted", scim.GitHubEMU(), false, 403, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Add(2*time.Minute).Unix(), 10)}}, ``, want{hint: 2 * time.Minute}},
		{"403 github permission", scim.GitHubEMU(), false, 403, http.Header{"X-Ratelimit-Remaining": {"4000"}}, `{"message":"Must have admin rights"}`, want{permanent: true}},
		{"404", scim.Generic(), false, 404, nil, ``, want{permanent: true, notFound: true}},
		{"409", scim.Atlassian(), true, 409, nil, `{"scimType":"uniqueness"}`, want{permanent: true, conflict: true}},
		{"412 gitlab create", scim.GitLab(), true, 412, nil, `{"detail":"inactive SCIM identity"}`, want{permanent: true, conflict: true}},
		{"412 generic create", scim.Generic(), true, 412, nil, ``, want{permanent: true}},
		{"413", scim.Miro(), false, 413, nil, ``, want{permanent: true}},
		{"429 seconds", scim.Slack(), false, 429, http.Header{"Retry-After": {"30"}}, ``, want{hint: 30 * time.Second}},
		{"429 http date", scim.Notion(), false, 429, http.Header{"Retry-After": {now.Add(45 * time.Second).Format(http.TimeFormat)}}, `{"code":"rate_limited"}`, want{hint: 45 * time.Second}},
		{"429 no header", scim.Generic(), false, 429, nil, ``, want{}},
		{"slack resource_locked", scim.Slack(), false, 409, nil, `{"Errors":{"description":"resource_locked","code":409}}`, want{}},
		{"500", scim.Generic(), false, 500, nil, `<html>oops</html>`, want{}},
		{"503 retry-after", scim.Generic(), false, 503, http.Header{"Retry-After": {"2"}}, ``, want{hint: 2 * time.Second}},
		{"529 notion", scim.Notion(), false, 529, nil, `{"code":"service_overload"}`, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newClient(t, s, tt.profile, func(c *scim.Config) { c.Now = func() time.Time { return now } })
			var err error
			if tt.create {
				_, err = c.CreateUser(context.Background(), scim.User{UserName: "a@x", ExternalID: "e1", Emails: []scim.Email{{Value: "a@x"}}})
			} else {
				_, err = c.GetUser(context.Background(), "u1")
			}
			if err == nil {
				t.Fatal("want an error")
			}
			var e *scim.Error
			if !errors.As(err, &e) || e.Status != tt.status {
				t.Fatalf("err %v: no *Error with status %d", err, tt.status)
			}
			if got := fault.IsPermanent(err); got != tt.want.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tt.want.permanent, err)
			}
			hint, _ := fault.RetryAfterHint(err)
			if hint != tt.want.hint {
				t.Errorf("retry hint = %s, want %s", hint, tt.want.hint)
			}
			if got := scim.IsConflict(err); got != tt.want.conflict {
				t.Errorf("IsConflict = %v", got)
			}
			if got := scim.IsNotFound(err); got != tt.want.notFound {
				t.Errorf("IsNotFound = %v", got)
			}
		})
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request, _ []byte) {
		auth := r.Header.Get("Authorization")
		switch r.URL.Query().Get("mode") {
		case "text":
			w.WriteHeader(401)
			_, _ = io.WriteString(w, "bad credentials: "+auth)
		default:
			scimError(w, 401, "", "token "+strings.TrimPrefix(auth, "Bearer ")+" revoked; header was "+auth)
		}
	}
	s := newStub(t, echo)
	c := newClient(t, s, scim.Generic())

	_, err := c.GetUser(context.Background(), "u1")
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("token in error: %v", err)
	}
	if !scim.IsUnauthorized(err) || !fault.IsPermanent(err) {
		t.Errorf("401 not unauthorized/permanent: %v", err)
	}

	// Filters carry e-mail addresses: keep them out of errors too.
	_, err = c.FindUsers(context.Background(), scim.Eq("userName", "secret.person@example.com"))
	if err == nil || strings.Contains(err.Error(), "secret.person") || strings.Contains(err.Error(), testToken) {
		t.Errorf("filter or token in error: %v", err)
	}

	// Transport errors.
	dead := newStub(t, echo)
	dc := newClient(t, dead, scim.Generic())
	dead.Close()
	_, err = dc.FindUsers(context.Background(), scim.Eq("userName", "secret.person@example.com"))
	if err == nil || fault.IsPermanent(err) {
		t.Errorf("network error = %v, want transient", err)
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "secret.person") {
		t.Errorf("leak in transport error: %v", err)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := newClient(t, s, scim.Generic(), func(c *scim.Config) { c.Timeout = 50 * time.Millisecond })
	start := time.Now()
	_, err := c.GetUser(context.Background(), "u1")
	if err == nil || fault.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want transient deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	if !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("err = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetUser(ctx, "u1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		_, _ = io.WriteString(w, `{"id":"u1","title":"`+strings.Repeat("x", 5000)+`"}`)
	})
	c := newClient(t, s, scim.Generic(), func(c *scim.Config) { c.MaxBodyBytes = 1000 })
	if _, err := c.GetUser(context.Background(), "u1"); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "exceeds 1000 bytes") {
		t.Errorf("err = %v", err)
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	ada := scim.User{
		UserName: "ada", ExternalID: "E42", Active: true, Title: "Analyst",
		Name:       &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Emails:     []scim.Email{{Value: "ada@example.com", Type: "work", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "Ops", Manager: &scim.Manager{Value: "m1"}},
	}
	tests := []struct {
		name     string
		profile  scim.Profile
		user     scim.User
		wantBody string // "" when no request may be sent
	}{
		{"generic sends everything", scim.Generic(), ada,
			`{"active":true,"emails":[{"value":"ada@example.com","type":"work","primary":true}],"externalId":"E42",` +
				`"name":{"givenName":"Ada","familyName":"Lovelace"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
				`"title":"Analyst","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"m1"}},"userName":"ada"}`},
		{"gitlab drops title and enterprise", scim.GitLab(), ada,
			`{"active":true,"emails":[{"value":"ada@example.com","type":"work","primary":true}],"externalId":"E42",` +
				`"name":{"givenName":"Ada","familyName":"Lovelace"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada"}`},
		{"gitlab requires externalId", scim.GitLab(), scim.User{UserName: "ada", Emails: ada.Emails}, ""},
		{"asana userName from email", scim.Asana(), scim.User{Active: true, Emails: ada.Emails},
			`{"active":true,"emails":[{"value":"ada@example.com","type":"work","primary":true}],"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				var u map[string]any
				_ = json.Unmarshal(body, &u)
				u["id"] = "new-id"
				writeJSON(w, http.StatusCreated, u)
			})
			c := newClient(t, s, tt.profile)
			got, err := c.CreateUser(context.Background(), tt.user)
			reqs := s.requests()
			if tt.wantBody == "" {
				if !fault.IsPermanent(err) || len(reqs) != 0 {
					t.Fatalf("err = %v after %d requests, want a local permanent error", err, len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if got.ID != "new-id" {
				t.Errorf("returned id %q", got.ID)
			}
			if reqs[0].Method != http.MethodPost || reqs[0].Path != "/scim/v2/Users" {
				t.Errorf("request %s %s", reqs[0].Method, reqs[0].Path)
			}
			if string(reqs[0].Body) != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", reqs[0].Body, tt.wantBody)
			}
		})
	}
}

func TestSetActive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		profile    scim.Profile
		active     bool
		wantMethod string // "" when no request may be sent
		wantBody   string
		wantErr    error
	}{
		{"patch off", scim.Slack(), false, http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, nil},
		{"patch on", scim.GitLab(), true, http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`, nil},
		{"github emu never deletes", scim.GitHubEMU(), false, http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, nil},
		{"notion deletes", scim.Notion(), false, http.MethodDelete, ``, nil},
		{"notion recreates", scim.Notion(), true, "", "", scim.ErrRecreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
			c := newClient(t, s, tt.profile)
			err := c.SetActive(context.Background(), "u1", tt.active)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !fault.IsPermanent(err) {
					t.Errorf("err = %v, want permanent %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("SetActive: %v", err)
			}
			reqs := s.requests()
			if tt.wantMethod == "" {
				if len(reqs) != 0 {
					t.Errorf("%d requests sent", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Method != tt.wantMethod || reqs[0].Path != "/scim/v2/Users/u1" || string(reqs[0].Body) != tt.wantBody {
				t.Errorf("requests %+v", reqs)
			}
		})
	}
}

func TestPatchGroupMembers(t *testing.T) {
	t.Parallel()
	byFilter := scim.Generic()
	byFilter.MaxMembersPerPatch = 2
	byValue := byFilter
	byValue.MemberRemoval = scim.RemoveByValue
	tests := []struct {
		name    string
		profile scim.Profile
		add     []string
		remove  []string
		want    []string
	}{
		{"filter form, chunked", byFilter, []string{"a", "b", "c"}, []string{`q"1`, "r"},
			[]string{
				`[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]`,
				`[{"op":"add","path":"members","value":[{"value":"c"}]}]`,
				`[{"op":"remove","path":"members[value eq \"q\\\"1\"]"},{"op":"remove","path":"members[value eq \"r\"]"}]`,
			}},
		{"value form", byValue, nil, []string{"x", "y", "z"},
			[]string{
				`[{"op":"remove","path":"members","value":[{"value":"x"},{"value":"y"}]}]`,
				`[{"op":"remove","path":"members","value":[{"value":"z"}]}]`,
			}},
		{"nothing to do", byFilter, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
			c := newClient(t, s, tt.profile)
			if err := c.PatchGroupMembers(context.Background(), "g1", tt.add, tt.remove); err != nil {
				t.Fatalf("PatchGroupMembers: %v", err)
			}
			var got []string
			for _, r := range s.requests() {
				if r.Method != http.MethodPatch || r.Path != "/scim/v2/Groups/g1" || r.RawQuery != "" {
					t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
				}
				var body struct {
					Schemas    []string        `json:"schemas"`
					Operations json.RawMessage `json:"Operations"`
				}
				if err := json.Unmarshal(r.Body, &body); err != nil || !reflect.DeepEqual(body.Schemas, []string{scim.PatchOpSchema}) {
					t.Errorf("body %s (%v)", r.Body, err)
				}
				got = append(got, string(body.Operations))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("operations\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A group PATCH is answered with the whole group: the write succeeded, so
// a reply larger than the body limit is no error.
func TestPatchGroupMembersLargeEcho(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", scim.ContentType)
		_, _ = w.Write([]byte(`{"id":"g1","members":[` + strings.Repeat(`{"value":"member-id"},`, 2000) + `{"value":"last"}]}`))
	})
	c := newClient(t, s, scim.Generic(), func(cfg *scim.Config) { cfg.MaxBodyBytes = 1024 })
	if err := c.PatchGroupMembers(context.Background(), "g1", []string{"a"}, nil); err != nil {
		t.Fatalf("PatchGroupMembers: %v", err)
	}
	// A read still refuses a body over the limit.
	if _, err := c.GetGroup(context.Background(), "g1"); err == nil || !strings.Contains(err.Error(), "exceeds 1024 bytes") {
		t.Errorf("GetGroup err = %v, want the body limit", err)
	}
}

func TestGroupsUnsupported(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
	c := newClient(t, s, scim.GitLab())
	err := c.PatchGroupMembers(context.Background(), "g1", []string{"a"}, nil)
	if !fault.IsPermanent(err) || len(s.requests()) != 0 {
		t.Errorf("err = %v, requests %d", err, len(s.requests()))
	}
	if _, err := c.FindGroups(context.Background(), scim.Filter{}); !fault.IsPermanent(err) {
		t.Errorf("FindGroups err = %v", err)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch {
		case r.Method == http.MethodPost:
			var g map[string]any
			_ = json.Unmarshal(body, &g)
			g["id"] = "g1"
			writeJSON(w, 201, g)
		case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Groups":
			writeJSON(w, 200, map[string]any{"totalResults": 1, "Resources": []any{map[string]any{"id": "g1", "displayName": "eng"}}})
		case r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]any{"id": "g1", "displayName": "eng", "members": []any{map[string]any{"value": "u1", "display": "Ada"}}})
		case r.Method == http.MethodDelete:
			w.WriteHeader(204)
		}
	})
	c := newClient(t, s, scim.Miro())
	ctx := context.Background()
	g, err := c.CreateGroup(ctx, scim.Group{DisplayName: "eng"})
	if err != nil || g.ID != "g1" {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	if want := `{"displayName":"eng","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`; string(s.requests()[0].Body) != want {
		t.Errorf("create body %s", s.requests()[0].Body)
	}
	f, _ := c.Profile().ByGroupName("eng")
	gs, err := c.FindGroups(ctx, f)
	if err != nil || len(gs) != 1 || gs[0].DisplayName != "eng" {
		t.Errorf("FindGroups = %+v, %v", gs, err)
	}
	g, err = c.GetGroup(ctx, "g1")
	if err != nil || len(g.Members) != 1 || g.Members[0].Value != "u1" {
		t.Errorf("GetGroup = %+v, %v", g, err)
	}
	if err := c.DeleteGroup(ctx, "g1"); err != nil {
		t.Errorf("DeleteGroup: %v", err)
	}
	if _, err := c.CreateGroup(ctx, scim.Group{}); !fault.IsPermanent(err) {
		t.Errorf("CreateGroup without name: %v", err)
	}
}

func TestServiceProviderConfig(t *testing.T) {
	t.Parallel()
	const body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
		"patch":{"supported":false},"bulk":{"supported":true,"maxOperations":1000,"maxPayloadSize":1048576},
		"filter":{"supported":true,"maxResults":200},"changePassword":{"supported":false},
		"sort":{"supported":false},"etag":{"supported":true},
		"authenticationSchemes":[{"type":"oauthbearertoken","name":"OAuth Bearer Token"}]}`
	for _, path := range []string{"/scim/v2/ServiceProviderConfig", "/scim/v2/ServiceProviderConfigs"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if r.URL.Path != path {
					scimError(w, 404, "", "no such endpoint")
					return
				}
				_, _ = io.WriteString(w, body)
			})
			c := newClient(t, s, scim.Generic())
			spc, err := c.ServiceProviderConfig(context.Background())
			if err != nil {
				t.Fatalf("ServiceProviderConfig: %v", err)
			}
			want := scim.ServiceProviderConfig{
				PatchSupported: false, BulkSupported: true, BulkMaxOperations: 1000, BulkMaxPayloadSize: 1048576,
				FilterSupported: true, FilterMaxResults: 200, ETagSupported: true,
				AuthenticationSchemes: []string{"oauthbearertoken"},
			}
			if !reflect.DeepEqual(spc, want) {
				t.Errorf("got %+v\nwant %+v", spc, want)
			}
			p := c.Profile().WithDiscovery(spc)
			if p.Patch || p.MaxPageSize != 100 {
				t.Errorf("WithDiscovery: patch %v page %d", p.Patch, p.MaxPageSize)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  scim.Config
	}{
		{"no base", scim.Config{Token: testToken}},
		{"no token", scim.Config{BaseURL: "https://api.slack.com/scim/v2"}},
		{"token with newline", scim.Config{BaseURL: "https://api.slack.com/scim/v2", Token: "abc\r\nX-Evil: 1"}},
		{"token with space", scim.Config{BaseURL: "https://api.slack.com/scim/v2", Token: "Bearer abc"}},
		{"plain http", scim.Config{BaseURL: "http://api.slack.com/scim/v2", Token: testToken}},
		{"unfilled placeholder", scim.Config{BaseURL: "https://www.figma.com/scim/v2/{tenantId}", Token: testToken}},
		{"credentials in URL", scim.Config{BaseURL: "https://u:p@api.slack.com/scim/v2", Token: testToken}},
		{"query", scim.Config{BaseURL: "https://api.slack.com/scim/v2?x=1", Token: testToken}},
		{"negative timeout", scim.Config{BaseURL: "https://api.slack.com/scim/v2", Token: testToken, Timeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := scim.New(tt.cfg)
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.cfg.Token != "" && len(tt.cfg.Token) > 6 && strings.Contains(err.Error(), tt.cfg.Token) {
				t.Errorf("token in config error: %v", err)
			}
		})
	}
	for _, ok := range []string{"https://api.slack.com/scim/v2/", "http://127.0.0.1:8080/scim", "http://localhost/scim", "http://[::1]:9/x"} {
		if _, err := scim.New(scim.Config{BaseURL: ok, Token: testToken}); err != nil {
			t.Errorf("New(%s): %v", ok, err)
		}
	}
}

// Where a vendor's budget counts reads (Asana), each read waits for the
// pacer; writes are paced by the worker, and other vendors' reads are not.
func TestPaceReads(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		reads bool
		want  int
	}{{"reads counted", true, 1}, {"writes only", false, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Set("Content-Type", scim.ContentType)
				_, _ = w.Write([]byte(`{"id":"u1","userName":"ada","active":true}`))
			})
			p := scim.Generic()
			p.RateLimit.Reads = tt.reads
			var paced atomic.Int32
			c := newClient(t, s, p, func(cfg *scim.Config) {
				cfg.Pace = func(context.Context) error { paced.Add(1); return nil }
			})
			if _, err := c.GetUser(context.Background(), "u1"); err != nil {
				t.Fatal(err)
			}
			if err := c.SetActive(context.Background(), "u1", false); err != nil {
				t.Fatal(err)
			}
			if got := int(paced.Load()); got != tt.want {
				t.Errorf("paced %d times, want %d", got, tt.want)
			}
		})
	}
	// A pacer that gives up (the worker is stopping) fails the read.
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { t.Error("request sent") })
	p := scim.Generic()
	p.RateLimit.Reads = true
	c := newClient(t, s, p, func(cfg *scim.Config) {
		cfg.Pace = func(context.Context) error { return context.Canceled }
	})
	if _, err := c.GetUser(context.Background(), "u1"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the pacer's", err)
	}
}

func TestCountUsers(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, map[string]any{
			"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
			"totalResults": 1234, "itemsPerPage": 1, "startIndex": 1,
			"Resources": []any{map[string]any{"id": "u1", "userName": "ada", "active": true}},
		})
	})
	c := newClient(t, s, scim.Generic())
	n, err := c.CountUsers(context.Background())
	if err != nil || n != 1234 {
		t.Fatalf("CountUsers = %d, %v; want 1234", n, err)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if r := reqs[0]; r.Method != http.MethodGet || r.Path != "/scim/v2/Users" || r.RawQuery != "startIndex=1&count=1" {
		t.Errorf("request %s %s?%s, want GET /scim/v2/Users?startIndex=1&count=1", r.Method, r.Path, r.RawQuery)
	}

	// An empty provider: zero, no error.
	empty := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, map[string]any{"totalResults": 0, "Resources": []any{}})
	})
	if n, err := newClient(t, empty, scim.Generic()).CountUsers(context.Background()); err != nil || n != 0 {
		t.Errorf("empty: CountUsers = %d, %v; want 0", n, err)
	}

	// A rejected token is an error that says so, without the token, even
	// when the server echoes it.
	denied := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		scimError(w, 401, "", "token "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+" revoked")
	})
	_, err = newClient(t, denied, scim.Generic()).CountUsers(context.Background())
	if !scim.IsUnauthorized(err) || !fault.IsPermanent(err) {
		t.Errorf("401: err = %v, want unauthorized and permanent", err)
	}
	if err != nil && strings.Contains(err.Error(), testToken) {
		t.Errorf("token in error: %v", err)
	}
}
