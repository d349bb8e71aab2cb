package pipedrive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Defaults of Config.
const (
	DefaultTimeout = 30 * time.Second
	// pageSize is what a list asks for: Pipedrive's largest page.
	pageSize = 500
	// maxPages bounds one listing: a server whose pagination never ends
	// cannot hold a worker for ever.
	maxPages = 10000
	// namesTTL is how long the names of permission sets, roles and teams
	// are kept before they are read again; a name not known is read again
	// at once.
	namesTTL = 10 * time.Minute
)

// AppSales is the Pipedrive app whose access is the seat: the deals app,
// where the permission set the policy's licence names applies.
const AppSales = "sales"

// Attributes a Pipedrive account reports beside the ones Keycard sets.
// Plans never compare them (the person has none of them); they are there
// for List's readers: the cost report and audits.
const (
	// AttrSeat says what the account's seat costs: SeatActive, or
	// SeatBilledInactive for a deactivated user, whose seat Pipedrive
	// bills until an admin removes it from the subscription.
	AttrSeat = "pipedrive_seat"
	// AttrActivated is "true" once the user accepted Pipedrive's
	// invitation and set a password, "false" while it is pending.
	AttrActivated = "pipedrive_activated"
)

// Values of AttrSeat.
const (
	SeatActive         = "active"
	SeatBilledInactive = "inactive_billed"
)

// Config is one company's connector configuration.
type Config struct {
	// BaseURL is the API root, https://COMPANY.pipedrive.com/api/v1/;
	// default from CompanyDomain.
	BaseURL       string
	CompanyDomain string // the company's subdomain: "acme" for acme.pipedrive.com
	Token         string // a Pipedrive API token of an admin user
	// PermissionSet is the sales app's permission set (its name or id)
	// new users get when the policy names no licence for them; "" is
	// Pipedrive's default ("Regular user").
	PermissionSet string
	HTTPClient    *http.Client  // default: a client of its own
	Timeout       time.Duration // per request; default DefaultTimeout
	// Pace is waited on before each page List reads.
	Pace func(context.Context) error
	// Observe is told how Pipedrive answered each write and paced read,
	// and every limit answer: the pacer's feedback.
	Observe func(context.Context, ratelimit.Outcome)
	Now     func() time.Time
	Log     zerolog.Logger
}

// Connector manages one company's users and their team memberships (see
// the package documentation).
type Connector struct {
	hc            *http.Client
	base          *url.URL
	token         string
	permissionSet string
	timeout       time.Duration
	pace          func(context.Context) error
	observe       func(context.Context, ratelimit.Outcome)
	now           func() time.Time
	log           zerolog.Logger

	mu    sync.Mutex
	me    int // the token's user, once read
	sets  names
	roles names // paths
	teams names
}

// names is a cached id ↔ name list (permission sets, roles, teams).
// Roles are named by their path in the role hierarchy, "/Sales/Sales EU".
type names struct {
	read time.Time
	byID map[string]string
	path bool // the names are role paths: a grant may give the last segments only
}

func (n names) fresh(now time.Time) bool { return n.byID != nil && now.Sub(n.read) < namesTTL }

// matches reports whether want names id: its id, its name (any case) or,
// for a role, the end of its path ("/Sales EU" is "/Default/Sales EU").
func (n names) matches(want, id string) bool {
	name, ok := n.byID[id]
	switch {
	case !ok || want == "":
		return false
	case want == id || strings.EqualFold(want, name):
		return true
	case n.path:
		w := strings.Split(strings.Trim(strings.ToLower(want), "/"), "/")
		p := strings.Split(strings.Trim(strings.ToLower(name), "/"), "/")
		return len(w) <= len(p) && slices.Equal(w, p[len(p)-len(w):])
	}
	return false
}

