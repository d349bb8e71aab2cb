package githubtest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles and states as GitHub spells them.
const (
	RoleMember = "member"
	RoleAdmin  = "admin"
	Active     = "active"
	Pending    = "pending"
)

type user struct {
	login string
	id    int64
	email string
}

type member struct {
	user  *user
	role  string // member | admin
	state string // active | pending
}

type invitation struct {
	id           int64
	user         *user  // nil for an e-mail invitation
	email        string // "" for an invitation by login
	role         string // direct_member | admin | billing_manager
	teams        []string
	created      time.Time
	failedAt     time.Time
	failedReason string
}

type team struct {
	id      int64
	slug    string
	name    string
	members map[string]string // lower-case login → state
	roles   map[string]string // lower-case login → member | maintainer
}

// Membership is what the fake holds for one login: its org membership and
// its teams, as the tests read them.
type Membership struct {
	Login string
	Role  string   // member | admin
	State string   // active | pending
	Teams []string // team slugs, sorted (pending team memberships of a pending member included)
}

// Invitation is a pending or failed invitation, as the tests read it.
type Invitation struct {
	ID           int64
	Login        string // "" for an e-mail invitation
	Email        string
	Role         string
	Teams        []string
	FailedReason string // "" while pending
}

func (s *Server) nextID() int64 {
	s.seq++
	return s.seq
}

// lookup returns GitHub's user for login, making one on first sight unless
// NoSuchUser said there is none.
func (s *Server) lookup(login string) *user {
	key := strings.ToLower(login)
	if s.missing[key] || !validLogin(login) {
		return nil
	}
	if u, ok := s.users[key]; ok {
		return u
	}
	u := &user{login: login, id: s.nextID()}
	s.users[key] = u
	return u
}

// validLogin is GitHub's rule: letters, digits and single hyphens, not at
// either end, at most 39 characters.
func validLogin(s string) bool {
	if s == "" || len(s) > 39 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// AddUser registers a GitHub user with the e-mail GitHub knows for them
// (an invitation by that e-mail is theirs to accept).
func (s *Server) AddUser(login, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookup(login); u != nil {
		u.email = strings.ToLower(email)
	}
}

// NoSuchUser makes login unknown to GitHub: memberships for it answer 404.
func (s *Server) NoSuchUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missing[strings.ToLower(login)] = true
	delete(s.users, strings.ToLower(login))
}

// AddMember makes login an active member with role, as if added by hand.
func (s *Server) AddMember(login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookup(login); u != nil {
		s.members[strings.ToLower(login)] = &member{user: u, role: role, state: Active}
	}
}

// AddTeam creates teams by slug (the name is the slug).
func (s *Server) AddTeam(slugs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, slug := range slugs {
		if _, ok := s.teams[slug]; !ok {
			s.teams[slug] = &team{id: s.nextID(), slug: slug, name: slug, members: map[string]string{}, roles: map[string]string{}}
		}
	}
}

// AddOutsideCollaborator gives login access to a repository without org
// membership.
func (s *Server) AddOutsideCollaborator(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookup(login) != nil {
		s.outside[strings.ToLower(login)] = true
	}
}

// Accept is login accepting their pending invitation: the membership and
// its team memberships become active. It reports whether there was one.
func (s *Server) Accept(login string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(login)
	m, ok := s.members[key]
	if !ok || m.state != Pending {
		return false
	}
	m.state = Active
	for id, inv := range s.invitations {
		if inv.user != nil && strings.EqualFold(inv.user.login, login) {
			delete(s.invitations, id)
		}
	}
	for _, t := range s.teams {
		if _, ok := t.members[key]; ok {
			t.members[key] = Active
		}
	}
	return true
}

// AcceptEmail is the GitHub user login accepting the invitation sent to
// email: they become an active member in the invitation's teams. It
// reports whether there was one.
func (s *Server) AcceptEmail(email, login string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.byEmail(email)
	u := s.lookup(login)
	if inv == nil || u == nil {
		return false
	}
	delete(s.invitations, inv.id)
	key := strings.ToLower(login)
	s.members[key] = &member{user: u, role: memberRole(inv.role), state: Active}
	for _, slug := range inv.teams {
		if t, ok := s.teams[slug]; ok {
			t.members[key], t.roles[key] = Active, "member"
		}
	}
	return true
}

func (s *Server) byEmail(email string) *invitation {
	for _, inv := range s.sortedInvitations(s.invitations) {
		if inv.user == nil && strings.EqualFold(inv.email, email) {
			return inv
		}
	}
	return nil
}

