package pipedrivetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
)

const errorInfo = "Please check developers.pipedrive.com for more information about Pipedrive API."

// apiError is an error answered in Pipedrive's envelope.
type apiError struct {
	status  int
	message string
	code    int // errorCode, which the gateway's answers (401, 429) carry
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"success":false,"error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"success": false, "error": e.message, "error_info": errorInfo, "data": nil, "additional_data": nil}
	if e.code != 0 {
		body["errorCode"] = e.code
	}
	writeJSON(w, e.status, body)
}

func ok(w http.ResponseWriter, data any, additional map[string]any) *apiError {
	body := map[string]any{"success": true, "data": data}
	if additional != nil {
		body["additional_data"] = additional
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func badRequest(msg string) *apiError { return &apiError{status: http.StatusBadRequest, message: msg} }

type handler func(w http.ResponseWriter, r *http.Request, rt route) *apiError

// route is a request's endpoint: its name for Stats (with {placeholders}),
// its token cost (the x-token-cost of the OpenAPI document), its handler
// and its path id.
type route struct {
	name    string
	cost    int
	handler handler
	id      string
}

// route matches the request against the endpoints served, below /api/v1
// or /v1.
func (s *Server) route(r *http.Request) route {
	p, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok {
		p, ok = strings.CutPrefix(r.URL.Path, "/v1/")
	}
	if !ok {
		return route{name: r.Method + " " + r.URL.Path, cost: 2}
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if seg[0] == "teams" {
		seg[0] = "legacyTeams" // the path Teams had before they became legacy
	}
	m := r.Method
	rt := route{cost: 2}
	set := func(name string, cost int, h handler) { rt.name, rt.cost, rt.handler = m+" "+name, cost, h }
	switch {
	case len(seg) == 1 && seg[0] == "users" && m == http.MethodGet:
		set("/users", 20, s.listUsers)
	case len(seg) == 1 && seg[0] == "users" && m == http.MethodPost:
		set("/users", 10, s.addUser)
	case len(seg) == 2 && seg[0] == "users" && seg[1] == "find" && m == http.MethodGet:
		set("/users/find", 40, s.findUsers)
	case len(seg) == 2 && seg[0] == "users" && seg[1] == "me" && m == http.MethodGet:
		set("/users/me", 2, s.me)
	case len(seg) == 2 && seg[0] == "users" && m == http.MethodGet:
		rt.id = seg[1]
		set("/users/{id}", 2, s.getUser)
	case len(seg) == 2 && seg[0] == "users" && m == http.MethodPut:
		rt.id = seg[1]
		set("/users/{id}", 10, s.updateUser)
	case len(seg) == 1 && seg[0] == "permissionSets" && m == http.MethodGet:
		set("/permissionSets", 20, s.listPermissionSets)
	case len(seg) == 1 && seg[0] == "legacyTeams" && m == http.MethodGet:
		set("/legacyTeams", 20, s.listTeams)
	case len(seg) == 3 && seg[0] == "legacyTeams" && seg[1] == "user" && m == http.MethodGet:
		rt.id = seg[2]
		set("/legacyTeams/user/{id}", 20, s.userTeams)
	case len(seg) == 3 && seg[0] == "legacyTeams" && seg[2] == "users":
		rt.id = seg[1]
		switch m {
		case http.MethodGet:
			set("/legacyTeams/{id}/users", 20, s.teamUsers)
		case http.MethodPost:
			set("/legacyTeams/{id}/users", 10, s.addTeamUsers)
		case http.MethodDelete:
			set("/legacyTeams/{id}/users", 10, s.deleteTeamUsers)
		}
	case len(seg) == 1 && seg[0] == "roles" && m == http.MethodGet:
		set("/roles", 20, s.listRoles)
	case len(seg) == 3 && seg[0] == "roles" && seg[2] == "assignments":
		rt.id = seg[1]
		switch m {
		case http.MethodPost:
			set("/roles/{id}/assignments", 10, s.addRoleAssignment)
		case http.MethodDelete:
			set("/roles/{id}/assignments", 6, s.deleteRoleAssignment)
		}
	}
	if rt.name == "" {
		rt.name = m + " /" + strings.Join(seg, "/")
	}
	return rt
}

// ---- JSON shapes ----------------------------------------------------------------

const timeFormat = "2006-01-02 15:04:05"

func (s *Server) userJSON(u *user) map[string]any {
	return map[string]any{
		"id": u.id, "name": u.name, "email": u.email, "default_currency": "EUR", "locale": "en_US", "lang": 1, "phone": nil,
		"activated": u.activated, "active_flag": u.activeFlag, "last_login": nil,
		"created": u.created.UTC().Format(timeFormat), "modified": u.modified.UTC().Format(timeFormat),
		"has_created_company": u.id == AdminUserID, "access": slices.Clone(u.access), "timezone_name": "Europe/Berlin",
		"timezone_offset": "+01:00", "role_id": u.roleID, "icon_url": nil, "is_you": u.id == AdminUserID, "is_deleted": false,
	}
}

func (s *Server) teamJSON(t *team, skipUsers bool) map[string]any {
	out := map[string]any{
		"id": t.id, "name": t.name, "description": t.description, "manager_id": t.managerID, "active_flag": 1, "deleted_flag": 0,
		"add_time": t.created.UTC().Format(timeFormat), "created_by_user_id": AdminUserID,
	}
	if !skipUsers {
		out["users"] = slices.Clone(t.users)
	}
	return out
}

// paged writes items from start, limit at a time (default 100, at most
// 500), with additional_data.pagination as Pipedrive's v1 lists have it.
func paged(w http.ResponseWriter, r *http.Request, items []any) *apiError {
	q := r.URL.Query()
	start, limit := 0, 100
	if v := q.Get("start"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("Invalid start: must be a non-negative integer")
		}
		start = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("Invalid limit: must be a positive integer")
		}
		limit = min(n, 500)
	}
	end := min(start+limit, len(items))
	page := []any{}
	if start < len(items) {
		page = items[start:end]
	}
	pg := map[string]any{"start": start, "limit": limit, "more_items_in_collection": end < len(items)}
	if end < len(items) {
		pg["next_start"] = end
	}
	return ok(w, page, map[string]any{"pagination": pg})
}

// ---- users ----------------------------------------------------------------------

func (s *Server) userByID(raw string) (*user, *apiError) {
	id, err := strconv.Atoi(raw)
	if err != nil || id <= 0 {
		return nil, badRequest("Invalid user ID")
	}
	u, ok := s.db.users[id]
	if !ok {
		return nil, &apiError{status: http.StatusNotFound, message: "User not found or not accessible."}
	}
	return u, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	var items []any
	for _, u := range s.db.sortedUsers() {
		items = append(items, s.userJSON(u))
	}
	return paged(w, r, items)
}

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	u, e := s.userByID(rt.id)
	if e != nil {
		return e
	}
	return ok(w, s.userJSON(u), nil)
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, _ route) *apiError {
	u := s.userJSON(s.db.users[AdminUserID])
	u["company_id"], u["company_name"], u["company_domain"], u["company_country"] = 9000, "Acme", s.domain, "DE"
	return ok(w, u, nil)
}

