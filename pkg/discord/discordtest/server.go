// Package discordtest is Discord's REST API (v10) for one guild over real
// HTTP, in memory, standing in for https://discord.com/api/v10 in tests of
// the native Discord connector. It serves what the connector uses, as
// Discord's developer documentation (discord/discord-api-docs) describes
// it:
//
//   - the bot (GET /users/@me) and the guild (GET /guilds/{guild.id},
//     with_counts=true adds approximate_member_count);
//   - roles (GET /guilds/{guild.id}/roles) and role grants (PUT and DELETE
//     /guilds/{guild.id}/members/{user.id}/roles/{role.id}, 204): a role
//     that is managed by an integration, or not below the bot's highest
//     role, is refused 403 Missing Permissions (50013), as Discord's role
//     hierarchy does;
//   - members (GET /guilds/{guild.id}/members?limit=&after=, ordered by
//     user id, limit 1–1000, default 1; GET and DELETE (kick, 204)
//     /guilds/{guild.id}/members/{user.id});
//   - invites (GET and POST /channels/{channel.id}/invites, DELETE
//     /invites/{invite.code}): an invite expires max_age seconds after it
//     was made and disappears once used max_uses times (Accept).
//
// Errors are Discord's JSON {"message", "code"}: 401 "401: Unauthorized"
// (code 0) without "Authorization: Bot <token>", 403 Missing Permissions
// (50013) and Missing Access (50001), 404 Unknown Member (10007), Unknown
// Role (10011), Unknown User (10013), Unknown Invite (10006), Unknown
// Channel (10003), Unknown Guild (10004), 400 Invalid Form Body (50035).
// The messages are those Discord sends as client libraries record them;
// the documentation lists the codes, not the exact wording.
//
// Rate limits follow docs/topics/rate-limits: every answer carries the
// route's X-RateLimit-Limit, -Remaining, -Reset, -Reset-After and -Bucket;
// past a route's limit the answer is 429 with Retry-After, X-RateLimit-
// Scope "user" and the JSON body {"message": "You are being rate
// limited.", "retry_after": <float seconds>, "global": false}; past the
// bot's global 50 requests a second it is 429 with X-RateLimit-Global:
// true, scope "global" and "global": true. Discord publishes no per-route
// numbers (apps are to read the headers); the ones in RouteLimits are
// plausible stand-ins, not Discord's. WithRateScale runs every window
// faster.
//
// Test controls add what exists outside Keycard (AddRole, AddMember), act
// for people (Accept), inject failures (FailNext, FailNextOn,
// FailNextGlobal) and report what was served (Requests, Member, Invites).
package discordtest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/fakehttp"
)

// APIPath is where the fake serves the API, as Discord does.
const APIPath = "/api/v10"

// GlobalPerSecond is Discord's documented global limit: 50 requests a
// second per bot.
const GlobalPerSecond = 50

// Option configures New.
type Option func(*config)

type config struct {
	token  string
	now    func() time.Time
	scale  float64
	global int
	intent bool
}

// WithClock sets the clock behind rate limits, invite expiry and
// timestamps.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRateScale makes every rate-limit window f times shorter; the counts
// stay. f <= 0 means 1.
func WithRateScale(f float64) Option { return func(c *config) { c.scale = f } }

// WithGlobalLimit sets the requests a second the bot may make (default
// GlobalPerSecond).
func WithGlobalLimit(n int) Option { return func(c *config) { c.global = n } }

// WithoutMembersIntent is a bot whose application lacks the privileged
// GUILD_MEMBERS intent: listing members is refused 403 Missing Access.
func WithoutMembersIntent() Option { return func(c *config) { c.intent = false } }

// Stats counts requests served.
type Stats struct {
	Total       int
	ByRoute     map[string]int // "PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}", …
	ByStatus    map[int]int
	RateLimited int // 429 answers, route and global
	// Invalid counts the answers Discord counts towards its invalid
	// request limit (10,000 in 10 minutes bans the IP): 401, 403, and 429
	// other than scope "shared".
	Invalid int
}

type failure struct {
	route      string // "" any route
	status     int
	retryAfter time.Duration
	global     bool
}