// ids returns the ids want names, sorted.
func (n names) ids(want string) []string {
	var out []string
	for id := range n.byID {
		if n.matches(want, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// DefaultBaseURL is the API root without a company domain; Pipedrive
// advises the company's own (faster: it picks the data centre).
const DefaultBaseURL = "https://api.pipedrive.com/api/v1/"

var domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// baseURL is the API root cfg names.
func baseURL(cfg Config) (string, error) {
	switch {
	case cfg.BaseURL != "":
		if msg := registry.CheckBaseURL(cfg.BaseURL); msg != "" {
			return "", fmt.Errorf("base_url: %s", msg)
		}
		if strings.HasSuffix(cfg.BaseURL, "/") {
			return cfg.BaseURL, nil
		}
		return cfg.BaseURL + "/", nil
	case cfg.CompanyDomain != "":
		if !domainLabel.MatchString(cfg.CompanyDomain) {
			return "", fmt.Errorf("company_domain %q: want the subdomain only, as acme in acme.pipedrive.com", cfg.CompanyDomain)
		}
		return "https://" + cfg.CompanyDomain + ".pipedrive.com/api/v1/", nil
	}
	return DefaultBaseURL, nil
}

// New checks cfg and returns a connector.
func New(cfg Config) (*Connector, error) {
	if cfg.Token == "" || strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("pipedrive config: the API token is empty or holds white space")
	}
	raw, err := baseURL(cfg)
	if err != nil {
		return nil, fmt.Errorf("pipedrive config: %w", err)
	}
	base, _ := url.Parse(raw)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Connector{hc: hc, base: base, token: cfg.Token, permissionSet: cfg.PermissionSet,
		timeout: cmp.Or(cfg.Timeout, DefaultTimeout), pace: cfg.Pace, observe: cfg.Observe, now: now, log: cfg.Log,
		roles: names{path: true}}, nil
}

// user is Pipedrive's user object (BaseUser), as far as Keycard reads it.
type user struct {
	ID         int          `json:"id"`
	Name       string       `json:"name"`
	Email      string       `json:"email"`
	Activated  bool         `json:"activated"`
	ActiveFlag bool         `json:"active_flag"`
	Access     []userAccess `json:"access"`
	RoleID     int          `json:"role_id"`
	IsYou      bool         `json:"is_you"`
	IsDeleted  bool         `json:"is_deleted"`
}

type userAccess struct {
	App             string `json:"app"`
	Admin           bool   `json:"admin,omitempty"`
	PermissionSetID string `json:"permission_set_id,omitempty"`
}

func (u user) salesSet() string {
	for _, a := range u.Access {
		if a.App == AppSales {
			return a.PermissionSetID
		}
	}
	return ""
}

// accountID reads an account id: Pipedrive's user id.
func accountID(id string) (int, bool) {
	n, err := strconv.Atoi(id)
	return n, err == nil && n > 0
}

func idOf(a connector.Account) (int, error) {
	n, ok := accountID(a.ID)
	if !ok {
		return 0, fault.Permanent(fmt.Errorf("pipedrive: account id %q is not a Pipedrive user id", a.ID))
	}
	return n, nil
}

// ---- reads ----------------------------------------------------------------------

// Find returns the person's user: by the stored id, then by e-mail
// (GET /users/find with search_by_email, matched exactly), deactivated
// users included.
func (k *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	if id, ok := accountID(p.AccountID); ok {
		var u user
		_, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "users/" + strconv.Itoa(id)}, &u)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("user %d: %w", id, err)
		case !u.IsDeleted:
			return k.account(ctx, u, p)
		}
	}
	u, err := k.findEmail(ctx, p.Email)
	if err != nil || u == nil {
		return nil, err
	}
	return k.account(ctx, *u, p)
}

// findEmail returns the company's user with address email, or nil.
func (k *Connector) findEmail(ctx context.Context, email string) (*user, error) {
	if email == "" {
		return nil, nil
	}
	var found []user
	q := url.Values{"term": {email}, "search_by_email": {"1"}}
	if _, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "users/find", query: q}, &found); err != nil {
		return nil, fmt.Errorf("find user by e-mail: %w", err)
	}
	// The term matches parts of addresses: only the address itself counts,
	// an active user before a deactivated one.
	var match *user
	for i, u := range found {
		if u.IsDeleted || !strings.EqualFold(u.Email, email) {
			continue
		}
		if match == nil || u.ActiveFlag && !match.ActiveFlag {
			match = &found[i]
		}
	}
	return match, nil
}

