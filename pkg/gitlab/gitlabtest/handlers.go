package gitlabtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiError is an answer in one of GitLab's error shapes: {"message":
// "…"} (not found, forbidden, conflict), {"message": {"field": ["…"]}}
// (a model validation), {"error": "…"} (a parameter check), or the
// throttle's plain text.
type apiError struct {
	status int
	// message is the string message; fields, when set, the validation
	// errors instead; param a parameter error; text a plain-text body.
	message string
	fields  map[string][]string
	param   string
	text    string
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.text != "" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.text)
		return
	}
	var body map[string]any
	switch {
	case e.fields != nil:
		body = map[string]any{"message": e.fields}
	case e.param != "":
		body = map[string]any{"error": e.param}
	default:
		body = map[string]any{"message": e.message}
	}
	writeJSON(w, e.status, body)
}

func forbidden() *apiError { return &apiError{status: http.StatusForbidden, message: "403 Forbidden"} }

// forbiddenBecause is GitLab's forbidden!(reason): "403 Forbidden - reason".
func forbiddenBecause(reason string) *apiError {
	return &apiError{status: http.StatusForbidden, message: "403 Forbidden - " + reason}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, message: "404 " + what + " Not Found"}
}

func conflict(msg string) *apiError { return &apiError{status: http.StatusConflict, message: msg} }

func invalid(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, fields: map[string][]string{field: {msg}}}
}

func badParams(msg string) *apiError { return &apiError{status: http.StatusBadRequest, param: msg} }

