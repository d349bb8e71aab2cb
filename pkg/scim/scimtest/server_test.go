package scimtest

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	s, _ := start(t, WithToken("s3cret-token"))
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"right token", "Bearer s3cret-token", http.StatusOK},
		{"scheme case-insensitive", "bearer s3cret-token", http.StatusOK},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token prefix", "Bearer s3cret", http.StatusUnauthorized},
		{"basic scheme", "Basic s3cret-token", http.StatusUnauthorized},
		{"no header", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/Users", "/Groups", "/ServiceProviderConfig", "/Users/u1", "/nowhere"} {
				req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				r := send(t, req)
				if tt.want == http.StatusUnauthorized {
					r.wantError(t, http.StatusUnauthorized, "")
					if strings.Contains(r.raw, "s3cret") {
						t.Errorf("%s: answer echoes the token: %s", path, r.raw)
					}
					if r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: no WWW-Authenticate", path)
					}
				} else if path == "/Users" && r.status != tt.want {
					t.Errorf("%s: status %d, want %d", path, r.status, tt.want)
				}
			}
		})
	}
}

func TestUserCRUD(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, WithClock(clock.Now), WithBasePath("/scim/v2"))
	if !strings.HasSuffix(s.URL(), "/scim/v2") {
		t.Fatalf("URL() = %q", s.URL())
	}

	created := c.do(http.MethodPost, "/Users", userBody("bjensen@example.com", map[string]any{
		"externalId": "emp-1",
		"name":       map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":     emails("bjensen@example.com"),
		"password":   "hunter2",
		"id":         "client-chosen",
	})).want(t, http.StatusCreated)
	id := created.str("id")
	if id == "" || id == "client-chosen" {
		t.Fatalf("id = %q: the server assigns ids", id)
	}
	loc := s.URL() + "/Users/" + id
	if created.header.Get("Location") != loc {
		t.Errorf("Location = %q, want %q", created.header.Get("Location"), loc)
	}
	meta, _ := created.body["meta"].(map[string]any)
	if meta["location"] != loc || meta["resourceType"] != "User" || meta["created"] == nil {
		t.Errorf("meta = %v", meta)
	}
	if created.body["active"] != true {
		t.Errorf("active defaults to true, got %v", created.body["active"])
	}
	if strings.Contains(created.raw, "hunter2") {
		t.Error("password is returned")
	}

	got := c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
	if got.str("userName") != "bjensen@example.com" || got.str("externalId") != "emp-1" {
		t.Errorf("GET = %s", got.raw)
	}

	clock.Advance(time.Minute)
	put := c.do(http.MethodPut, "/Users/"+id, userBody("barbara@example.com", map[string]any{
		"externalId": "emp-1", "displayName": "Babs",
	})).want(t, http.StatusOK)
	if put.str("userName") != "barbara@example.com" || put.str("displayName") != "Babs" || put.body["name"] != nil {
		t.Errorf("PUT did not replace: %s", put.raw)
	}
	if put.body["active"] != true {
		t.Errorf("PUT without active keeps it, got %v", put.body["active"])
	}
	putMeta := put.body["meta"].(map[string]any)
	if putMeta["created"] != meta["created"] || putMeta["lastModified"] == meta["lastModified"] {
		t.Errorf("meta after PUT = %v (before %v)", putMeta, meta)
	}

	c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", false))).want(t, http.StatusOK)
	if u, _ := s.User(id); u.Active {
		t.Error("PATCH active=false not stored")
	}

	del := c.do(http.MethodDelete, "/Users/"+id, nil).want(t, http.StatusNoContent)
	if del.raw != "" {
		t.Errorf("DELETE body = %q", del.raw)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		c.do(m, "/Users/"+id, nil).wantError(t, http.StatusNotFound, "")
	}
	c.do(http.MethodPut, "/Users/"+id, userBody("x", nil)).wantError(t, http.StatusNotFound, "")
	c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", true))).wantError(t, http.StatusNotFound, "")
	if len(s.Users()) != 0 {
		t.Errorf("Users() = %v", s.Users())
	}
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	tests := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"not JSON", `{"userName":`, http.StatusBadRequest, typeInvalidSyntax},
		{"trailing data", `{"schemas":["` + userSchema + `"],"userName":"a"} {}`, http.StatusBadRequest, typeInvalidSyntax},
		{"array body", `[]`, http.StatusBadRequest, typeInvalidSyntax},
		{"no schemas", map[string]any{"userName": "a"}, http.StatusBadRequest, typeInvalidSyntax},
		{"group schema", map[string]any{"schemas": []string{groupSchema}, "userName": "a"}, http.StatusBadRequest, typeInvalidSyntax},
		{"no userName", userBody("", nil), http.StatusBadRequest, typeInvalidValue},
		{"userName not a string", userBody("", map[string]any{"userName": 7}), http.StatusBadRequest, typeInvalidValue},
		{"active a string", userBody("a", map[string]any{"active": "false"}), http.StatusBadRequest, typeInvalidValue},
		{"emails an object", userBody("a", map[string]any{"emails": map[string]any{"value": "a@x"}}), http.StatusBadRequest, typeInvalidValue},
		{"two primary emails", userBody("a", map[string]any{"emails": []any{
			map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}}}),
			http.StatusBadRequest, typeInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c.do(http.MethodPost, "/Users", tt.body).wantError(t, tt.status, tt.scimType)
		})
	}
}

