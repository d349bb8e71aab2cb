package githubtest

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

// apiError is an error answered in GitHub's shape: {"message",
// "documentation_url", "status"} and, for a 422, "errors".
type apiError struct {
	status  int
	message string
	doc     string
	errors  []map[string]string
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"message":"Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"message": e.message, "status": strconv.Itoa(e.status)}
	if e.doc != "" {
		body["documentation_url"] = e.doc
	}
	if e.errors != nil {
		body["errors"] = e.errors
	}
	writeJSON(w, e.status, body)
}

func notFound(doc string) *apiError {
	return &apiError{status: http.StatusNotFound, message: "Not Found", doc: doc}
}

func validation(resource, code, field, message string) *apiError {
	e := map[string]string{"resource": resource, "code": code, "field": field}
	if message != "" {
		e["message"] = message
	}
	return &apiError{status: http.StatusUnprocessableEntity, message: "Validation Failed", errors: []map[string]string{e},
		doc: "https://docs.github.com/rest/orgs/members#create-an-organization-invitation"}
}

type handler func(w http.ResponseWriter, r *http.Request, rt route) *apiError

// route is a request's endpoint: its name for Stats (with {placeholders}),
// its handler, and the path values.
type route struct {
	name    string
	doc     string
	handler handler
	login   string // {username}
	slug    string // {team_slug}
	id      string // {invitation_id}
}

const docMembers = "https://docs.github.com/rest/orgs/members"
const docTeams = "https://docs.github.com/rest/teams/members"

// route matches the request against the endpoints served.
func (s *Server) route(r *http.Request) route {
	p, ok := strings.CutPrefix(r.URL.Path, s.basePath)
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if !ok || len(seg) < 2 || seg[0] != "orgs" {
		return route{name: r.Method + " " + p}
	}
	if !strings.EqualFold(seg[1], s.org) {
		return route{name: r.Method + " /orgs/{unknown}"}
	}
	m := r.Method
	rest := seg[2:]
	rt := route{}
	set := func(name, doc string, h handler) {
		rt.name, rt.doc, rt.handler = m+" "+name, doc, h
	}
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		set("/orgs/{org}", "https://docs.github.com/rest/orgs/orgs#get-an-organization", s.getOrg)
	case len(rest) == 1 && rest[0] == "members" && m == http.MethodGet:
		set("/orgs/{org}/members", docMembers, s.listMembers)
	case len(rest) == 1 && rest[0] == "outside_collaborators" && m == http.MethodGet:
		set("/orgs/{org}/outside_collaborators", "https://docs.github.com/rest/orgs/outside-collaborators", s.listOutside)
	case len(rest) == 2 && rest[0] == "memberships":
		rt.login = rest[1]
		switch m {
		case http.MethodGet:
			set("/orgs/{org}/memberships/{username}", docMembers+"#get-organization-membership-for-a-user", s.getMembership)
		case http.MethodPut:
			set("/orgs/{org}/memberships/{username}", docMembers+"#set-organization-membership-for-a-user", s.putMembership)
		case http.MethodDelete:
			set("/orgs/{org}/memberships/{username}", docMembers+"#remove-organization-membership-for-a-user", s.deleteMembership)
		}
	case len(rest) == 1 && rest[0] == "invitations":
		switch m {
		case http.MethodGet:
			set("/orgs/{org}/invitations", docMembers+"#list-pending-organization-invitations", s.listInvitations(false))
		case http.MethodPost:
			set("/orgs/{org}/invitations", docMembers+"#create-an-organization-invitation", s.createInvitation)
		}
	case len(rest) == 1 && rest[0] == "failed_invitations" && m == http.MethodGet:
		set("/orgs/{org}/failed_invitations", docMembers+"#list-failed-organization-invitations", s.listInvitations(true))
	case len(rest) == 2 && rest[0] == "invitations" && m == http.MethodDelete:
		rt.id = rest[1]
		set("/orgs/{org}/invitations/{invitation_id}", docMembers+"#cancel-an-organization-invitation", s.cancelInvitation)
	case len(rest) == 3 && rest[0] == "invitations" && rest[2] == "teams" && m == http.MethodGet:
		rt.id = rest[1]
		set("/orgs/{org}/invitations/{invitation_id}/teams", docMembers+"#list-organization-invitation-teams", s.invitationTeams)
	case len(rest) == 1 && rest[0] == "teams" && m == http.MethodGet:
		set("/orgs/{org}/teams", "https://docs.github.com/rest/teams/teams#list-teams", s.listTeams)
	case len(rest) == 2 && rest[0] == "teams" && m == http.MethodGet:
		rt.slug = rest[1]
		set("/orgs/{org}/teams/{team_slug}", "https://docs.github.com/rest/teams/teams#get-a-team-by-name", s.getTeam)
	case len(rest) == 3 && rest[0] == "teams" && rest[2] == "members" && m == http.MethodGet:
		rt.slug = rest[1]
		set("/orgs/{org}/teams/{team_slug}/members", docTeams+"#list-team-members", s.teamMembers)
	case len(rest) == 3 && rest[0] == "teams" && rest[2] == "invitations" && m == http.MethodGet:
		rt.slug = rest[1]
		set("/orgs/{org}/teams/{team_slug}/invitations", docTeams+"#list-pending-team-invitations", s.teamInvitations)
	case len(rest) == 4 && rest[0] == "teams" && rest[2] == "memberships":
		rt.slug, rt.login = rest[1], rest[3]
		switch m {
		case http.MethodGet:
			set("/orgs/{org}/teams/{team_slug}/memberships/{username}", docTeams+"#get-team-membership-for-a-user", s.getTeamMembership)
		case http.MethodPut:
			set("/orgs/{org}/teams/{team_slug}/memberships/{username}", docTeams+"#add-or-update-team-membership-for-a-user", s.putTeamMembership)
		case http.MethodDelete:
			set("/orgs/{org}/teams/{team_slug}/memberships/{username}", docTeams+"#remove-team-membership-for-a-user", s.deleteTeamMembership)
		}
	}
	if rt.name == "" {
		rt.name = m + " /orgs/{org}/" + strings.Join(rest, "/")
	}
	return rt
}

