package googletest

import (
	"slices"
	"strings"
	"time"
)

// User is a snapshot of a directory user.
type User struct {
	ID           string
	PrimaryEmail string
	// Aliases include the addresses a rename left behind.
	Aliases                   []string
	GivenName                 string
	FamilyName                string
	DisplayName               string
	OrgUnitPath               string
	Suspended                 bool
	ChangePasswordAtNextLogin bool
	// HasPassword: a password was set (the fake keeps no password).
	HasPassword   bool
	ExternalIDs   []ExternalID
	Organizations []Organization
	Relations     []Relation
	Created       time.Time
	// SignOuts counts users.signOut calls.
	SignOuts int
	ASPs     []ASP
	Tokens   []Token
}

// ExternalID is one of a user's externalIds.
type ExternalID struct {
	Type       string `json:"type,omitempty"`
	CustomType string `json:"customType,omitempty"`
	Value      string `json:"value"`
}

// Organization is one of a user's organizations (job title, department).
type Organization struct {
	Name        string `json:"name,omitempty"`
	Title       string `json:"title,omitempty"`
	Department  string `json:"department,omitempty"`
	CostCenter  string `json:"costCenter,omitempty"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
	Primary     bool   `json:"primary,omitempty"`
}

// Relation is one of a user's relations (type manager: the manager's
// address).
type Relation struct {
	Type       string `json:"type"`
	CustomType string `json:"customType,omitempty"`
	Value      string `json:"value"`
}

// ASP is an application-specific password.
type ASP struct {
	CodeID int64
	Name   string
}

// Token is an OAuth token the user granted a third-party application.
type Token struct {
	ClientID    string
	DisplayText string
	Scopes      []string
}

// Group is a snapshot of a group.
type Group struct {
	ID    string
	Email string
	Name  string
	// Members are the ids of the users in it, in the order added.
	Members []string
}

// store is the tenant's data; the server's mutex guards it.
type store struct {
	users    map[string]*User  // by id
	emails   map[string]string // primary address or alias (lower case) → user id
	groups   map[string]*Group // by id
	gemails  map[string]string // group address → group id
	orgUnits map[string]bool
	licences map[string]map[string]string // product → user id → SKU
	seats    map[string]int               // product/SKU → most assignments; absent: no limit
	nextASP  int64
}

func newStore() *store {
	return &store{
		users: map[string]*User{}, emails: map[string]string{}, groups: map[string]*Group{}, gemails: map[string]string{},
		orgUnits: map[string]bool{"/": true}, licences: map[string]map[string]string{}, seats: map[string]int{}, nextASP: 1000,
	}
}

// userID resolves a userKey: the id, the primary address or an alias.
func (d *store) userID(key string) string {
	if _, ok := d.users[key]; ok {
		return key
	}
	return d.emails[strings.ToLower(key)]
}

func (d *store) user(key string) *User { return d.users[d.userID(key)] }

// groupID resolves a groupKey: the id or the address.
func (d *store) groupID(key string) string {
	if _, ok := d.groups[key]; ok {
		return key
	}
	return d.gemails[strings.ToLower(key)]
}

// sortedUsers are the users by primary address, as users.list orders them.
func (d *store) sortedUsers() []*User {
	out := make([]*User, 0, len(d.users))
	for _, u := range d.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(a.PrimaryEmail, b.PrimaryEmail) })
	return out
}

// memberOf lists the groups id is a direct member of, by address.
func (d *store) memberOf(id string) []*Group {
	var out []*Group
	for _, g := range d.groups {
		if slices.Contains(g.Members, id) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *Group) int { return strings.Compare(a.Email, b.Email) })
	return out
}

func (u *User) clone() User {
	c := *u
	c.Aliases = slices.Clone(u.Aliases)
	c.ExternalIDs = slices.Clone(u.ExternalIDs)
	c.Organizations = slices.Clone(u.Organizations)
	c.Relations = slices.Clone(u.Relations)
	c.ASPs = slices.Clone(u.ASPs)
	c.Tokens = slices.Clone(u.Tokens)
	return c
}