// account is a user as the worker plans against it. Pipedrive keeps no
// HR attributes: a user's name is their own, and its API changes no
// e-mail, permission set or name once the user is added (PUT /users/{id}
// takes active_flag only). So the account reads HR's attributes as the
// person has them, except what Pipedrive holds and Keycard compares: the
// login e-mail, the sales permission set (license) and the visibility
// role (org_unit), each as Pipedrive has it (in the spelling the policy
// uses when they agree).
func (k *Connector) account(ctx context.Context, u user, p connector.Person) (*connector.Account, error) {
	teams, err := k.teamsOf(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	attrs := p.Attributes()
	if err := k.pipedriveAttributes(ctx, u, p, attrs); err != nil {
		return nil, err
	}
	return &connector.Account{ID: strconv.Itoa(u.ID), UserName: strings.ToLower(u.Email), Email: strings.ToLower(u.Email),
		Active: u.ActiveFlag, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Team: teams}}, nil
}

// pipedriveAttributes sets in attrs what Pipedrive holds of the
// attributes Keycard compares, and the seat.
func (k *Connector) pipedriveAttributes(ctx context.Context, u user, p connector.Person, attrs map[string]string) error {
	if !strings.EqualFold(u.Email, p.Email) {
		attrs["email"] = strings.ToLower(u.Email)
	}
	set, err := k.nameOf(ctx, &k.sets, u.salesSet(), p.License)
	if err != nil {
		return err
	}
	role, err := k.nameOf(ctx, &k.roles, strconv.Itoa(u.RoleID), p.OrgUnit)
	if err != nil {
		return err
	}
	if set != "" {
		attrs[registry.GrantLicense] = set
	}
	if role != "" {
		attrs[registry.GrantOrgUnit] = role
	}
	attrs[AttrSeat] = seat(u)
	attrs[AttrActivated] = strconv.FormatBool(u.Activated)
	return nil
}

func seat(u user) string {
	if u.ActiveFlag {
		return SeatActive
	}
	return SeatBilledInactive
}

// teamsOf reads the names of the teams user id is in (GET
// /legacyTeams/user/{id}).
func (k *Connector) teamsOf(ctx context.Context, id int) ([]string, error) {
	var teams []team
	q := url.Values{"skip_users": {"1"}}
	_, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "legacyTeams/user/" + strconv.Itoa(id), query: q}, &teams)
	if err != nil {
		return nil, fmt.Errorf("teams of user %d: %w", id, err)
	}
	out := make([]string, 0, len(teams))
	for _, t := range teams {
		out = append(out, t.Name)
	}
	return out, nil
}

type team struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Users []int  `json:"users"`
}

// nameOf is how the account reports id of list (a permission set or
// role): as want when want names it, else by its name (the list read
// again when id is not in it), else the id; "" for "".
func (k *Connector) nameOf(ctx context.Context, list *names, id, want string) (string, error) {
	if id == "" || id == "0" {
		return "", nil
	}
	for attempt := range 2 {
		n, err := k.names(ctx, list, attempt > 0)
		if err != nil {
			return "", err
		}
		if name, ok := n.byID[id]; ok {
			if n.matches(want, id) {
				return want, nil
			}
			return name, nil
		}
	}
	return id, nil
}

// idNamed returns the one id list holds for name, reading it again once
// when none is known; "" when there is none, with the list's names. Two
// roles whose paths end the same are a permanent error.
func (k *Connector) idNamed(ctx context.Context, list *names, name string) (string, map[string]string, error) {
	var n names
	for attempt := range 2 {
		var err error
		if n, err = k.names(ctx, list, attempt > 0); err != nil {
			return "", nil, err
		}
		switch ids := n.ids(name); len(ids) {
		case 0:
		case 1:
			return ids[0], n.byID, nil
		default:
			var paths []string
			for _, id := range ids {
				paths = append(paths, strconv.Quote(n.byID[id]))
			}
			return "", nil, fault.Permanent(fmt.Errorf("pipedrive: %q names %s: write more of the path", name, strings.Join(paths, " and ")))
		}
	}
	return "", n.byID, nil
}

// names returns list as read last, read again when stale or when again.
func (k *Connector) names(ctx context.Context, list *names, again bool) (names, error) {
	k.mu.Lock()
	if !again && list.fresh(k.now()) {
		n := *list
		k.mu.Unlock()
		return n, nil
	}
	k.mu.Unlock()
	byID, err := k.readNames(ctx, list)
	if err != nil {
		return names{}, err
	}
	k.mu.Lock()
	list.byID, list.read = byID, k.now()
	n := *list
	k.mu.Unlock()
	return n, nil
}

