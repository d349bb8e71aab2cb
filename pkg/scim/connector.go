package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
)

// Connector is a SCIM app behind Keycard's connector interface: one value
// serves every SCIM vendor, its Profile supplying the differences.
type Connector struct {
	c *Client

	mu     sync.Mutex
	groups map[string]string      // display name → id, learnt as groups are found or made
	locks  map[string]*sync.Mutex // group id → lock held while its members change

	coalesce *coalescer // nil: one PATCH per membership, paced by the worker
}

var _ connector.Connector = (*Connector)(nil)

// NewConnector wraps a client.
func NewConnector(c *Client, opts ...Option) *Connector {
	k := &Connector{c: c, groups: map[string]string{}, locks: map[string]*sync.Mutex{}}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Find looks the person up by the id stored at the last sync (or, where
// the vendor's id is the externalId, by the HR id), then by externalId,
// then by e-mail. The stored id matters for vendors that hide deactivated
// users from searches (a re-hire must reactivate, not twin).
func (k *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	prof := k.c.Profile()
	ids := []string{p.AccountID}
	if prof.IDIsExternalID {
		ids = append(ids, p.EmployeeID)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		u, err := k.c.GetUser(ctx, id)
		switch {
		case err == nil:
			return k.account(u, p), nil
		case !IsNotFound(err):
			return nil, err
		}
	}
	return k.search(ctx, p, by{p.EmployeeID, prof.ByExternalID}, by{p.Email, prof.ByEmail})
}

// by is one way to search for a user: a value and the vendor's filter for
// it, if it has one.
type by struct {
	value  string
	filter func(string) (Filter, bool)
}

// search returns the first user found, trying ways in turn.
func (k *Connector) search(ctx context.Context, p connector.Person, ways ...by) (*connector.Account, error) {
	for _, w := range ways {
		filter, ok := w.filter(w.value)
		if !ok || w.value == "" {
			continue
		}
		users, err := k.c.FindUsers(ctx, filter)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			return k.account(users[0], p), nil
		}
	}
	return nil, nil
}

// Create makes the account, adopting an existing one on a uniqueness
// conflict instead of failing. A create the server refuses with 400 while
// it carries the enterprise extension is sent again without it: the
// account (access) matters, the department does not, and the refusal is
// returned as a fault.Partial error.
func (k *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	want := user(p)
	u, err := k.c.CreateUser(ctx, want)
	if err == nil {
		return *k.account(u, p), nil
	}
	var e *Error
	if want.Enterprise != nil && k.c.Profile().Accepts&(AttrDepartment|AttrManager) != 0 &&
		errors.As(err, &e) && e.Status == http.StatusBadRequest {
		refused := err
		want.Enterprise = nil
		if u, err = k.c.CreateUser(ctx, want); err == nil {
			return *k.account(u, p), fault.Partial(fmt.Errorf("created without the enterprise extension (department, manager): %w", refused))
		}
	}
	if !IsConflict(err) {
		return connector.Account{}, err
	}
	existing, ferr := k.Find(ctx, p)
	if existing == nil && ferr == nil {
		// Nothing by HR id or e-mail, yet the vendor says the identity
		// is taken: look for the userName it holds unique. At Miro that
		// is the only attribute Keycard sends it can search by; at
		// Atlassian and GitHub EMU the only way to an account made
		// outside Keycard, under another externalId.
		existing, ferr = k.search(ctx, p, by{p.UserName, k.c.Profile().ByUserName})
	}
	if ferr != nil {
		return connector.Account{}, ferr
	}
	if existing == nil {
		// A deactivated account holds the e-mail and cannot be searched
		// for (Slack, Atlassian): only its stored id leads back to it.
		return connector.Account{}, fault.Permanent(fmt.Errorf("create: %w; an account that cannot be found holds this identity (deactivated?): reactivate it by id", err))
	}
	return *existing, nil
}

// Update brings the attributes the vendor accepts in line with HR.
func (k *Connector) Update(ctx context.Context, a connector.Account, p connector.Person) error {
	cur, err := k.c.GetUser(ctx, a.ID)
	if err != nil {
		return err
	}
	want := user(p)
	if p.ManagerID != "" && p.ManagerAccountID == "" && cur.Enterprise != nil {
		// The manager has no account Keycard knows of here yet: leave the
		// link as it is rather than clear it.
		if want.Enterprise == nil {
			want.Enterprise = &EnterpriseUser{}
		}
		want.Enterprise.Manager = cur.Enterprise.Manager
	}
	ops := k.c.Profile().UpdateOps(cur, want)
	if len(ops) == 0 {
		return nil
	}
	err = k.c.PatchUser(ctx, a.ID, ops)
	if !refusedAttribute(err) {
		return err
	}
	// An update changes no access, so an attribute the server refuses
	// must not hold up the person's access change: send again without the
	// extension attributes (the usual cause: an extension the server does
	// not declare), and report what was left out as Partial.
	core := slices.DeleteFunc(slices.Clone(ops), func(op PatchOp) bool {
		return strings.HasPrefix(strings.ToLower(op.Path), strings.ToLower(EnterpriseUserSchema))
	})
	if len(core) == len(ops) {
		return fault.Partial(fmt.Errorf("attributes not updated: %w", err))
	}
	if len(core) > 0 {
		switch err2 := k.c.PatchUser(ctx, a.ID, core); {
		case refusedAttribute(err2):
			return fault.Partial(fmt.Errorf("attributes not updated: %w", err2))
		case err2 != nil:
			return err2
		}
	}
	return fault.Partial(fmt.Errorf("enterprise attributes (department, manager) not updated: %w", err))
}

// refusedAttribute reports whether err is the server refusing an
// attribute of a user write: 400 with scimType invalidPath, invalidValue,
// mutability or noTarget, or with none (many servers give no scimType).
// A malformed request (invalidSyntax) and everything else stay errors.
func refusedAttribute(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return false
	}
	switch e.ScimType {
	case "", "invalidPath", "invalidValue", "mutability", "noTarget":
		return true
	}
	return false
}

