package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// The waits GitLab's answers ask for, where they name none.
const (
	// maxRetryHint bounds a wait read from a header, so a bogus value
	// cannot park a message for days (GitLab's throttle periods are
	// admin-set; an hour is the documented default).
	maxRetryHint = time.Hour
	// ThrottleWait is the wait after a 429 without Retry-After or
	// RateLimit-Reset: an application rate limit ("This endpoint has been
	// requested too many times"), whose window is a minute for the
	// endpoints Keycard calls.
	ThrottleWait = time.Minute
)

// maxMessageRunes bounds what an error keeps of GitLab's words.
const maxMessageRunes = 300

// Error is a non-2xx answer from GitLab. The connector returns it wrapped
// in the classes of package fault: Permanent for a 4xx no retry fixes,
// RetryAfter for a 429 and for a 5xx that names a wait, bare (transient)
// otherwise; errors.As finds the *Error either way. Auth reports a 401, or
// a 403 that means the token is not an administrator's.
//
// Nothing in an Error comes from the request body (users carry e-mail
// addresses) or its headers (the token): Message is GitLab's text, cleaned
// of control characters, shortened, and with the token redacted should
// GitLab echo it.
type Error struct {
	Status     int
	Method     string
	Path       string // below /api/v4/, without query: "users/42/block"
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitlab: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	switch {
	case e.Status == http.StatusUnauthorized:
		b.WriteString(" (token rejected: expired, revoked or not for this instance)")
	case e.Auth():
		b.WriteString(" (the token is not an administrator's, or lacks the api scope)")
	case e.Status >= 300 && e.Status < 400:
		b.WriteString(" (redirected: set base_url to the instance's final https address)")
	}
	if e.Message != "" && e.Message != strconv.Itoa(e.Status)+" "+http.StatusText(e.Status) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Permanent reports whether no retry can fix the answer: a 4xx other than
// 408 and 429, or a redirect (the connector follows none: the token would
// go with it; base_url must be the instance's final https address).
func (e *Error) Permanent() bool {
	return e.Status >= 300 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// RetryHint is the wait GitLab asked for.
func (e *Error) RetryHint() time.Duration { return e.RetryAfter }

// Throttled reports whether the answer is a rate limit (429).
func (e *Error) Throttled() bool { return e.Status == http.StatusTooManyRequests }

// Auth reports whether GitLab refused the credential rather than the
// request: 401, or the bare "403 Forbidden" of an administrator-only users
// endpoint (authenticated_as_admin!). A 403 with a reason ("LDAP blocked
// users cannot be modified by the API") is about one user, and a 403 on a
// group's members (the last owner of a group) about one group: neither is
// Auth.
func (e *Error) Auth() bool {
	if e.Status == http.StatusUnauthorized {
		return true
	}
	return e.Status == http.StatusForbidden && e.Message == "403 Forbidden" &&
		(e.Path == "user" || e.Path == "users" || strings.HasPrefix(e.Path, "users/"))
}

// IsNotFound reports whether err is GitLab's 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is GitLab's 409 whose message contains
// words ("" any).
func IsConflict(err error, words string) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusConflict && strings.Contains(strings.ToLower(e.Message), strings.ToLower(words))
}

// isInvalid reports whether err is a 400 whose message contains words.
func isInvalid(err error, words string) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), strings.ToLower(words))
}

// isForbidden reports whether err is a 403 whose message contains words.
func isForbidden(err error, words string) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), strings.ToLower(words))
}

func hasStatus(err error, status int) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == status
}

// classify turns what client-go returned into Keycard's error classes. An
// answer from GitLab becomes an *Error (which carries its class); a
// transport failure (timeout, refused connection) is transient, without
// the URL's query; a 2xx body that does not decode is permanent.
func classify(resp *gl.Response, err error, token string, base *url.URL, now time.Time) error {
	if err == nil {
		return nil
	}
	if resp == nil || resp.Response == nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			path := ""
			if u, perr := url.Parse(ue.URL); perr == nil {
				path = strings.TrimPrefix(u.Path, base.Path)
			}
			return fmt.Errorf("gitlab: %s %s: %w", ue.Op, path, ue.Err)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("gitlab: %s", redact.Text(err.Error(), token, maxMessageRunes))
	}
	r := resp.Response
	if r.StatusCode < 300 {
		return &decodeError{fmt.Errorf("gitlab: an answer that does not decode: %s", redact.Text(err.Error(), token, maxMessageRunes))}
	}
	e := &Error{Status: r.StatusCode, Message: redact.Text(message(err), token, maxMessageRunes)}
	if r.Request != nil {
		e.Method = r.Request.Method
		e.Path = strings.TrimPrefix(r.Request.URL.EscapedPath(), base.EscapedPath())
	}
	e.RetryAfter = waitOf(r.StatusCode, r.Header, now)
	return e
}

// decodeError is a 2xx answer client-go could not read: permanent.
type decodeError struct{ err error }

func (e *decodeError) Error() string   { return e.err.Error() }
func (e *decodeError) Unwrap() error   { return e.err }
func (e *decodeError) Permanent() bool { return true }

// waitOf is the wait an answer asks for: a 429's Retry-After, else its
// RateLimit-Reset, else ThrottleWait; a 5xx's Retry-After; none otherwise.
func waitOf(status int, h http.Header, now time.Time) time.Duration {
	after := retryafter.Parse(h.Get("Retry-After"), now, maxRetryHint)
	if status != http.StatusTooManyRequests {
		if status >= 500 {
			return after
		}
		return 0
	}
	if after > 0 {
		return after
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("RateLimit-Reset")), 10, 64); err == nil {
		return min(max(time.Unix(secs, 0).Sub(now), time.Second), maxRetryHint)
	}
	return ThrottleWait
}

// message is GitLab's text in an error answer, in any of its shapes:
// {"message": "…"}, {"message": {"field": ["…"]}}, {"error": "…"}, or
// plain text (the throttle's "Retry later"). A 404 comes back from
// client-go as ErrNotFound without its body.
func message(err error) string {
	if errors.Is(err, gl.ErrNotFound) {
		return "404 Not Found"
	}
	er, ok := errors.AsType[*gl.ErrorResponse](err)
	if !ok {
		return ""
	}
	var body struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	if json.Unmarshal(er.Body, &body) != nil {
		return strings.TrimSpace(string(er.Body))
	}
	var text string
	if json.Unmarshal(body.Message, &text) == nil && text != "" {
		return text
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body.Message, &fields) == nil && len(fields) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			var list []string
			if json.Unmarshal(fields[k], &list) != nil {
				var one string
				_ = json.Unmarshal(fields[k], &one)
				list = []string{one}
			}
			parts = append(parts, k+" "+strings.Join(list, ", "))
		}
		return strings.Join(parts, "; ")
	}
	return body.Error
}