func (k *Connector) readNames(ctx context.Context, list *names) (map[string]string, error) {
	byID := map[string]string{}
	switch list {
	case &k.sets:
		var sets []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		q := url.Values{"app": {AppSales}}
		if _, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "permissionSets", query: q}, &sets); err != nil {
			return nil, fmt.Errorf("permission sets: %w", err)
		}
		for _, s := range sets {
			byID[s.ID] = s.Name
		}
	case &k.roles:
		type role struct {
			ID     int    `json:"id"`
			Parent *int   `json:"parent_role_id"`
			Name   string `json:"name"`
		}
		roles := map[int]role{}
		err := pages(ctx, k, read, "roles", nil, func(r role) error {
			roles[r.ID] = r
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("roles: %w", err)
		}
		for id, r := range roles {
			path := "/" + r.Name
			for up, hops := r.Parent, 0; up != nil && hops < len(roles); hops++ {
				p, ok := roles[*up]
				if !ok {
					break
				}
				path, up = "/"+p.Name+path, p.Parent
			}
			byID[strconv.Itoa(id)] = path
		}
	case &k.teams:
		var teams []team
		q := url.Values{"skip_users": {"1"}}
		if _, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "legacyTeams", query: q}, &teams); err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
		for _, t := range teams {
			byID[strconv.Itoa(t.ID)] = t.Name
		}
	}
	return byID, nil
}

// self is the id of the user whose token Keycard uses.
func (k *Connector) self(ctx context.Context) (int, error) {
	k.mu.Lock()
	me := k.me
	k.mu.Unlock()
	if me != 0 {
		return me, nil
	}
	var u user
	if _, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "users/me"}, &u); err != nil {
		return 0, fmt.Errorf("the token's user: %w", err)
	}
	k.mu.Lock()
	k.me = u.ID
	k.mu.Unlock()
	return u.ID, nil
}

func isNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusNotFound
}

func isBadRequest(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusBadRequest
}

// ---- writes ---------------------------------------------------------------------

// Create adds the person to the company (POST /users: Pipedrive e-mails
// them an invitation), with sales access on the permission set the
// policy's licence names (else the app's permission_set, else Pipedrive's
// default), then puts them in the visibility role the policy's org_unit
// names. A user the company already has under the address, active or
// deactivated, is adopted, moved to that role, and otherwise untouched:
// the plan reactivates it.
func (k *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	if p.Email == "" {
		return connector.Account{}, fault.Permanent(fmt.Errorf("pipedrive: employee %s has no work e-mail: Pipedrive adds users by e-mail", p.EmployeeID))
	}
	if cur, err := k.findEmail(ctx, p.Email); err != nil || cur != nil {
		if err != nil {
			return connector.Account{}, err
		}
		a, err := k.account(ctx, *cur, p)
		if err != nil {
			return connector.Account{}, err
		}
		if p.OrgUnit != "" && a.Attributes[registry.GrantOrgUnit] != p.OrgUnit {
			if _, err := k.assignRole(ctx, write, cur.ID, p.OrgUnit); err != nil {
				return connector.Account{}, err
			}
			a.Attributes[registry.GrantOrgUnit] = p.OrgUnit
		}
		return *a, nil
	}
	acc := userAccess{App: AppSales}
	if want := cmp.Or(p.License, k.permissionSet); want != "" {
		id, known, err := k.idNamed(ctx, &k.sets, want)
		if err != nil {
			return connector.Account{}, err
		}
		if id == "" {
			return connector.Account{}, fault.Permanent(fmt.Errorf("pipedrive: no permission set %q in the sales app (the company has %s)", want, listNames(known)))
		}
		acc.PermissionSetID = id
	}
	body := map[string]any{"email": p.Email, "access": []userAccess{acc}, "active_flag": true}
	var u user
	_, err := k.do(ctx, call{how: stepWrite, method: http.MethodPost, path: "users", body: body}, &u)
	if isBadRequest(err) {
		// Pipedrive documents no answer for an address it has: if another
		// delivery's (or a person's) user crossed this one, adopt it.
		if cur, ferr := k.findEmail(ctx, p.Email); ferr == nil && cur != nil {
			u, err = *cur, nil
		}
	}
	if err != nil {
		return connector.Account{}, fmt.Errorf("add employee %s: %w", p.EmployeeID, err)
	}
	if p.OrgUnit != "" {
		if u.RoleID, err = k.assignRole(ctx, write, u.ID, p.OrgUnit); err != nil {
			return connector.Account{}, err
		}
	}
	attrs := p.Attributes()
	if err := k.pipedriveAttributes(ctx, u, p, attrs); err != nil {
		return connector.Account{}, err
	}
	return connector.Account{ID: strconv.Itoa(u.ID), UserName: strings.ToLower(u.Email), Email: strings.ToLower(u.Email),
		Active: u.ActiveFlag, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Team: nil}}, nil
}