// ---- JSON shapes -----------------------------------------------------------

func (s *Server) api(path string) string { return s.ts.URL + s.basePath + path }

func (s *Server) userJSON(u *user) map[string]any {
	return map[string]any{
		"login": u.login, "id": u.id, "node_id": fmt.Sprintf("U_%d", u.id), "type": "User", "site_admin": false,
		"url": s.api("/users/" + u.login), "html_url": "https://github.com/" + u.login,
	}
}

func (s *Server) orgJSON() map[string]any {
	return map[string]any{"login": s.org, "id": s.orgID, "node_id": fmt.Sprintf("O_%d", s.orgID), "url": s.api("/orgs/" + s.org)}
}

func (s *Server) membershipJSON(m *member) map[string]any {
	return map[string]any{
		"url": s.api("/orgs/" + s.org + "/memberships/" + m.user.login), "state": m.state, "role": m.role,
		"organization_url": s.api("/orgs/" + s.org), "organization": s.orgJSON(), "user": s.userJSON(m.user),
	}
}

func (s *Server) teamJSON(t *team) map[string]any {
	return map[string]any{
		"id": t.id, "node_id": fmt.Sprintf("T_%d", t.id), "url": s.api(fmt.Sprintf("/organizations/%d/team/%d", s.orgID, t.id)),
		"name": t.name, "slug": t.slug, "description": "", "privacy": "closed", "permission": "pull",
		"members_url": s.api("/orgs/" + s.org + "/teams/" + t.slug + "/members{/member}"), "parent": nil,
	}
}

func (s *Server) invitationJSON(inv *invitation) map[string]any {
	out := map[string]any{
		"id": inv.id, "node_id": fmt.Sprintf("OI_%d", inv.id), "login": nil, "email": nil, "role": inv.role,
		"created_at": inv.created.UTC().Format(time.RFC3339), "failed_at": nil, "failed_reason": nil,
		"inviter": s.userJSON(&user{login: "keycard-bot", id: 1}), "team_count": len(inv.teams),
		"invitation_teams_url": s.api(fmt.Sprintf("/organizations/%d/invitations/%d/teams", s.orgID, inv.id)),
		"invitation_source":    "member",
	}
	if inv.user != nil {
		out["login"] = inv.user.login
	}
	if inv.email != "" {
		out["email"] = inv.email
	}
	if !inv.failedAt.IsZero() {
		out["failed_at"], out["failed_reason"] = inv.failedAt.UTC().Format(time.RFC3339), inv.failedReason
	}
	return out
}