// Server is a running fake of one guild.
type Server struct {
	ts        *httptest.Server
	token     string
	now       func() time.Time
	scale     float64
	intent    bool
	guildID   string
	guildName string
	channelID string
	botID     string

	mu       sync.Mutex
	seq      int64
	users    map[string]*user
	members  map[string]*member
	roles    map[string]*role
	invites  map[string]*invite
	failures []failure
	stats    Stats
	buckets  map[string]*window // by bucket hash + major parameter
	global   *window
}

// New starts a server on a loopback port with a guild, its invite channel,
// the bot as a member holding a "Keycard" role above every role AddRole
// makes. Close it when done.
func New(opts ...Option) *Server {
	c := config{now: time.Now, scale: 1, global: GlobalPerSecond, intent: true}
	for _, o := range opts {
		o(&c)
	}
	if c.token == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		c.token = "MTA." + base64.RawURLEncoding.EncodeToString(b)
	}
	if c.scale <= 0 {
		c.scale = 1
	}
	s := &Server{
		token: c.token, now: c.now, scale: c.scale, intent: c.intent, guildName: "Acme",
		users:   map[string]*user{},
		members: map[string]*member{},
		roles:   map[string]*role{},
		invites: map[string]*invite{},
		buckets: map[string]*window{},
		stats:   Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
		global:  newWindow(c.global, scaled(time.Second, c.scale)),
	}
	s.guildID = s.nextID()
	s.channelID = s.nextID()
	s.botID = s.nextID()
	s.users[s.botID] = &user{id: s.botID, username: "keycard", bot: true}
	// @everyone has the guild's id and position 0; the bot's own role
	// sits high, as a server admin places it.
	s.roles[s.guildID] = &role{id: s.guildID, name: "@everyone", position: 0}
	botRole := &role{id: s.nextID(), name: "Keycard", position: 100, managed: true,
		permissions: permKickMembers | permManageRoles | permCreateInvite | permManageChannels}
	s.roles[botRole.id] = botRole
	s.members[s.botID] = &member{userID: s.botID, roles: map[string]bool{botRole.id: true}, joined: s.now()}
	s.ts = httptest.NewServer(s)
	return s
}

func scaled(d time.Duration, f float64) time.Duration {
	return max(time.Duration(float64(d)/f), time.Millisecond)
}

// URL is the API root with a trailing slash: http://127.0.0.1:PORT/api/v10/.
func (s *Server) URL() string { return s.ts.URL + APIPath + "/" }

// Token is the bot token the server accepts (without the "Bot " scheme).
func (s *Server) Token() string { return s.token }

// GuildID is the guild's id.
func (s *Server) GuildID() string { return s.guildID }

// ChannelID is the id of the guild's channel invites are made for.
func (s *Server) ChannelID() string { return s.channelID }

// BotID is the bot user's id.
func (s *Server) BotID() string { return s.botID }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next request, whatever its route, with status in
// Discord's shape for it: a 429 is a route limit (scope "user") with
// retry_after and Retry-After of after; a 403 is Missing Permissions; a
// 5xx carries Retry-After when after > 0.
func (s *Server) FailNext(status int, after time.Duration) { s.FailNextOn("", 1, status, after) }

// FailNextOn answers the next n requests to route ("PUT
// /guilds/{guild.id}/members/{user.id}/roles/{role.id}", as Stats names
// routes; "" any) with status.
func (s *Server) FailNextOn(route string, n, status int, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{route: route, status: status, retryAfter: after})
	}
}

// FailNextGlobal answers the next n requests with the global rate limit.
func (s *Server) FailNextGlobal(n int, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: http.StatusTooManyRequests, retryAfter: after, global: true})
	}
}

// Requests returns a copy of the request counters.
func (s *Server) Requests() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute, st.ByStatus = maps.Clone(s.stats.ByRoute), maps.Clone(s.stats.ByStatus)
	return st
}

