package gitlabtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type client struct {
	t     *testing.T
	srv   *Server
	token string
}

func newClient(t *testing.T, opts ...Option) *client {
	t.Helper()
	srv := New(opts...)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv, token: srv.Token()}
}

// do sends a request to the API and returns the status, headers and body.
func (c *client) do(method, path, body string) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+"/api/v4/"+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("PRIVATE-TOKEN", c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

func (c *client) want(method, path, body string, status int, says string) string {
	c.t.Helper()
	got, _, raw := c.do(method, path, body)
	if got != status || !strings.Contains(raw, says) {
		c.t.Fatalf("%s %s = %d %s; want %d with %q", method, path, got, raw, status, says)
	}
	return raw
}

func (c *client) create(username, email string) int64 {
	c.t.Helper()
	raw := c.want("POST", "users", `{"email":"`+email+`","name":"N","username":"`+username+`","reset_password":true}`, 201, `"state":"active"`)
	var u struct{ ID int64 }
	_ = json.Unmarshal([]byte(raw), &u)
	return u.ID
}

// Authentication and the admin endpoints answer as GitLab documents.
func TestAuth(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	c.token = ""
	c.want("GET", "users", "", 401, `{"message":"401 Unauthorized"}`)
	c.token = "glpat-wrong"
	c.want("GET", "user", "", 401, `401 Unauthorized`)
	c.token = c.srv.UserToken()
	c.want("GET", "user", "", 200, `"username":"dev"`)
	c.want("POST", "users", `{"email":"a@x.io","name":"A","username":"a","reset_password":true}`, 403, `{"message":"403 Forbidden"}`)
	c.want("GET", "users?extern_uid=e1&provider=saml", "", 403, `403 Forbidden`)
	c.want("POST", "users/1/block", "", 403, `403 Forbidden`)
}

// Creating users: the password choice and the extern_uid pair are
// required as GitLab's parameter checks say; a taken e-mail (primary or
// secondary, any case) or username is 409 with GitLab's words.
func TestCreateUser(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	c.want("POST", "users", `{"email":"a@x.io","name":"A","username":"a"}`, 400, "at least one parameter must be provided")
	c.want("POST", "users", `{"email":"a@x.io","name":"A","username":"a","reset_password":true,"extern_uid":"e1"}`, 400, "provide all or none")
	c.want("POST", "users", `{"name":"A","username":"a","reset_password":true}`, 400, `"error":"email is missing"`)
	id := c.create("ada", "Ada@X.io")
	c.want("POST", "users", `{"email":"ada@x.io","name":"B","username":"b","reset_password":true}`, 409, `{"message":"Email has already been taken"}`)
	c.want("POST", "users", `{"email":"b@x.io","name":"B","username":"ADA","reset_password":true}`, 409, `{"message":"Username has already been taken"}`)
	c.want("POST", "users", `{"email":"b@x.io","name":"B","username":"-b","reset_password":true}`, 400, `"username":["can contain only`)
	c.want("POST", "users", `{"email":"b@x.io","name":"B","username":"admin","reset_password":true}`, 400, `reserved`)
	c.srv.AddSecondaryEmail(id, "old@x.io")
	c.want("POST", "users", `{"email":"OLD@x.io","name":"B","username":"b","reset_password":true}`, 409, "Email has already been taken")
	raw := c.want("GET", "users/"+strconv.FormatInt(id, 10), "", 200, `"email":"ada@x.io"`)
	if !strings.Contains(raw, `"using_license_seat":true`) || !strings.Contains(raw, `"identities":[]`) {
		t.Errorf("user %s", raw)
	}
}

// Finding users: by username, by extern_uid and provider, and an
// administrator's search matching a whole address (secondary ones too)
// or part of a username.
func TestListUsers(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	id := c.create("ada", "ada@x.io")
	c.srv.AddIdentity(id, "saml", "e1")
	c.create("grace", "grace@x.io")
	c.want("GET", "users?username=ADA", "", 200, `"username":"ada"`)
	if raw := c.want("GET", "users?extern_uid=e1&provider=saml", "", 200, `"extern_uid":"e1"`); strings.Contains(raw, "grace") {
		t.Errorf("extern_uid search found %s", raw)
	}
	c.want("GET", "users?extern_uid=e1", "", 400, "provide all or none")
	if raw := c.want("GET", "users?search=ada%40x.io", "", 200, `"username":"ada"`); strings.Contains(raw, "grace") {
		t.Errorf("e-mail search found %s", raw)
	}
	c.want("GET", "users?search=gra", "", 200, `"username":"grace"`)
	if _, _, raw := c.do("GET", "users?search=nobody%40x.io", ""); raw != "[]" {
		t.Errorf("search for nobody = %s", raw)
	}
}

// Pages carry GitLab's offset pagination headers and a Link header.
func TestPagination(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for i := range 5 {
		c.srv.AddUser("u"+strconv.Itoa(i), "u"+strconv.Itoa(i)+"@x.io", "U")
	}
	status, h, raw := c.do("GET", "users?per_page=2&page=2", "")
	var page []map[string]any
	_ = json.Unmarshal([]byte(raw), &page)
	if status != 200 || len(page) != 2 {
		t.Fatalf("page 2 = %d %s", status, raw)
	}
	want := map[string]string{"X-Page": "2", "X-Per-Page": "2", "X-Next-Page": "3", "X-Prev-Page": "1", "X-Total": "6", "X-Total-Pages": "3"}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q; want %q", k, h.Get(k), v)
		}
	}
	link := h.Get("Link")
	for _, rel := range []string{`page=3&per_page=2>; rel="next"`, `rel="prev"`, `rel="first"`, `page=3&per_page=2>; rel="last"`} {
		if !strings.Contains(link, rel) {
			t.Errorf("Link %q lacks %s", link, rel)
		}
	}
	_, h, _ = c.do("GET", "users?per_page=2&page=3", "")
	if h.Get("X-Next-Page") != "" || strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Errorf("last page: X-Next-Page %q, Link %q", h.Get("X-Next-Page"), h.Get("Link"))
	}
}