// findUsers matches term against e-mail addresses (search_by_email=1) or
// names and addresses, as a substring, case-insensitively; nothing found
// is data null.
func (s *Server) findUsers(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	q := r.URL.Query()
	term := strings.ToLower(strings.TrimSpace(q.Get("term")))
	if term == "" {
		return badRequest("Term must be provided")
	}
	byEmail := q.Get("search_by_email") == "1"
	var found []any
	for _, u := range s.db.sortedUsers() {
		if strings.Contains(strings.ToLower(u.email), term) || !byEmail && strings.Contains(strings.ToLower(u.name), term) {
			found = append(found, s.userJSON(u))
		}
	}
	if found == nil {
		return ok(w, nil, nil)
	}
	return ok(w, found, nil)
}

func decode(r *http.Request, into any) *apiError {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest("Could not read the request body")
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return badRequest("Invalid JSON in the request body")
	}
	return nil
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	var body struct {
		Email      string   `json:"email"`
		Access     []Access `json:"access"`
		ActiveFlag *bool    `json:"active_flag"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	addr, err := mail.ParseAddress(body.Email)
	if body.Email == "" || err != nil || addr.Address != body.Email {
		return badRequest("Email is not valid")
	}
	if s.db.byEmail(body.Email) != nil {
		return badRequest(ErrDuplicate)
	}
	access := body.Access
	if access == nil {
		access = []Access{{App: AppSales}}
	}
	for i, a := range access {
		if !slices.Contains(apps, a.App) {
			return badRequest(fmt.Sprintf("Invalid app %q in access", a.App))
		}
		switch p, known := s.db.sets[a.PermissionSetID]; {
		case a.PermissionSetID == "" && !a.Admin:
			access[i].PermissionSetID = s.db.defaults[a.App]
		case a.PermissionSetID == "":
			access[i].PermissionSetID = s.db.setID(a.App, Admin)
		case !known || p.app != a.App:
			return badRequest(fmt.Sprintf("Permission set %s does not exist for app %s", a.PermissionSetID, a.App))
		}
	}
	now := s.now()
	local, _, _ := strings.Cut(body.Email, "@")
	u := &user{id: s.db.next(), name: local, email: body.Email, activeFlag: body.ActiveFlag == nil || *body.ActiveFlag,
		access: access, roleID: DefaultRoleID, created: now, modified: now}
	s.db.users[u.id] = u
	return ok(w, s.userJSON(u), nil)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	u, e := s.userByID(rt.id)
	if e != nil {
		return e
	}
	var body struct {
		ActiveFlag *bool `json:"active_flag"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	if body.ActiveFlag == nil {
		return badRequest("active_flag is required")
	}
	u.activeFlag, u.modified = *body.ActiveFlag, s.now()
	return ok(w, s.userJSON(u), nil)
}

// ---- permission sets ------------------------------------------------------------