// page writes items per_page at a time with GitHub's Link header.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []map[string]any) *apiError {
	q := r.URL.Query()
	per, pg := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &apiError{status: http.StatusUnprocessableEntity, message: "Invalid per_page"}
		}
		per = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &apiError{status: http.StatusUnprocessableEntity, message: "Invalid page"}
		}
		pg = n
	}
	last := max((len(items)+per-1)/per, 1)
	lo, hi := min((pg-1)*per, len(items)), min(pg*per, len(items))
	if last > 1 {
		link := func(n int, rel string) string {
			u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
			v := r.URL.Query()
			v.Set("per_page", strconv.Itoa(per))
			v.Set("page", strconv.Itoa(n))
			u.RawQuery = v.Encode()
			return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
		}
		var links []string
		if pg > 1 {
			links = append(links, link(pg-1, "prev"))
		}
		if pg < last {
			links = append(links, link(pg+1, "next"), link(last, "last"))
		}
		if pg > 1 {
			links = append(links, link(1, "first"))
		}
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, items[lo:hi])
	return nil
}

// ---- handlers ---------------------------------------------------------------

func (s *Server) getOrg(w http.ResponseWriter, _ *http.Request, _ route) *apiError {
	o := s.orgJSON()
	o["name"], o["type"] = s.org, "Organization"
	o["plan"] = map[string]any{"name": "team", "space": 976562499, "private_repos": 999999, "filled_seats": len(s.members) + len(s.invitations), "seats": 100}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	var items []map[string]any
	for _, m := range s.sortedMembers() {
		if m.state == Active && (r.URL.Query().Get("role") == "" || r.URL.Query().Get("role") == "all" || r.URL.Query().Get("role") == m.role) {
			items = append(items, s.userJSON(m.user))
		}
	}
	return s.page(w, r, items)
}

func (s *Server) sortedMembers() []*member {
	out := make([]*member, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int { return int(a.user.id - b.user.id) })
	return out
}

func (s *Server) listOutside(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	var items []map[string]any
	for key := range s.outside {
		items = append(items, s.userJSON(s.users[key]))
	}
	slices.SortFunc(items, func(a, b map[string]any) int { return int(a["id"].(int64) - b["id"].(int64)) })
	return s.page(w, r, items)
}

func (s *Server) getMembership(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	m, ok := s.members[strings.ToLower(rt.login)]
	if !ok {
		return notFound(rt.doc)
	}
	writeJSON(w, http.StatusOK, s.membershipJSON(m))
	return nil
}

