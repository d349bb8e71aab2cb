package scim

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"keycard/pkg/connector/registry"
)

// Profile is what Keycard knows about one vendor's SCIM service: where it
// is, how to authenticate, which attributes and filters it takes, how it
// deprovisions and reprovisions, how it wants group members changed, and
// how fast it may be driven. The client reads every vendor difference from
// here, so a new SCIM vendor is a new Profile value, not new code.
//
// The vendor profiles ([Slack], [Atlassian], [GitHubEMU], [GitLab],
// [Notion], [Figma], [Miro], [Asana]) cite the section of
// shared/reference/connectors.md each value comes from; values that
// document does not settle are marked unverified and chosen to fail safe.
type Profile struct {
	// Name is the key for ProfileByName ("slack", "github-emu").
	Name string
	// BaseURLTemplate is the SCIM root with {placeholders}; see BaseURL.
	BaseURLTemplate string
	// Auth says how the token is sent. Zero: Authorization: Bearer.
	Auth Auth
	// Plan is the subscription the vendor requires for SCIM.
	Plan string

	// Patch: the vendor takes RFC 7644 PATCH on Users and Groups. Without
	// it the client reads the resource, applies the operations itself and
	// PUTs the whole resource back.
	Patch bool
	// Groups: the vendor has a /Groups endpoint.
	Groups bool
	// Accepts are the User attributes the vendor takes; CreateUser leaves
	// out the others and UpdateOps never touches them.
	Accepts Attr
	// Requires are the attributes a create must carry (GitLab: externalId).
	Requires Attr
	// UserNameIsEmail: userName must be the e-mail address; CreateUser
	// fills it from the primary e-mail when empty.
	UserNameIsEmail bool
	// UserNameRewritten: the vendor stores its own form of the userName
	// sent (Slack turns an e-mail into a handle), so userName cannot be
	// compared or searched for with the value Keycard sent.
	UserNameRewritten bool
	// IDIsExternalID: the vendor uses the externalId sent on create as the
	// resource id (GitLab.com), so GetUser(externalId) finds the account.
	IDIsExternalID bool
	// Filters are the lookups GET /Users?filter= supports.
	Filters FilterSupport
	// MaxPageSize caps count on list requests. Zero: DefaultPageSize.
	MaxPageSize int

	// Deactivate is how an account is switched off.
	Deactivate Deactivation
	// DeleteEffect is what DELETE /Users/{id} does at this vendor, for
	// operators deciding on a hard delete; the client never deletes on
	// its own.
	DeleteEffect string
	// DeactivatedSeat is whether a deactivated account still costs a
	// seat (the seat report); zero, SeatUnknown, where §3 is silent.
	DeactivatedSeat registry.Seat
	// Reactivate is how a switched-off account is switched back on.
	Reactivate Reactivation
	// InactiveHidden: deactivated users are missing from list and filter
	// results, so the provider id stored at the last sync is the only way
	// back to them (Atlassian).
	InactiveHidden bool
	// CreateBlockedByInactive: creating a user whose e-mail belongs to a
	// deactivated account fails instead of reactivating it (Slack,
	// GitLab.com). On IsConflict, reactivate the stored id.
	CreateBlockedByInactive bool
	// CreateConflictStatus lists statuses, besides 409, that mean "this
	// user already exists" on create; IsConflict reports them.
	CreateConflictStatus []int

	// MemberRemoval is the PATCH form that removes group members.
	MemberRemoval MemberRemoval
	// MaxMembersPerPatch caps the members one PATCH adds or removes; the
	// client splits bigger changes. Zero: DefaultMaxMembersPerPatch.
	MaxMembersPerPatch int

	// RateLimit is the documented write budget, to seed the pacer.
	RateLimit RateLimit
	// Transient lists responses that are transient although their status
	// alone would say permanent (GitHub's rate-limit 403s).
	Transient []Signal
}

// Auth says how the token goes on the wire. The zero Auth is
// "Authorization: Bearer <token>"; with only Header set the header carries
// the bare token (an API-key header); with Scheme set, "<Scheme> <token>".
type Auth struct {
	Header string
	Scheme string
}

// Attr is a set of User attributes Keycard manages.
type Attr uint16

