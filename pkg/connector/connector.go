// Package connector is the one interface an application connector
// implements: find a person's account, create it (adopting one that already
// exists), update it, switch it on or off, and manage its memberships. The
// worker runtime decides what to do (Plan) and calls these; a new app is
// one implementation plus its tests.
package connector

import (
	"context"
)

// Person is what an app is told about someone.
type Person struct {
	EmployeeID  string // the HR id; SCIM externalId
	AccountID   string // the app's own id from an earlier sync, if known (re-hires: some apps hide deactivated users from searches)
	Email       string
	UserName    string
	GivenName   string
	FamilyName  string
	DisplayName string
	Title       string
	Department  string
	ManagerID   string // the manager's HR id
	// ManagerAccountID is the manager's id in this app when Keycard knows
	// it (it created or adopted the manager's account): apps that link a
	// manager (SCIM's enterprise manager) want their own id, not HR's.
	ManagerAccountID string
	// OrgUnit and License are the policy's placement and licence for the
	// person in this app (a grant's org_unit and license), set only for an
	// app whose type applies them (registry.Assigner); "" leaves them as
	// they are.
	OrgUnit string
	License string
	// Custom holds the HR custom fields (BambooHR aliases), for a
	// connector whose identity lives in one (a GitHub login).
	Custom map[string]string
}

// Kind is a kind of membership.
type Kind string

const (
	Group   Kind = "group"
	Team    Kind = "team"
	Channel Kind = "channel"
	Role    Kind = "role"
)

// Kinds lists every membership kind, in a stable order.
var Kinds = []Kind{Group, Team, Channel, Role}

// Account is an app's account as the app reports it.
type Account struct {
	ID          string
	ExternalID  string
	UserName    string
	Email       string
	Active      bool
	Attributes  map[string]string // what Update sets, as the app holds it
	Memberships map[Kind][]string
}

// Connector talks to one application. Every method must be idempotent:
// Create on an existing account adopts it, Add on an existing membership
// and Remove on a missing one succeed.
type Connector interface {
	// Find returns the person's account (by AccountID, then external id,
	// then email), or nil when there is none.
	Find(ctx context.Context, p Person) (*Account, error)
	Create(ctx context.Context, p Person) (Account, error)
	Update(ctx context.Context, a Account, p Person) error
	SetActive(ctx context.Context, a Account, active bool) error
	AddMembership(ctx context.Context, a Account, kind Kind, name string) error
	RemoveMembership(ctx context.Context, a Account, kind Kind, name string) error
	// List calls fn for every account, for reconciliation.
	List(ctx context.Context, fn func(Account) error) error
}

// ManagerLinker is a connector that links a person to their manager's
// account (SCIM's enterprise manager): only for these does the worker look
// up Person.ManagerAccountID.
type ManagerLinker interface {
	LinksManagers() bool
}

// LinksManagers reports whether c links managers.
func LinksManagers(c Connector) bool {
	l, ok := c.(ManagerLinker)
	return ok && l.LinksManagers()
}

// Coalescer is a connector that gathers some steps of many people into
// one write (a PATCH adding many members to a group) and so takes their
// pace token itself: Apply does not call its before hook for a step the
// connector Coalesces.
type Coalescer interface {
	Coalesces(a Action) bool
}

// Counter is a connector that can say how many accounts the app holds,
// all of them, not only those Keycard made: the base of the blast-radius
// guard's share limit.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// Attributes are the account attributes Keycard keeps in line with HR and
// the policy. The policy's org_unit and license appear only when set: a
// connector reports them in Account.Attributes only if it applies them.
func (p Person) Attributes() map[string]string {
	attrs := map[string]string{
		"email": p.Email, "user_name": p.UserName, "given_name": p.GivenName, "family_name": p.FamilyName,
		"display_name": p.DisplayName, "title": p.Title, "department": p.Department, "manager_id": p.ManagerID,
	}
	if p.OrgUnit != "" {
		attrs["org_unit"] = p.OrgUnit
	}
	if p.License != "" {
		attrs["license"] = p.License
	}
	return attrs
}