func (k *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	return k.c.SetActive(ctx, a.ID, active)
}

func (k *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	return k.patchMembers(ctx, kind, name, true, func(gid string) error {
		if k.coalesce != nil {
			return k.addCoalesced(ctx, gid, a.ID)
		}
		return k.locked(gid, func() error { return k.c.PatchGroupMembers(ctx, gid, []string{a.ID}, nil) })
	})
}

func (k *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	return k.patchMembers(ctx, kind, name, false, func(gid string) error {
		if k.coalesce != nil {
			if err := k.coalesce.pace(ctx); err != nil {
				return err
			}
		}
		return k.locked(gid, func() error { return k.c.PatchGroupMembers(ctx, gid, nil, []string{a.ID}) })
	})
}

// patchMembers runs patch on the group called name (made first when add
// needs it). A 404 means the group was deleted at the vendor since its id
// was learnt: the name is looked up (or made) again, once, instead of
// failing every later grant until a restart.
func (k *Connector) patchMembers(ctx context.Context, kind connector.Kind, name string, add bool, patch func(gid string) error) error {
	for attempt := 0; ; attempt++ {
		gid, err := k.group(ctx, kind, name, add)
		if err != nil || gid == "" {
			return err // a group that does not exist has no members to remove
		}
		err = patch(gid)
		if !IsNotFound(err) || attempt > 0 {
			return err
		}
		k.mu.Lock()
		if k.groups[name] == gid {
			delete(k.groups, name)
		}
		k.mu.Unlock()
	}
}

// locked runs write holding gid's lock.
func (k *Connector) locked(gid string, write func() error) error {
	defer k.lock(gid)()
	return write()
}

