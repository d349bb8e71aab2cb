package pipedrive

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// The waits Pipedrive's answers ask for, where they name none.
const (
	// BurstWait is the wait after a burst-limit 429 without retry-after or
	// x-ratelimit-reset: the burst window is 2 seconds.
	BurstWait = 2 * time.Second
	// maxBurstWait bounds a burst wait read from a header.
	maxBurstWait = time.Minute
	// BlockedWait is the wait after the 403 page Pipedrive's edge answers
	// with to a token that kept sending after 429s (HTML, not JSON): its
	// length is not documented.
	BlockedWait = 5 * time.Minute
	// minDailyWait is the least wait for the daily budget: the reset is at
	// midnight in Pipedrive's server time zone, which may not be UTC.
	minDailyWait = time.Minute
)

// Limit names the Pipedrive limit an answer reports.
type Limit string

const (
	NoLimit      Limit = ""
	BurstLimit   Limit = "burst"   // 429: the token's requests per 2-second window
	DailyLimit   Limit = "daily"   // 429 with x-daily-ratelimit-token-remaining 0: the company's daily token budget
	BlockedLimit Limit = "blocked" // 403 that is not Pipedrive's JSON: the edge blocks a token that ignored 429s
)

// maxMessageRunes bounds what an error keeps of Pipedrive's words.
const maxMessageRunes = 300

// Error is a non-2xx answer from Pipedrive (or a 2xx whose envelope says
// success false). The connector returns it wrapped in the classes of
// package fault: permanent for a 4xx no retry fixes, fault.RetryAfter for
// the limits and 5xx answers that name a wait, bare (transient)
// otherwise; errors.As finds the *Error either way.
//
// Nothing in an Error comes from the request (its query carries e-mail
// addresses, its header the token): Message is Pipedrive's error and
// error_info, cleaned of control characters, shortened, and with the token
// redacted should Pipedrive echo it.
type Error struct {
	Status     int
	Method     string
	Path       string // below the API root, without query: "users/42"
	Message    string
	Code       string // Pipedrive's "code" ("feature_capping_…"), when sent
	Limit      Limit
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipedrive: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	switch {
	case e.Status == http.StatusUnauthorized:
		b.WriteString(" (API token rejected: regenerated, or its user deactivated)")
	case e.Auth():
		b.WriteString(" (the token's user lacks the admin rights user management needs)")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " [%s]", e.Code)
	}
	if e.Limit != NoLimit {
		fmt.Fprintf(&b, " [%s limit]", e.Limit)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Auth reports whether Pipedrive refused the credential itself: a 401 (a
// regenerated token, or its user deactivated), or a 403 permission
// refusal, which for the user-management endpoints Keycard calls means the
// token's user is no admin, for every user of the company. A 403 naming a
// plan limit (code) or the edge's block page is not one.
func (e *Error) Auth() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden && e.Limit == NoLimit && e.Code == ""
}

// Throttled reports whether the answer is one of the token's limits,
// which pause every write to the app.
func (e *Error) Throttled() bool { return e.Limit != NoLimit }

// permanent reports whether no retry can fix the answer.
func (e *Error) permanent() bool {
	return e.Limit == NoLimit && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout
}

// envelope is Pipedrive's answer: {"success", "data", "additional_data"}
// or, failing, {"success": false, "error", "error_info"}.
type envelope struct {
	Success        bool            `json:"success"`
	Data           json.RawMessage `json:"data"`
	AdditionalData *struct {
		Pagination *pagination `json:"pagination"`
	} `json:"additional_data"`
	Error     string          `json:"error"`
	ErrorInfo string          `json:"error_info"`
	Code      json.RawMessage `json:"code"`
}

// pagination is a v1 list's additional_data.pagination.
type pagination struct {
	Start     int  `json:"start"`
	Limit     int  `json:"limit"`
	More      bool `json:"more_items_in_collection"`
	NextStart *int `json:"next_start"`
}

// classify turns an answer that is not a success into an *Error in its
// fault class. body is what was read of it.
func classify(method, path string, status int, h http.Header, body []byte, token string, now time.Time) error {
	e := &Error{Status: status, Method: method, Path: path}
	var env envelope
	isJSON := json.Unmarshal(body, &env) == nil
	switch {
	case isJSON:
		msg := env.Error
		if env.ErrorInfo != "" && !strings.Contains(env.ErrorInfo, "developers.pipedrive.com") {
			msg += ": " + env.ErrorInfo // error_info is mostly a pointer to the docs
		}
		e.Message = redact.Text(msg, token, maxMessageRunes)
		var code string
		if json.Unmarshal(env.Code, &code) == nil {
			e.Code = redact.Text(code, token, 80)
		}
	default:
		e.Message = redact.Text(string(body), token, 120)
	}
	e.Limit, e.RetryAfter = limitOf(status, h, isJSON, now)
	switch {
	case e.permanent():
		return fault.Permanent(e)
	case e.RetryAfter > 0:
		return fault.RetryAfter(e.RetryAfter, e)
	default:
		return e
	}
}

// limitOf reads which limit an answer reports and the wait it asks for.
// Pipedrive's rules (Rate limiting): a 429 is the burst limit, over after
// x-ratelimit-reset seconds (or retry-after), unless the company's daily
// token budget is spent (x-daily-ratelimit-token-remaining 0, or the
// POST/PUT fair-use count x-daily-requests-left 0): then every request is
// refused until the budget resets at midnight server time, which the
// answer does not give, so the wait runs to the next midnight UTC. A 403
// that is not JSON is the block page for a token that went on after 429s.
// A 5xx may carry retry-after.
func limitOf(status int, h http.Header, isJSON bool, now time.Time) (Limit, time.Duration) {
	after := retryafter.Parse(h.Get("Retry-After"), now, maxBurstWait)
	switch {
	case status == http.StatusTooManyRequests && (header(h, "X-Daily-Ratelimit-Token-Remaining") == "0" || header(h, "X-Daily-Requests-Left") == "0"):
		return DailyLimit, max(untilMidnight(now), minDailyWait)
	case status == http.StatusTooManyRequests:
		if secs, err := strconv.Atoi(header(h, "X-Ratelimit-Reset")); err == nil && secs > 0 {
			after = max(after, min(time.Duration(secs)*time.Second, maxBurstWait))
		}
		if after == 0 {
			after = BurstWait
		}
		return BurstLimit, after
	case status == http.StatusForbidden && !isJSON:
		return BlockedLimit, BlockedWait
	}
	return NoLimit, after
}

func header(h http.Header, key string) string { return strings.TrimSpace(h.Get(key)) }

// untilMidnight is the time to the next midnight UTC.
func untilMidnight(now time.Time) time.Duration {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
}