// retryLater is the throttle's answer: Rack::Attack's 429 with the
// default plain-text response.
func retryLater() *apiError {
	return &apiError{status: http.StatusTooManyRequests, text: "Retry later\n"}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"message":"500 Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

type handler func(s *Server, w http.ResponseWriter, r *http.Request, rt routed, caller *user) *apiError

// routed is a request's endpoint: its name for Stats (with :placeholders),
// its handler, whether only an administrator may call it, and the path
// values (unescaped: a group's full path arrives URL-encoded).
type routed struct {
	name    string
	handler handler
	admin   bool
	id      string // :id (a user id, or a group id or full path)
	userID  string // :user_id of a group member
}

// route matches the request against the endpoints served.
func route(r *http.Request) routed {
	raw, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/")
	if !ok {
		return routed{name: r.Method + " " + r.URL.Path}
	}
	var seg []string
	for p := range strings.SplitSeq(strings.Trim(raw, "/"), "/") {
		v, err := url.PathUnescape(p)
		if err != nil {
			return routed{name: r.Method + " /" + raw}
		}
		seg = append(seg, v)
	}
	m := r.Method
	rt := routed{}
	set := func(name string, h handler, admin bool) { rt.name, rt.handler, rt.admin = m+" "+name, h, admin }
	switch {
	case len(seg) == 1 && seg[0] == "user" && m == http.MethodGet:
		set("/user", (*Server).currentUser, false)
	case len(seg) == 1 && seg[0] == "users" && m == http.MethodGet:
		set("/users", (*Server).listUsers, false)
	case len(seg) == 1 && seg[0] == "users" && m == http.MethodPost:
		set("/users", (*Server).createUser, true)
	case len(seg) >= 2 && seg[0] == "users":
		rt.id = seg[1]
		switch {
		case len(seg) == 2 && m == http.MethodGet:
			set("/users/:id", (*Server).getUser, false)
		case len(seg) == 2 && m == http.MethodPut:
			set("/users/:id", (*Server).modifyUser, true)
		case len(seg) == 3 && m == http.MethodPost && slices.Contains([]string{"block", "unblock", "deactivate", "activate", "approve"}, seg[2]):
			set("/users/:id/"+seg[2], moderate(seg[2]), true)
		case len(seg) == 3 && seg[2] == "memberships" && m == http.MethodGet:
			set("/users/:id/memberships", (*Server).userMemberships, true)
		}
	case len(seg) >= 2 && seg[0] == "groups":
		rt.id = seg[1]
		switch {
		case len(seg) == 2 && m == http.MethodGet:
			set("/groups/:id", (*Server).getGroup, false)
		case len(seg) == 3 && seg[2] == "descendant_groups" && m == http.MethodGet:
			set("/groups/:id/descendant_groups", (*Server).descendantGroups, false)
		case len(seg) == 3 && seg[2] == "members" && m == http.MethodGet:
			set("/groups/:id/members", (*Server).listMembers, false)
		case len(seg) == 3 && seg[2] == "members" && m == http.MethodPost:
			set("/groups/:id/members", (*Server).addMember, true)
		case len(seg) == 4 && seg[2] == "members":
			rt.userID = seg[3]
			switch m {
			case http.MethodGet:
				set("/groups/:id/members/:user_id", (*Server).getMember, false)
			case http.MethodPut:
				set("/groups/:id/members/:user_id", (*Server).editMember, true)
			case http.MethodDelete:
				set("/groups/:id/members/:user_id", (*Server).removeMember, true)
			}
		}
	}
	if rt.name == "" {
		rt.name = m + " /" + strings.Join(seg, "/")
	}
	return rt
}

// ---- JSON shapes -----------------------------------------------------------

func (s *Server) webURL(path string) string { return s.ts.URL + "/" + path }

// userJSON is Entities::UserWithAdmin for an administrator, else
// Entities::UserBasic.
func (s *Server) userJSON(u *user, admin bool) map[string]any {
	out := map[string]any{
		"id": u.id, "username": u.username, "name": u.name, "state": u.state, "locked": false,
		"avatar_url": "", "web_url": s.webURL(u.username),
	}
	if !admin {
		return out
	}
	ids := []map[string]any{}
	for _, i := range u.identities {
		ids = append(ids, map[string]any{"provider": i.provider, "extern_uid": i.externUID, "saml_provider_id": nil})
	}
	for k, v := range map[string]any{
		"created_at": u.created.UTC().Format(time.RFC3339Nano), "bio": "", "location": "", "public_email": "",
		"organization": u.organization, "job_title": u.jobTitle, "bot": u.bot, "email": u.email,
		"identities": ids, "is_admin": u.admin, "can_create_group": true, "external": false, "private_profile": false,
		"two_factor_enabled": false, "note": nil, "using_license_seat": u.billable(), "namespace_id": u.id + 10000,
		"confirmed_at": u.created.UTC().Format(time.RFC3339Nano), "last_activity_on": nil, "commit_email": u.email,
	} {
		out[k] = v
	}
	if u.unconfirmedEmail != "" {
		out["unconfirmed_email"] = u.unconfirmedEmail
	}
	return out
}

func (s *Server) groupJSON(g *group) map[string]any {
	var parent any
	if g.parent != nil {
		parent = g.parent.id
	}
	return map[string]any{
		"id": g.id, "name": g.name, "path": g.path, "full_name": g.fullName(), "full_path": g.fullPath(),
		"parent_id": parent, "visibility": "private", "description": "", "web_url": s.webURL("groups/" + g.fullPath()),
		"created_at": g.created.UTC().Format(time.RFC3339Nano),
	}
}

func (s *Server) memberJSON(u *user, level int) map[string]any {
	return map[string]any{
		"id": u.id, "username": u.username, "name": u.name, "state": u.state, "avatar_url": "",
		"web_url": s.webURL(u.username), "access_level": level, "expires_at": nil, "membership_state": "active",
		"created_at": s.now().UTC().Format(time.RFC3339Nano),
	}
}

// page writes items per_page at a time with GitLab's pagination headers.
func page(w http.ResponseWriter, r *http.Request, items []map[string]any) *apiError {
	q := r.URL.Query()
	per, pg := 20, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badParams("per_page is invalid")
		}
		per = min(max(n, 1), 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badParams("page is invalid")
		}
		pg = max(n, 1)
	}
	total := len(items)
	last := max((total+per-1)/per, 1)
	lo, hi := min((pg-1)*per, total), min(pg*per, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(pg))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(last))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	if pg < last {
		h.Set("X-Next-Page", strconv.Itoa(pg+1))
	}
	if pg > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(min(pg-1, last)))
	}
	link := func(n int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
		v := r.URL.Query()
		v.Set("per_page", strconv.Itoa(per))
		v.Set("page", strconv.Itoa(n))
		u.RawQuery = v.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if pg > 1 {
		links = append(links, link(min(pg-1, last), "prev"))
	}
	if pg < last {
		links = append(links, link(pg+1, "next"))
	}
	links = append(links, link(1, "first"), link(last, "last"))
	h.Set("Link", strings.Join(links, ", "))
	if items == nil {
		items = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, items[lo:hi])
	return nil
}

