package googletest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Bounds of groups.list and members.list.
const maxGroupPage = 200

func (s *Server) groupJSON(g *Group) map[string]any {
	return map[string]any{
		"kind": "admin#directory#group", "id": g.ID, "etag": etag(g.ID, g.Email, len(g.Members)), "email": g.Email,
		"name": g.Name, "directMembersCount": strconv.Itoa(len(g.Members)), "adminCreated": true,
	}
}

func (s *Server) memberJSON(g *Group, id string) map[string]any {
	m := map[string]any{"kind": "admin#directory#member", "id": id, "etag": etag(g.ID, id), "role": "MEMBER", "type": "USER", "status": "ACTIVE"}
	if u := s.db.users[id]; u != nil {
		m["email"] = u.PrimaryEmail
	}
	return m
}

// listGroups is groups.list: the groups a user is a direct member of
// (userKey), or every group of the customer or domain, by address.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	q := r.URL.Query()
	var groups []*Group
	switch key := q.Get("userKey"); {
	case key != "":
		id := s.db.userID(key)
		if id == "" {
			return notFound("userKey")
		}
		groups = s.db.memberOf(id)
	case q.Get("customer") != "" || q.Get("domain") != "":
		for _, g := range s.db.groups {
			groups = append(groups, g)
		}
		slices.SortFunc(groups, func(a, b *Group) int { return strings.Compare(a.Email, b.Email) })
	default:
		return errorf(http.StatusBadRequest, ReasonBadRequest, "Bad Request")
	}
	return writePage(w, r, "admin#directory#groups", "groups", maxGroupPage, maxGroupPage, groups,
		func(g *Group) string { return g.Email }, func(g *Group) any { return s.groupJSON(g) })
}

// listMembers is members.list, by member id.
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	g := s.db.groups[s.db.groupID(r.PathValue("groupKey"))]
	if g == nil {
		return notFound("groupKey")
	}
	return writePage(w, r, "admin#directory#members", "members", maxGroupPage, maxGroupPage, slices.Sorted(slices.Values(g.Members)),
		func(id string) string { return id }, func(id string) any { return s.memberJSON(g, id) })
}

// insertMember is members.insert of a user, by email or id: 409 "Member
// already exists." for a member already in.
func (s *Server) insertMember(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	g := s.db.groups[s.db.groupID(r.PathValue("groupKey"))]
	if g == nil {
		return notFound("groupKey")
	}
	fields, err := decodeFields(r)
	if err != nil {
		return err
	}
	var email, id string
	if err := field(fields, "email", &email); err != nil {
		return err
	}
	if err := field(fields, "id", &id); err != nil {
		return err
	}
	if email == "" && id == "" {
		return errorf(http.StatusBadRequest, ReasonRequired, "Missing required field: memberKey")
	}
	uid := s.db.userID(email)
	if email == "" {
		uid = s.db.userID(id)
	}
	if uid == "" {
		return notFound("memberKey")
	}
	if slices.Contains(g.Members, uid) {
		return memberExists()
	}
	g.Members = append(g.Members, uid)
	writeJSON(w, http.StatusOK, s.memberJSON(g, uid))
	return nil
}

// deleteMember is members.delete, the member by id or address: 404 for
// one not in the group.
func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	g := s.db.groups[s.db.groupID(r.PathValue("groupKey"))]
	if g == nil {
		return notFound("groupKey")
	}
	uid := s.db.userID(r.PathValue("memberKey"))
	if uid == "" || !slices.Contains(g.Members, uid) {
		return notFound("memberKey")
	}
	g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == uid })
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// AddGroup makes a group (Keycard grants membership of groups, it makes
// none) and returns its id. An address in use returns that group's id.
func (s *Server) AddGroup(email, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	email = strings.ToLower(email)
	if id := s.db.groupID(email); id != "" {
		return id
	}
	g := &Group{ID: "0" + strings.ToLower(digits(14)), Email: email, Name: name}
	s.db.groups[g.ID], s.db.gemails[email] = g, g.ID
	return g.ID
}

// Groups returns every group, by address.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Group
	for _, g := range s.db.groups {
		c := *g
		c.Members = slices.Clone(g.Members)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Email, b.Email) })
	return out
}

// MemberOf returns the addresses of the groups the user a key names is a
// direct member of, sorted.
func (s *Server) MemberOf(userKey string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.db.memberOf(s.db.userID(userKey)) {
		out = append(out, g.Email)
	}
	return out
}