// lock serialises this process's work on one key: writes to one group id
// (vendors lock a group while a write to it runs and answer a concurrent
// one with 429, as Slack does, and every hire adds to the same birthright
// group), and the lookup-or-create of one group name.
func (k *Connector) lock(gid string) (unlock func()) {
	k.mu.Lock()
	l, ok := k.locks[gid]
	if !ok {
		l = &sync.Mutex{}
		k.locks[gid] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// group resolves a group by display name; create makes a missing one, so a
// policy naming a new group just works.
func (k *Connector) group(ctx context.Context, kind connector.Kind, name string, create bool) (string, error) {
	prof := k.c.Profile()
	if kind != connector.Group || !prof.Groups {
		// A SCIM app grants groups only (GitHub EMU teams are SCIM groups
		// too): say so instead of ignoring the grant.
		return "", fault.Permanent(fmt.Errorf("%s %q: the %s SCIM profile grants groups only", kind, name, prof.Name))
	}
	// One lookup-or-create per name at a time in this process: the first
	// hires of a new birthright group must not all try to create it.
	defer k.lock("name:" + name)()
	k.mu.Lock()
	id, ok := k.groups[name]
	k.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := k.findGroup(ctx, name)
	if err != nil {
		return "", err
	}
	if id == "" && create {
		if k.coalesce != nil {
			// A write like any other: it takes a token of the app's pace.
			if err := k.coalesce.pace(ctx); err != nil {
				return "", err
			}
		}
		g, err := k.c.CreateGroup(ctx, Group{DisplayName: name})
		switch {
		case IsConflict(err):
			// Another replica made it first: use theirs.
			if id, err = k.findGroup(ctx, name); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		default:
			id = g.ID
		}
	}
	if id != "" {
		k.mu.Lock()
		k.groups[name] = id
		k.mu.Unlock()
	}
	return id, nil
}

// findGroup returns the id of the group called name, or "".
func (k *Connector) findGroup(ctx context.Context, name string) (string, error) {
	filter, ok := k.c.Profile().ByGroupName(name)
	if !ok {
		return "", nil
	}
	found, err := k.c.FindGroups(ctx, filter)
	if err != nil {
		return "", err
	}
	for _, g := range found {
		if g.DisplayName == name {
			return g.ID, nil
		}
	}
	return "", nil
}

// LinksManagers implements connector.ManagerLinker: where the vendor
// takes the enterprise manager attribute.
func (k *Connector) LinksManagers() bool { return k.c.Profile().Accepts.Has(AttrManager) }

// Count implements connector.Counter: the provider's user count (vendors
// that hide deactivated users count the active ones).
func (k *Connector) Count(ctx context.Context) (int, error) { return k.c.CountUsers(ctx) }

func (k *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	return k.c.EachUser(ctx, Filter{}, func(u User) error { return fn(*k.account(u, connector.Person{})) })
}

// user is the SCIM user Keycard wants for p.
func user(p connector.Person) User {
	u := User{
		ExternalID: p.EmployeeID, UserName: p.UserName, DisplayName: p.DisplayName, Title: p.Title, Active: true,
		Name: &Name{GivenName: p.GivenName, FamilyName: p.FamilyName, Formatted: p.DisplayName},
	}
	if p.Email != "" {
		u.Emails = []Email{{Value: p.Email, Type: "work", Primary: true}}
	}
	if p.Department != "" || p.ManagerAccountID != "" {
		u.Enterprise = &EnterpriseUser{Department: p.Department}
	}
	if p.ManagerAccountID != "" {
		u.Enterprise.Manager = &Manager{Value: p.ManagerAccountID}
	}
	return u
}

// account is u as the worker plans against it. Attributes the vendor does
// not store (or rewrites, like Slack's userName) read as what p wants, so
// they never look out of date.
func (k *Connector) account(u User, p connector.Person) *connector.Account {
	prof := k.c.Profile()
	want := p.Attributes()
	attrs := map[string]string{}
	set := func(key string, attr Attr, have string) {
		if !prof.Accepts.Has(attr) {
			have = want[key]
		}
		attrs[key] = have
	}
	var given, family, dept, manager string
	if u.Name != nil {
		given, family = u.Name.GivenName, u.Name.FamilyName
	}
	if u.Enterprise != nil {
		dept = u.Enterprise.Department
		if u.Enterprise.Manager != nil {
			manager = u.Enterprise.Manager.Value
		}
	}
	userName := u.UserName
	if prof.UserNameRewritten {
		userName = want["user_name"]
	}
	set("email", AttrEmails, u.PrimaryEmail())
	set("user_name", AttrUserName, userName)
	set("given_name", AttrName, given)
	set("family_name", AttrName, family)
	set("display_name", AttrDisplayName, u.DisplayName)
	set("title", AttrTitle, u.Title)
	set("department", AttrDepartment, dept)
	attrs["manager_id"] = k.managerAttr(manager, p)
	var groups []string
	for _, g := range u.Groups {
		if g.Display != "" {
			groups = append(groups, g.Display)
		}
	}
	return &connector.Account{
		ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName, Email: strings.ToLower(u.PrimaryEmail()),
		Active: u.Active, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Group: groups},
	}
}

// managerAttr is the manager as the plan compares it, in HR ids: the
// vendor links managers by its own id, so the linked id counts as HR's
// manager when it is that manager's account. A manager without an account
// Keycard knows of reads as up to date: there is nothing to link yet.
func (k *Connector) managerAttr(linked string, p connector.Person) string {
	switch {
	case !k.c.Profile().Accepts.Has(AttrManager):
		return p.ManagerID
	case p.ManagerID == "":
		return linked // anything linked is to be cleared
	case p.ManagerAccountID == "" || linked == p.ManagerAccountID:
		return p.ManagerID
	}
	return "account " + linked // another manager: update
}
