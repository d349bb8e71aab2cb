package discord

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"keycard/pkg/fault"
)

// Every answer Discord documents lands in its fault class with the wait it
// asks for.
func TestAnswerError(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	const token = "MTA.bot-token-0123456789abcdef"
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		permanent bool
		auth      bool
		throttled bool
		hint      time.Duration
		scope     string
		says      string
	}{
		{"unauthorized", 401, nil, `{"message": "401: Unauthorized", "code": 0}`, true, true, false, 0, "", "bot token rejected"},
		{"missing access", 403, nil, `{"message": "Missing Access", "code": 50001}`, true, true, false, 0, "", "cannot see the guild"},
		{"missing permissions", 403, nil, `{"message": "Missing Permissions", "code": 50013}`, true, false, false, 0, "", "Missing Permissions (code 50013)"},
		{"unknown member", 404, nil, `{"message": "Unknown Member", "code": 10007}`, true, false, false, 0, "", "Unknown Member"},
		{"unknown role", 404, nil, `{"message": "Unknown Role", "code": 10011}`, true, false, false, 0, "", "code 10011"},
		{"invalid form body", 400, nil, `{"message": "Invalid Form Body", "code": 50035, "errors": {"max_age": {}}}`, true, false, false, 0, "", "Invalid Form Body"},
		{"route limit, float body", 429, map[string]string{"Retry-After": "1", "X-RateLimit-Scope": "user", "X-RateLimit-Remaining": "0"},
			`{"message": "You are being rate limited.", "retry_after": 0.123, "global": false}`, false, false, true, 123 * time.Millisecond, ScopeUser, "user rate limit"},
		{"route limit, long", 429, map[string]string{"Retry-After": "65", "X-RateLimit-Scope": "user"},
			`{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}`, false, false, true, 64570 * time.Millisecond, ScopeUser, ""},
		{"global in body", 429, map[string]string{"Retry-After": "2"}, `{"message": "You are being rate limited.", "retry_after": 1.5, "global": true}`,
			false, false, true, 1500 * time.Millisecond, ScopeGlobal, "global rate limit"},
		{"global in header", 429, map[string]string{"Retry-After": "3", "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}, `{}`,
			false, false, true, 3 * time.Second, ScopeGlobal, ""},
		{"shared resource", 429, map[string]string{"Retry-After": "1337", "X-RateLimit-Scope": "shared"},
			`{"message": "The resource is being rate limited.", "retry_after": 1336.57, "global": false}`, false, false, false, 1336570 * time.Millisecond, ScopeShared, "shared rate limit"},
		{"proxy 429 without body", 429, nil, `<html>`, false, false, true, time.Second, "", ""},
		{"retry capped", 429, nil, `{"retry_after": 1e9}`, false, false, true, maxRetryHint, "", ""},
		{"gateway unavailable", 502, nil, `<html>502</html>`, false, false, false, 0, "", "502 Bad Gateway"},
		{"unavailable with retry-after", 503, map[string]string{"Retry-After": "4"}, ``, false, false, false, 4 * time.Second, "", ""},
		{"server error", 500, nil, `{"message": "500: Internal Server Error", "code": 0}`, false, false, false, 0, "", ""},
		{"token echoed", 400, nil, `{"message": "bad header Bot ` + token + `", "code": 0}`, true, false, false, 0, "", "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			e := answerError("PUT guilds/{guild.id}/members/{user.id}/roles/{role.id}", tt.status, h, []byte(tt.body), token, now)
			var err error = e
			hint, _ := fault.RetryAfterHint(err)
			if fault.IsPermanent(err) != tt.permanent || fault.IsAuth(err) != tt.auth || e.Throttled() != tt.throttled || hint != tt.hint || e.Scope != tt.scope {
				t.Errorf("%v: permanent %v auth %v throttled %v hint %v scope %q; want %v %v %v %v %q",
					err, fault.IsPermanent(err), fault.IsAuth(err), e.Throttled(), hint, e.Scope, tt.permanent, tt.auth, tt.throttled, tt.hint, tt.scope)
			}
			if !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), token) {
				t.Errorf("error %q; want it to say %q and never the token", err, tt.says)
			}
			if !strings.Contains(err.Error(), "{role.id}") {
				t.Errorf("error %q does not name the route template", err)
			}
		})
	}
}

// A request that got no answer is transient and names the route, never
// the URL: an invite's path is the invite.
func TestTransportError(t *testing.T) {
	t.Parallel()
	err := transportError("DELETE invites/{invite.code}", &url.Error{Op: "Delete", URL: "https://discord.com/api/v10/invites/Secr3tCode", Err: errors.New("connection refused")})
	if fault.IsPermanent(err) || strings.Contains(err.Error(), "Secr3tCode") || !strings.Contains(err.Error(), "invites/{invite.code}: connection refused") {
		t.Fatalf("transport error = %v", err)
	}
}

func FuzzAnswerError(f *testing.F) {
	f.Add(429, "1", "user", "", `{"retry_after": 0.5, "global": false}`)
	f.Add(429, "", "", "true", `{"retry_after": -3}`)
	f.Add(403, "", "", "", `{"message": "Missing Access", "code": 50001}`)
	f.Fuzz(func(t *testing.T, status int, retry, scope, global, body string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		h.Set("X-RateLimit-Scope", scope)
		h.Set("X-RateLimit-Global", global)
		e := answerError("GET users/@me", status, h, []byte(body), "tok-0123456789", time.Unix(1_800_000_000, 0))
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryHint {
			t.Fatalf("wait %v out of bounds", e.RetryAfter)
		}
		if status == http.StatusTooManyRequests && e.RetryAfter == 0 {
			t.Fatal("a 429 without a wait")
		}
	})
}

func TestInviteRef(t *testing.T) {
	t.Parallel()
	d := inviteDigest("tok", "1", "abc")
	for _, ref := range []inviteRef{{digest: d}, {joined: true, expires: time.Unix(1_800_000_000, 0), digest: d}} {
		got, ok := parseInviteRef(ref.id())
		if !ok || got.id() != ref.id() {
			t.Errorf("parseInviteRef(%q) = %+v, %v", ref.id(), got, ok)
		}
	}
	for _, bad := range []string{"", "80351110224678912", "invite:", "invite:12:short", "invite:x:" + d, "invite:-1:" + d, "joined:1:" + strings.ToUpper(d)} {
		if _, ok := parseInviteRef(bad); ok {
			t.Errorf("parseInviteRef(%q) accepted", bad)
		}
	}
	if inviteDigest("tok", "1", "abc") == inviteDigest("other-token", "1", "abc") || strings.Contains(d, "abc") {
		t.Error("the digest does not depend on the token")
	}
}
