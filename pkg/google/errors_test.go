package google

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"keycard/pkg/fault"
)

// Google's answers map to fault classes: quota 403s, 429, 408 and 5xx are
// transient with Google's Retry-After; every other 4xx is permanent and
// names Google's reason.
func TestAPIErrorClasses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	withRetry := func(v string) http.Header { return http.Header{"Retry-After": []string{v}} }
	tests := []struct {
		name      string
		err       *googleapi.Error
		permanent bool
		throttled bool
		hint      time.Duration
		text      string
	}{
		{"user rate limit 403", &googleapi.Error{Code: 403, Message: "Quota exceeded", Errors: []googleapi.ErrorItem{{Reason: "userRateLimitExceeded"}}}, false, true, 0, "403 userRateLimitExceeded: Quota exceeded"},
		{"quota exceeded 403", &googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded", Message: "Concurrent limit"}}}, false, true, 0, "quotaExceeded: Concurrent limit"},
		{"rate limit 403 with Retry-After", &googleapi.Error{Code: 403, Header: withRetry("12"), Errors: []googleapi.ErrorItem{{Reason: "rateLimitExceeded"}}}, false, true, 12 * time.Second, "(retry after 12s)"},
		{"429 with an HTTP date", &googleapi.Error{Code: 429, Header: withRetry(now.Add(30 * time.Second).Format(http.TimeFormat))}, false, true, 30 * time.Second, "429"},
		{"Retry-After capped", &googleapi.Error{Code: 503, Header: withRetry("999999")}, false, false, maxRetryHint, "503"},
		{"429 with only an ErrorInfo", &googleapi.Error{Code: 429, Message: "Quota exceeded", Details: []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}}}, false, true, 0, "429 RATE_LIMIT_EXCEEDED"},
		{"403 with only an ErrorInfo quota reason", &googleapi.Error{Code: 403, Details: []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}}}, false, true, 0, "403 RATE_LIMIT_EXCEEDED"},
		{"500 backendError", &googleapi.Error{Code: 500, Errors: []googleapi.ErrorItem{{Reason: "backendError"}}}, false, false, 0, "500 backendError"},
		{"408", &googleapi.Error{Code: 408}, false, false, 0, "408 Request Timeout"},
		{"403 forbidden", &googleapi.Error{Code: 403, Message: "Not Authorized to access this resource/api", Errors: []googleapi.ErrorItem{{Reason: "forbidden"}}}, true, false, 0, "403 forbidden: Not Authorized"},
		{"403 insufficient scopes", &googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "insufficientPermissions"}}}, true, false, 0, "insufficientPermissions"},
		{"400 invalid", &googleapi.Error{Code: 400, Message: "Invalid Input: INVALID_OU_ID", Errors: []googleapi.ErrorItem{{Reason: "invalid"}}}, true, false, 0, "400 invalid: Invalid Input: INVALID_OU_ID"},
		{"404 with Retry-After is still permanent", &googleapi.Error{Code: 404, Header: withRetry("5")}, true, false, 0, "404"},
		{"409 duplicate", &googleapi.Error{Code: 409, Message: "Entity already exists.", Errors: []googleapi.ErrorItem{{Reason: "duplicate"}}}, true, false, 0, "409 duplicate"},
		{"412 conditionNotMet", &googleapi.Error{Code: 412, Errors: []googleapi.ErrorItem{{Reason: "conditionNotMet"}}}, true, false, 0, "412 conditionNotMet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			err := apiError(ctx, ctx, "users.insert", time.Second, tt.err, now)
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("apiError = %T %v; want *Error", err, err)
			}
			if got := fault.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent %v, want %v (%v)", got, tt.permanent, err)
			}
			if got := e.RateLimited(); got != tt.throttled {
				t.Errorf("rate limited %v, want %v", got, tt.throttled)
			}
			if hint, _ := fault.RetryAfterHint(err); hint != tt.hint {
				t.Errorf("retry hint %v, want %v", hint, tt.hint)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "google: users.insert: ") {
				t.Errorf("text %q; want it to name the method and hold %q", err, tt.text)
			}
		})
	}
}

