package google

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	licensing "google.golang.org/api/licensing/v1"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Google's page sizes at most.
const (
	userPage    = 500
	groupPage   = 200
	licencePage = 1000
)

// externalIDType is the externalIds type Keycard writes the HR id under.
const externalIDType = "organization"

// Connector is a Google Workspace tenant behind Keycard's connector
// interface, through the Admin SDK Directory API and the Enterprise
// License Manager API.
type Connector struct {
	dir      *admin.Service
	lic      *licensing.Service
	domain   string
	customer string
	sso      bool
	product  string
	skus     []string
	pace     func(context.Context) error
	observe  func(context.Context, ratelimit.Outcome)
	timeout  time.Duration
	now      func() time.Time

	state
}

var (
	_ connector.Connector     = (*Connector)(nil)
	_ connector.Counter       = (*Connector)(nil)
	_ connector.ManagerLinker = (*Connector)(nil)
)

// Find looks the person up by the id stored at the last sync, then by the
// HR id in externalIds (type organization), then by primary address. An
// address that is only an alias of a user (the old address of someone
// renamed: Google keeps it) finds no one: it may be given to someone
// else. Find reads the user, their groups (one groups.list) and, when the
// policy gives a licence, the licence (one licenseAssignments.get per SKU
// tried).
func (c *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	u, err := c.lookup(ctx, p)
	if err != nil || u == nil {
		return nil, err
	}
	a, err := c.account(ctx, u, p)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func (c *Connector) lookup(ctx context.Context, p connector.Person) (*admin.User, error) {
	if p.AccountID != "" {
		u, err := c.getUser(ctx, p.AccountID)
		switch {
		case err == nil:
			return u, nil
		case !IsNotFound(err):
			return nil, err
		}
	}
	if q, ok := externalIDQuery(p.EmployeeID); ok {
		res, err := call(ctx, c, "users.list", read, func(ctx context.Context) (*admin.Users, error) {
			return c.dir.Users.List().Customer(c.customer).Query(q).MaxResults(10).Context(ctx).Do()
		})
		if err != nil {
			return nil, err
		}
		for _, u := range res.Users {
			if slices.ContainsFunc(externalIDs(u), func(e admin.UserExternalId) bool {
				return e.Type == externalIDType && e.Value == p.EmployeeID
			}) {
				return u, nil
			}
		}
	}
	if p.Email == "" {
		return nil, nil
	}
	u, err := c.getUser(ctx, p.Email)
	switch {
	case IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !strings.EqualFold(u.PrimaryEmail, p.Email):
		return nil, nil // an alias
	}
	return u, nil
}

// externalIDQuery is the users.list query for an HR id. Google's search
// syntax quotes values in single quotes and has no escape Keycard can rely
// on: an id with a quote or backslash is not searched for.
func externalIDQuery(id string) (string, bool) {
	if id == "" || strings.ContainsAny(id, `'\`) {
		return "", false
	}
	return "externalId:'" + id + "'", true
}

func (c *Connector) getUser(ctx context.Context, key string) (*admin.User, error) {
	return call(ctx, c, "users.get", read, func(ctx context.Context) (*admin.User, error) {
		return c.dir.Users.Get(key).Context(ctx).Do()
	})
}

// Create inserts the user: the address, name, HR id, title and department,
// the policy's org unit (else /), the manager's address when Keycard knows
// the manager's account, and a random password nobody learns (Google
// requires one; without SSO it must be changed at first sign-in). Then it
// assigns the policy's licence. An address in use (409 duplicate) is
// adopted: the user holding it as primary address is returned as it is.
func (c *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	if p.Email == "" {
		return connector.Account{}, fault.Permanent(errors.New("no work e-mail: a Google account is its address"))
	}
	manager, err := c.managerAddr(ctx, p.ManagerAccountID)
	if err != nil {
		return connector.Account{}, err
	}
	password, err := randomPassword()
	if err != nil {
		return connector.Account{}, err
	}
	want := &admin.User{
		PrimaryEmail:              strings.ToLower(p.Email),
		Name:                      &admin.UserName{GivenName: p.GivenName, FamilyName: p.FamilyName, DisplayName: p.DisplayName},
		Password:                  password,
		ChangePasswordAtNextLogin: !c.sso,
		OrgUnitPath:               cmp.Or(p.OrgUnit, "/"),
	}
	if p.EmployeeID != "" {
		want.ExternalIds = []admin.UserExternalId{{Type: externalIDType, Value: p.EmployeeID}}
	}
	if orgs := withJob(nil, p); len(orgs) > 0 {
		want.Organizations = orgs
	}
	if manager != "" {
		want.Relations = []admin.UserRelation{{Type: "manager", Value: manager}}
	}
	u, err := call(ctx, c, "users.insert", stepWrite, func(ctx context.Context) (*admin.User, error) {
		return c.dir.Users.Insert(want).Context(ctx).Do()
	})
	if IsConflict(err) {
		return c.adopt(ctx, p, err)
	}
	if err != nil {
		return connector.Account{}, err
	}
	licence := ""
	if p.License != "" {
		if err := c.assign(ctx, u.PrimaryEmail, "", p.License, write); err != nil {
			return c.view(u, p, nil, &licence, manager), err
		}
		licence = p.License
	}
	return c.view(u, p, nil, &licence, manager), nil
}

// adopt returns the user holding p's address after a 409 on insert.
func (c *Connector) adopt(ctx context.Context, p connector.Person, conflict error) (connector.Account, error) {
	u, err := c.getUser(ctx, p.Email)
	switch {
	case IsNotFound(err):
		return connector.Account{}, fault.Permanent(fmt.Errorf("create: %w; yet no user answers to the address (a deleted user's, kept for 20 days?)", conflict))
	case err != nil:
		return connector.Account{}, err
	case !strings.EqualFold(u.PrimaryEmail, p.Email):
		return connector.Account{}, fault.Permanent(fmt.Errorf("create: %w: the address is an alias of user %s (a former address after a rename?): remove the alias or give the person another address", conflict, u.Id))
	}
	return c.account(ctx, u, p)
}

// randomPassword is 32 characters nobody is told: Google requires a
// password to create a user.
func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Update brings the address, name, title, department, org unit, HR id and
// manager in line with p (one users.get, then one users.patch of what
// differs), then the licence: assigned when the user holds none of the
// product, moved (licenseAssignments.patch) when they hold another SKU.
func (c *Connector) Update(ctx context.Context, a connector.Account, p connector.Person) error {
	cur, err := c.getUser(ctx, a.ID)
	if err != nil {
		return err
	}
	manager, err := c.managerAddr(ctx, p.ManagerAccountID)
	if err != nil {
		return err
	}
	k := stepWrite
	address := cur.PrimaryEmail
	if patch := c.diff(cur, p, manager); patch != nil {
		u, err := call(ctx, c, "users.patch", k, func(ctx context.Context) (*admin.User, error) {
			return c.dir.Users.Patch(a.ID, patch).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
		address, k = u.PrimaryEmail, write
	}
	if p.License == "" {
		return nil
	}
	held, known := a.Attributes["license"] // as Find read it
	if !known {
		if held, err = c.heldSKU(ctx, address, p.License); err != nil {
			return err
		}
	}
	return c.assign(ctx, address, held, p.License, k)
}

// diff is the patch that takes cur to p, or nil when there is nothing to
// change. Lists Google replaces whole (externalIds, organizations,
// relations) keep the entries Keycard does not own.
func (c *Connector) diff(cur *admin.User, p connector.Person, manager string) *admin.User {
	var patch admin.User
	changed := false
	if p.Email != "" && !strings.EqualFold(cur.PrimaryEmail, p.Email) {
		patch.PrimaryEmail, changed = strings.ToLower(p.Email), true
	}
	name := cmpName(cur.Name)
	if name.GivenName != p.GivenName || name.FamilyName != p.FamilyName || (p.DisplayName != "" && name.DisplayName != p.DisplayName) {
		patch.Name, changed = &admin.UserName{GivenName: p.GivenName, FamilyName: p.FamilyName, DisplayName: p.DisplayName}, true
	}
	if p.OrgUnit != "" && cur.OrgUnitPath != p.OrgUnit {
		patch.OrgUnitPath, changed = p.OrgUnit, true
	}
	if ids := externalIDs(cur); p.EmployeeID != "" && !slices.ContainsFunc(ids, func(e admin.UserExternalId) bool {
		return e.Type == externalIDType && e.Value == p.EmployeeID
	}) {
		ids = slices.DeleteFunc(ids, func(e admin.UserExternalId) bool { return e.Type == externalIDType })
		patch.ExternalIds, changed = append(ids, admin.UserExternalId{Type: externalIDType, Value: p.EmployeeID}), true
	}
	orgs := organizations(cur)
	if title, dept := job(orgs); title != p.Title || dept != p.Department {
		patch.Organizations, changed = withJob(orgs, p), true
	}
	rels := relations(cur)
	linked := managerOf(rels)
	switch {
	case p.ManagerID == "" && linked != "":
		patch.Relations, changed = withManager(rels, ""), true
	case manager != "" && !strings.EqualFold(linked, manager):
		patch.Relations, changed = withManager(rels, manager), true
	}
	if !changed {
		return nil
	}
	return &patch
}

func cmpName(n *admin.UserName) admin.UserName {
	if n == nil {
		return admin.UserName{}
	}
	return *n
}

// SetActive(false) ends the person's access: users.signOut (every web and
// device session), then each application-specific password and each
// OAuth token they granted an app is deleted, then the user is suspended.
// Suspension comes last because it is what the next plan reads: a user
// found suspended is not deactivated again, so a revocation that failed
// before it is retried, one after it would not be. A suspended user keeps
// their data, groups and licence, and Google bills the licence as for an
// active user. SetActive(true) lifts the suspension.
func (c *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	k := stepWrite
	if !active {
		if err := c.revoke(ctx, a.ID); err != nil {
			return err
		}
		k = write
	}
	patch := &admin.User{Suspended: !active, ForceSendFields: []string{"Suspended"}}
	_, err := call(ctx, c, "users.patch", k, func(ctx context.Context) (*admin.User, error) {
		return c.dir.Users.Patch(a.ID, patch).Context(ctx).Do()
	})
	return err
}

// revoke signs the user out and deletes their application-specific
// passwords and OAuth tokens. One gone meanwhile (404) is fine.
func (c *Connector) revoke(ctx context.Context, id string) error {
	if err := run(ctx, c, "users.signOut", stepWrite, func(ctx context.Context) error {
		return c.dir.Users.SignOut(id).Context(ctx).Do()
	}); err != nil {
		return err
	}
	asps, err := call(ctx, c, "asps.list", read, func(ctx context.Context) (*admin.Asps, error) {
		return c.dir.Asps.List(id).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	for _, asp := range asps.Items {
		err := run(ctx, c, "asps.delete", write, func(ctx context.Context) error {
			return c.dir.Asps.Delete(id, asp.CodeId).Context(ctx).Do()
		})
		if err != nil && !IsNotFound(err) {
			return err
		}
	}
	tokens, err := call(ctx, c, "tokens.list", read, func(ctx context.Context) (*admin.Tokens, error) {
		return c.dir.Tokens.List(id).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	for _, t := range tokens.Items {
		err := run(ctx, c, "tokens.delete", write, func(ctx context.Context) error {
			return c.dir.Tokens.Delete(id, t.ClientId).Context(ctx).Do()
		})
		if err != nil && !IsNotFound(err) {
			return err
		}
	}
	return nil
}

// AddMembership adds the user to an existing group (Keycard makes no
// groups: a Google group is a mailing list with settings of its own). A
// member already in (409 "Member already exists.") is success; a group
// that does not exist is a permanent error.
func (c *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	key, err := c.groupKey(kind, name)
	if err != nil {
		return err
	}
	m := &admin.Member{Email: a.Email, Role: "MEMBER"}
	if a.Email == "" {
		m = &admin.Member{Id: a.ID, Role: "MEMBER"}
	}
	_, err = call(ctx, c, "members.insert", stepWrite, func(ctx context.Context) (*admin.Member, error) {
		return c.dir.Members.Insert(key, m).Context(ctx).Do()
	})
	switch {
	case IsConflict(err):
		return nil
	case IsNotFound(err):
		return fmt.Errorf("group %s (Keycard adds members to existing groups only): %w", key, err)
	}
	return err
}

// RemoveMembership removes the user from the group; one not in it, or a
// group that does not exist (404), is success.
func (c *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	key, err := c.groupKey(kind, name)
	if err != nil {
		return err
	}
	err = run(ctx, c, "members.delete", stepWrite, func(ctx context.Context) error {
		return c.dir.Members.Delete(key, a.ID).Context(ctx).Do()
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

// groupKey is the address of the group the policy names: a bare name is
// a group of the domain. A group of the domain must be named bare, and
// every name in lower case, because that is how Find reports them and
// the plan compares names as written: "eng@example.com" in the policy
// would never match a reported "eng", so a move would not remove it.
func (c *Connector) groupKey(kind connector.Kind, name string) (string, error) {
	if kind != connector.Group {
		return "", fault.Permanent(fmt.Errorf("%s %q: Google Workspace grants groups only", kind, name))
	}
	switch local, domain, qualified := strings.Cut(name, "@"); {
	case name == "" || local == "":
		return "", fault.Permanent(fmt.Errorf("group %q: no name", name))
	case name != strings.ToLower(name):
		return "", fault.Permanent(fmt.Errorf("group %q: write group names in lower case (Google's addresses are), as %q", name, strings.ToLower(name)))
	case qualified && domain == c.domain:
		return "", fault.Permanent(fmt.Errorf("group %q: name a group of %s without its domain, as %q (Keycard reports it so)", name, c.domain, local))
	case qualified:
		return name, nil
	}
	return name + "@" + c.domain, nil
}

// groupName is how a group's address is reported: bare for the domain's.
func (c *Connector) groupName(email string) string {
	email = strings.ToLower(email)
	if local, ok := strings.CutSuffix(email, "@"+c.domain); ok {
		return local
	}
	return email
}

// groupsOf lists the groups the user is a direct member of.
func (c *Connector) groupsOf(ctx context.Context, id string) ([]string, error) {
	var names []string
	token := ""
	for {
		res, err := call(ctx, c, "groups.list", read, func(ctx context.Context) (*admin.Groups, error) {
			return c.dir.Groups.List().UserKey(id).MaxResults(groupPage).PageToken(token).Context(ctx).Do()
		})
		if err != nil {
			return nil, err
		}
		for _, g := range res.Groups {
			names = append(names, c.groupName(g.Email))
		}
		if token = res.NextPageToken; token == "" {
			return names, nil
		}
	}
}

// List calls fn for every user of the customer. It reads every group and
// its members first (one groups.list page of 200 groups, then a
// members.list page of 200 members per group), and the licences of the
// product (a listForProduct page of 1,000 assignments), rather than one
// groups.list per user: for 10,000 users in 300 groups that is about 21
// user pages, 2 group pages, some 350 member pages and 10 licence pages,
// under 400 queries, against 10,000 for groups.list per user. Reads are
// paced.
func (c *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	members, err := c.allMembers(ctx)
	if err != nil {
		return err
	}
	var licences map[string]string
	token := ""
	for {
		res, err := call(ctx, c, "users.list", read, func(ctx context.Context) (*admin.Users, error) {
			return c.dir.Users.List().Customer(c.customer).MaxResults(userPage).PageToken(token).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
		if licences == nil && len(res.Users) > 0 {
			// The License Manager wants the customer id, which every user
			// carries (my_customer is the Directory API's word only).
			if licences, err = c.allLicences(ctx, res.Users[0].CustomerId); err != nil {
				return err
			}
		}
		for _, u := range res.Users {
			licence := licences[strings.ToLower(u.PrimaryEmail)]
			if err := fn(c.view(u, connector.Person{}, members[u.Id], &licence, "")); err != nil {
				return err
			}
		}
		if token = res.NextPageToken; token == "" {
			return nil
		}
	}
}

// allMembers maps user ids to the names of the groups they are direct
// members of.
func (c *Connector) allMembers(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	token := ""
	for {
		res, err := call(ctx, c, "groups.list", read, func(ctx context.Context) (*admin.Groups, error) {
			return c.dir.Groups.List().Customer(c.customer).MaxResults(groupPage).PageToken(token).Context(ctx).Do()
		})
		if err != nil {
			return nil, err
		}
		for _, g := range res.Groups {
			if err := c.eachMember(ctx, g.Id, func(m *admin.Member) {
				if m.Type == "" || m.Type == "USER" {
					out[m.Id] = append(out[m.Id], c.groupName(g.Email))
				}
			}); err != nil {
				return nil, err
			}
		}
		if token = res.NextPageToken; token == "" {
			return out, nil
		}
	}
}

func (c *Connector) eachMember(ctx context.Context, group string, fn func(*admin.Member)) error {
	token := ""
	for {
		res, err := call(ctx, c, "members.list", read, func(ctx context.Context) (*admin.Members, error) {
			return c.dir.Members.List(group).MaxResults(groupPage).PageToken(token).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
		for _, m := range res.Members {
			fn(m)
		}
		if token = res.NextPageToken; token == "" {
			return nil
		}
	}
}

// Count implements connector.Counter: every user of the customer,
// suspended ones included, reading ids only (a page of 500 per query).
// The answer is reused for five minutes: the guard asks at every
// deactivation, and a leaver storm must not re-read the tenant each time.
func (c *Connector) Count(ctx context.Context) (int, error) {
	c.mu.Lock()
	last := c.count
	c.mu.Unlock()
	if !last.at.IsZero() && c.now().Sub(last.at) < countTTL {
		return last.n, nil
	}
	n, token := 0, ""
	for {
		res, err := call(ctx, c, "users.list", read, func(ctx context.Context) (*admin.Users, error) {
			return c.dir.Users.List().Customer(c.customer).MaxResults(userPage).PageToken(token).
				Fields("nextPageToken", "users(id)").Context(ctx).Do()
		})
		if err != nil {
			return 0, err
		}
		n += len(res.Users)
		if token = res.NextPageToken; token == "" {
			break
		}
	}
	c.mu.Lock()
	c.count = counted{n: n, at: c.now()}
	c.mu.Unlock()
	return n, nil
}

// LinksManagers implements connector.ManagerLinker: the manager relation
// holds the manager's address, read from their account.
func (c *Connector) LinksManagers() bool { return true }

// managerAddr is the primary address of the manager's account, or "" when
// there is none (no id, or the account is gone). Addresses are reused for
// an hour.
func (c *Connector) managerAddr(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	c.mu.Lock()
	hit, ok := c.managers[id]
	c.mu.Unlock()
	if ok && c.now().Sub(hit.at) < managerTTL {
		return hit.addr, nil
	}
	u, err := c.getUser(ctx, id)
	switch {
	case IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	}
	addr := strings.ToLower(u.PrimaryEmail)
	c.mu.Lock()
	c.managers[id] = cachedAddr{addr: addr, at: c.now()}
	c.mu.Unlock()
	return addr, nil
}

// account reads what view needs beyond the user: groups, licence,
// manager's address.
func (c *Connector) account(ctx context.Context, u *admin.User, p connector.Person) (connector.Account, error) {
	groups, err := c.groupsOf(ctx, u.Id)
	if err != nil {
		return connector.Account{}, err
	}
	var licence *string
	if p.License != "" {
		held, err := c.heldSKU(ctx, u.PrimaryEmail, p.License)
		if err != nil {
			return connector.Account{}, err
		}
		licence = &held
	}
	manager, err := c.managerAddr(ctx, p.ManagerAccountID)
	if err != nil {
		return connector.Account{}, err
	}
	return c.view(u, p, groups, licence, manager), nil
}

// view is u as the worker plans against it. What Google does not store
// apart (a user name: the address is the login) reads as p wants it; a
// display name reads as HR's when HR gives none. licence is the SKU held
// (nil: not read); manager the address of p's manager's account.
func (c *Connector) view(u *admin.User, p connector.Person, groups []string, licence *string, manager string) connector.Account {
	email := strings.ToLower(u.PrimaryEmail)
	if strings.EqualFold(email, p.Email) {
		email = p.Email
	}
	name := cmpName(u.Name)
	display := cmp.Or(name.DisplayName, name.FullName)
	if p.DisplayName == "" {
		display = ""
	}
	title, dept := job(organizations(u))
	attrs := map[string]string{
		"email": email, "user_name": p.UserName, "given_name": name.GivenName, "family_name": name.FamilyName,
		"display_name": display, "title": title, "department": dept,
		"manager_id": managerAttr(managerOf(relations(u)), manager, p), "org_unit": u.OrgUnitPath,
	}
	if licence != nil {
		attrs["license"] = *licence
	}
	var external string
	for _, e := range externalIDs(u) {
		if e.Type == externalIDType {
			external = e.Value
		}
	}
	return connector.Account{
		ID: u.Id, ExternalID: external, UserName: strings.ToLower(u.PrimaryEmail), Email: strings.ToLower(u.PrimaryEmail),
		Active: !u.Suspended, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Group: groups},
	}
}

// managerAttr is the manager as the plan compares it, in HR ids: the
// relation holds the manager's address, which counts as HR's manager when
// it is the address of that manager's account. A manager without an
// account Keycard knows of reads as up to date: there is nothing to link.
func managerAttr(linked, manager string, p connector.Person) string {
	switch {
	case p.ManagerID == "":
		if linked == "" {
			return ""
		}
		return "manager " + linked // to be cleared
	case manager == "" || strings.EqualFold(linked, manager):
		return p.ManagerID
	}
	return "manager " + cmp.Or(linked, "none")
}

// The Directory API's repeated fields arrive as JSON of any shape (the
// client library types them interface{}); these read them.
func decodeAs[T any](v any) []T {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out []T
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}

func externalIDs(u *admin.User) []admin.UserExternalId {
	return decodeAs[admin.UserExternalId](u.ExternalIds)
}
func organizations(u *admin.User) []admin.UserOrganization {
	return decodeAs[admin.UserOrganization](u.Organizations)
}
func relations(u *admin.User) []admin.UserRelation { return decodeAs[admin.UserRelation](u.Relations) }

// job is the title and department of the primary organization (else the
// first).
func job(orgs []admin.UserOrganization) (title, dept string) {
	i := slices.IndexFunc(orgs, func(o admin.UserOrganization) bool { return o.Primary })
	if i < 0 && len(orgs) > 0 {
		i = 0
	}
	if i < 0 {
		return "", ""
	}
	return orgs[i].Title, orgs[i].Department
}

// withJob sets p's title and department on the primary organization,
// adding one (type work) when there is none, dropping one left empty.
func withJob(orgs []admin.UserOrganization, p connector.Person) []admin.UserOrganization {
	out := slices.Clone(orgs)
	i := slices.IndexFunc(out, func(o admin.UserOrganization) bool { return o.Primary })
	if i < 0 && len(out) > 0 {
		i = 0
	}
	if i < 0 {
		if p.Title == "" && p.Department == "" {
			return []admin.UserOrganization{}
		}
		return append(out, admin.UserOrganization{Title: p.Title, Department: p.Department, Primary: true, Type: "work"})
	}
	out[i].Title, out[i].Department = p.Title, p.Department
	if o := out[i]; o.Title == "" && o.Department == "" && o.Name == "" && o.CostCenter == "" && o.Description == "" {
		out = slices.Delete(out, i, i+1)
	}
	if out == nil {
		out = []admin.UserOrganization{} // sent as [], which clears the list
	}
	return out
}

func managerOf(rels []admin.UserRelation) string {
	for _, r := range rels {
		if r.Type == "manager" {
			return strings.ToLower(r.Value)
		}
	}
	return ""
}

// withManager replaces the manager relations by addr ("" removes them).
func withManager(rels []admin.UserRelation, addr string) []admin.UserRelation {
	out := slices.DeleteFunc(slices.Clone(rels), func(r admin.UserRelation) bool { return r.Type == "manager" })
	if addr != "" {
		out = append(out, admin.UserRelation{Type: "manager", Value: addr})
	}
	if out == nil {
		out = []admin.UserRelation{}
	}
	return out
}