// putMembership sets a member's role, or invites someone outside the org:
// GitHub never adds a personal account directly. A user whose invitation
// expired is refused until it is cancelled (unverified; reported by
// users of the API).
func (s *Server) putMembership(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var body struct {
		Role string `json:"role"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	if body.Role == "" {
		body.Role = RoleMember
	}
	if body.Role != RoleMember && body.Role != RoleAdmin {
		return validation("Membership", "invalid", "role", "role must be one of: member, admin")
	}
	u := s.lookup(rt.login)
	if u == nil {
		return notFound(rt.doc)
	}
	if m, ok := s.members[strings.ToLower(rt.login)]; ok {
		m.role = body.Role
		writeJSON(w, http.StatusOK, s.membershipJSON(m))
		return nil
	}
	if s.failedFor(u.login) != nil {
		return validation("OrganizationInvitation", "custom", "invitee", u.login+" has a failed invitation; cancel it before inviting again")
	}
	if _, e := s.invite(u, "", invitationRole(body.Role), nil); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.membershipJSON(s.members[strings.ToLower(u.login)]))
	return nil
}

func (s *Server) deleteMembership(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	key := strings.ToLower(rt.login)
	if _, ok := s.members[key]; !ok {
		return notFound(rt.doc)
	}
	if inv := s.invitationFor(rt.login); inv != nil {
		delete(s.invitations, inv.id)
	}
	s.dropMember(rt.login)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listInvitations(failed bool) handler {
	return func(w http.ResponseWriter, r *http.Request, _ route) *apiError {
		set := s.invitations
		if failed {
			set = s.failed
		}
		var items []map[string]any
		for _, inv := range s.sortedInvitations(set) {
			items = append(items, s.invitationJSON(inv))
		}
		return s.page(w, r, items)
	}
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var body struct {
		InviteeID *int64  `json:"invitee_id"`
		Email     *string `json:"email"`
		Role      string  `json:"role"`
		TeamIDs   []int64 `json:"team_ids"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	if body.Role == "" {
		body.Role = "direct_member"
	}
	if !slices.Contains([]string{"admin", "direct_member", "billing_manager", "reinstate"}, body.Role) {
		return validation("OrganizationInvitation", "invalid", "role", "")
	}
	var teams []string
	for _, id := range body.TeamIDs {
		slug := ""
		for _, t := range s.teams {
			if t.id == id {
				slug = t.slug
			}
		}
		if slug == "" {
			return validation("OrganizationInvitation", "invalid", "team_ids", "")
		}
		teams = append(teams, slug)
	}
	var u *user
	email := ""
	switch {
	case body.InviteeID != nil && body.Email == nil:
		for _, known := range s.users {
			if known.id == *body.InviteeID {
				u = known
			}
		}
		if u == nil {
			return validation("OrganizationInvitation", "invalid", "invitee_id", "")
		}
	case body.Email != nil && body.InviteeID == nil:
		email = strings.TrimSpace(*body.Email)
		if at := strings.Index(email, "@"); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " /") {
			return validation("OrganizationInvitation", "invalid", "email", "")
		}
		for _, known := range s.users {
			if known.email != "" && strings.EqualFold(known.email, email) {
				if _, ok := s.members[strings.ToLower(known.login)]; ok {
					return validation("OrganizationInvitation", "custom", "email", "Invitee is already a part of this organization")
				}
			}
		}
		if s.byEmail(email) != nil {
			return validation("OrganizationInvitation", "custom", "email", "Invitee has already been invited")
		}
	default:
		return validation("OrganizationInvitation", "missing_field", "invitee_id", "either invitee_id or email is required")
	}
	if u != nil {
		if _, ok := s.members[strings.ToLower(u.login)]; ok {
			return validation("OrganizationInvitation", "custom", "invitee", "Invitee is already a part of this organization")
		}
	}
	inv, e := s.invite(u, email, body.Role, teams)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, s.invitationJSON(inv))
	return nil
}

func (s *Server) invitationByID(raw string) (*invitation, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, false
	}
	if inv, ok := s.invitations[id]; ok {
		return inv, true
	}
	inv, ok := s.failed[id]
	return inv, ok
}

func (s *Server) cancelInvitation(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	inv, ok := s.invitationByID(rt.id)
	if !ok {
		return notFound(rt.doc)
	}
	if _, pending := s.invitations[inv.id]; pending && inv.user != nil {
		s.dropMember(inv.user.login)
	}
	delete(s.invitations, inv.id)
	delete(s.failed, inv.id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) invitationTeams(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	inv, ok := s.invitationByID(rt.id)
	if !ok {
		return notFound(rt.doc)
	}
	var items []map[string]any
	for _, slug := range inv.teams {
		if t, ok := s.teams[slug]; ok {
			items = append(items, s.teamJSON(t))
		}
	}
	return s.page(w, r, items)
}

func (s *Server) sortedTeams() []*team {
	out := make([]*team, 0, len(s.teams))
	for _, t := range s.teams {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *team) int { return int(a.id - b.id) })
	return out
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, _ route) *apiError {
	var items []map[string]any
	for _, t := range s.sortedTeams() {
		items = append(items, s.teamJSON(t))
	}
	return s.page(w, r, items)
}

func (s *Server) getTeam(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	t, ok := s.teams[rt.slug]
	if !ok {
		return notFound(rt.doc)
	}
	writeJSON(w, http.StatusOK, s.teamJSON(t))
	return nil
}

