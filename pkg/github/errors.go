package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"keycard/pkg/fault"
	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// The waits GitHub's answers ask for, where they name none.
const (
	// maxRetryHint bounds a wait read from a header, so a bogus value
	// cannot park a message for days (a primary window is an hour).
	maxRetryHint = time.Hour
	// SecondaryWait is the wait after a secondary rate limit without
	// retry-after: GitHub says "wait for at least one minute".
	SecondaryWait = time.Minute
	// InvitationCapWait is the wait after the invitation cap (50 or 500
	// invitations in a rolling 24 hours): at the worker's default of 12
	// deliveries, 2 h apart covers a whole day before the hire is
	// dead-lettered. The pace of the other writes is not cut: removals and
	// team changes are not invitations.
	InvitationCapWait = 2 * time.Hour
)

// Limit names the GitHub limit an answer reports.
type Limit string

const (
	NoLimit         Limit = ""
	PrimaryLimit    Limit = "primary"     // x-ratelimit-remaining: 0
	SecondaryLimit  Limit = "secondary"   // retry-after, or GitHub's secondary-limit message
	InvitationLimit Limit = "invitations" // 422 "Over invitation rate limit"
)

// maxMessageRunes bounds what an error keeps of GitHub's words.
const maxMessageRunes = 300

// Error is a non-2xx answer from GitHub. The connector returns it wrapped
// in the classes of package fault: permanent for a 4xx no retry fixes,
// fault.RetryAfter for rate limits and 5xx answers that name a wait, bare
// (transient) otherwise; errors.As finds the *Error either way.
//
// Nothing in an Error comes from the request body (invitations carry
// e-mail addresses) or its headers (the token): Message is GitHub's text,
// cleaned of control characters, shortened, and with the token redacted
// should GitHub echo it.
type Error struct {
	Status     int
	Method     string
	Path       string // below the API root, without query: "orgs/acme/memberships/ada"
	Message    string // GitHub's message and its errors' messages
	Limit      Limit
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "github: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusUnauthorized {
		b.WriteString(" (token rejected: expired, revoked or not for this host)")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Limit != NoLimit {
		fmt.Fprintf(&b, " [%s limit]", e.Limit)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Throttled reports whether the answer is one of the token's rate limits
// (primary or secondary), which pause every write to the app; the
// invitation cap pauses only invitations and is not one.
func (e *Error) Throttled() bool { return e.Limit == PrimaryLimit || e.Limit == SecondaryLimit }

// Auth implements fault's auth class: a 401 (the token expired, was
// revoked or is not for this host), or a 403 that is no rate limit (the
// token's owner is no longer an organisation owner, or it lacks a scope).
func (e *Error) Auth() bool {
	return e.Status == http.StatusUnauthorized || (e.Status == http.StatusForbidden && e.Limit == NoLimit)
}

// IsNotFound reports whether err is GitHub's 404.
func IsNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusNotFound
}

// isValidation reports whether err is a 422 whose message contains one of
// words (case-insensitive).
func isValidation(err error, words ...string) bool {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Status != http.StatusUnprocessableEntity {
		return false
	}
	msg := strings.ToLower(e.Message)
	for _, w := range words {
		if strings.Contains(msg, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// classify turns what go-github returned into Keycard's error classes. An
// answer from GitHub becomes an *Error; a transport failure (timeout,
// refused connection) is transient, without the URL's query.
func classify(err error, token string, base *url.URL, now time.Time) error {
	if err == nil {
		return nil
	}
	resp, message := response(err)
	if resp == nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			u, _ := url.Parse(ue.URL)
			path := ""
			if u != nil {
				path = strings.TrimPrefix(u.Path, base.Path)
			}
			return fmt.Errorf("github: %s %s: %w", ue.Op, path, ue.Err)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// An answer go-github could not read (a 2xx body that is not
		// JSON) will read no better on retry.
		return fault.Permanent(fmt.Errorf("github: %w", err))
	}
	e := &Error{Status: resp.StatusCode, Message: redact.Text(message, token, maxMessageRunes)}
	if resp.Request != nil {
		e.Method, e.Path = resp.Request.Method, strings.TrimPrefix(resp.Request.URL.Path, base.Path)
	}
	e.Limit, e.RetryAfter = limitOf(resp.StatusCode, resp.Header, e.Message, now)
	switch {
	case e.Limit != NoLimit || e.Status == http.StatusRequestTimeout || e.Status >= 500:
		if e.RetryAfter > 0 {
			return fault.RetryAfter(e.RetryAfter, e)
		}
		return e
	default:
		return fault.Permanent(e)
	}
}

// limitOf reads which limit an answer reports and the wait it asks for.
// GitHub's rules (rate limits for the REST API): the primary limit is a
// 403 or 429 with x-ratelimit-remaining 0, over until x-ratelimit-reset; a
// secondary limit is a 403 or 429 with retry-after (or GitHub's
// secondary-limit message without one: wait a minute); a 429 is always a
// limit; a 5xx may carry retry-after. The invitation cap is a 422.
func limitOf(status int, h http.Header, message string, now time.Time) (Limit, time.Duration) {
	after := retryafter.Parse(h.Get("Retry-After"), now, maxRetryHint)
	limited := status == http.StatusForbidden || status == http.StatusTooManyRequests
	lower := strings.ToLower(message)
	switch {
	case limited && strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0":
		if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
			return PrimaryLimit, min(max(time.Unix(secs, 0).Sub(now), time.Second), maxRetryHint)
		}
		if after == 0 {
			after = SecondaryWait
		}
		return PrimaryLimit, after
	case limited && (after > 0 || strings.Contains(lower, "secondary rate limit") || strings.Contains(lower, "abuse")):
		if after == 0 {
			after = SecondaryWait
		}
		return SecondaryLimit, after
	case status == http.StatusTooManyRequests:
		return SecondaryLimit, SecondaryWait
	case status == http.StatusUnprocessableEntity && strings.Contains(lower, "over invitation rate limit"):
		return InvitationLimit, InvitationCapWait
	}
	return NoLimit, after
}

// response finds GitHub's answer in a go-github error, and its message
// with the detail of each of its errors.
func response(err error) (*http.Response, string) {
	if e, ok := errors.AsType[*gh.ErrorResponse](err); ok {
		parts := []string{e.Message}
		for _, d := range e.Errors {
			switch {
			case d.Message != "":
				parts = append(parts, d.Message)
			case d.Field != "" || d.Code != "":
				parts = append(parts, strings.TrimSpace(d.Field+" "+d.Code))
			}
		}
		return e.Response, strings.Join(parts, ": ")
	}
	if e, ok := errors.AsType[*gh.RateLimitError](err); ok {
		return e.Response, e.Message
	}
	if e, ok := errors.AsType[*gh.AbuseRateLimitError](err); ok {
		return e.Response, e.Message
	}
	if e, ok := errors.AsType[*gh.TwoFactorAuthError](err); ok {
		return e.Response, e.Message
	}
	return nil, ""
}