func TestAttributeNamesCaseInsensitive(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	r := c.do(http.MethodPost, "/Users", map[string]any{
		"SCHEMAS": []string{strings.ToLower(userSchema)}, "USERNAME": "Alice", "Emails": []any{map[string]any{"VALUE": "a@x"}},
	}).want(t, http.StatusCreated)
	if r.str("userName") != "Alice" {
		t.Fatalf("answer uses RFC spelling: %s", r.raw)
	}
	if v := r.body["emails"].([]any)[0].(map[string]any)["value"]; v != "a@x" {
		t.Errorf("emails = %v", r.body["emails"])
	}
}

func TestUniqueness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first map[string]any
		next  map[string]any
		want  int
	}{
		{"same userName", userBody("alice", nil), userBody("alice", nil), http.StatusConflict},
		{"userName differs in case", userBody("alice", nil), userBody("ALICE", nil), http.StatusConflict},
		{"same externalId", userBody("a", map[string]any{"externalId": "E1"}),
			userBody("b", map[string]any{"externalId": "E1"}), http.StatusConflict},
		{"externalId is case-exact", userBody("a", map[string]any{"externalId": "E1"}),
			userBody("b", map[string]any{"externalId": "e1"}), http.StatusCreated},
		{"same email allowed by default", userBody("a", map[string]any{"emails": emails("x@y")}),
			userBody("b", map[string]any{"emails": emails("x@y")}), http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t)
			c.do(http.MethodPost, "/Users", tt.first).want(t, http.StatusCreated)
			r := c.do(http.MethodPost, "/Users", tt.next)
			if tt.want == http.StatusConflict {
				r.wantError(t, http.StatusConflict, typeUniqueness)
			} else {
				r.want(t, tt.want)
			}
		})
	}

	t.Run("update into a taken userName", func(t *testing.T) {
		t.Parallel()
		_, c := start(t)
		c.createUser("alice", nil)
		bob := c.createUser("bob", nil)
		c.do(http.MethodPut, "/Users/"+bob, userBody("Alice", nil)).wantError(t, http.StatusConflict, typeUniqueness)
		c.do(http.MethodPatch, "/Users/"+bob, patchBody(op("replace", "userName", "alice"))).
			wantError(t, http.StatusConflict, typeUniqueness)
		c.do(http.MethodPut, "/Users/"+bob, userBody("bob", map[string]any{"displayName": "Bob"})).want(t, http.StatusOK)
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	_, c := start(t, Quirks{MaxPageSize: 4})
	for i := 1; i <= 7; i++ {
		c.createUser(fmt.Sprintf("user%d", i), nil)
	}
	tests := []struct {
		query     string
		wantNames []string
		wantStart float64
	}{
		{"", []string{"user1", "user2", "user3", "user4"}, 1},
		{"?count=2", []string{"user1", "user2"}, 1},
		{"?startIndex=3&count=2", []string{"user3", "user4"}, 3},
		{"?startIndex=6&count=10", []string{"user6", "user7"}, 6},
		{"?startIndex=8", []string{}, 8},
		{"?startIndex=0&count=1", []string{"user1"}, 1},
		{"?startIndex=-5&count=1", []string{"user1"}, 1},
		{"?count=0", []string{}, 1},
		{"?count=-1", []string{}, 1},
		{"?startIndex=2&count=2&filter=" + "userName%20sw%20%22user%22", []string{"user2", "user3"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			r := c.do(http.MethodGet, "/Users"+tt.query, nil)
			if got := listUserNames(t, r); !reflect.DeepEqual(got, tt.wantNames) {
				t.Errorf("names = %v, want %v", got, tt.wantNames)
			}
			if r.body["totalResults"] != float64(7) {
				t.Errorf("totalResults = %v", r.body["totalResults"])
			}
			if r.body["itemsPerPage"] != float64(len(tt.wantNames)) || r.body["startIndex"] != tt.wantStart {
				t.Errorf("itemsPerPage = %v startIndex = %v", r.body["itemsPerPage"], r.body["startIndex"])
			}
		})
	}
	for _, q := range []string{"?count=x", "?startIndex=1.5"} {
		c.do(http.MethodGet, "/Users"+q, nil).wantError(t, http.StatusBadRequest, typeInvalidValue)
	}
}

func TestAttributesProjection(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	id := c.createUser("alice", map[string]any{"externalId": "E1", "displayName": "Alice"})
	r := c.do(http.MethodGet, "/Users/"+id+"?attributes=userName", nil).want(t, http.StatusOK)
	if r.str("id") != id || r.str("userName") != "alice" || r.body["externalId"] != nil || r.body["schemas"] == nil {
		t.Errorf("attributes=userName: %s", r.raw)
	}
	r = c.do(http.MethodGet, "/Users?excludedAttributes=displayName,meta", nil).want(t, http.StatusOK)
	u := r.body["Resources"].([]any)[0].(map[string]any)
	if u["displayName"] != nil || u["meta"] != nil || u["externalId"] != "E1" {
		t.Errorf("excludedAttributes: %v", u)
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []Option
		wantPatch  bool
		wantGroups bool
	}{
		{"rfc", nil, true, true},
		{"no patch", []Option{Quirks{NoPatch: true}}, false, true},
		{"gitlab", []Option{GitLab()}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, tt.opts...)
			r := c.do(http.MethodGet, "/ServiceProviderConfig", nil).want(t, http.StatusOK)
			if !reflect.DeepEqual(r.body["schemas"], []any{spcSchema}) {
				t.Errorf("schemas = %v", r.body["schemas"])
			}
			if got := r.body["patch"].(map[string]any)["supported"]; got != tt.wantPatch {
				t.Errorf("patch.supported = %v", got)
			}
			for _, k := range []string{"bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"} {
				if r.body[k] == nil {
					t.Errorf("%s missing", k)
				}
			}
			rt := c.do(http.MethodGet, "/ResourceTypes", nil).want(t, http.StatusOK)
			if n := len(rt.body["Resources"].([]any)); (n == 2) != tt.wantGroups {
				t.Errorf("resource types = %d", n)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	c.do(http.MethodGet, "/Nope", nil).wantError(t, http.StatusNotFound, "")
	c.do(http.MethodDelete, "/Users", nil).wantError(t, http.StatusMethodNotAllowed, "")
	c.do(http.MethodPost, "/Users/abc", userBody("a", nil)).wantError(t, http.StatusMethodNotAllowed, "")
	r := c.do(http.MethodPost, "/Users", nil)
	r.wantError(t, http.StatusBadRequest, typeInvalidSyntax)

	req, _ := http.NewRequest(http.MethodPost, c.s.URL()+"/Users", strings.NewReader(`userName=a`))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: status %d", resp.StatusCode)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	s.FailNext(3, http.StatusServiceUnavailable, "upstream storm")
	s.FailNext(1, http.StatusBadRequest, "user_creation_failed")
	for i := range 3 {
		r := c.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusServiceUnavailable, "")
		if r.str("detail") != "upstream storm" || r.header.Get("Retry-After") != "1" {
			t.Errorf("failure %d: %s, Retry-After %q", i, r.raw, r.header.Get("Retry-After"))
		}
	}
	r := c.do(http.MethodPost, "/Users", userBody("a", nil)).wantError(t, http.StatusBadRequest, "")
	if r.str("detail") != "user_creation_failed" {
		t.Errorf("detail = %q", r.str("detail"))
	}
	c.do(http.MethodPost, "/Users", userBody("a", nil)).want(t, http.StatusCreated)
	s.FailNextRetryAfter(1, http.StatusForbidden, 7*time.Second, "secondary rate limit")
	if r := c.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusForbidden, ""); r.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q, want the 7 injected", r.header.Get("Retry-After"))
	}

	// Failures are for authorised requests only.
	s.FailNext(1, http.StatusInternalServerError, "boom")
	(client{t: t, s: s, token: "wrong"}).do(http.MethodGet, "/Users", nil).want(t, http.StatusUnauthorized)
	c.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusInternalServerError, "")
}