// teamMembers lists a team's active members; pending ones are its
// invitations.
func (s *Server) teamMembers(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	t, ok := s.teams[rt.slug]
	if !ok {
		return notFound(rt.doc)
	}
	var items []map[string]any
	for _, m := range s.sortedMembers() {
		if t.members[strings.ToLower(m.user.login)] == Active {
			items = append(items, s.userJSON(m.user))
		}
	}
	return s.page(w, r, items)
}

// teamInvitations lists the pending org invitations that carry the team.
func (s *Server) teamInvitations(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	t, ok := s.teams[rt.slug]
	if !ok {
		return notFound(rt.doc)
	}
	var items []map[string]any
	for _, inv := range s.sortedInvitations(s.invitations) {
		if inv.user != nil && t.members[strings.ToLower(inv.user.login)] == Pending {
			items = append(items, s.invitationJSON(inv))
		} else if inv.user == nil && slices.Contains(inv.teams, t.slug) {
			items = append(items, s.invitationJSON(inv))
		}
	}
	return s.page(w, r, items)
}

func (s *Server) teamMembershipJSON(t *team, login string) map[string]any {
	key := strings.ToLower(login)
	return map[string]any{"url": s.api("/orgs/" + s.org + "/teams/" + t.slug + "/memberships/" + login), "role": t.roles[key], "state": t.members[key]}
}

func (s *Server) getTeamMembership(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	t, ok := s.teams[rt.slug]
	if !ok {
		return notFound(rt.doc)
	}
	if _, ok := t.members[strings.ToLower(rt.login)]; !ok {
		return notFound(rt.doc)
	}
	writeJSON(w, http.StatusOK, s.teamMembershipJSON(t, rt.login))
	return nil
}

// putTeamMembership adds an org member to the team; a pending member's
// team membership is pending too, and someone outside the org is invited
// to it (GitHub: "If the user is unaffiliated with the team's
// organization, this endpoint will send an invitation").
func (s *Server) putTeamMembership(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var body struct {
		Role string `json:"role"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	if body.Role == "" {
		body.Role = "member"
	}
	if body.Role != "member" && body.Role != "maintainer" {
		return validation("TeamMember", "invalid", "role", "")
	}
	t, ok := s.teams[rt.slug]
	u := s.lookup(rt.login)
	if !ok || u == nil {
		return notFound(rt.doc)
	}
	key := strings.ToLower(u.login)
	m, member := s.members[key]
	switch {
	case !member:
		if s.failedFor(u.login) != nil {
			return validation("OrganizationInvitation", "custom", "invitee", u.login+" has a failed invitation; cancel it before inviting again")
		}
		inv, e := s.invite(u, "", "direct_member", nil)
		if e != nil {
			return e
		}
		inv.teams = append(inv.teams, t.slug)
		t.members[key] = Pending
	case m.state == Pending:
		if inv := s.invitationFor(u.login); inv != nil && !slices.Contains(inv.teams, t.slug) {
			inv.teams = append(inv.teams, t.slug)
		}
		t.members[key] = Pending
	default:
		t.members[key] = Active
	}
	t.roles[key] = body.Role
	writeJSON(w, http.StatusOK, s.teamMembershipJSON(t, u.login))
	return nil
}

func (s *Server) deleteTeamMembership(w http.ResponseWriter, _ *http.Request, rt route) *apiError {
	t, ok := s.teams[rt.slug]
	key := strings.ToLower(rt.login)
	if !ok {
		return notFound(rt.doc)
	}
	if _, ok := t.members[key]; !ok {
		return notFound(rt.doc)
	}
	delete(t.members, key)
	delete(t.roles, key)
	if inv := s.invitationFor(rt.login); inv != nil {
		inv.teams = slices.DeleteFunc(inv.teams, func(slug string) bool { return slug == t.slug })
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads a JSON body; an absent body is an empty object.
func decode(r *http.Request, v any) *apiError {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return &apiError{status: http.StatusBadRequest, message: "Problems parsing JSON"}
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &apiError{status: http.StatusBadRequest, message: "Problems parsing JSON"}
	}
	return nil
}
