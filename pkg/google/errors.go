package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"keycard/pkg/retryafter"
)

// maxRetryHint bounds the Retry-After passed on, so a far-future value
// cannot park a message for days.
const maxRetryHint = time.Hour

// maxMessageRunes bounds what an error keeps of Google's words.
const maxMessageRunes = 300

// Google's reasons for a quota answer: the Directory API's 403s
// (userRateLimitExceeded for the per-user-per-project queries a minute,
// quotaExceeded for concurrent requests, rateLimitExceeded) and the 429
// of its newer front ends. All are worth retrying after a pause.
var rateLimitReasons = []string{"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded", "dailyLimitExceeded", "concurrentLimitExceeded", "RATE_LIMIT_EXCEEDED"}

// Error is Google's answer to one API request, or the token endpoint's
// refusal. It knows its class (fault's Permanent and RetryHint): a quota
// answer, a 429, a 408 or a 5xx is transient, with the Retry-After Google
// sent if any; any other 4xx is permanent.
//
// Nothing in it comes from the request: no key, no token, no address
// (the Directory API takes addresses in its paths). Message is Google's
// text, cleaned and shortened.
type Error struct {
	Op         string // the API method: "users.insert", "members.delete", "token"
	Status     int
	Reason     string // errors[0].reason: "duplicate", "notFound", "userRateLimitExceeded", …
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "google: %s: %d", e.Op, e.Status)
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	} else {
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// RateLimited reports whether Google said the quota is spent.
func (e *Error) RateLimited() bool {
	return e.Status == http.StatusTooManyRequests ||
		(e.Status == http.StatusForbidden && slices.Contains(rateLimitReasons, e.Reason))
}

// Permanent implements fault's class: a 4xx other than a quota answer,
// 408 or 429.
func (e *Error) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && !e.RateLimited()
}

// RetryHint is the delay Google asked for, on a transient answer.
func (e *Error) RetryHint() time.Duration {
	if e.Permanent() {
		return 0
	}
	return e.RetryAfter
}

// Auth implements fault's auth class: a 401, or the token endpoint
// refusing the service account (a deleted key, domain-wide delegation
// withdrawn). A 403 is not one: Google answers it for one resource too
// (a super admin Keycard may not change).
func (e *Error) Auth() bool {
	return e.Status == http.StatusUnauthorized || (e.Op == "token" && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests)
}

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is a 409: the user, the membership or
// the assignment exists already.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

func hasStatus(err error, status int) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == status
}

// apiError turns what the client library returned for op into Keycard's
// words: an *Error for an answer (the googleapi one, or the token
// endpoint's), a plain transient error for a request that got none. ctx
// is the caller's, actx the request's (with its timeout).
func apiError(ctx, actx context.Context, op string, timeout time.Duration, err error, now time.Time) error {
	if err == nil {
		return nil
	}
	if ge, ok := errors.AsType[*googleapi.Error](err); ok {
		e := &Error{Op: op, Status: ge.Code, Message: clean(ge.Message)}
		if len(ge.Errors) > 0 {
			e.Reason = ge.Errors[0].Reason
			if e.Message == "" {
				e.Message = clean(ge.Errors[0].Message)
			}
		}
		if e.Reason == "" {
			e.Reason = errorInfoReason(ge.Details)
		}
		if ge.Header != nil {
			e.RetryAfter = retryafter.Parse(ge.Header.Get("Retry-After"), now, maxRetryHint)
		}
		return e
	}
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		return tokenError(re, now)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("google: %s: %w", op, ctx.Err())
	case actx.Err() != nil:
		return fmt.Errorf("google: %s: timed out after %s: %w", op, timeout, context.DeadlineExceeded)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // the URL holds addresses
	}
	return fmt.Errorf("google: %s: %w", op, err)
}

// errorInfoReason is the reason of a google.rpc.ErrorInfo detail, which
// Google's newer front ends send instead of errors[] (RATE_LIMIT_EXCEEDED
// for a quota), or "".
func errorInfoReason(details []any) string {
	for _, d := range details {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		if t, _ := m["@type"].(string); strings.HasSuffix(t, "google.rpc.ErrorInfo") {
			if r, _ := m["reason"].(string); r != "" {
				return cleanCode(r)
			}
		}
	}
	return ""
}

// tokenError is the token endpoint's refusal. Its 400s and 401s are
// permanent and mean the key or the delegation is wrong; the message says
// where to look. The key never appears: Google's answer holds only an
// error code and a description.
func tokenError(re *oauth2.RetrieveError, now time.Time) *Error {
	code, desc := re.ErrorCode, re.ErrorDescription
	if code == "" {
		// The JWT flow leaves the body unparsed: read the two fields of
		// RFC 6749 §5.2, nothing else.
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Error, body.Description
		}
	}
	e := &Error{Op: "token", Status: http.StatusBadGateway, Reason: cleanCode(code), Message: clean(desc)}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
		e.RetryAfter = retryafter.Parse(re.Response.Header.Get("Retry-After"), now, maxRetryHint)
	}
	switch e.Reason {
	case "unauthorized_client":
		e.Message += " (authorise the service account's client id for every scope Keycard asks for under Admin console > Security > API controls > Domain-wide delegation)"
	case "invalid_grant":
		e.Message += " (check admin_email names an existing admin and the key is current)"
	}
	return e
}

// cleanCode keeps an error code (OAuth's invalid_grant, ErrorInfo's
// RATE_LIMIT_EXCEEDED) only if it looks like one.
func cleanCode(s string) string {
	if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		return ""
	}
	return s
}

// clean makes Google's text safe to log: valid UTF-8, no control
// characters, at most maxMessageRunes runes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxMessageRunes {
		s = string(r[:maxMessageRunes]) + "…"
	}
	return s
}