// decode reads a JSON (or form) body into fields; an absent body is none.
func decode(r *http.Request) (map[string]any, *apiError) {
	out := map[string]any{}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, badParams("body could not be read")
	}
	if strings.TrimSpace(string(raw)) == "" {
		return out, nil
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		v, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, badParams("body is invalid")
		}
		for k := range v {
			out[k] = v.Get(k)
		}
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &apiError{status: http.StatusBadRequest, message: "400 Bad request - body is not valid JSON"}
	}
	return out, nil
}

func str(body map[string]any, key string) (string, bool) {
	switch v := body[key].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func boolean(body map[string]any, key string) bool {
	v, _ := str(body, key)
	return v == "true"
}

func integer(body map[string]any, key string) (int64, bool, *apiError) {
	v, ok := str(body, key)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, badParams(key + " is invalid")
	}
	return n, true, nil
}

// ---- users -----------------------------------------------------------------

func (s *Server) currentUser(w http.ResponseWriter, _ *http.Request, _ routed, caller *user) *apiError {
	writeJSON(w, http.StatusOK, s.userJSON(caller, caller.admin))
	return nil
}

func (s *Server) userParam(raw string) (*user, *apiError) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, badParams("id is invalid")
	}
	u := s.userByID(id)
	if u == nil {
		return nil, notFound("User")
	}
	return u, nil
}

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, rt routed, caller *user) *apiError {
	u, e := s.userParam(rt.id)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.userJSON(u, caller.admin))
	return nil
}

// listUsers is GET /users with UsersFinder's filters, newest first (order
// by id desc, GitLab's default).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ routed, caller *user) *apiError {
	q := r.URL.Query()
	externUID, provider := q.Get("extern_uid"), q.Get("provider")
	if (externUID == "") != (provider == "") {
		return badParams("extern_uid, provider provide all or none of parameters")
	}
	if externUID != "" && !caller.admin {
		return forbidden()
	}
	search := strings.ToLower(strings.TrimSpace(q.Get("search")))
	var items []map[string]any
	users := s.sortedUsers()
	slices.Reverse(users)
	for _, u := range users {
		switch {
		case q.Get("username") != "" && !strings.EqualFold(u.username, q.Get("username")):
			continue
		case externUID != "" && !slices.Contains(u.identities, identity{provider: provider, externUID: externUID}):
			continue
		case search != "" && !s.matches(u, search, caller.admin):
			continue
		case q.Get("active") == "true" && u.state != StateActive:
			continue
		case q.Get("blocked") == "true" && u.state != StateBlocked && u.state != StateLDAPBlocked:
			continue
		case q.Get("humans") == "true" && u.bot:
			continue
		}
		items = append(items, s.userJSON(u, caller.admin))
	}
	return page(w, r, items)
}

// matches is User.search as an administrator sees it: the whole query
// equal to a primary or secondary e-mail, or part of the username or the
// name.
func (s *Server) matches(u *user, q string, admin bool) bool {
	if strings.Contains(q, "@") {
		return admin && u.hasEmail(q)
	}
	return strings.Contains(strings.ToLower(u.username), q) || strings.Contains(strings.ToLower(u.name), q)
}

// reserved are some of the names GitLab's path rules refuse for a
// namespace (Gitlab::PathRegex's top-level routes).
var reserved = []string{"admin", "api", "dashboard", "explore", "groups", "help", "profile", "projects", "search", "users", "-"}

// checkUsername is the namespace path rule: letters, digits, '_', '-' and
// '.', not starting with '-', '_' or '.', nor ending in '.', '.git' or
// '.atom', at most 255 characters, and not a reserved name. (The wording
// is GitLab's; the exact rule differs between versions — unverified.)
func checkUsername(name string) *apiError {
	bad := name == "" || len(name) > 255 || strings.ContainsAny(name[:1], "-_.") || strings.HasSuffix(name, ".") ||
		strings.HasSuffix(name, ".git") || strings.HasSuffix(name, ".atom")
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			bad = true
		}
	}
	if bad {
		return invalid("username", "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.")
	}
	if slices.Contains(reserved, strings.ToLower(name)) {
		return invalid("username", name+" is a reserved name")
	}
	return nil
}