// ServeHTTP runs the pipeline: count → auth → global limit → injected
// failure → route limit → handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &fakehttp.StatusWriter{ResponseWriter: w}
	rt := s.route(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByRoute[rt.name]++
	defer func() {
		s.stats.ByStatus[sw.Status]++
		if sw.Status == http.StatusUnauthorized || sw.Status == http.StatusForbidden ||
			sw.Status == http.StatusTooManyRequests && sw.Header().Get("X-RateLimit-Scope") != "shared" {
			s.stats.Invalid++
		}
	}()
	if e := s.serve(sw, r, rt); e != nil {
		writeError(sw, e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.authenticate(r); e != nil {
		return e
	}
	now := s.now()
	if wait, ok := s.global.take(now); !ok {
		return s.globalLimited(w, wait)
	}
	if i := slices.IndexFunc(s.failures, func(f failure) bool { return f.route == "" || f.route == rt.name }); i >= 0 {
		f := s.failures[i]
		s.failures = slices.Delete(s.failures, i, i+1)
		return s.injected(w, rt, f)
	}
	if rt.handler == nil {
		return &apiError{status: http.StatusNotFound, message: "404: Not Found", code: 0}
	}
	b := s.bucket(rt, now)
	ok := b.w.take1(now)
	s.rateHeaders(w, b, now)
	if !ok {
		return s.routeLimited(w, b.w.resetAfter(now), "user")
	}
	return rt.handler(w, r, rt)
}

// authenticate wants "Authorization: Bot <token>", as Discord documents
// for bots (docs/reference#authentication).
func (s *Server) authenticate(r *http.Request) *apiError {
	tok, ok := cutPrefixFold(r.Header.Get("Authorization"), "Bot ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
		return &apiError{status: http.StatusUnauthorized, message: "401: Unauthorized", code: 0}
	}
	return nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// injected is the answer Discord gives with f's status.
func (s *Server) injected(w http.ResponseWriter, rt route, f failure) *apiError {
	switch {
	case f.global:
		return s.globalLimited(w, f.retryAfter)
	case f.status == http.StatusTooManyRequests:
		b := s.bucket(rt, s.now())
		s.rateHeaders(w, b, s.now())
		w.Header().Set("X-RateLimit-Remaining", "0")
		return s.routeLimited(w, f.retryAfter, "user")
	}
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", seconds(f.retryAfter))
	}
	e := &apiError{status: f.status}
	switch {
	case f.status == http.StatusBadRequest:
		e.message, e.code = "Invalid Form Body", codeInvalidFormBody
	case f.status == http.StatusUnauthorized:
		e.message, e.code = "401: Unauthorized", 0
	case f.status == http.StatusForbidden:
		e.message, e.code = "Missing Permissions", codeMissingPermissions
	case f.status == http.StatusNotFound:
		e.message, e.code = "404: Not Found", 0
	case f.status == http.StatusBadGateway:
		e.raw = "<html><head><title>502 Bad Gateway</title></head></html>"
	case f.status >= 500:
		e.message, e.code = strconv.Itoa(f.status)+": "+http.StatusText(f.status), 0
	default:
		e.message = http.StatusText(f.status)
	}
	return e
}

// routeLimited is a 429 for a route's bucket.
func (s *Server) routeLimited(w http.ResponseWriter, wait time.Duration, scope string) *apiError {
	wait = max(wait, time.Millisecond)
	s.stats.RateLimited++
	w.Header().Set("Retry-After", seconds(wait))
	w.Header().Set("X-RateLimit-Scope", scope)
	return &apiError{status: http.StatusTooManyRequests, limited: &limitBody{
		Message: "You are being rate limited.", RetryAfter: secondsFloat(wait), Global: false}}
}

// globalLimited is the global 429: no route headers, X-RateLimit-Global.
func (s *Server) globalLimited(w http.ResponseWriter, wait time.Duration) *apiError {
	wait = max(wait, time.Millisecond)
	s.stats.RateLimited++
	w.Header().Set("Retry-After", seconds(wait))
	w.Header().Set("X-RateLimit-Global", "true")
	w.Header().Set("X-RateLimit-Scope", "global")
	return &apiError{status: http.StatusTooManyRequests, limited: &limitBody{
		Message: "You are being rate limited.", RetryAfter: secondsFloat(wait), Global: true}}
}

// nextID is a fresh snowflake: milliseconds since Discord's epoch (the
// first second of 2015) shifted 22 bits, plus a sequence.
func (s *Server) nextID() string {
	s.seq++
	ms := s.now().UnixMilli() - 1420070400000
	return strconv.FormatInt(ms<<22|(s.seq&0xfff), 10)
}

// inviteCode is a fresh code: 10 URL-safe characters, as unique invites
// have.
func inviteCode() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// bucketHash is the X-RateLimit-Bucket of a route: opaque, stable.
func bucketHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:8])
}
