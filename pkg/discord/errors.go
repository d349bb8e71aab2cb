package discord

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// Discord's JSON error codes the connector acts on
// (docs/topics/opcodes-and-status-codes).
const (
	CodeUnknownChannel     = 10003
	CodeUnknownGuild       = 10004
	CodeUnknownInvite      = 10006
	CodeUnknownMember      = 10007
	CodeUnknownRole        = 10011
	CodeUnknownUser        = 10013
	CodeUnauthorized       = 40001
	CodeMissingAccess      = 50001
	CodeMissingPermissions = 50013
	CodeInvalidFormBody    = 50035
)

// Scopes of a 429 (X-RateLimit-Scope).
const (
	ScopeUser   = "user"   // the bot's limit on this route
	ScopeGlobal = "global" // the bot's 50 requests a second
	ScopeShared = "shared" // the resource's limit, shared by everyone using it
)

// maxRetryHint bounds a wait read from an answer, so a bogus value cannot
// park a message for days.
const maxRetryHint = time.Hour

// maxMessageRunes bounds what an error keeps of Discord's words.
const maxMessageRunes = 300

// Error is a non-2xx answer from Discord. Its methods give its class
// (package fault): Permanent for a 4xx no retry fixes, RetryHint for a
// rate limit and a 5xx that names a wait, Auth for an answer that says the
// bot token is refused or the bot cannot reach the guild at all.
//
// Route is the endpoint's template ("PUT guilds/{guild.id}/members/
// {user.id}/roles/{role.id}"), never the path: an invite's path holds its
// code, which is as good as the invite. Message is Discord's, cleaned,
// shortened, and with the token redacted should Discord echo it.
type Error struct {
	Status     int
	Code       int // Discord's JSON code; 0 when it sent none
	Route      string
	Message    string
	RetryAfter time.Duration
	Scope      string // a 429's X-RateLimit-Scope; "global" also for X-RateLimit-Global
	// Local marks a refusal made here, before sending: the route's
	// bucket (from Discord's headers) is spent for longer than the
	// connector waits inline, so the worker waits instead.
	Local bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discord: %s: %d %s", e.Route, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		b.WriteString(" [bot token rejected: reset, revoked, or not a bot token]")
	case e.Code == CodeMissingAccess:
		b.WriteString(" [the bot cannot see the guild or channel, or lacks the GUILD_MEMBERS intent]")
	}
	if e.Status == http.StatusTooManyRequests {
		fmt.Fprintf(&b, " [%s rate limit", cmp.Or(e.Scope, ScopeUser))
		if e.Local {
			b.WriteString(", not sent")
		}
		b.WriteString("]")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Permanent is true for a 4xx other than 408 and 429.
func (e *Error) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// RetryHint is the wait Discord asked for.
func (e *Error) RetryHint() time.Duration { return e.RetryAfter }

// Auth is true when Discord refuses the bot itself rather than one
// request: a 401 (the token is wrong, reset or revoked), or 403 Missing
// Access (50001: the bot was removed from the guild, cannot see the invite
// channel, or the application lacks the GUILD_MEMBERS intent). The worker
// pauses the app instead of dead-lettering every event. 403 Missing
// Permissions (50013) is not: it is about one role or member (Discord's
// role hierarchy) as often as about a permission the bot lacks.
func (e *Error) Auth() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden && (e.Code == CodeMissingAccess || e.Code == CodeUnauthorized)
}

// Throttled is a rate limit of the bot's (route or global), which should
// slow the app's pace; a shared one is the resource's and does not.
func (e *Error) Throttled() bool {
	return e.Status == http.StatusTooManyRequests && e.Scope != ScopeShared
}

// limitAnswer is a 429's body (docs/topics/rate-limits): retry_after is
// float seconds.
type limitAnswer struct {
	Message    string   `json:"message"`
	RetryAfter *float64 `json:"retry_after"`
	Global     bool     `json:"global"`
	Code       int      `json:"code"`
}

// answerError reads a non-2xx answer: Discord's {"message", "code"} (the
// shape of discordgo.APIErrorMessage), a 429's body, or anything else (a
// proxy's page), whose text is not kept.
func answerError(route string, status int, h http.Header, body []byte, token string, now time.Time) *Error {
	e := &Error{Status: status, Route: route}
	var msg discordgo.APIErrorMessage
	if json.Unmarshal(body, &msg) == nil {
		e.Code, e.Message = msg.Code, redact.Text(msg.Message, token, maxMessageRunes)
	}
	header := retryafter.Parse(h.Get("Retry-After"), now, maxRetryHint)
	if status != http.StatusTooManyRequests {
		e.RetryAfter = header
		return e
	}
	var rl limitAnswer
	_ = json.Unmarshal(body, &rl)
	e.Scope = strings.ToLower(strings.TrimSpace(h.Get("X-RateLimit-Scope")))
	if rl.Global || strings.EqualFold(strings.TrimSpace(h.Get("X-RateLimit-Global")), "true") {
		e.Scope = ScopeGlobal
	}
	// The body's float is the precise wait; Retry-After is it rounded up
	// to whole seconds. Either may be missing (a proxy's 429).
	switch {
	case rl.RetryAfter != nil && *rl.RetryAfter > 0 && !math.IsInf(*rl.RetryAfter, 0):
		e.RetryAfter = min(time.Duration(math.Ceil(*rl.RetryAfter*1000))*time.Millisecond, maxRetryHint)
	case header > 0:
		e.RetryAfter = header
	default:
		e.RetryAfter = time.Second
	}
	return e
}

// transportError is a request that got no answer: transient, naming the
// route, never the URL (an invite's path holds its code).
func transportError(route string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("discord: %s: %w", route, err)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("discord: %s: %w", route, ue.Err)
	}
	return fmt.Errorf("discord: %s: %w", route, err)
}
