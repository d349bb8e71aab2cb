package gitlabtest

import (
	"slices"
	"strings"
	"time"
)

// User states as GitLab spells them (the state attribute of a user).
const (
	StateActive          = "active"
	StateBlocked         = "blocked"
	StateDeactivated     = "deactivated"
	StateLDAPBlocked     = "ldap_blocked"
	StateBanned          = "banned"
	StatePendingApproval = "blocked_pending_approval"
)

// Access levels of a membership (GitLab's numbers).
const (
	Guest      = 10
	Planner    = 15
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

var validLevels = []int{Guest, Planner, Reporter, Developer, Maintainer, Owner}

type identity struct {
	provider  string
	externUID string
}

type user struct {
	id               int64
	username         string
	name             string
	email            string // primary, lower-case
	unconfirmedEmail string
	secondary        []string
	jobTitle         string
	organization     string
	state            string
	admin            bool
	bot              bool
	identities       []identity
	created          time.Time
}

// billable is whether the user takes a seat: GitLab counts active human
// users; blocked, deactivated and banned ones are free.
func (u *user) billable() bool { return u.state == StateActive && !u.bot }

func (u *user) hasEmail(email string) bool {
	email = strings.ToLower(email)
	return u.email == email || slices.Contains(u.secondary, email)
}

type group struct {
	id      int64
	name    string
	path    string
	parent  *group
	members map[int64]int // user id → access level (direct memberships)
	created time.Time
}

func (g *group) fullPath() string {
	if g.parent == nil {
		return g.path
	}
	return g.parent.fullPath() + "/" + g.path
}

func (g *group) fullName() string {
	if g.parent == nil {
		return g.name
	}
	return g.parent.fullName() + " / " + g.name
}

// ancestors are g's parent, its parent, …
func (g *group) ancestors() []*group {
	var out []*group
	for p := g.parent; p != nil; p = p.parent {
		out = append(out, p)
	}
	return out
}

// inherited is the highest level user id holds in g's ancestors, and the
// ancestor that gives it.
func (g *group) inherited(id int64) (int, *group) {
	level, from := 0, (*group)(nil)
	for _, a := range g.ancestors() {
		if l, ok := a.members[id]; ok && l > level {
			level, from = l, a
		}
	}
	return level, from
}

// User is a GitLab user as the tests read it.
type User struct {
	ID               int64
	Username         string
	Name             string
	Email            string
	UnconfirmedEmail string
	JobTitle         string
	State            string
	Admin            bool
	Identities       map[string]string // provider → extern_uid
	Groups           map[string]int    // full path → access level (direct memberships)
}

func (s *Server) nextID() int64 {
	s.seq++
	return s.seq
}

func (s *Server) userByID(id int64) *user {
	return s.users[id]
}

func (s *Server) sortedUsers() []*user {
	out := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *user) int { return int(a.id - b.id) })
	return out
}

func (s *Server) userByUsername(name string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.username, name) {
			return u
		}
	}
	return nil
}

func (s *Server) userByEmail(email string) *user {
	for _, u := range s.sortedUsers() {
		if u.hasEmail(email) {
			return u
		}
	}
	return nil
}

func (s *Server) snapshot(u *user) User {
	out := User{ID: u.id, Username: u.username, Name: u.name, Email: u.email, UnconfirmedEmail: u.unconfirmedEmail,
		JobTitle: u.jobTitle, State: u.state, Admin: u.admin, Identities: map[string]string{}, Groups: map[string]int{}}
	for _, i := range u.identities {
		out.Identities[i.provider] = i.externUID
	}
	for _, g := range s.groups {
		if l, ok := g.members[u.id]; ok {
			out.Groups[g.fullPath()] = l
		}
	}
	return out
}

// group finds a group by id or full path (case-insensitive, as GitLab
// routes are).
func (s *Server) group(ref string) *group {
	for _, g := range s.groups {
		if ref == itoa(g.id) || strings.EqualFold(ref, g.fullPath()) {
			return g
		}
	}
	return nil
}

func (s *Server) sortedGroups() []*group {
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int { return int(a.id - b.id) })
	return out
}

// ---- test controls ----------------------------------------------------------

// AddGroup creates groups by full path ("acme/eng/backend"), with any
// parent that does not exist yet, and returns the last one's id.
func (s *Server) AddGroup(paths ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var id int64
	for _, p := range paths {
		var parent *group
		var sofar []string
		for seg := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
			sofar = append(sofar, seg)
			g := s.group(strings.Join(sofar, "/"))
			if g == nil {
				g = &group{id: s.nextID(), name: seg, path: seg, parent: parent, members: map[int64]int{}, created: s.now()}
				s.groups[g.id] = g
			}
			parent, id = g, g.id
		}
	}
	return id
}

// AddUser makes a user by hand, as an administrator would outside
// Keycard, and returns its id: active, with the e-mail confirmed.
func (s *Server) AddUser(username, email, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{id: s.nextID(), username: username, name: name, email: strings.ToLower(email), state: StateActive, created: s.now()}
	s.users[u.id] = u
	return u.id
}

// AddSecondaryEmail gives user id a secondary address.
func (s *Server) AddSecondaryEmail(id int64, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByID(id); u != nil {
		u.secondary = append(u.secondary, strings.ToLower(email))
	}
}

// AddIdentity links user id to extern_uid at provider (a SAML or LDAP
// identity).
func (s *Server) AddIdentity(id int64, provider, externUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByID(id); u != nil {
		u.identities = append(u.identities, identity{provider: provider, externUID: externUID})
	}
}

// SetState sets a user's state as GitLab would outside the API: LDAP
// synchronisation blocking it (StateLDAPBlocked), the dormant-user job
// deactivating it (StateDeactivated), an admin banning it (StateBanned).
func (s *Server) SetState(id int64, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByID(id); u != nil {
		u.state = state
	}
}

// AddMember makes user id a direct member of group path at level, by hand.
func (s *Server) AddMember(path string, id int64, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.group(path); g != nil {
		g.members[id] = level
	}
}

// User returns user id as the fake holds it.
func (s *Server) User(id int64) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByID(id)
	if u == nil {
		return User{}, false
	}
	return s.snapshot(u), true
}

// UserByEmail returns the user whose primary or secondary address is email.
func (s *Server) UserByEmail(email string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByEmail(email)
	if u == nil {
		return User{}, false
	}
	return s.snapshot(u), true
}

// Users returns every user but the administrator the token belongs to,
// by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.sortedUsers() {
		if u.id != s.adminID && u.id != s.userID {
			out = append(out, s.snapshot(u))
		}
	}
	return out
}

// Members returns group path's direct members: user id → access level.
func (s *Server) Members(path string) map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int{}
	if g := s.group(path); g != nil {
		for id, l := range g.members {
			out[id] = l
		}
	}
	return out
}

// Seats is how many users take a licence seat: active humans.
func (s *Server) Seats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, u := range s.users {
		if u.billable() {
			n++
		}
	}
	return n
}