// Block, unblock, deactivate and activate answer as lib/api/users.rb does.
func TestModeration(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	id := strconv.FormatInt(c.create("ada", "ada@x.io"), 10)
	c.want("POST", "users/"+id+"/deactivate", "", 403, "has been active in the past 90 days")
	c.want("POST", "users/"+id+"/block", "", 201, "true")
	c.want("POST", "users/"+id+"/block", "", 201, "") // blocked already
	c.want("GET", "users/"+id, "", 200, `"using_license_seat":false`)
	c.want("POST", "users/"+id+"/deactivate", "", 403, "A blocked user cannot be deactivated")
	c.want("POST", "users/"+id+"/unblock", "", 201, "true")
	c.want("POST", "users/999/block", "", 404, `{"message":"404 User Not Found"}`)
	c.want("POST", "users/1/block", "", 403, "The API initiating user cannot be blocked")
	n, _ := strconv.ParseInt(id, 10, 64)
	c.srv.SetState(n, StateDeactivated)
	c.want("POST", "users/"+id+"/unblock", "", 403, "Deactivated users cannot be unblocked by the API")
	c.want("POST", "users/"+id+"/activate", "", 201, "true")
	c.srv.SetState(n, StateLDAPBlocked)
	c.want("POST", "users/"+id+"/block", "", 403, "403 Forbidden - LDAP blocked users cannot be modified by the API")
	c.want("POST", "users/"+id+"/unblock", "", 403, "LDAP blocked users cannot be unblocked by the API")
}

// Group members: groups by id or URL-encoded full path, 201 / 409
// "Member already exists" / 204 / 404, the inherited-level rule, and
// memberships listed per user.
func TestMembers(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	gid := c.srv.AddGroup("acme/eng")
	id := strconv.FormatInt(c.create("ada", "ada@x.io"), 10)
	c.want("GET", "groups/acme%2Feng", "", 200, `"full_path":"acme/eng"`)
	c.want("GET", "groups/"+strconv.FormatInt(gid, 10), "", 200, `"full_path":"acme/eng"`)
	c.want("GET", "groups/acme%2Fnope", "", 404, `{"message":"404 Group Not Found"}`)
	c.want("POST", "groups/acme%2Feng/members", `{"user_id":`+id+`,"access_level":30,"expires_at":null}`, 201, `"access_level":30`)
	c.want("POST", "groups/acme%2Feng/members", `{"user_id":`+id+`,"access_level":30}`, 409, `{"message":"Member already exists"}`)
	c.want("POST", "groups/acme/members", `{"user_id":`+id+`,"access_level":31}`, 400, `"access_level":["is not included in the list"]`)
	c.want("PUT", "groups/acme%2Feng/members/"+id, `{"access_level":40}`, 200, `"access_level":40`)
	c.want("GET", "users/"+id+"/memberships?type=Namespace", "", 200, `"access_level":40,"source_id":`)
	c.want("POST", "groups/acme/members", `{"user_id":`+id+`,"access_level":50}`, 201, "")
	c.want("DELETE", "groups/acme%2Feng/members/"+id, "", 204, "")
	c.want("POST", "groups/acme%2Feng/members", `{"user_id":`+id+`,"access_level":30}`, 400, "should be greater than or equal to Owner inherited membership from group acme")
	c.want("DELETE", "groups/acme%2Feng/members/"+id, "", 404, "404 Not found")
	c.want("GET", "groups/acme/descendant_groups", "", 200, `"full_path":"acme/eng"`)
	c.want("DELETE", "groups/acme/members/"+id, "", 403, "403 Forbidden") // the last owner
}

// Past the throttle: 429, the plain-text "Retry later", the documented
// RateLimit-* headers and Retry-After; the window starts again at
// RateLimit-Reset.
func TestThrottle(t *testing.T) {
	t.Parallel()
	c := newClient(t, WithRateLimit(2, time.Hour), WithRateScale(3600)) // an hour lasts a second
	_, h, _ := c.do("GET", "user", "")
	if h.Get("RateLimit-Name") != "throttle_authenticated_api" || h.Get("RateLimit-Limit") != "1" || h.Get("RateLimit-Remaining") != "1" {
		t.Errorf("headers %v", h)
	}
	var status int
	var raw string
	for range 3 {
		status, h, raw = c.do("GET", "user", "")
		if status == http.StatusTooManyRequests {
			break
		}
	}
	if status != http.StatusTooManyRequests || raw != "Retry later\n" || h.Get("Retry-After") == "" || h.Get("RateLimit-ResetTime") == "" || h.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("throttled = %d %q %v", status, raw, h)
	}
	if c.srv.Requests().RateLimited == 0 {
		t.Error("RateLimited not counted")
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, _ := c.do("GET", "user", ""); status != 200 {
		t.Errorf("after the window: %d", status)
	}
}
