package gitlab

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"keycard/pkg/fault"
)

// answer is GitLab's response to method path as client-go returns it.
func answer(method, path string, status int, header map[string]string, body string) (*gl.Response, error) {
	base, _ := url.Parse("https://gitlab.example.com/api/v4/")
	req := &http.Request{Method: method, URL: base.JoinPath(path)}
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	for k, v := range header {
		resp.Header.Set(k, v)
	}
	return &gl.Response{Response: resp}, gl.CheckResponse(resp)
}

// Every answer GitLab documents lands in its fault class with the wait it
// asks for, and only a refused credential is Auth.
func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	base, _ := url.Parse("https://gitlab.example.com/api/v4/")
	const token = "glpat-0123456789abcdef"
	reset := strconv.FormatInt(now.Add(40*time.Second).Unix(), 10)
	tests := []struct {
		name      string
		method    string
		path      string
		status    int
		header    map[string]string
		body      string
		permanent bool
		auth      bool
		hint      time.Duration
		says      string
	}{
		{"throttle with retry-after", "POST", "users", 429, map[string]string{"Retry-After": "30", "RateLimit-Reset": reset}, "Retry later\n",
			false, false, 30 * time.Second, "Retry later"},
		{"throttle with reset only", "GET", "users", 429, map[string]string{"RateLimit-Reset": reset}, "Retry later\n", false, false, 40 * time.Second, ""},
		{"application limit", "GET", "users/7", 429, nil, `{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`,
			false, false, ThrottleWait, "requested too many times"},
		{"retry-after capped", "GET", "users", 429, map[string]string{"Retry-After": "999999"}, "Retry later", false, false, maxRetryHint, ""},
		{"bad token", "GET", "users", 401, nil, `{"message":"401 Unauthorized"}`, true, true, 0, "token rejected"},
		{"not an admin", "POST", "users", 403, nil, `{"message":"403 Forbidden"}`, true, true, 0, "not an administrator"},
		{"not an admin, moderation", "POST", "users/7/block", 403, nil, `{"message":"403 Forbidden"}`, true, true, 0, ""},
		{"ldap blocked", "POST", "users/7/block", 403, nil, `{"message":"403 Forbidden - LDAP blocked users cannot be modified by the API"}`,
			true, false, 0, "LDAP blocked"},
		{"not dormant", "POST", "users/7/deactivate", 403, nil,
			`{"message":"403 Forbidden - The user you are trying to deactivate has been active in the past 90 days and cannot be deactivated"}`, true, false, 0, "90 days"},
		{"last owner", "DELETE", "groups/acme/members/7", 403, nil, `{"message":"403 Forbidden"}`, true, false, 0, ""},
		{"email taken", "POST", "users", 409, nil, `{"message":"Email has already been taken"}`, true, false, 0, "Email has already been taken"},
		{"member exists", "POST", "groups/acme%2Feng/members", 409, nil, `{"message":"Member already exists"}`, true, false, 0, "Member already exists"},
		{"validation", "POST", "users", 400, nil, `{"message":{"username":["is too long"],"email":["is invalid"]}}`, true, false, 0, "email is invalid; username is too long"},
		{"parameter", "POST", "users", 400, nil, `{"error":"email is missing"}`, true, false, 0, "email is missing"},
		{"not found", "GET", "users/7", 404, nil, `{"message":"404 User Not Found"}`, true, false, 0, "404 Not Found"},
		{"server error", "GET", "users", 500, nil, `{"message":"500 Internal Server Error"}`, false, false, 0, ""},
		{"unavailable with retry-after", "GET", "users", 503, map[string]string{"Retry-After": "3"}, `<html>`, false, false, 3 * time.Second, ""},
		{"timeout", "GET", "users", 408, nil, ``, false, false, 0, ""},
		{"redirect", "GET", "users", 301, map[string]string{"Location": "https://gitlab.example.com/api/v4/users"}, ``, true, false, 0, "set base_url"},
		{"token echoed", "POST", "users", 400, nil, `{"message":"bad header PRIVATE-TOKEN ` + token + `"}`, true, false, 0, "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, raw := answer(tt.method, tt.path, tt.status, tt.header, tt.body)
			err := classify(resp, raw, token, base, now)
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("classify = %v; want an *Error", err)
			}
			hint, _ := fault.RetryAfterHint(err)
			if e.Status != tt.status || fault.IsPermanent(err) != tt.permanent || fault.IsAuth(err) != tt.auth || hint != tt.hint {
				t.Errorf("classify = %v: status %d permanent %v auth %v hint %v; want %d %v %v %v",
					err, e.Status, fault.IsPermanent(err), fault.IsAuth(err), hint, tt.status, tt.permanent, tt.auth, tt.hint)
			}
			if e.Method != tt.method || e.Path != tt.path {
				t.Errorf("request %s %s; want %s %s", e.Method, e.Path, tt.method, tt.path)
			}
			if !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), token) {
				t.Errorf("error %q; want it to say %q and never the token", err, tt.says)
			}
		})
	}
}

// A request that got no answer is transient and names no query; a 2xx
// answer client-go could not decode is permanent.
func TestClassifyTransport(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://gitlab.example.com/api/v4/")
	err := classify(nil, &url.Error{Op: "Get", URL: "https://gitlab.example.com/api/v4/users?search=ada%40example.com", Err: errors.New("connection refused")}, "tok", base, time.Now())
	if fault.IsPermanent(err) || !strings.Contains(err.Error(), "Get users: connection refused") || strings.Contains(err.Error(), "ada") {
		t.Fatalf("transport error = %v; want transient, the path without query", err)
	}
	ok := &gl.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}}}
	if err := classify(ok, errors.New("invalid character '<'"), "tok", base, time.Now()); !fault.IsPermanent(err) {
		t.Fatalf("undecodable answer = %v; want permanent", err)
	}
	if err := classify(nil, nil, "tok", base, time.Now()); err != nil {
		t.Fatalf("classify(nil) = %v", err)
	}
}

func FuzzWaitOf(f *testing.F) {
	f.Add(429, "30", "1800000040")
	f.Add(503, "", "")
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "x")
	f.Fuzz(func(t *testing.T, status int, retryAfter, reset string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("RateLimit-Reset", reset)
		wait := waitOf(status, h, time.Unix(1_800_000_000, 0))
		if wait < 0 || wait > maxRetryHint {
			t.Fatalf("wait %v out of bounds", wait)
		}
		if status == http.StatusTooManyRequests && wait == 0 {
			t.Fatal("a 429 without a wait")
		}
	})
}