// User attributes, for Profile.Accepts and Profile.Requires.
const (
	AttrUserName Attr = 1 << iota
	AttrEmails
	AttrName // name.givenName, name.familyName, name.formatted
	AttrDisplayName
	AttrTitle
	AttrDepartment // enterprise extension
	AttrManager    // enterprise extension
	AttrExternalID

	AttrAll = AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrTitle | AttrDepartment | AttrManager | AttrExternalID
)

// Has reports whether every attribute of b is in a.
func (a Attr) Has(b Attr) bool { return a&b == b }

func (a Attr) String() string {
	names := []string{"userName", "emails", "name", "displayName", "title", "department", "manager", "externalId"}
	var out []string
	for i, n := range names {
		if a&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// FilterSupport says which attribute answers each lookup; "" means the
// vendor cannot filter that way.
type FilterSupport struct {
	UserName   string // usually "userName"
	Email      string // "emails.value" per RFC 7643; Slack says "email"
	ExternalID string // "externalId"
	GroupName  string // "displayName" on /Groups
	// Combine: and/or expressions are accepted (Atlassian takes one eq).
	Combine bool
	// Unchecked skips the client's check that a filter only uses the
	// attributes above (a generic RFC 7644 server filters on anything).
	Unchecked bool
}

// Deactivation is how an account is switched off.
type Deactivation int

const (
	// DeactivatePatch sends PATCH replace active=false (PUT for profiles
	// without PATCH): reversible everywhere it is offered.
	DeactivatePatch Deactivation = iota
	// DeactivateDelete sends DELETE /Users/{id}. Only for vendors where
	// DELETE is the only documented way to deprovision.
	DeactivateDelete
)

// Reactivation is how a switched-off account is switched back on.
type Reactivation int

const (
	// ReactivatePatch sends PATCH replace active=true to the stored id.
	ReactivatePatch Reactivation = iota
	// ReactivateByCreate: the account left with DELETE and comes back by
	// creating it again; Client.SetActive returns ErrRecreate.
	ReactivateByCreate
)

// MemberRemoval is the PATCH form that removes group members.
type MemberRemoval int

const (
	// RemoveByFilter sends one {"op":"remove","path":"members[value eq \"id\"]"}
	// per member (RFC 7644 §3.5.2.2).
	RemoveByFilter MemberRemoval = iota
	// RemoveByValue sends {"op":"remove","path":"members","value":[{"value":"id"},…]}
	// (the form Entra ID uses; some vendors only take this one).
	RemoveByValue
)

// RateLimit is a vendor's write budget: Writes per Per, with bursts of
// Burst. When Documented is false the numbers are a conservative guess.
type RateLimit struct {
	Writes     int
	Per        time.Duration
	Burst      int
	Documented bool
	// Reads: the budget counts every request, reads too (Asana: per
	// token), so the client paces reads with Config.Pace.
	Reads bool
	Note  string
}

// PerMinute is the budget as writes per minute, rounded down but at least
// 1, for ratelimit.Limit.PerMinute. 0 means no budget is set.
func (r RateLimit) PerMinute() int {
	if r.Writes <= 0 || r.Per <= 0 {
		return 0
	}
	return max(1, int(float64(r.Writes)*float64(time.Minute)/float64(r.Per)))
}

// Signal matches an error response: Status (0: any) and, when set, a header
// that must be present (with Value, if set) and a word the error's scimType
// or detail must contain (case-insensitively).
type Signal struct {
	Status int
	Header string
	Value  string
	Detail string
}

// Defaults for zero Profile fields.
const (
	DefaultPageSize           = 100
	DefaultMaxMembersPerPatch = 100
)

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// BaseURL fills the template's placeholders ({directoryId}, {enterprise},
// {group_path}, {tenantId}) from params. Every placeholder needs a
// non-empty value and every param must be used, so a typo fails here
// rather than as a 404 later. Values are path-escaped; "." and ".." are
// refused.
func (p Profile) BaseURL(params map[string]string) (string, error) {
	if p.BaseURLTemplate == "" {
		return "", fmt.Errorf("scim profile %s: no base URL template", p.Name)
	}
	used := map[string]bool{}
	var errs []error
	out := placeholder.ReplaceAllStringFunc(p.BaseURLTemplate, func(m string) string {
		name := m[1 : len(m)-1]
		used[name] = true
		v, ok := params[name]
		switch {
		case !ok || v == "":
			errs = append(errs, fmt.Errorf("missing {%s}", name))
		case v == "." || v == "..":
			errs = append(errs, fmt.Errorf("{%s} must not be %q", name, v))
		}
		return url.PathEscape(v)
	})
	var extra []string
	for k := range params {
		if !used[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		errs = append(errs, fmt.Errorf("unknown parameter %q", k))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("scim profile %s: base URL: %w", p.Name, err)
	}
	return out, nil
}

// Placeholders lists the template's placeholder names.
func (p Profile) Placeholders() []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(p.BaseURLTemplate, -1) {
		out = append(out, m[1])
	}
	return out
}

// ByUserName is the filter finding a user by userName, if the vendor can.
func (p Profile) ByUserName(userName string) (Filter, bool) {
	if p.Filters.UserName == "" || p.UserNameRewritten {
		return Filter{}, false
	}
	return Eq(p.Filters.UserName, userName), true
}

// ByEmail is the filter finding a user by e-mail: the vendor's e-mail
// filter, else userName where userName is the e-mail.
func (p Profile) ByEmail(email string) (Filter, bool) {
	switch {
	case p.Filters.Email != "":
		return Eq(p.Filters.Email, email), true
	case p.UserNameIsEmail && p.Filters.UserName != "":
		return Eq(p.Filters.UserName, email), true
	}
	return Filter{}, false
}

// ByExternalID is the filter finding a user by externalId, if the vendor can.
func (p Profile) ByExternalID(id string) (Filter, bool) {
	if p.Filters.ExternalID == "" {
		return Filter{}, false
	}
	return Eq(p.Filters.ExternalID, id), true
}

// ByGroupName is the filter finding a group by displayName, if the vendor can.
func (p Profile) ByGroupName(name string) (Filter, bool) {
	if p.Filters.GroupName == "" {
		return Filter{}, false
	}
	return Eq(p.Filters.GroupName, name), true
}

// checkFilter refuses a filter the vendor is documented not to support.
func (p Profile) checkFilter(f Filter, groups bool) error {
	if f.err != nil {
		return f.err
	}
	if f.IsZero() || p.Filters.Unchecked {
		return nil
	}
	if f.compound && !p.Filters.Combine {
		return fmt.Errorf("scim profile %s: takes a single comparison, not %q", p.Name, f.expr)
	}
	allowed := []string{p.Filters.UserName, p.Filters.Email, p.Filters.ExternalID}
	if groups {
		allowed = []string{p.Filters.GroupName}
	}
	for _, a := range f.attrs {
		ok := false
		for _, b := range allowed {
			if b != "" && strings.EqualFold(a, b) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("scim profile %s: cannot filter on %s", p.Name, a)
		}
	}
	return nil
}

// Prepare shapes u for a create at this vendor: it leaves out attributes
// the vendor does not take, fills userName from the primary e-mail where
// userName must be the e-mail, and checks the required attributes.
func (p Profile) Prepare(u User) (User, error) {
	acc := p.Accepts
	if !acc.Has(AttrUserName) && !p.Requires.Has(AttrUserName) {
		u.UserName = ""
	}
	if p.UserNameIsEmail && u.UserName == "" {
		u.UserName = u.PrimaryEmail()
	}
	if !acc.Has(AttrEmails) {
		u.Emails = nil
	}
	if !acc.Has(AttrName) {
		u.Name = nil
	}
	if !acc.Has(AttrDisplayName) {
		u.DisplayName = ""
	}
	if !acc.Has(AttrTitle) {
		u.Title = ""
	}
	if !acc.Has(AttrExternalID) {
		u.ExternalID = ""
	}
	if u.Enterprise != nil {
		e := *u.Enterprise
		if !acc.Has(AttrDepartment) {
			e.Department = ""
		}
		if !acc.Has(AttrManager) {
			e.Manager = nil
		}
		u.Enterprise = &e
		if e == (EnterpriseUser{}) {
			u.Enterprise = nil
		}
	}
	var missing []string
	check := func(a Attr, empty bool) {
		if p.Requires.Has(a) && empty {
			missing = append(missing, a.String())
		}
	}
	check(AttrUserName, u.UserName == "")
	check(AttrEmails, len(u.Emails) == 0)
	check(AttrName, u.Name == nil || *u.Name == (Name{}))
	check(AttrDisplayName, u.DisplayName == "")
	check(AttrTitle, u.Title == "")
	check(AttrExternalID, u.ExternalID == "")
	if len(missing) > 0 {
		return u, fmt.Errorf("scim profile %s: create needs %s", p.Name, strings.Join(missing, ", "))
	}
	return u, nil
}

// UpdateOps are the PATCH operations that take cur to want for the
// attributes the vendor accepts: a replace for each changed value, a
// remove for each value want clears. E-mails compare by the primary
// address (case-insensitively) and are replaced as a whole. The result is
// empty when nothing differs.
func (p Profile) UpdateOps(cur, want User) []PatchOp {
	var ops []PatchOp
	str := func(a Attr, path, c, w string) {
		if !p.Accepts.Has(a) || c == w {
			return
		}
		if w == "" {
			ops = append(ops, Remove(path))
			return
		}
		ops = append(ops, Replace(path, w))
	}
	if !p.UserNameRewritten {
		str(AttrUserName, "userName", cur.UserName, want.UserName)
	}
	str(AttrExternalID, "externalId", cur.ExternalID, want.ExternalID)
	cn, wn := derefName(cur.Name), derefName(want.Name)
	str(AttrName, "name.givenName", cn.GivenName, wn.GivenName)
	str(AttrName, "name.familyName", cn.FamilyName, wn.FamilyName)
	str(AttrName, "name.formatted", cn.Formatted, wn.Formatted)
	str(AttrDisplayName, "displayName", cur.DisplayName, want.DisplayName)
	str(AttrTitle, "title", cur.Title, want.Title)
	if p.Accepts.Has(AttrEmails) && len(want.Emails) > 0 && !strings.EqualFold(cur.PrimaryEmail(), want.PrimaryEmail()) {
		ops = append(ops, Replace("emails", want.Emails))
	}
	ce, we := derefEnterprise(cur.Enterprise), derefEnterprise(want.Enterprise)
	str(AttrDepartment, EnterpriseUserSchema+":department", ce.Department, we.Department)
	cm, wm := "", ""
	if ce.Manager != nil {
		cm = ce.Manager.Value
	}
	if we.Manager != nil {
		wm = we.Manager.Value
	}
	if p.Accepts.Has(AttrManager) && cm != wm {
		if wm == "" {
			ops = append(ops, Remove(EnterpriseUserSchema+":manager"))
		} else {
			ops = append(ops, Replace(EnterpriseUserSchema+":manager", Manager{Value: wm}))
		}
	}
	return ops
}

func derefName(n *Name) Name {
	if n == nil {
		return Name{}
	}
	return *n
}

func derefEnterprise(e *EnterpriseUser) EnterpriseUser {
	if e == nil {
		return EnterpriseUser{}
	}
	return *e
}

// WithDiscovery returns p adjusted to what the server reports at
// /ServiceProviderConfig: no PATCH if it says so, and a page size within
// its maxResults. It never turns on what the profile turned off.
func (p Profile) WithDiscovery(spc ServiceProviderConfig) Profile {
	if !spc.PatchSupported {
		p.Patch = false
	}
	if spc.FilterMaxResults > 0 {
		size := p.MaxPageSize
		if size == 0 {
			size = DefaultPageSize
		}
		p.MaxPageSize = min(size, spc.FilterMaxResults)
	}
	p.Transient = append([]Signal(nil), p.Transient...)
	p.CreateConflictStatus = append([]int(nil), p.CreateConflictStatus...)
	return p
}

// WithDeclaredUser returns p taking only the attributes the server declares
// (DiscoverUser): an attribute it does not declare would be refused, and
// with it the update of every mover. It never adds an attribute p does not
// take.
func (p Profile) WithDeclaredUser(us DeclaredUser) Profile {
	p.Accepts &= us.Attributes
	return p
}

// ProfileByName returns the profile called name (case-insensitive): one of
// the names Profiles lists.
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles() {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Profile{}, false
}

// Profiles returns every built-in profile, Generic first. Each call returns
// fresh values; changing one does not change what the next call returns.
func Profiles() []Profile {
	return []Profile{Generic(), Slack(), Atlassian(), GitHubEMU(), GitLab(), Notion(), Figma(), Miro(), Asana()}
}
