package bamboohr

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// ErrNotFound matches, with errors.Is, an *APIError for a 404: the employee
// does not exist (or was deleted).
var ErrNotFound = errors.New("bamboohr: not found")

// maxRetryHint bounds the Retry-After we report, so a bogus far-future date
// cannot park a message for days.
const maxRetryHint = time.Hour

// APIError is a non-2xx answer from BambooHR.
type APIError struct {
	Method     string
	Path       string // path of the request, without query
	StatusCode int
	// Message is BambooHR's x-bamboohr-error-message (or X-BambooHR-Message)
	// header, cleaned of control characters and shortened.
	Message string
	// RetryAfter is the server's Retry-After, zero when absent or unusable.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bamboohr: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString(" (API key rejected)")
	case http.StatusForbidden:
		b.WriteString(" (the API key's user lacks permission)")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Permanent reports whether repeating the request cannot succeed: any 4xx
// except 408 Request Timeout and 429 Too Many Requests.
func (e *APIError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// transient reports whether the client retries the request: 408, 429, 5xx.
func (e *APIError) transient() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
}

// RetryHint is the server's Retry-After, for [fault.RetryAfterHint].
func (e *APIError) RetryHint() time.Duration { return e.RetryAfter }

// transportError is a request that got no usable HTTP response: a network
// failure or an attempt that timed out. It is retried.
type transportError struct{ err error }

func (e *transportError) Error() string { return "bamboohr: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// retryable reports whether the client retries after err.
func retryable(err error) bool {
	var api *APIError
	if errors.As(err, &api) {
		return api.transient()
	}
	var t *transportError
	return errors.As(err, &t)
}

// cleanMessage makes a server-supplied message safe to log: no control
// characters, at most 300 runes, and never the API key (real keys are 40
// hex digits), neither as it is nor as the Basic credentials a proxy may
// echo from the Authorization header.
func cleanMessage(msg, apiKey string) string {
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(apiKey) >= 8 { // shorter test keys would redact ordinary words
		msg = strings.ReplaceAll(msg, apiKey, "[redacted]")
		msg = strings.ReplaceAll(msg, base64.StdEncoding.EncodeToString([]byte(apiKey+":x")), "[redacted]")
	}
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return msg
}