func validEmail(e string) bool {
	at := strings.Index(e, "@")
	return at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " \t\r\n,;<>")
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, _ routed, _ *user) *apiError {
	body, e := decode(r)
	if e != nil {
		return e
	}
	var missing []string
	for _, k := range []string{"email", "name", "username"} {
		if v, _ := str(body, k); v == "" {
			missing = append(missing, k+" is missing")
		}
	}
	if len(missing) > 0 {
		return badParams(strings.Join(missing, ", "))
	}
	if _, ok := body["password"]; !ok && !boolean(body, "reset_password") && !boolean(body, "force_random_password") {
		return badParams("password, reset_password, force_random_password are missing, at least one parameter must be provided")
	}
	externUID, hasUID := str(body, "extern_uid")
	provider, hasProvider := str(body, "provider")
	if hasUID != hasProvider {
		return badParams("extern_uid, provider provide all or none of parameters")
	}
	email, _ := str(body, "email")
	username, _ := str(body, "username")
	name, _ := str(body, "name")
	if !validEmail(email) {
		return invalid("email", "is invalid")
	}
	if pw, ok := str(body, "password"); ok && len(pw) < 8 {
		return invalid("password", "is too short (minimum is 8 characters)")
	}
	if s.userByEmail(email) != nil {
		return conflict("Email has already been taken")
	}
	if s.userByUsername(username) != nil {
		return conflict("Username has already been taken")
	}
	if e := checkUsername(username); e != nil {
		return e
	}
	u := &user{id: s.nextID(), username: username, name: name, email: strings.ToLower(email), state: StateActive, created: s.now()}
	u.jobTitle, _ = str(body, "job_title")
	u.organization, _ = str(body, "organization")
	u.admin = boolean(body, "admin")
	if hasUID {
		u.identities = []identity{{provider: provider, externUID: externUID}}
	}
	s.users[u.id] = u
	writeJSON(w, http.StatusCreated, s.userJSON(u, true))
	return nil
}

// modifyUser is PUT /users/:id. A new e-mail waits for confirmation
// (unconfirmed_email) unless skip_reconfirmation is set; once it is the
// primary, the previous primary stays as a secondary address (unverified:
// GitLab's behaviour since it began keeping the old primary).
func (s *Server) modifyUser(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	u, e := s.userParam(rt.id)
	if e != nil {
		return e
	}
	body, e := decode(r)
	if e != nil {
		return e
	}
	if email, ok := str(body, "email"); ok {
		if other := s.userByEmail(email); other != nil && other.id != u.id {
			return conflict("Email has already been taken")
		}
		if !validEmail(email) {
			return invalid("email", "is invalid")
		}
	}
	if username, ok := str(body, "username"); ok {
		if other := s.userByUsername(username); other != nil && other.id != u.id {
			return conflict("Username has already been taken")
		}
		if e := checkUsername(username); e != nil {
			return e
		}
	}
	externUID, hasUID := str(body, "extern_uid")
	provider, hasProvider := str(body, "provider")
	if hasUID != hasProvider {
		return badParams("extern_uid, provider provide all or none of parameters")
	}
	if email, ok := str(body, "email"); ok && !strings.EqualFold(email, u.email) {
		email = strings.ToLower(email)
		if boolean(body, "skip_reconfirmation") {
			if !slices.Contains(u.secondary, u.email) {
				u.secondary = append(u.secondary, u.email)
			}
			u.secondary = slices.DeleteFunc(u.secondary, func(e string) bool { return e == email })
			u.email, u.unconfirmedEmail = email, ""
		} else {
			u.unconfirmedEmail = email
		}
	}
	if v, ok := str(body, "username"); ok {
		u.username = v
	}
	if v, ok := str(body, "name"); ok {
		u.name = v
	}
	if v, ok := str(body, "job_title"); ok {
		u.jobTitle = v
	}
	if v, ok := str(body, "organization"); ok {
		u.organization = v
	}
	if hasUID {
		i := slices.IndexFunc(u.identities, func(id identity) bool { return id.provider == provider })
		if i < 0 {
			u.identities = append(u.identities, identity{provider: provider, externUID: externUID})
		} else {
			u.identities[i].externUID = externUID
		}
	}
	writeJSON(w, http.StatusOK, s.userJSON(u, true))
	return nil
}

// minimumInactiveDays is how long a user must be idle before the API
// deactivates them (User::MINIMUM_INACTIVE_DAYS).
const minimumInactiveDays = 90

