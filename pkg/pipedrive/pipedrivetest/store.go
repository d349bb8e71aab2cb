package pipedrivetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Apps a user's access names (UserAccess.app in the OpenAPI document).
const (
	AppSales           = "sales"
	AppGlobal          = "global"
	AppAccountSettings = "account_settings"
	AppProjects        = "projects"
	AppCampaigns       = "campaigns"
)

var apps = []string{AppGlobal, AppSales, AppCampaigns, AppProjects, AppAccountSettings, "partnership"}

// The permission sets every company starts with, and its default role.
const (
	Regular       = "Regular user" // each app's default permission set
	Admin         = "Admin"        // each app's admin permission set
	DefaultRoleID = 1
	DefaultRole   = "Default visibility group"
	AdminUserID   = 1 // the user whose API token the server accepts
	AdminEmail    = "integrations@acme.example"
)

// ErrDuplicate is what the fake answers (400) to adding an e-mail the
// company already has. Pipedrive documents no answer for it: unverified.
const ErrDuplicate = "A user with this email already exists in the company"

// Access is one entry of a user's access, as Pipedrive spells it.
type Access struct {
	App             string `json:"app"`
	Admin           bool   `json:"admin"`
	PermissionSetID string `json:"permission_set_id,omitempty"`
}

type user struct {
	id         int
	name       string
	email      string
	activeFlag bool
	activated  bool // the invitation was accepted
	access     []Access
	roleID     int
	created    time.Time
	modified   time.Time
}

type team struct {
	id          int
	name        string
	description string
	managerID   int
	users       []int
	created     time.Time
}

type role struct {
	id, parentID int
	name         string
}

type permissionSet struct {
	id, name, app, kind string
}

type store struct {
	seq      int
	users    map[int]*user
	teams    map[int]*team
	roles    map[int]*role
	sets     map[string]*permissionSet
	defaults map[string]string // app → its default permission set id
}

func newStore(now time.Time) *store {
	db := &store{seq: 100, users: map[int]*user{}, teams: map[int]*team{}, roles: map[int]*role{},
		sets: map[string]*permissionSet{}, defaults: map[string]string{}}
	for _, app := range []string{AppSales, AppGlobal, AppAccountSettings} {
		db.defaults[app] = db.addSet(app, Regular, "regular")
		db.addSet(app, Admin, "admin")
	}
	db.roles[DefaultRoleID] = &role{id: DefaultRoleID, name: DefaultRole}
	admin := &user{id: AdminUserID, name: "Keycard Integration", email: AdminEmail, activeFlag: true, activated: true,
		roleID: DefaultRoleID, created: now, modified: now}
	for _, app := range []string{AppSales, AppGlobal, AppAccountSettings} {
		admin.access = append(admin.access, Access{App: app, Admin: true, PermissionSetID: db.setID(app, Admin)})
	}
	db.users[admin.id] = admin
	return db
}

func (db *store) next() int {
	db.seq++
	return db.seq
}

func (db *store) addSet(app, name, kind string) string {
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", db.next(), len(db.sets))
	db.sets[id] = &permissionSet{id: id, name: name, app: app, kind: kind}
	return id
}

func (db *store) setID(app, name string) string {
	for id, p := range db.sets {
		if p.app == app && p.name == name {
			return id
		}
	}
	return ""
}

func (db *store) byEmail(email string) *user {
	for _, u := range db.users {
		if strings.EqualFold(u.email, email) {
			return u
		}
	}
	return nil
}

func (db *store) sortedUsers() []*user {
	out := make([]*user, 0, len(db.users))
	for _, u := range db.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *user) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (db *store) sortedTeams() []*team {
	out := make([]*team, 0, len(db.teams))
	for _, t := range db.teams {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *team) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (db *store) teamsOf(id int) []*team {
	var out []*team
	for _, t := range db.sortedTeams() {
		if slices.Contains(t.users, id) {
			out = append(out, t)
		}
	}
	return out
}

// ---- test controls ------------------------------------------------------------

// AddUser adds a user made outside Keycard (an admin invited them by
// hand), active or not, with the sales app's default access; it returns
// their id.
func (s *Server) AddUser(email, name string, active bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	u := &user{id: s.db.next(), name: name, email: email, activeFlag: active, activated: true, roleID: DefaultRoleID,
		access: []Access{{App: AppSales, PermissionSetID: s.db.defaults[AppSales]}}, created: now, modified: now}
	s.db.users[u.id] = u
	return u.id
}

// AddTeam adds teams by name (managed by the admin) and returns their ids.
func (s *Server) AddTeam(names ...string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for _, n := range names {
		t := &team{id: s.db.next(), name: n, managerID: AdminUserID, created: s.now()}
		s.db.teams[t.id] = t
		ids = append(ids, t.id)
	}
	return ids
}

// AddRole adds a visibility role below the default one and returns its id.
func (s *Server) AddRole(name string) int { return s.AddSubRole(DefaultRoleID, name) }

// AddSubRole adds a visibility role below role parent and returns its id.
func (s *Server) AddSubRole(parent int, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &role{id: s.db.next(), parentID: parent, name: name}
	s.db.roles[r.id] = r
	return r.id
}

// AddPermissionSet adds a custom permission set to app and returns its id.
func (s *Server) AddPermissionSet(app, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.addSet(app, name, "custom")
}

// User is a user as the tests read it.
type User struct {
	ID        int
	Name      string
	Email     string
	Active    bool // active_flag
	Activated bool
	Access    []Access
	Role      string   // the visibility role's name (not its path)
	Teams     []string // team names, sorted
	// PermissionSet is the sales app's permission set's name.
	PermissionSet string
}

// User returns the user with id, if any.
func (s *Server) User(id int) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.db.users[id]
	if !ok {
		return User{}, false
	}
	out := User{ID: u.id, Name: u.name, Email: u.email, Active: u.activeFlag, Activated: u.activated,
		Access: slices.Clone(u.access)}
	if r, ok := s.db.roles[u.roleID]; ok {
		out.Role = r.name
	}
	for _, t := range s.db.teamsOf(u.id) {
		out.Teams = append(out.Teams, t.name)
	}
	slices.Sort(out.Teams)
	for _, a := range u.access {
		if p, ok := s.db.sets[a.PermissionSetID]; ok && a.App == AppSales {
			out.PermissionSet = p.name
		}
	}
	return out, true
}

// UserByEmail returns the user with the address, if any.
func (s *Server) UserByEmail(email string) (User, bool) {
	s.mu.Lock()
	u := s.db.byEmail(email)
	s.mu.Unlock()
	if u == nil {
		return User{}, false
	}
	return s.User(u.id)
}

// Users returns every user's id, sorted.
func (s *Server) Users() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for _, u := range s.db.sortedUsers() {
		ids = append(ids, u.id)
	}
	return ids
}
