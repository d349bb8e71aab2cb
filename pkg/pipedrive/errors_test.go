package pipedrive

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycard/pkg/fault"
)

// Every answer Pipedrive documents lands in its fault class with the wait
// it asks for; the credential's refusals are Auth.
func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	const token = "0123456789abcdef0123456789abcdef01234567"
	fail := func(msg string) string {
		return `{"success":false,"error":"` + msg + `","error_info":"Please check developers.pipedrive.com","data":null,"additional_data":null}`
	}
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		limit     Limit
		permanent bool
		auth      bool
		hint      time.Duration
		says      string
	}{
		{"bad token", 401, nil, `{"success":false,"error":"unauthorized access","errorCode":401,"error_info":"Please check developers.pipedrive.com"}`,
			NoLimit, true, true, 0, "API token rejected"},
		{"not an admin", 403, nil, fail("You do not have permissions to do this."), NoLimit, true, true, 0, "lacks the admin rights"},
		{"plan limit", 403, nil, `{"success":false,"error":"Couldn't add the deal. Open deals limit reached.","code":"feature_capping_deals_limit"}`,
			NoLimit, true, false, 0, "feature_capping_deals_limit"},
		{"edge block page", 403, nil, `<!DOCTYPE html><html><title>Attention Required! | Cloudflare</title>`, BlockedLimit, false, false, BlockedWait, "blocked limit"},
		{"burst with reset", 429, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "2", "X-Daily-Ratelimit-Token-Remaining": "29000"},
			fail("Request over limit"), BurstLimit, false, false, 2 * time.Second, "burst limit"},
		{"burst with retry-after", 429, map[string]string{"Retry-After": "7", "X-Ratelimit-Reset": "1"}, fail("Request over limit"), BurstLimit, false, false, 7 * time.Second, ""},
		{"burst bare", 429, nil, ``, BurstLimit, false, false, BurstWait, ""},
		{"burst reset capped", 429, map[string]string{"X-Ratelimit-Reset": "86400"}, ``, BurstLimit, false, false, maxBurstWait, ""},
		{"daily budget spent", 429, map[string]string{"X-Daily-Ratelimit-Token-Remaining": "0", "X-Ratelimit-Reset": "1"},
			fail("Request over limit"), DailyLimit, false, false, time.Hour, "daily limit"},
		{"daily writes spent", 429, map[string]string{"X-Daily-Requests-Left": "0"}, fail("Request over limit"), DailyLimit, false, false, time.Hour, ""},
		{"not found", 404, nil, fail("User not found or not accessible."), NoLimit, true, false, 0, "User not found"},
		{"bad request", 400, nil, fail("Email is not valid"), NoLimit, true, false, 0, "400 Bad Request: Email is not valid"},
		{"payment required", 402, nil, fail("Company account is not open"), NoLimit, true, false, 0, ""},
		{"server error", 500, nil, fail("Internal server error"), NoLimit, false, false, 0, ""},
		{"unavailable with retry-after", 503, map[string]string{"Retry-After": "3"}, `<html>`, NoLimit, false, false, 3 * time.Second, ""},
		{"timeout", 408, nil, ``, NoLimit, false, false, 0, ""},
		{"token echoed", 400, nil, fail("bad api_token " + token), NoLimit, true, false, 0, "[redacted]"},
		{"error info kept", 400, nil, `{"success":false,"error":"Validation failed","error_info":"email: must be unique"}`, NoLimit, true, false, 0, "Validation failed: email: must be unique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			err := classify(http.MethodPost, "users", tt.status, h, []byte(tt.body), token, now)
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("classify = %v; want an *Error", err)
			}
			hint, _ := fault.RetryAfterHint(err)
			if e.Status != tt.status || e.Limit != tt.limit || fault.IsPermanent(err) != tt.permanent || fault.IsAuth(err) != tt.auth || hint != tt.hint {
				t.Errorf("classify = %v: status %d limit %q permanent %v auth %v hint %v; want %d %q %v %v %v",
					err, e.Status, e.Limit, fault.IsPermanent(err), fault.IsAuth(err), hint, tt.status, tt.limit, tt.permanent, tt.auth, tt.hint)
			}
			if !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "POST users") {
				t.Errorf("error %q; want it to say %q, name the request and never the token", err, tt.says)
			}
		})
	}
}

// The daily budget's wait runs to the next midnight UTC, at least a
// minute (Pipedrive's server day may end a little later than UTC's).
func TestUntilMidnight(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		now  time.Time
		want time.Duration
	}{
		{time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
		{time.Date(2026, 12, 31, 18, 30, 0, 0, time.UTC), 5*time.Hour + 30*time.Minute},
		{time.Date(2026, 12, 4, 23, 59, 50, 0, time.UTC), minDailyWait},
		{time.Date(2026, 12, 4, 22, 0, 0, 0, time.FixedZone("CET", 3600)), 3 * time.Hour},
	} {
		h := http.Header{}
		h.Set("X-Daily-Ratelimit-Token-Remaining", "0")
		if limit, got := limitOf(http.StatusTooManyRequests, h, true, tt.now); limit != DailyLimit || got != tt.want {
			t.Errorf("at %s: %s %v; want daily %v", tt.now, limit, got, tt.want)
		}
	}
}

func FuzzLimitOf(f *testing.F) {
	f.Add(429, "0", "2", "", "")
	f.Add(429, "100", "1", "7", "")
	f.Add(403, "", "", "", "0")
	f.Fuzz(func(t *testing.T, status int, daily, reset, retryAfter, writes string) {
		h := http.Header{}
		h.Set("X-Daily-Ratelimit-Token-Remaining", daily)
		h.Set("X-Ratelimit-Reset", reset)
		h.Set("Retry-After", retryAfter)
		h.Set("X-Daily-Requests-Left", writes)
		limit, wait := limitOf(status, h, false, time.Unix(1_800_000_000, 0))
		if wait < 0 || wait > 24*time.Hour {
			t.Fatalf("wait %v out of bounds", wait)
		}
		if limit != NoLimit && wait == 0 {
			t.Fatalf("limit %q without a wait", limit)
		}
	})
}