// moderate is the user moderation endpoints, as lib/api/users.rb answers
// them.
func moderate(action string) handler {
	return func(s *Server, w http.ResponseWriter, _ *http.Request, rt routed, caller *user) *apiError {
		u, e := s.userParam(rt.id)
		if e != nil {
			return e
		}
		ok := true
		switch action {
		case "block":
			switch {
			case u.state == StateLDAPBlocked:
				return forbiddenBecause("LDAP blocked users cannot be modified by the API")
			case u.id == caller.id:
				return forbiddenBecause("The API initiating user cannot be blocked by the API")
			case u.state == StateBlocked:
				writeJSON(w, http.StatusCreated, nil) // break if user.blocked?
				return nil
			}
			u.state = StateBlocked
		case "unblock":
			switch u.state {
			case StateLDAPBlocked:
				return forbiddenBecause("LDAP blocked users cannot be unblocked by the API")
			case StateDeactivated:
				return forbiddenBecause("Deactivated users cannot be unblocked by the API")
			case StateBlocked:
				u.state = StateActive
			default:
				ok = false // UnblockService fails on a user that is not blocked
			}
		case "deactivate":
			switch u.state {
			case StateDeactivated:
			case StateBlocked, StateLDAPBlocked:
				return forbiddenBecause("A blocked user cannot be deactivated by the API")
			default:
				// Every user here has been active today: none is dormant.
				return forbiddenBecause(fmt.Sprintf("The user you are trying to deactivate has been active in the past %d days and cannot be deactivated", minimumInactiveDays))
			}
		case "activate":
			switch u.state {
			case StateDeactivated, StateActive:
				u.state = StateActive
			default:
				return forbiddenBecause("A blocked user must be unblocked to be activated")
			}
		case "approve":
			switch u.state {
			case StatePendingApproval:
				u.state = StateActive
			case StateBlocked, StateLDAPBlocked:
				return forbiddenBecause("The user you are trying to approve is blocked")
			case StateDeactivated:
				return conflict("The user you are trying to approve has been deactivated")
			default:
				return conflict("The user you are trying to approve is not pending approval")
			}
		}
		writeJSON(w, http.StatusCreated, ok)
		return nil
	}
}

func (s *Server) userMemberships(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	u, e := s.userParam(rt.id)
	if e != nil {
		return e
	}
	typ := r.URL.Query().Get("type")
	if typ != "" && typ != "Project" && typ != "Namespace" {
		return badParams("type does not have a valid value")
	}
	var items []map[string]any
	if typ != "Project" {
		for _, g := range s.sortedGroups() {
			if l, ok := g.members[u.id]; ok {
				items = append(items, map[string]any{"source_id": g.id, "source_name": g.name, "source_type": "Namespace", "access_level": l})
			}
		}
	}
	return page(w, r, items)
}

// ---- groups ----------------------------------------------------------------

func (s *Server) groupParam(raw string) (*group, *apiError) {
	g := s.group(raw)
	if g == nil {
		return nil, notFound("Group")
	}
	return g, nil
}

func (s *Server) getGroup(w http.ResponseWriter, _ *http.Request, rt routed, _ *user) *apiError {
	g, e := s.groupParam(rt.id)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.groupJSON(g))
	return nil
}

func (s *Server) descendants(g *group) []*group {
	var out []*group
	for _, d := range s.groups {
		if slices.Contains(d.ancestors(), g) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.fullPath(), b.fullPath()) })
	return out
}

func (s *Server) descendantGroups(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	g, e := s.groupParam(rt.id)
	if e != nil {
		return e
	}
	var items []map[string]any
	for _, d := range s.descendants(g) {
		items = append(items, s.groupJSON(d))
	}
	return page(w, r, items)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	g, e := s.groupParam(rt.id)
	if e != nil {
		return e
	}
	var items []map[string]any
	for _, u := range s.sortedUsers() {
		if l, ok := g.members[u.id]; ok {
			items = append(items, s.memberJSON(u, l))
		}
	}
	return page(w, r, items)
}

// memberParams reads the group and the member's user id.
func (s *Server) memberParams(rt routed) (*group, int64, *apiError) {
	g, e := s.groupParam(rt.id)
	if e != nil {
		return nil, 0, e
	}
	id, err := strconv.ParseInt(rt.userID, 10, 64)
	if err != nil {
		return nil, 0, badParams("user_id is invalid")
	}
	return g, id, nil
}

