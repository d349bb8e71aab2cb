package discordtest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Discord's JSON error codes (docs/topics/opcodes-and-status-codes).
const (
	codeUnknownChannel     = 10003
	codeUnknownGuild       = 10004
	codeUnknownInvite      = 10006
	codeUnknownMember      = 10007
	codeUnknownRole        = 10011
	codeUnknownUser        = 10013
	codeMissingAccess      = 50001
	codeMissingPermissions = 50013
	codeInvalidFormBody    = 50035
)

// apiError is an error answered in Discord's shape, {"message", "code"},
// a rate limit's body, or a raw body (a proxy's HTML page).
type apiError struct {
	status  int
	message string
	code    int
	errors  map[string]any
	limited *limitBody
	raw     string
}

type limitBody struct {
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
	Global     bool    `json:"global"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"message": "500: Internal Server Error", "code": 0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, e *apiError) {
	switch {
	case e.limited != nil:
		writeJSON(w, e.status, e.limited)
	case e.raw != "":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.raw)
	default:
		body := map[string]any{"message": e.message, "code": e.code}
		if e.errors != nil {
			body["errors"] = e.errors
		}
		writeJSON(w, e.status, body)
	}
}

func unknown(code int, what string) *apiError {
	return &apiError{status: http.StatusNotFound, message: "Unknown " + what, code: code}
}

var missingPermissions = &apiError{status: http.StatusForbidden, message: "Missing Permissions", code: codeMissingPermissions}

// invalidForm is Discord's 400 for a field it refuses.
func invalidForm(field, code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, message: "Invalid Form Body", code: codeInvalidFormBody,
		errors: map[string]any{field: map[string]any{"_errors": []map[string]string{{"code": code, "message": message}}}}}
}

type handler func(w http.ResponseWriter, r *http.Request, rt route) *apiError

// route is a request's endpoint: its name for Stats and limits, with
// Discord's {placeholders}, its handler, the major parameter its bucket
// is counted by, and the path values.
type route struct {
	name    string
	handler handler
	major   string
	guild   string
	user    string
	role    string
	channel string
	code    string
}

// route matches the request against the endpoints served.
func (s *Server) route(r *http.Request) route {
	p, ok := strings.CutPrefix(r.URL.Path, APIPath+"/")
	if !ok {
		return route{name: r.Method + " " + r.URL.Path}
	}
	seg := strings.Split(strings.TrimSuffix(p, "/"), "/")
	m := r.Method
	rt := route{name: m + " /" + p}
	switch {
	case len(seg) == 2 && seg[0] == "users" && seg[1] == "@me":
		rt.name = m + " /users/@me"
		if m == http.MethodGet {
			rt.handler = s.getMe
		}
	case seg[0] == "guilds" && len(seg) >= 2:
		rt.guild, rt.major = seg[1], seg[1]
		s.guildRoute(&rt, m, seg[2:])
	case seg[0] == "channels" && len(seg) == 3 && seg[2] == "invites":
		rt.channel, rt.major = seg[1], seg[1]
		rt.name = m + " /channels/{channel.id}/invites"
		switch m {
		case http.MethodGet:
			rt.handler = s.listInvites
		case http.MethodPost:
			rt.handler = s.createInvite
		}
	case seg[0] == "invites" && len(seg) == 2:
		rt.code = seg[1]
		rt.name = m + " /invites/{invite.code}"
		if m == http.MethodDelete {
			rt.handler = s.deleteInvite
		}
	}
	return rt
}

func (s *Server) guildRoute(rt *route, m string, rest []string) {
	switch {
	case len(rest) == 0:
		rt.name = m + " /guilds/{guild.id}"
		if m == http.MethodGet {
			rt.handler = s.getGuild
		}
	case len(rest) == 1 && rest[0] == "roles":
		rt.name = m + " /guilds/{guild.id}/roles"
		if m == http.MethodGet {
			rt.handler = s.listRoles
		}
	case len(rest) == 1 && rest[0] == "members":
		rt.name = m + " /guilds/{guild.id}/members"
		if m == http.MethodGet {
			rt.handler = s.listMembers
		}
	case len(rest) == 2 && rest[0] == "members":
		rt.user = rest[1]
		rt.name = m + " /guilds/{guild.id}/members/{user.id}"
		switch m {
		case http.MethodGet:
			rt.handler = s.getMember
		case http.MethodDelete:
			rt.handler = s.kick
		}
	case len(rest) == 4 && rest[0] == "members" && rest[2] == "roles":
		rt.user, rt.role = rest[1], rest[3]
		rt.name = m + " /guilds/{guild.id}/members/{user.id}/roles/{role.id}"
		if m == http.MethodPut || m == http.MethodDelete {
			rt.handler = s.memberRole
		}
	}
}

// ---- JSON shapes (docs/resources/user, guild, invite; topics/permissions) --

type userJSON struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Discriminator string  `json:"discriminator"`
	GlobalName    *string `json:"global_name"`
	Avatar        *string `json:"avatar"`
	Bot           bool    `json:"bot,omitempty"`
}

type memberJSON struct {
	User     userJSON `json:"user"`
	Nick     *string  `json:"nick"`
	Roles    []string `json:"roles"`
	JoinedAt string   `json:"joined_at"`
	Deaf     bool     `json:"deaf"`
	Mute     bool     `json:"mute"`
	Flags    int      `json:"flags"`
	Pending  bool     `json:"pending"`
}

type roleJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Color       int    `json:"color"`
	Hoist       bool   `json:"hoist"`
	Position    int    `json:"position"`
	Permissions string `json:"permissions"`
	Managed     bool   `json:"managed"`
	Mentionable bool   `json:"mentionable"`
	Flags       int    `json:"flags"`
}

type inviteJSON struct {
	Type      int            `json:"type"`
	Code      string         `json:"code"`
	Guild     map[string]any `json:"guild"`
	Channel   map[string]any `json:"channel"`
	Inviter   *userJSON      `json:"inviter,omitempty"`
	ExpiresAt *string        `json:"expires_at"`
	Uses      int            `json:"uses"`
	MaxUses   int            `json:"max_uses"`
	MaxAge    int            `json:"max_age"`
	Temporary bool           `json:"temporary"`
	CreatedAt string         `json:"created_at"`
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func (s *Server) userJSON(id string) userJSON {
	u := s.users[id]
	return userJSON{ID: u.id, Username: u.username, Discriminator: "0", Bot: u.bot}
}

func (s *Server) memberJSON(m *member) memberJSON {
	roles := []string{}
	for id := range m.roles {
		roles = append(roles, id)
	}
	slices.Sort(roles)
	return memberJSON{User: s.userJSON(m.userID), Roles: roles, JoinedAt: timestamp(m.joined)}
}

func (s *Server) inviteJSON(inv *invite) inviteJSON {
	out := inviteJSON{Code: inv.code, Uses: inv.uses, MaxUses: inv.maxUses, MaxAge: inv.maxAge, Temporary: inv.temporary,
		CreatedAt: timestamp(inv.created),
		Guild:     map[string]any{"id": s.guildID, "name": s.guildName, "icon": nil, "features": []string{}},
		Channel:   map[string]any{"id": inv.channelID, "name": "welcome", "type": 0}}
	if _, ok := s.users[inv.inviterID]; ok {
		u := s.userJSON(inv.inviterID)
		out.Inviter = &u
	}
	if inv.maxAge > 0 {
		e := timestamp(inv.created.Add(time.Duration(inv.maxAge) * time.Second))
		out.ExpiresAt = &e
	}
	return out
}

// ---- handlers ---------------------------------------------------------------

func (s *Server) getMe(w http.ResponseWriter, _ *http.Request, _ route) *apiError {
	writeJSON(w, http.StatusOK, s.userJSON(s.botID))
	return nil
}

func (s *Server) checkGuild(rt route) *apiError {
	if rt.guild != s.guildID {
		return unknown(codeUnknownGuild, "Guild")
	}
	return nil
}

func (s *Server) getGuild(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.checkGuild(rt); e != nil {
		return e
	}
	g := map[string]any{"id": s.guildID, "name": s.guildName, "owner_id": "1", "icon": nil, "features": []string{}}
	if r.URL.Query().Get("with_counts") == "true" {
		g["approximate_member_count"] = len(s.members)
		g["approximate_presence_count"] = 0
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	if e := s.checkGuild(rt); e != nil {
		return e
	}
	var out []roleJSON
	for _, r := range s.roles {
		out = append(out, roleJSON{ID: r.id, Name: r.name, Position: r.position, Permissions: strconv.FormatInt(r.permissions, 10), Managed: r.managed})
	}
	slices.SortFunc(out, func(a, b roleJSON) int { return a.Position - b.Position })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listMembers pages members by user id: limit 1–1000 (default 1), after
// the highest id of the previous page (default 0).
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.checkGuild(rt); e != nil {
		return e
	}
	if !s.intent {
		return &apiError{status: http.StatusForbidden, message: "Missing Access", code: codeMissingAccess}
	}
	q := r.URL.Query()
	limit := 1
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalidForm("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 1000.")
		}
		limit = n
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return invalidForm("after", "NUMBER_TYPE_COERCE", "Value \""+v+"\" is not snowflake.")
		}
		after = n
	}
	ids := slices.Collect(func(yield func(uint64) bool) {
		for id := range s.members {
			n, _ := strconv.ParseUint(id, 10, 64)
			if n > after && !yield(n) {
				return
			}
		}
	})
	slices.Sort(ids)
	out := []memberJSON{}
	for _, n := range ids[:min(limit, len(ids))] {
		out = append(out, s.memberJSON(s.members[strconv.FormatUint(n, 10)]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// member finds the route's member: 404 Unknown User for an id no user
// has, Unknown Member for a user who is not in the guild.
func (s *Server) member(rt route) (*member, *apiError) {
	if e := s.checkGuild(rt); e != nil {
		return nil, e
	}
	if _, err := strconv.ParseUint(rt.user, 10, 64); err != nil {
		return nil, invalidForm("user_id", "NUMBER_TYPE_COERCE", "Value \""+rt.user+"\" is not snowflake.")
	}
	m, ok := s.members[rt.user]
	if !ok {
		return nil, unknown(codeUnknownMember, "Member")
	}
	return m, nil
}

func (s *Server) getMember(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	m, e := s.member(rt)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.memberJSON(m))
	return nil
}

// kick removes a member (KICK_MEMBERS; not one whose highest role is not
// below the bot's).
func (s *Server) kick(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	m, e := s.member(rt)
	if e != nil {
		return e
	}
	if s.topPosition(m) >= s.topPosition(s.members[s.botID]) {
		return missingPermissions
	}
	delete(s.members, rt.user)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// memberRole grants (PUT) or removes (DELETE) a role: 204 either way, also
// when nothing changes; a managed role or one not below the bot's highest
// is Missing Permissions.
func (s *Server) memberRole(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	m, e := s.member(rt)
	if e != nil {
		return e
	}
	ro, ok := s.roles[rt.role]
	if !ok {
		return unknown(codeUnknownRole, "Role")
	}
	if ro.managed || ro.id == s.guildID || ro.position >= s.topPosition(s.members[s.botID]) {
		return missingPermissions
	}
	if r.Method == http.MethodPut {
		m.roles[ro.id] = true
	} else {
		delete(m.roles, ro.id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) checkChannel(rt route) *apiError {
	if rt.channel != s.channelID {
		return unknown(codeUnknownChannel, "Channel")
	}
	return nil
}

func (s *Server) listInvites(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	if e := s.checkChannel(rt); e != nil {
		return e
	}
	out := []inviteJSON{}
	for _, inv := range s.liveInvites() {
		if inv.channelID == rt.channel {
			out = append(out, s.inviteJSON(inv))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createInvite takes max_age (0–604800, default 86400), max_uses (0–100,
// default 0), temporary and unique; the body is required, {} at least.
func (s *Server) createInvite(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if e := s.checkChannel(rt); e != nil {
		return e
	}
	var body struct {
		MaxAge    *int  `json:"max_age"`
		MaxUses   *int  `json:"max_uses"`
		Temporary bool  `json:"temporary"`
		Unique    bool  `json:"unique"`
		Roles     []any `json:"role_ids"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.Unmarshal(raw, &body) != nil {
		return &apiError{status: http.StatusBadRequest, message: "Invalid Form Body", code: codeInvalidFormBody}
	}
	maxAge, maxUses := 86400, 0
	if body.MaxAge != nil {
		maxAge = *body.MaxAge
	}
	if body.MaxUses != nil {
		maxUses = *body.MaxUses
	}
	if maxAge < 0 || maxAge > 604800 {
		return invalidForm("max_age", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800.")
	}
	if maxUses < 0 || maxUses > 100 {
		return invalidForm("max_uses", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
	}
	if !body.Unique {
		// Without unique, Discord may hand back a similar invite it made
		// before rather than a new one.
		for _, inv := range s.liveInvites() {
			if inv.inviterID == s.botID && inv.maxAge == maxAge && inv.maxUses == maxUses && inv.uses == 0 {
				writeJSON(w, http.StatusOK, s.inviteJSON(inv))
				return nil
			}
		}
	}
	inv := &invite{code: inviteCode(), channelID: rt.channel, inviterID: s.botID, maxAge: maxAge, maxUses: maxUses,
		temporary: body.Temporary, created: s.now()}
	s.invites[inv.code] = inv
	writeJSON(w, http.StatusOK, s.inviteJSON(inv))
	return nil
}

func (s *Server) deleteInvite(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	inv, ok := s.invites[rt.code]
	if !ok || inv.expired(s.now()) {
		return unknown(codeUnknownInvite, "Invite")
	}
	delete(s.invites, rt.code)
	writeJSON(w, http.StatusOK, s.inviteJSON(inv))
	return nil
}
