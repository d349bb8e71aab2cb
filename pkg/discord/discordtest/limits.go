package discordtest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// RouteLimit is one route's bucket: Requests per Per, counted per major
// parameter (the guild or channel in the path), as Discord counts them.
type RouteLimit struct {
	Bucket   string // routes sharing a name share a bucket
	Requests int
	Per      time.Duration
}

// RouteLimits are the fake's per-route limits. Discord publishes none
// ("rate limits should not be hard coded into your app"); these are
// plausible stand-ins of the order client libraries observe, not
// Discord's numbers. A route not listed has defaultLimit.
var RouteLimits = map[string]RouteLimit{
	"PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}":    {Bucket: "member-roles", Requests: 10, Per: 10 * time.Second},
	"DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id}": {Bucket: "member-roles", Requests: 10, Per: 10 * time.Second},
	"DELETE /guilds/{guild.id}/members/{user.id}":                 {Bucket: "member-kick", Requests: 5, Per: 5 * time.Second},
	"GET /guilds/{guild.id}/members/{user.id}":                    {Bucket: "member", Requests: 10, Per: time.Second},
	"GET /guilds/{guild.id}/members":                              {Bucket: "members", Requests: 10, Per: 10 * time.Second},
	"POST /channels/{channel.id}/invites":                         {Bucket: "invite-create", Requests: 5, Per: 5 * time.Second},
	"GET /channels/{channel.id}/invites":                          {Bucket: "invites", Requests: 5, Per: time.Second},
	"DELETE /invites/{invite.code}":                               {Bucket: "invite-delete", Requests: 5, Per: time.Second},
}

var defaultLimit = RouteLimit{Requests: 5, Per: time.Second}

// window counts requests in fixed windows starting at the first request
// after the last one ended.
type window struct {
	limit  int
	length time.Duration
	start  time.Time
	used   int
}

func newWindow(limit int, length time.Duration) *window {
	return &window{limit: limit, length: length}
}

func (w *window) roll(now time.Time) {
	if w.start.IsZero() || !now.Before(w.start.Add(w.length)) {
		w.start, w.used = now, 0
	}
}

// take counts one request, or returns how long until the window resets.
func (w *window) take(now time.Time) (time.Duration, bool) {
	if w.take1(now) {
		return 0, true
	}
	return w.resetAfter(now), false
}

func (w *window) take1(now time.Time) bool {
	w.roll(now)
	if w.used >= w.limit {
		return false
	}
	w.used++
	return true
}

func (w *window) remaining() int { return max(w.limit-w.used, 0) }

func (w *window) reset() time.Time { return w.start.Add(w.length) }

func (w *window) resetAfter(now time.Time) time.Duration { return max(w.reset().Sub(now), 0) }

// bucketRef is a route's bucket as one request meets it.
type bucketRef struct {
	hash string
	w    *window
}

// bucket is the window of rt's bucket for its major parameter.
func (s *Server) bucket(rt route, now time.Time) bucketRef {
	l, ok := RouteLimits[rt.name]
	if !ok {
		l = defaultLimit
		l.Bucket = rt.name
	}
	hash := bucketHash(l.Bucket)
	key := hash + ":" + rt.major
	w, ok := s.buckets[key]
	if !ok {
		w = newWindow(l.Requests, scaled(l.Per, s.scale))
		s.buckets[key] = w
	}
	w.roll(now)
	return bucketRef{hash: hash, w: w}
}

// rateHeaders are the route headers Discord sends with an answer.
func (s *Server) rateHeaders(w http.ResponseWriter, b bucketRef, now time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.w.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.w.remaining()))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.w.reset().UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secondsFloat(b.w.resetAfter(now)), 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", b.hash)
}

// seconds renders a wait as Retry-After: whole seconds, rounded up, at
// least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

// secondsFloat is a wait as retry_after: seconds with millisecond
// precision.
func secondsFloat(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}