func (s *Server) getMember(w http.ResponseWriter, _ *http.Request, rt routed, _ *user) *apiError {
	g, id, e := s.memberParams(rt)
	if e != nil {
		return e
	}
	l, ok := g.members[id]
	if !ok {
		return &apiError{status: http.StatusNotFound, message: "404 Not found"}
	}
	writeJSON(w, http.StatusOK, s.memberJSON(s.userByID(id), l))
	return nil
}

// checkLevel is the member validations: a known access level, not below
// one the user inherits from an ancestor group.
func (s *Server) checkLevel(g *group, id int64, level int64) *apiError {
	if !slices.Contains(validLevels, int(level)) {
		return invalid("access_level", "is not included in the list")
	}
	if inherited, from := g.inherited(id); inherited > int(level) {
		return invalid("access_level", fmt.Sprintf("should be greater than or equal to %s inherited membership from group %s", levelName(inherited), from.name))
	}
	return nil
}

func levelName(l int) string {
	switch l {
	case Guest:
		return "Guest"
	case Planner:
		return "Planner"
	case Reporter:
		return "Reporter"
	case Developer:
		return "Developer"
	case Maintainer:
		return "Maintainer"
	case Owner:
		return "Owner"
	}
	return strconv.Itoa(l)
}

// memberBody reads a member request's body: the user (by user_id or
// username, when who is set) and the access level, both required.
func (s *Server) memberBody(r *http.Request, who bool) (int64, int64, *apiError) {
	body, e := decode(r)
	if e != nil {
		return 0, 0, e
	}
	var id int64
	if who {
		var hasID bool
		if id, hasID, e = integer(body, "user_id"); e != nil {
			return 0, 0, e
		}
		if name, ok := str(body, "username"); !hasID && ok {
			u := s.userByUsername(name)
			if u == nil {
				return 0, 0, notFound("User")
			}
			id, hasID = u.id, true
		}
		if !hasID {
			return 0, 0, badParams("user_id, username are missing, exactly one parameter must be provided")
		}
	}
	level, ok, e := integer(body, "access_level")
	switch {
	case e != nil:
		return 0, 0, e
	case !ok:
		return 0, 0, badParams("access_level is missing")
	}
	return id, level, nil
}

// setMember records a membership that passed checkLevel and answers it.
func (s *Server) setMember(w http.ResponseWriter, status int, g *group, u *user, level int64) *apiError {
	if e := s.checkLevel(g, u.id, level); e != nil {
		return e
	}
	g.members[u.id] = int(level)
	writeJSON(w, status, s.memberJSON(u, int(level)))
	return nil
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	g, e := s.groupParam(rt.id)
	if e != nil {
		return e
	}
	id, level, e := s.memberBody(r, true)
	if e != nil {
		return e
	}
	if _, ok := g.members[id]; ok {
		return conflict("Member already exists")
	}
	u := s.userByID(id)
	if u == nil {
		return notFound("User")
	}
	return s.setMember(w, http.StatusCreated, g, u, level)
}

func (s *Server) editMember(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	g, id, e := s.memberParams(rt)
	if e != nil {
		return e
	}
	_, level, e := s.memberBody(r, false)
	if e != nil {
		return e
	}
	if _, ok := g.members[id]; !ok {
		return &apiError{status: http.StatusNotFound, message: "404 Not found"}
	}
	return s.setMember(w, http.StatusOK, g, s.userByID(id), level)
}

// removeMember is DELETE /groups/:id/members/:user_id: 204, 404 for
// someone who is not a direct member, 403 for the last owner of a
// top-level group. Without skip_subresources=true the user's direct
// memberships of the descendant groups go too (GitLab's default).
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, rt routed, _ *user) *apiError {
	g, id, e := s.memberParams(rt)
	if e != nil {
		return e
	}
	l, ok := g.members[id]
	if !ok {
		return &apiError{status: http.StatusNotFound, message: "404 Not found"}
	}
	if l == Owner && g.parent == nil {
		owners := 0
		for _, ml := range g.members {
			if ml == Owner {
				owners++
			}
		}
		if owners == 1 {
			return forbidden()
		}
	}
	delete(g.members, id)
	if r.URL.Query().Get("skip_subresources") != "true" {
		for _, d := range s.descendants(g) {
			delete(d.members, id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