func listNames(byID map[string]string) string {
	var out []string
	for _, n := range byID {
		out = append(out, strconv.Quote(n))
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// assignRole puts user id in the visibility role named role (POST
// /roles/{id}/assignments: a user holds one role, so this moves them).
func (k *Connector) assignRole(ctx context.Context, how access, id int, role string) (int, error) {
	rid, known, err := k.idNamed(ctx, &k.roles, role)
	if err != nil {
		return 0, err
	}
	if rid == "" {
		return 0, fault.Permanent(fmt.Errorf("pipedrive: no visibility role %q in the company (it has %s); the grant's org_unit names a role", role, listNames(known)))
	}
	_, err = k.do(ctx, call{how: how, method: http.MethodPost, path: "roles/" + rid + "/assignments", body: map[string]int{"user_id": id}}, nil)
	if err != nil {
		return 0, fmt.Errorf("assign user %d to role %s: %w", id, role, err)
	}
	n, _ := strconv.Atoi(rid)
	return n, nil
}

// Update moves the user to the visibility role the policy's org_unit
// names. What Pipedrive's API cannot change once a user is added is
// reported, not hidden: a permission set (licence) other than the one
// the user holds, and an HR e-mail other than the user's login address,
// make the step Partial, saying what an admin must change by hand.
func (k *Connector) Update(ctx context.Context, a connector.Account, p connector.Person) error {
	id, err := idOf(a)
	if err != nil {
		return err
	}
	if p.OrgUnit != "" && a.Attributes[registry.GrantOrgUnit] != p.OrgUnit {
		if _, err := k.assignRole(ctx, stepWrite, id, p.OrgUnit); err != nil {
			return err
		}
	}
	var left []error
	if have := a.Attributes[registry.GrantLicense]; p.License != "" && have != p.License {
		left = append(left, fmt.Errorf("licence %q not applied: Pipedrive sets a user's permission set only when it adds them; change user %d's sales permission set from %q in Company settings > Manage users", p.License, id, have))
	}
	if p.Email != "" && a.Email != "" && !strings.EqualFold(a.Email, p.Email) {
		left = append(left, fmt.Errorf("e-mail not changed: user %d logs in with another address than HR's work e-mail, and Pipedrive's API changes no user's address (the user changes it under Personal preferences)", id))
	}
	return fault.Partial(errors.Join(left...))
}

// SetActive sets the user's active_flag (PUT /users/{id}). A deactivated
// user cannot log in but stays in the company, in their teams, and on a
// billed seat until an admin removes the seat; true brings the same user
// back. Keycard never deactivates the user whose API token it uses.
func (k *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	id, err := idOf(a)
	if err != nil {
		return err
	}
	if !active {
		me, err := k.self(ctx)
		if err != nil {
			return err
		}
		if id == me {
			return fault.Permanent(fmt.Errorf("pipedrive: user %d owns the API token Keycard uses: deactivating them would lock Keycard out; give the app another admin's token first", id))
		}
	}
	body := map[string]bool{"active_flag": active}
	_, err = k.do(ctx, call{how: stepWrite, method: http.MethodPut, path: "users/" + strconv.Itoa(id), body: body}, nil)
	switch {
	case isNotFound(err) && !active:
		return nil // no longer in the company: nothing to switch off
	case err != nil:
		return fmt.Errorf("set user %d active %v: %w", id, active, err)
	}
	return nil
}

// AddMembership adds the user to the team named name (POST
// /legacyTeams/{id}/users); one already in it stays.
func (k *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	tid, uid, err := k.teamAndUser(ctx, a, kind, name)
	if err != nil {
		return err
	}
	if tid == "" {
		return fault.Permanent(fmt.Errorf("pipedrive: no team %q in the company (teams are made in Pipedrive; the grant names one by its name)", name))
	}
	_, err = k.do(ctx, call{how: stepWrite, method: http.MethodPost, path: "legacyTeams/" + tid + "/users", body: map[string][]int{"users": {uid}}}, nil)
	if isNotFound(err) {
		k.forgetTeams()
		return fault.Permanent(fmt.Errorf("add user %d to team %s: the team is gone: %w", uid, name, err))
	}
	if err != nil {
		return fmt.Errorf("add user %d to team %s: %w", uid, name, err)
	}
	return nil
}

// RemoveMembership takes the user out of the team (DELETE
// /legacyTeams/{id}/users); a team that does not exist holds no one.
func (k *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	tid, uid, err := k.teamAndUser(ctx, a, kind, name)
	if err != nil || tid == "" {
		return err
	}
	_, err = k.do(ctx, call{how: stepWrite, method: http.MethodDelete, path: "legacyTeams/" + tid + "/users", body: map[string][]int{"users": {uid}}}, nil)
	switch {
	case isNotFound(err):
		k.forgetTeams()
		return nil
	case err != nil:
		return fmt.Errorf("remove user %d from team %s: %w", uid, name, err)
	}
	return nil
}

func (k *Connector) teamAndUser(ctx context.Context, a connector.Account, kind connector.Kind, name string) (string, int, error) {
	if kind != connector.Team {
		return "", 0, fault.Permanent(fmt.Errorf("pipedrive: %s memberships are not Pipedrive's: grant teams", kind))
	}
	uid, err := idOf(a)
	if err != nil {
		return "", 0, err
	}
	tid, _, err := k.idNamed(ctx, &k.teams, name)
	return tid, uid, err
}

func (k *Connector) forgetTeams() {
	k.mu.Lock()
	k.teams.byID = nil
	k.mu.Unlock()
}

// ---- listing --------------------------------------------------------------------

// List reports every user but the token's own (so reconcile never takes
// Keycard's access away), deactivated ones included (inactive, their seat
// billed), with their teams, permission set and role. It reads the users
// 500 a page and the teams with their members, every request paced.
func (k *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	members := map[int][]string{}
	var teams []team
	if _, err := k.do(ctx, call{how: read, method: http.MethodGet, path: "legacyTeams"}, &teams); err != nil {
		return fmt.Errorf("teams: %w", err)
	}
	for _, t := range teams {
		for _, id := range t.Users {
			members[id] = append(members[id], t.Name)
		}
	}
	var users []user
	err := pages(ctx, k, read, "users", nil, func(u user) error {
		if !u.IsYou && !u.IsDeleted {
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	for _, u := range users {
		attrs := map[string]string{"email": strings.ToLower(u.Email), "display_name": u.Name}
		if err := k.pipedriveAttributes(ctx, u, connector.Person{Email: u.Email}, attrs); err != nil {
			return err
		}
		a := connector.Account{ID: strconv.Itoa(u.ID), UserName: strings.ToLower(u.Email), Email: strings.ToLower(u.Email),
			Active: u.ActiveFlag, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Team: members[u.ID]}}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// Seats is what the company's users cost: Pipedrive bills a seat for
// every user in the company, active or deactivated, until an admin
// removes the seat from the subscription. The token's own user is
// counted: it holds a seat too.
type Seats struct {
	Active   int // users who can log in
	Inactive int // deactivated users, each still on a billed seat
}

// Billed is the seats Pipedrive bills for these users.
func (s Seats) Billed() int { return s.Active + s.Inactive }

// Seats reads the users (500 a page) and counts their seats.
func (k *Connector) Seats(ctx context.Context) (Seats, error) {
	var s Seats
	err := pages(ctx, k, read, "users", nil, func(u user) error {
		switch {
		case u.IsDeleted:
		case u.ActiveFlag:
			s.Active++
		default:
			s.Inactive++
		}
		return nil
	})
	if err != nil {
		return Seats{}, fmt.Errorf("count seats: %w", err)
	}
	return s, nil
}

// Count is the users List reports, active and deactivated (both billed):
// the base of the blast-radius guard.
func (k *Connector) Count(ctx context.Context) (int, error) {
	n := 0
	err := pages(ctx, k, read, "users", nil, func(u user) error {
		if !u.IsDeleted && !u.IsYou {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}
