package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"keycard/pkg/fault"
	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// ErrorSchema is the schema URI of an RFC 7644 §3.12 error response.
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// maxRetryHint bounds the Retry-After we report, so a bogus far-future date
// cannot park a message for days.
const maxRetryHint = time.Hour

// Limits on what an error keeps of the server's words.
const (
	maxDetailRunes   = 300
	maxScimTypeBytes = 64
)

// ErrRecreate is returned by [Client.SetActive] when the profile's vendor
// has no way to switch a deprovisioned account back on except creating it
// again (see [ReactivateByCreate]). It is permanent: the caller must call
// [Client.CreateUser] instead of retrying.
var ErrRecreate = errors.New("scim: this vendor reactivates an account only by creating it again")

// Error is a non-2xx answer from a SCIM service provider, with the RFC 7644
// §3.12 error body if there was one. The client returns it wrapped in the
// error classes of package fault: [fault.Permanent] for errors a retry cannot
// fix, [fault.RetryAfter] for transient errors with a server delay, and
// bare (transient) otherwise; errors.As finds the *Error either way.
//
// Nothing in an Error comes from the request: no token, no filter (filters
// hold e-mail addresses), no body. Detail is the server's text, cleaned of
// control characters, shortened, and with the token redacted should the
// server echo it.
type Error struct {
	Status     int    // HTTP status code
	ScimType   string // RFC 7644 Table 9 detail error keyword ("uniqueness", "invalidFilter", …), if any
	Detail     string // human-readable detail from the body
	RetryAfter time.Duration

	Method string // request method
	Path   string // request path below the SCIM base URL, without query ("/Users/2819c223")

	// conflict is set when the profile says Status means "already exists"
	// for a create (GitLab's 412 for an inactive SCIM identity).
	conflict bool
	// transient is set when a profile signal marks the response transient
	// (Slack's resource_locked): then it is no conflict, whatever Status.
	transient bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("scim: ")
	if e.Method != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.Path)
	}
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusUnauthorized:
		b.WriteString(" (token rejected)")
	case http.StatusForbidden:
		b.WriteString(" (token lacks permission or plan lacks SCIM)")
	}
	if e.ScimType != "" {
		fmt.Fprintf(&b, " [%s]", e.ScimType)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Auth implements fault's auth class: a 401 (the token expired or was
// revoked) or a 403 (the token lacks the SCIM rights, or the plan lacks
// SCIM): the whole tenant refuses, so the worker pauses the app.
func (e *Error) Auth() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// IsConflict reports whether err is the provider saying the resource already
// exists: a 409 (RFC 7644 §3.3 scimType "uniqueness"), or the status the
// profile lists in CreateConflictStatus. The caller adopts the existing
// account: look it up by stored id, then by filter, and reactivate it if it
// is switched off (Slack and GitLab.com refuse to create over a deactivated
// account). A response the profile marks transient (Slack's
// resource_locked) is not a conflict.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.transient && (e.Status == http.StatusConflict || e.conflict)
}

// IsNotFound reports whether err is a 404: the resource does not exist, or
// (Atlassian) was deprovisioned with DELETE and is gone from SCIM for good.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsUnauthorized reports whether the provider rejected the token (401): it
// expired, was revoked, or its owner lost admin rights (Slack, GitHub EMU
// tokens are bound to a person). Alert on it; retrying does not help.
func IsUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}

// transientStatus reports whether a status is worth retrying whatever the
// vendor: 408, 429 and every 5xx (Notion's 529 included).
func transientStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// classify wraps e in its connector class.
func classify(e *Error, transient bool) error {
	if !transient {
		return fault.Permanent(e)
	}
	if e.RetryAfter > 0 {
		return fault.RetryAfter(e.RetryAfter, e)
	}
	return e
}

// parseError builds the *Error for a non-2xx response. It never fails: a
// body that is not a SCIM error leaves ScimType and Detail empty or holds a
// short plain-text excerpt.
func parseError(status int, h http.Header, body []byte, token string, now time.Time) *Error {
	e := &Error{Status: status}
	scimType, detail := decodeErrorBody(body)
	e.ScimType = cleanScimType(scimType)
	if redact.Secret(e.ScimType, token) != e.ScimType {
		e.ScimType = "" // a keyword-shaped token is still the token
	}
	e.Detail = redact.Text(detail, token, maxDetailRunes)
	e.RetryAfter = retryDelay(h, now)
	return e
}

// decodeErrorBody reads the error shapes the vendors use: RFC 7644 §3.12
// ({"schemas":[…Error], "status":"409", "scimType":…, "detail":…}), GitHub
// and Notion ({"message":…, "code":…}), Slack's SCIM 1.1 heritage
// ({"Errors":{"description":…,"code":…}} or a list of those), and OAuth
// style ({"error":…, "error_description":…}). Anything else that looks like
// short text is kept as the detail.
func decodeErrorBody(body []byte) (scimType, detail string) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return "", ""
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		if strings.HasPrefix(trimmed, "<") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
			return "", "" // an HTML error page or broken JSON says nothing useful
		}
		return "", trimmed
	}
	field := func(names ...string) string {
		for _, n := range names {
			for k, v := range raw {
				if !strings.EqualFold(k, n) {
					continue
				}
				if s, ok := jsonString(v); ok && s != "" {
					return s
				}
			}
		}
		return ""
	}
	scimType = field("scimType")
	detail = field("detail", "message", "error_description", "description")
	if detail == "" {
		for k, v := range raw {
			if !strings.EqualFold(k, "Errors") {
				continue
			}
			detail = slackErrors(v)
		}
	}
	if detail == "" {
		detail = field("error", "code")
	} else if code := field("code"); code != "" && !strings.Contains(detail, code) {
		detail = code + ": " + detail // Notion: {"code":"rate_limited","message":…}
	}
	return scimType, detail
}

// slackErrors reads {"description":…,"code":…} or a list of them.
func slackErrors(v json.RawMessage) string {
	type item struct {
		Description json.RawMessage `json:"description"`
	}
	var one item
	if json.Unmarshal(v, &one) == nil {
		s, _ := jsonString(one.Description)
		return s
	}
	var many []item
	if json.Unmarshal(v, &many) == nil {
		var parts []string
		for _, it := range many {
			if s, ok := jsonString(it.Description); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// jsonString returns a JSON string's value, or a number's text.
func jsonString(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// cleanScimType keeps a keyword-shaped scimType only.
func cleanScimType(s string) string {
	if len(s) > maxScimTypeBytes {
		return ""
	}
	for _, r := range s {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.')) {
			return ""
		}
	}
	return s
}

// retryDelay reads the server's delay: Retry-After as delay-seconds or an
// HTTP date (RFC 9110 §10.2.3), else GitHub-style X-RateLimit-Reset (epoch
// seconds) when X-RateLimit-Remaining is 0. It returns 0 for an absent,
// invalid or past value and caps the result at maxRetryHint.
func retryDelay(h http.Header, now time.Time) time.Duration {
	if d := retryafter.Parse(h.Get("Retry-After"), now, maxRetryHint); d > 0 {
		return d
	}
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
			d := time.Unix(secs, 0).Sub(now)
			return min(max(d, 0), maxRetryHint)
		}
	}
	return 0
}

// localError is an error the client finds before or instead of asking the
// server (a bad filter, a patch that selects nothing): permanent, shaped
// like the server's answer would be.
func localError(method, path string, status int, scimType, detail string) error {
	return fault.Permanent(&Error{Status: status, ScimType: scimType, Detail: detail, Method: method, Path: path})
}