func (s *Server) listPermissionSets(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	app := r.URL.Query().Get("app")
	var out []any
	ids := make([]string, 0, len(s.db.sets))
	for id := range s.db.sets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := s.db.sets[id]
		if app != "" && p.app != app {
			continue
		}
		n := 0
		for _, u := range s.db.users {
			if slices.ContainsFunc(u.access, func(a Access) bool { return a.PermissionSetID == id }) {
				n++
			}
		}
		out = append(out, map[string]any{"id": p.id, "name": p.name, "app": p.app, "type": p.kind, "assignment_count": n})
	}
	return ok(w, out, nil)
}

// ---- teams ----------------------------------------------------------------------

func (s *Server) teamByID(raw string) (*team, *apiError) {
	id, err := strconv.Atoi(raw)
	t, ok := s.db.teams[id]
	if err != nil || !ok {
		return nil, &apiError{status: http.StatusNotFound, message: fmt.Sprintf("Team %s does not exist", raw)}
	}
	return t, nil
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	return s.teamList(w, r, s.db.sortedTeams())
}

func (s *Server) userTeams(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	u, e := s.userByID(rt.id)
	if e != nil {
		return e
	}
	return s.teamList(w, r, s.db.teamsOf(u.id))
}

// teamList writes teams, with their users unless skip_users=1.
func (s *Server) teamList(w http.ResponseWriter, r *http.Request, teams []*team) *apiError {
	skip := r.URL.Query().Get("skip_users") == "1"
	out := []any{}
	for _, t := range teams {
		out = append(out, s.teamJSON(t, skip))
	}
	return ok(w, out, nil)
}

func (s *Server) teamUsers(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	t, e := s.teamByID(rt.id)
	if e != nil {
		return e
	}
	return ok(w, slices.Clone(t.users), nil)
}

// teamBody reads {"users": [ids]}: required, and every id a user of the
// company.
func (s *Server) teamBody(r *http.Request) ([]int, *apiError) {
	var body struct {
		Users []int `json:"users"`
	}
	if e := decode(r, &body); e != nil {
		return nil, e
	}
	if len(body.Users) == 0 {
		return nil, badRequest("users is required")
	}
	for _, id := range body.Users {
		if _, ok := s.db.users[id]; !ok {
			return nil, badRequest(fmt.Sprintf("User %d does not exist", id))
		}
	}
	return body.Users, nil
}

func (s *Server) addTeamUsers(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	t, e := s.teamByID(rt.id)
	if e != nil {
		return e
	}
	ids, e := s.teamBody(r)
	if e != nil {
		return e
	}
	for _, id := range ids {
		if !slices.Contains(t.users, id) {
			t.users = append(t.users, id)
		}
	}
	return ok(w, slices.Clone(t.users), nil)
}

func (s *Server) deleteTeamUsers(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	t, e := s.teamByID(rt.id)
	if e != nil {
		return e
	}
	ids, e := s.teamBody(r)
	if e != nil {
		return e
	}
	t.users = slices.DeleteFunc(t.users, func(id int) bool { return slices.Contains(ids, id) })
	return ok(w, slices.Clone(t.users), nil)
}

// ---- roles ----------------------------------------------------------------------

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	ids := make([]int, 0, len(s.db.roles))
	for id := range s.db.roles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var items []any
	for _, id := range ids {
		ro := s.db.roles[id]
		n := 0
		for _, u := range s.db.users {
			if u.roleID == id {
				n++
			}
		}
		var parent any
		if ro.parentID != 0 {
			parent = ro.parentID
		}
		items = append(items, map[string]any{"id": ro.id, "parent_role_id": parent, "name": ro.name, "active_flag": true,
			"assignment_count": strconv.Itoa(n), "sub_role_count": "0", "level": 1 + min(ro.parentID, 1)})
	}
	return paged(w, r, items)
}

func (s *Server) roleBody(r *http.Request, rt route) (*role, *user, *apiError) {
	id, err := strconv.Atoi(rt.id)
	ro, known := s.db.roles[id]
	if err != nil || !known {
		return nil, nil, &apiError{status: http.StatusNotFound, message: "Role not found"}
	}
	var body struct {
		UserID int `json:"user_id"`
	}
	if e := decode(r, &body); e != nil {
		return nil, nil, e
	}
	u, ok := s.db.users[body.UserID]
	if !ok {
		return nil, nil, badRequest("user_id is required and must be a user of the company")
	}
	return ro, u, nil
}

func (s *Server) addRoleAssignment(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	ro, u, e := s.roleBody(r, rt)
	if e != nil {
		return e
	}
	u.roleID, u.modified = ro.id, s.now()
	return ok(w, map[string]any{"user_id": u.id, "role_id": ro.id}, nil)
}

// deleteRoleAssignment puts the user back in the default role ("Removes
// the assigned user from a role and adds to the default role").
func (s *Server) deleteRoleAssignment(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	ro, u, e := s.roleBody(r, rt)
	if e != nil {
		return e
	}
	if u.roleID == ro.id {
		u.roleID, u.modified = DefaultRoleID, s.now()
	}
	return ok(w, map[string]any{"id": ro.id}, nil)
}