// Expire lets every pending invitation for who (a login or an e-mail)
// expire, as GitHub does after 7 days: it moves to the failed list with
// failed_reason "expired", and a pending member's membership and team
// memberships go. It reports how many expired.
func (s *Server) Expire(who string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, inv := range s.invitations {
		if (inv.user != nil && strings.EqualFold(inv.user.login, who)) || strings.EqualFold(inv.email, who) {
			delete(s.invitations, id)
			inv.failedAt, inv.failedReason = s.now(), "expired"
			s.failed[id] = inv
			if inv.user != nil {
				s.dropMember(inv.user.login)
			}
			n++
		}
	}
	return n
}

// dropMember removes login's org membership and team memberships.
func (s *Server) dropMember(login string) {
	key := strings.ToLower(login)
	delete(s.members, key)
	for _, t := range s.teams {
		delete(t.members, key)
		delete(t.roles, key)
	}
}

// Membership returns login's org membership, or false if there is none.
func (s *Server) Membership(login string) (Membership, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(login)
	m, ok := s.members[key]
	if !ok {
		return Membership{}, false
	}
	out := Membership{Login: m.user.login, Role: m.role, State: m.state}
	for slug, t := range s.teams {
		if _, ok := t.members[key]; ok {
			out.Teams = append(out.Teams, slug)
		}
	}
	slices.Sort(out.Teams)
	return out, true
}

// Members returns every org membership, by login.
func (s *Server) Members() []Membership {
	s.mu.Lock()
	logins := make([]string, 0, len(s.members))
	for _, m := range s.members {
		logins = append(logins, m.user.login)
	}
	s.mu.Unlock()
	slices.SortFunc(logins, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	out := make([]Membership, 0, len(logins))
	for _, l := range logins {
		if m, ok := s.Membership(l); ok {
			out = append(out, m)
		}
	}
	return out
}

// Invitations returns the pending invitations, then the failed ones, by id.
func (s *Server) Invitations() []Invitation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Invitation
	for _, set := range []map[int64]*invitation{s.invitations, s.failed} {
		for _, inv := range s.sortedInvitations(set) {
			i := Invitation{ID: inv.id, Email: inv.email, Role: inv.role, Teams: slices.Clone(inv.teams), FailedReason: inv.failedReason}
			if inv.user != nil {
				i.Login = inv.user.login
			}
			out = append(out, i)
		}
	}
	return out
}

func (s *Server) sortedInvitations(set map[int64]*invitation) []*invitation {
	out := make([]*invitation, 0, len(set))
	for _, inv := range set {
		out = append(out, inv)
	}
	slices.SortFunc(out, func(a, b *invitation) int { return int(a.id - b.id) })
	return out
}

// invitationFor returns login's pending invitation.
func (s *Server) invitationFor(login string) *invitation {
	for _, inv := range s.sortedInvitations(s.invitations) {
		if inv.user != nil && strings.EqualFold(inv.user.login, login) {
			return inv
		}
	}
	return nil
}

// invite records an invitation, if the org's cap allows one more.
func (s *Server) invite(u *user, email, role string, teams []string) (*invitation, *apiError) {
	if !s.invited.Take(s.now()) {
		return nil, validation("OrganizationInvitation", "unprocessable", "data", "Over invitation rate limit")
	}
	inv := &invitation{id: s.nextID(), user: u, email: strings.ToLower(email), role: role, teams: slices.Clone(teams), created: s.now()}
	s.invitations[inv.id] = inv
	if u != nil {
		key := strings.ToLower(u.login)
		s.members[key] = &member{user: u, role: memberRole(role), state: Pending}
		for _, slug := range teams {
			if t, ok := s.teams[slug]; ok {
				t.members[key], t.roles[key] = Pending, "member"
			}
		}
	}
	return inv, nil
}

// memberRole is an invitation role as a membership role.
func memberRole(invitationRole string) string {
	if invitationRole == RoleAdmin {
		return RoleAdmin
	}
	return RoleMember
}

// invitationRole is a membership role as an invitation role.
func invitationRole(memberRole string) string {
	if memberRole == RoleAdmin {
		return RoleAdmin
	}
	return "direct_member"
}

func (s *Server) failedFor(login string) *invitation {
	for _, inv := range s.sortedInvitations(s.failed) {
		if inv.user != nil && strings.EqualFold(inv.user.login, login) {
			return inv
		}
	}
	return nil
}

func (s *Server) String() string { return fmt.Sprintf("githubtest(%s)", s.org) }