// The token endpoint's refusals are permanent and say where to look; its
// 5xx is transient. Nothing of the body beyond Google's code and
// description is kept.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		status    int
		code      string
		permanent bool
		hint      string
	}{
		{http.StatusUnauthorized, "unauthorized_client", true, "Domain-wide delegation"},
		{http.StatusBadRequest, "invalid_grant", true, "admin_email"},
		{http.StatusUnauthorized, "unauthorized_client", true, "described"}, // as the JWT flow leaves it: only in the body
		{http.StatusServiceUnavailable, "", false, ""},
	}
	for i, tt := range tests {
		re := &oauth2.RetrieveError{
			Response: &http.Response{StatusCode: tt.status, Header: http.Header{}}, ErrorCode: tt.code, ErrorDescription: "described",
			Body: []byte(`{"error":"` + tt.code + `","error_description":"described","secret-ish":"body-only"}`),
		}
		if i == 3 {
			re.ErrorCode, re.ErrorDescription = "", ""
		}
		err := apiError(ctx, ctx, "users.get", time.Second, &url.Error{Op: "Get", URL: "https://admin.googleapis.com/admin/directory/v1/users/ada@example.com", Err: re}, time.Now())
		if fault.IsPermanent(err) != tt.permanent {
			t.Errorf("%d %s: permanent %v, want %v", tt.status, tt.code, !tt.permanent, tt.permanent)
		}
		for _, leak := range []string{"body-only", "ada@example.com"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%d %s: %q holds %q", tt.status, tt.code, err, leak)
			}
		}
		if !strings.Contains(err.Error(), tt.hint) {
			t.Errorf("%d %s: %q; want the hint %q", tt.status, tt.code, err, tt.hint)
		}
	}
}

// A request that got no answer is transient and its error holds no URL
// (the Directory API puts addresses in paths); the caller's own
// cancellation and the per-request timeout are told apart.
func TestNoAnswer(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Get", URL: "https://admin.googleapis.com/admin/directory/v1/users/ada@example.com", Err: errors.New("connection refused")}
	live := context.Background()
	expired, cancel := context.WithTimeout(live, 0)
	defer cancel()
	cancelled, stop := context.WithCancel(live)
	stop()
	tests := []struct {
		name      string
		ctx, actx context.Context
		want      string
		is        error
	}{
		{"network", live, live, "connection refused", nil},
		{"timeout", live, expired, "timed out after 1s", context.DeadlineExceeded},
		{"cancelled", cancelled, cancelled, "context canceled", context.Canceled},
	}
	for _, tt := range tests {
		err := apiError(tt.ctx, tt.actx, "users.get", time.Second, refused, time.Now())
		switch {
		case fault.IsPermanent(err):
			t.Errorf("%s: %v is permanent", tt.name, err)
		case !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "ada@"):
			t.Errorf("%s: %q; want %q and no address", tt.name, err, tt.want)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("%s: %v is not %v", tt.name, err, tt.is)
		}
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxMessageRunes+10)
	tests := []struct{ in, want string }{
		{"Entity already exists.", "Entity already exists."},
		{"line\none\r\n\ttwo\x00", "line one two"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{long, strings.Repeat("é", maxMessageRunes) + "…"},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A 401 or a refused service account pauses the app; a 403 about one
// resource and a quota answer do not.
func TestAuthClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Error
		want bool
	}{
		{Error{Op: "users.get", Status: 401}, true},
		{Error{Op: "token", Status: 400, Reason: "invalid_grant"}, true},
		{Error{Op: "token", Status: 401, Reason: "unauthorized_client"}, true},
		{Error{Op: "token", Status: 429}, false},
		{Error{Op: "token", Status: 503}, false},
		{Error{Op: "users.update", Status: 403, Reason: "forbidden"}, false},
		{Error{Op: "users.list", Status: 403, Reason: "userRateLimitExceeded"}, false},
	}
	for _, tt := range tests {
		if got := fault.IsAuth(&tt.e); got != tt.want {
			t.Errorf("%s %d %s: IsAuth = %v, want %v", tt.e.Op, tt.e.Status, tt.e.Reason, got, tt.want)
		}
	}
}
