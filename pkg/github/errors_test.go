package github

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"

	"keycard/pkg/fault"
)

const secondaryDoc = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// answer is GitHub's response as go-github reads it.
func answer(status int, header map[string]string, body string) error {
	base, _ := url.Parse("https://api.github.com/")
	req := &http.Request{Method: http.MethodPut, URL: base.JoinPath("orgs/acme/memberships/ada")}
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	for k, v := range header {
		resp.Header.Set(k, v)
	}
	return gh.CheckResponse(resp)
}

// Every answer GitHub documents lands in its fault class with the wait it
// asks for.
func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	base, _ := url.Parse("https://api.github.com/")
	const token = "github_pat_0123456789abcdef"
	reset := strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		limit     Limit
		permanent bool
		hint      time.Duration
		says      string
	}{
		{"primary 403", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"message":"API rate limit exceeded for user ID 1."}`,
			PrimaryLimit, false, 30 * time.Second, "API rate limit exceeded"},
		{"primary 429", 429, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"message":"API rate limit exceeded"}`,
			PrimaryLimit, false, 30 * time.Second, "primary limit"},
		{"primary without reset", 403, map[string]string{"X-RateLimit-Remaining": "0"}, `{"message":"API rate limit exceeded"}`,
			PrimaryLimit, false, time.Minute, ""},
		{"primary reset passed", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}, `{}`,
			PrimaryLimit, false, time.Second, ""},
		{"secondary with retry-after", 403, map[string]string{"Retry-After": "20", "X-RateLimit-Remaining": "4000"},
			`{"message":"You have exceeded a secondary rate limit.","documentation_url":"` + secondaryDoc + `"}`, SecondaryLimit, false, 20 * time.Second, "secondary limit"},
		{"secondary without retry-after", 403, nil, `{"message":"You have exceeded a secondary rate limit.","documentation_url":"` + secondaryDoc + `"}`,
			SecondaryLimit, false, SecondaryWait, ""},
		{"old abuse message", 403, nil, `{"message":"You have triggered an abuse detection mechanism."}`, SecondaryLimit, false, SecondaryWait, ""},
		{"429 bare", 429, nil, ``, SecondaryLimit, false, SecondaryWait, ""},
		{"retry-after capped", 429, map[string]string{"Retry-After": "999999"}, `{}`, SecondaryLimit, false, maxRetryHint, ""},
		{"permission 403", 403, map[string]string{"X-RateLimit-Remaining": "4999"}, `{"message":"Resource not accessible by personal access token"}`,
			NoLimit, true, 0, "Resource not accessible"},
		{"invitation cap", 422, nil, `{"message":"Validation Failed","errors":[{"resource":"OrganizationInvitation","code":"unprocessable","field":"data","message":"Over invitation rate limit"}]}`,
			InvitationLimit, false, InvitationCapWait, "Over invitation rate limit"},
		{"validation", 422, nil, `{"message":"Validation Failed","errors":[{"resource":"OrganizationInvitation","code":"invalid","field":"email"}]}`,
			NoLimit, true, 0, "Validation Failed: email invalid"},
		{"not found", 404, nil, `{"message":"Not Found"}`, NoLimit, true, 0, "404 Not Found: Not Found"},
		{"bad credentials", 401, nil, `{"message":"Bad credentials"}`, NoLimit, true, 0, "token rejected"},
		{"server error", 500, nil, `{"message":"Server Error"}`, NoLimit, false, 0, ""},
		{"unavailable with retry-after", 503, map[string]string{"Retry-After": "3"}, `<html>`, NoLimit, false, 3 * time.Second, ""},
		{"timeout", 408, nil, ``, NoLimit, false, 0, ""},
		{"token echoed", 400, nil, `{"message":"bad header Bearer ` + token + `\n"}`, NoLimit, true, 0, "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify(answer(tt.status, tt.header, tt.body), token, base, now)
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("classify = %v; want an *Error", err)
			}
			hint, _ := fault.RetryAfterHint(err)
			if e.Status != tt.status || e.Limit != tt.limit || fault.IsPermanent(err) != tt.permanent || hint != tt.hint {
				t.Errorf("classify = %v: status %d limit %q permanent %v hint %v; want %d %q %v %v",
					err, e.Status, e.Limit, fault.IsPermanent(err), hint, tt.status, tt.limit, tt.permanent, tt.hint)
			}
			if e.Method != http.MethodPut || e.Path != "orgs/acme/memberships/ada" {
				t.Errorf("request %s %s; want PUT orgs/acme/memberships/ada", e.Method, e.Path)
			}
			if !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), token) {
				t.Errorf("error %q; want it to say %q and never the token", err, tt.says)
			}
		})
	}
}

// A request that got no answer is transient and names no query; an
// answer go-github could not read is permanent.
func TestClassifyTransport(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://ghe.example.com/api/v3/")
	err := classify(&url.Error{Op: "Get", URL: "https://ghe.example.com/api/v3/orgs/acme/invitations?page=2", Err: errors.New("connection refused")}, "tok", base, time.Now())
	if fault.IsPermanent(err) || !strings.Contains(err.Error(), "Get orgs/acme/invitations: connection refused") || strings.Contains(err.Error(), "page=2") {
		t.Fatalf("transport error = %v; want transient, the path without query", err)
	}
	if err := classify(errors.New("invalid character '<'"), "tok", base, time.Now()); !fault.IsPermanent(err) {
		t.Fatalf("undecodable answer = %v; want permanent", err)
	}
	if err := classify(nil, "tok", base, time.Now()); err != nil {
		t.Fatalf("classify(nil) = %v", err)
	}
}

func FuzzLimitOf(f *testing.F) {
	f.Add(403, "0", "1800000030", "", "API rate limit exceeded")
	f.Add(429, "", "", "7", "")
	f.Add(422, "", "", "", "Over invitation rate limit")
	f.Fuzz(func(t *testing.T, status int, remaining, reset, retryAfter, message string) {
		h := http.Header{}
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		h.Set("Retry-After", retryAfter)
		limit, wait := limitOf(status, h, message, time.Unix(1_800_000_000, 0))
		if wait < 0 || wait > maxRetryHint+InvitationCapWait {
			t.Fatalf("wait %v out of bounds", wait)
		}
		if limit != NoLimit && wait == 0 {
			t.Fatalf("limit %q without a wait", limit)
		}
	})
}

// A refused or under-privileged token pauses the app; a rate-limit 403
// does not.
func TestAuthClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Error
		want bool
	}{
		{Error{Status: 401}, true},
		{Error{Status: 403, Message: "Must have admin rights to Repository."}, true},
		{Error{Status: 403, Limit: SecondaryLimit}, false},
		{Error{Status: 403, Limit: PrimaryLimit}, false},
		{Error{Status: 404}, false},
		{Error{Status: 422, Limit: InvitationLimit}, false},
	}
	for _, tt := range tests {
		if got := fault.IsAuth(&tt.e); got != tt.want {
			t.Errorf("%d %s: IsAuth = %v, want %v", tt.e.Status, tt.e.Limit, got, tt.want)
		}
	}
}