func TestDelay(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	s.Delay(150 * time.Millisecond)
	begin := time.Now()
	c.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("request took %v", d)
	}
	s.Delay(0)

	s.Delay(10 * time.Second)
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/Users", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if _, err := hc.Do(req); err == nil {
		t.Error("client timeout did not fire")
	}
	s.Delay(0)
}

func TestRequests(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	id := c.createUser("a", nil)
	c.do(http.MethodGet, "/Users/"+id, nil)
	c.do(http.MethodGet, "/Users/nope", nil)
	c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "displayName", "A")))
	c.do(http.MethodGet, "/Users", nil)
	s.FailNext(1, http.StatusTooManyRequests, "slow down")
	c.do(http.MethodGet, "/Users", nil)

	st := s.Requests()
	want := map[string]int{"POST /Users": 1, "GET /Users/{id}": 2, "PATCH /Users/{id}": 1, "GET /Users": 2}
	if !reflect.DeepEqual(st.ByRoute, want) {
		t.Errorf("ByRoute = %v, want %v", st.ByRoute, want)
	}
	if st.Total != 6 || st.RateLimited != 1 || st.ByStatus[http.StatusNotFound] != 1 || st.ByStatus[http.StatusOK] != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSeedAndSnapshots(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	u := s.Seed(User{UserName: "seeded", ExternalID: "E9", GivenName: "See", Active: true,
		Emails: []Email{{Value: "seeded@x", Type: "work", Primary: true}},
		Attributes: map[string]any{
			enterpriseSchema: map[string]any{"department": "Ops"},
		}})
	if u.ID == "" || u.UserName != "seeded" || !u.Active {
		t.Fatalf("Seed = %+v", u)
	}
	r := c.do(http.MethodGet, "/Users/"+u.ID, nil).want(t, http.StatusOK)
	if r.body["name"].(map[string]any)["givenName"] != "See" || r.body[enterpriseSchema] == nil {
		t.Errorf("GET seeded: %s", r.raw)
	}
	g := s.SeedGroup(Group{DisplayName: "Ops", Members: []string{u.ID}})
	r = c.do(http.MethodGet, "/Users/"+u.ID, nil).want(t, http.StatusOK)
	groups, _ := r.body["groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["value"] != g.ID {
		t.Errorf("user groups = %v", r.body["groups"])
	}
	if gs := s.Groups(); len(gs) != 1 || !reflect.DeepEqual(gs[0].Members, []string{u.ID}) {
		t.Errorf("Groups() = %+v", gs)
	}
	// Snapshots are copies.
	snap := s.Users()
	snap[0].Attributes["userName"] = "mutated"
	if s.Users()[0].UserName != "seeded" {
		t.Error("snapshot aliases the store")
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	gid := c.createGroup("all")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := c.createUser(fmt.Sprintf("user%02d", i), nil)
			c.do(http.MethodPatch, "/Groups/"+gid, patchBody(op("add", "members", []any{map[string]any{"value": id}}))).
				want(t, http.StatusOK)
			c.do(http.MethodGet, "/Users?filter=userName%20eq%20%22user00%22", nil).want(t, http.StatusOK)
		})
	}
	wg.Wait()
	if n := len(s.Groups()[0].Members); n != 20 {
		t.Errorf("members = %d", n)
	}
}
