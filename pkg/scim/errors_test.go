package scim

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"keycard/pkg/fault"
)

const fuzzToken = "xoxp-1234567890-secret"

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body       string
		scimType, detail string
	}{
		{"rfc 7644", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"User already exists"}`,
			"uniqueness", "User already exists"},
		{"numeric status", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":404,"detail":"not found"}`,
			"", "not found"},
		{"slack 1.1 style", `{"Errors":{"description":"email_taken","code":409}}`, "", "email_taken"},
		{"slack list", `{"Errors":[{"description":"a"},{"description":"b"}]}`, "", "a; b"},
		{"notion", `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`, "", "rate_limited: slow down"},
		{"github", `{"message":"Bad credentials","documentation_url":"https://docs.github.com"}`, "", "Bad credentials"},
		{"oauth", `{"error":"invalid_token"}`, "", "invalid_token"},
		{"html page", `<html><body>Bad Gateway</body></html>`, "", ""},
		{"plain text", "upstream\nreset", "", "upstream reset"},
		{"empty", ``, "", ""},
		{"hostile scimType", `{"scimType":"uniq\"ueness<script>","detail":"x"}`, "", "x"},
		{"control chars", "{\"detail\":\"a\\u0000b\\u001bc\\u2028d\"}", "", "a b c d"},
		{"token echoed", `{"detail":"token xoxp-1234567890-secret is revoked"}`, "", "token [redacted] is revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := parseError(400, http.Header{}, []byte(tt.body), fuzzToken, time.Now())
			if e.ScimType != tt.scimType || e.Detail != tt.detail {
				t.Errorf("got scimType %q detail %q, want %q %q", e.ScimType, e.Detail, tt.scimType, tt.detail)
			}
		})
	}
}

func TestDetailTruncated(t *testing.T) {
	t.Parallel()
	e := parseError(400, nil, []byte(`{"detail":"`+strings.Repeat("é", 1000)+`"}`), "", time.Now())
	if n := utf8.RuneCountInString(e.Detail); n != maxDetailRunes+1 {
		t.Errorf("detail has %d runes, want %d", n, maxDetailRunes+1)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		{"http date", http.Header{"Retry-After": {"Wed, 25 Nov 2026 18:01:30 GMT"}}, 90 * time.Second},
		{"rfc 850 date", http.Header{"Retry-After": {"Wednesday, 25-Nov-26 18:00:10 GMT"}}, 10 * time.Second},
		{"past date", http.Header{"Retry-After": {"Wed, 25 Nov 2026 17:00:00 GMT"}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"huge capped", http.Header{"Retry-After": {"99999999999999999999"}}, 0},
		{"capped", http.Header{"Retry-After": {"86400"}}, maxRetryHint},
		{"github reset", http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1795629660"}}, 60 * time.Second},
		{"reset without exhaustion ignored", http.Header{"X-Ratelimit-Remaining": {"10"}, "X-Ratelimit-Reset": {"1795629660"}}, 0},
		{"none", http.Header{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := retryDelay(tt.h, now); got != tt.want {
				t.Errorf("retryDelay = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	e := &Error{Status: 429, RetryAfter: 5 * time.Second}
	err := classify(e, true)
	if d, ok := fault.RetryAfterHint(err); !ok || d != 5*time.Second {
		t.Errorf("hint = %s %v", d, ok)
	}
	if fault.IsPermanent(classify(&Error{Status: 503}, true)) {
		t.Errorf("503 permanent")
	}
	if !fault.IsPermanent(classify(&Error{Status: 400}, false)) {
		t.Errorf("400 not permanent")
	}
	var got *Error
	if !errors.As(err, &got) || got != e {
		t.Errorf("errors.As lost the *Error")
	}
}

// FuzzErrorBody checks the error parser on arbitrary bodies and headers: no
// panic, bounded and printable text, and never the token.
func FuzzErrorBody(f *testing.F) {
	f.Add(409, []byte(`{"schemas":["`+ErrorSchema+`"],"status":"409","scimType":"uniqueness","detail":"exists"}`), "")
	f.Add(429, []byte(`{"Errors":{"description":"rate_limited","code":429}}`), "7")
	f.Add(403, []byte(`{"message":"`+fuzzToken+`"}`), "Wed, 25 Nov 2026 18:00:30 GMT")
	f.Add(500, []byte("<html>"), "-1")
	f.Add(400, []byte(`{"detail":["not","a","string"],"scimType":7}`), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
		h := http.Header{"Retry-After": {retryAfter}}
		// Plant the token so redaction is always exercised.
		withToken := append(append([]byte(nil), body...), []byte(fuzzToken)...)
		for _, b := range [][]byte{body, withToken} {
			e := parseError(status, h, b, fuzzToken, now)
			e.Method, e.Path = "POST", "/Users"
			msg := e.Error()
			if strings.Contains(msg, fuzzToken) {
				t.Fatalf("token in error: %s", msg)
			}
			if !utf8.ValidString(e.Detail) || utf8.RuneCountInString(e.Detail) > maxDetailRunes+1 {
				t.Fatalf("detail not bounded UTF-8: %q", e.Detail)
			}
			for _, r := range e.Detail + e.ScimType {
				if unicode.IsControl(r) {
					t.Fatalf("control character in %q / %q", e.Detail, e.ScimType)
				}
			}
			if len(e.ScimType) > maxScimTypeBytes {
				t.Fatalf("scimType too long")
			}
			if e.RetryAfter < 0 || e.RetryAfter > maxRetryHint {
				t.Fatalf("retry after %s out of range", e.RetryAfter)
			}
			_ = classify(e, transientStatus(status))
		}
	})
}

// A refused token is the tenant's answer, not the event's: the worker
// pauses the app on it (fault.IsAuth) instead of dead-lettering.
func TestAuthClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{401: true, 403: true, 404: false, 409: false, 429: false, 503: false} {
		err := classify(&Error{Status: status}, transientStatus(status))
		if got := fault.IsAuth(err); got != want {
			t.Errorf("%d: IsAuth = %v, want %v", status, got, want)
		}
	}
}
