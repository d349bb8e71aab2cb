package gitlab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	gl "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/time/rate"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Defaults of Config.
const (
	DefaultTimeout = 30 * time.Second
	// maxPages bounds one listing (100 a page): a server whose next page
	// never ends cannot hold a worker for ever.
	maxPages = 10000
	// usernameTries is how many usernames Create tries for one person
	// (the base, then base1 … base9) before it gives up.
	usernameTries = 10
	// groupPathTTL is how long a group id's full path is remembered:
	// a group renamed or moved is seen by its new path within it.
	groupPathTTL = 10 * time.Minute
)

// Where an app's extern_uid comes from (the setting "extern_uid_field").
const (
	ExternUIDEmployeeID = "employee_id" // the HR id (default)
	ExternUIDEmail      = "email"       // the work e-mail
)

// Attributes that say what GitLab holds for an account. Plans never
// compare them (Keycard sets no such attribute); they are there for audits
// and List's readers.
const (
	AttrState    = "gitlab_state"    // active, blocked, deactivated, ldap_blocked, banned, blocked_pending_approval
	AttrUsername = "gitlab_username" // the GitLab username (Keycard never renames one)
)

// User states as GitLab spells them.
const (
	stateActive          = "active"
	stateBlocked         = "blocked"
	stateDeactivated     = "deactivated"
	stateLDAPBlocked     = "ldap_blocked"
	stateBanned          = "banned"
	statePendingApproval = "blocked_pending_approval"
)

// Config is one instance's connector configuration.
type Config struct {
	// BaseURL is the instance's root, https://gitlab.example.com (the API
	// is under /api/v4; a URL ending in /api/v4 is taken as it is).
	BaseURL string
	// Token is an administrator's personal access token with the api
	// scope.
	Token string
	// Org, when set, is the top-level group Keycard manages: group grants
	// must be it or below it, and only memberships there are read and
	// removed.
	Org string
	// AccessLevel is the level a group membership is given; default
	// DefaultAccessLevel. GroupLevels overrides it per group (full path,
	// lower case).
	AccessLevel string
	GroupLevels map[string]gl.AccessLevelValue
	// Provider, when set, names the identity provider (a SAML or LDAP
	// provider as gitlab.rb names it) whose extern_uid Keycard sets on
	// create and finds people by. ExternUIDField says which of HR's values
	// the extern_uid is: ExternUIDEmployeeID (default), ExternUIDEmail, or
	// an HR custom field's name.
	Provider       string
	ExternUIDField string
	// UsernameField is the HR custom field holding the username a person
	// gets, when HR keeps one; otherwise it is derived from the e-mail.
	UsernameField string
	HTTPClient    *http.Client  // default: a client of its own
	Timeout       time.Duration // per request; default DefaultTimeout
	// Pace is waited on before each page List reads.
	Pace func(context.Context) error
	// Observe is told how GitLab answered each write and paced read, and
	// every rate-limit answer: the pacer's feedback.
	Observe func(context.Context, ratelimit.Outcome)
	Now     func() time.Time
	Log     zerolog.Logger
}

// Connector manages one GitLab instance's users and their group
// memberships (see the package documentation).
type Connector struct {
	gl          *gl.Client
	token       string
	base        *url.URL // the API root, …/api/v4/
	org         string
	level       gl.AccessLevelValue
	groupLevels map[string]gl.AccessLevelValue
	provider    string
	uidField    string
	nameField   string
	timeout     time.Duration
	pace        func(context.Context) error
	observe     func(context.Context, ratelimit.Outcome)
	now         func() time.Time
	log         zerolog.Logger

	mu    sync.Mutex
	paths map[int64]cachedPath // group id → full path
	me    *gl.User             // the token's own user, once read
}

type cachedPath struct {
	path string
	at   time.Time
}

// New checks cfg and returns a connector.
func New(cfg Config) (*Connector, error) {
	if cfg.Token == "" || strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("gitlab config: the token is empty or holds white space")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("gitlab config: base_url is required: the instance's root, as in https://gitlab.example.com")
	}
	if msg := registry.CheckBaseURL(cfg.BaseURL); msg != "" {
		return nil, fmt.Errorf("gitlab config: base_url: %s", msg)
	}
	if cfg.Org != "" && !validGroupPath(cfg.Org) {
		return nil, fmt.Errorf("gitlab config: org %q is not a group path", cfg.Org)
	}
	level, ok := parseLevel(cmp.Or(cfg.AccessLevel, DefaultAccessLevel))
	if !ok {
		return nil, fmt.Errorf("gitlab config: access_level %q is none of %s", cfg.AccessLevel, levelNames())
	}
	root := strings.TrimSuffix(strings.TrimSuffix(cfg.BaseURL, "/"), "/api/v4")
	base, _ := url.Parse(root + "/api/v4/")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	timeout := cmp.Or(cfg.Timeout, DefaultTimeout)
	hc = &http.Client{Transport: hc.Transport, Jar: hc.Jar, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The worker retries (by fault class, with backoff, the pace and
	// Retry-After shared by every replica): client-go's retryablehttp must
	// not retry on its own, nor its limiter sleep from one answer's
	// RateLimit-Limit.
	client, err := gl.NewClient(cfg.Token,
		gl.WithBaseURL(base.String()),
		gl.WithHTTPClient(hc),
		gl.WithoutRetries(),
		gl.WithCustomRetryMax(0),
		gl.WithCustomLimiter(rate.NewLimiter(rate.Inf, 0)),
		gl.WithUserAgent("keycard"),
		gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab config: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	groupLevels := map[string]gl.AccessLevelValue{}
	for p, l := range cfg.GroupLevels {
		groupLevels[strings.ToLower(p)] = l
	}
	return &Connector{gl: client, token: cfg.Token, base: base, org: strings.Trim(cfg.Org, "/"), level: level, groupLevels: groupLevels,
		provider: cfg.Provider, uidField: cmp.Or(cfg.ExternUIDField, ExternUIDEmployeeID), nameField: cfg.UsernameField,
		timeout: timeout, pace: cfg.Pace, observe: cfg.Observe, now: now, log: cfg.Log, paths: map[int64]cachedPath{}}, nil
}

// access is how a request counts against the pacer.
type access int

const (
	read      access = iota // a lookup of one person's: not paced
	pacedRead               // a page of List: paced
	write
)

type call func(opts ...gl.RequestOptionFunc) (*gl.Response, error)

// do runs one request within the timeout: paced first where paced, its
// answer reported to the pacer, its error classified.
func (k *Connector) do(ctx context.Context, how access, f call) (*gl.Response, error) {
	if how == pacedRead && k.pace != nil {
		if err := k.pace(ctx); err != nil {
			return nil, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	resp, err := f(gl.WithContext(rctx))
	err = classify(resp, err, k.token, k.base, k.now())
	k.answered(ctx, how, resp, err)
	return resp, err
}

// answered tells the pacer how GitLab answered: a 429 pauses the app
// (whatever the request), any other answer to a write or paced read counts
// towards the pace; 5xx answers say nothing about it.
func (k *Connector) answered(ctx context.Context, how access, resp *gl.Response, err error) {
	if k.observe == nil {
		return
	}
	if e, ok := errors.AsType[*Error](err); ok {
		switch {
		case e.Throttled():
			k.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: e.RetryAfter})
		case how != read && e.Status < 500:
			k.observe(ctx, ratelimit.Outcome{})
		}
		return
	}
	if resp != nil && how != read {
		k.observe(ctx, ratelimit.Outcome{})
	}
}

// post sends a POST without a body (the moderation endpoints) and reads
// no answer.
func (k *Connector) post(ctx context.Context, path string) error {
	_, err := k.do(ctx, write, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		req, err := k.gl.NewRequest(http.MethodPost, path, nil, o)
		if err != nil {
			return nil, err
		}
		return k.gl.Do(req, io.Discard)
	})
	return err
}

// pages reads a listing 100 at a time, following X-Next-Page.
func pages[T any](ctx context.Context, k *Connector, how access, fetch func(gl.ListOptions, ...gl.RequestOptionFunc) ([]T, *gl.Response, error), each func(T) error) error {
	opt := gl.ListOptions{PerPage: 100, Page: 1}
	for range maxPages {
		var items []T
		resp, err := k.do(ctx, how, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
			items, r, err = fetch(opt, o...)
			return r, err
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 || resp.NextPage <= opt.Page {
			return nil
		}
		opt.Page = resp.NextPage
	}
	return fault.Permanent(fmt.Errorf("gitlab: a listing longer than %d pages", maxPages))
}

// ---- identity -----------------------------------------------------------------

// externUID is the person's extern_uid at the app's provider, "" without
// one.
func (k *Connector) externUID(p connector.Person) string {
	if k.provider == "" {
		return ""
	}
	switch k.uidField {
	case ExternUIDEmployeeID:
		return p.EmployeeID
	case ExternUIDEmail:
		return strings.ToLower(p.Email)
	}
	return strings.TrimSpace(p.Custom[k.uidField])
}

// Find returns the person's account: by the stored id (GET /users/:id),
// then by extern_uid at the app's provider, then by primary e-mail (an
// administrator's search matches whole addresses), with their group
// memberships. Blocked and deactivated users are found too, inactive.
func (k *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	u, err := k.findUser(ctx, p)
	if err != nil || u == nil {
		return nil, err
	}
	return k.account(ctx, u, p)
}

func (k *Connector) findUser(ctx context.Context, p connector.Person) (*gl.User, error) {
	if id, err := strconv.ParseInt(p.AccountID, 10, 64); err == nil && id > 0 {
		u, err := k.user(ctx, id)
		if err != nil || u != nil {
			return u, err
		}
	}
	if uid := k.externUID(p); uid != "" {
		us, err := k.listUsers(ctx, &gl.ListUsersOptions{ExternalUID: gl.Ptr(uid), Provider: gl.Ptr(k.provider)})
		if err != nil {
			return nil, fmt.Errorf("user by extern_uid at %s: %w", k.provider, err)
		}
		if len(us) > 0 {
			return us[0], nil
		}
	}
	if p.Email == "" {
		return nil, nil
	}
	return k.userByEmail(ctx, p.Email)
}

// user reads user id; nil when there is none (deleted).
func (k *Connector) user(ctx context.Context, id int64) (*gl.User, error) {
	var u *gl.User
	_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		u, r, err = k.gl.Users.GetUser(id, gl.GetUsersOptions{}, o...)
		return r, err
	})
	switch {
	case IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// userByEmail is the user whose primary address is email. GitLab's search
// also matches secondary addresses; those are someone's, but not this
// person's account to adopt.
func (k *Connector) userByEmail(ctx context.Context, email string) (*gl.User, error) {
	us, err := k.listUsers(ctx, &gl.ListUsersOptions{Search: gl.Ptr(email)})
	if err != nil {
		return nil, fmt.Errorf("user by e-mail: %w", err)
	}
	for _, u := range us {
		if strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return nil, nil
}

// listUsers reads the first page (100) of a filtered user listing: the
// filters Find uses match one user, or a handful.
func (k *Connector) listUsers(ctx context.Context, opt *gl.ListUsersOptions) ([]*gl.User, error) {
	opt.ListOptions = gl.ListOptions{PerPage: 100}
	var us []*gl.User
	_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		us, r, err = k.gl.Users.ListUsers(opt, o...)
		return r, err
	})
	return us, err
}

// account is u as the worker plans against it: the e-mail, name and job
// title GitLab holds (the ones Update sets), the other attributes as the
// person has them (GitLab keeps no given or family name, department or
// manager; the username is never changed), and u's group memberships.
func (k *Connector) account(ctx context.Context, u *gl.User, p connector.Person) (*connector.Account, error) {
	ms, err := k.memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, m := range ms {
		if m.level >= k.levelFor(m.path) {
			groups = append(groups, m.path)
		}
	}
	slices.Sort(groups)
	a := k.bare(u, p)
	a.Memberships[connector.Group] = groups
	return a, nil
}

// bare is u as an account without its memberships read.
func (k *Connector) bare(u *gl.User, p connector.Person) *connector.Account {
	attrs := p.Attributes()
	attrs["email"] = u.Email
	if strings.EqualFold(u.Email, p.Email) {
		attrs["email"] = p.Email // GitLab keeps addresses in lower case
	}
	attrs["display_name"] = u.Name
	if u.Name == nameOf(p) {
		attrs["display_name"] = p.DisplayName
	}
	attrs["title"] = u.JobTitle
	attrs[AttrState], attrs[AttrUsername] = u.State, u.Username
	a := &connector.Account{ID: strconv.FormatInt(u.ID, 10), UserName: u.Username, Email: strings.ToLower(u.Email),
		Active: u.State == stateActive, Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Group: nil}}
	if k.provider != "" {
		for _, i := range u.Identities {
			if i.Provider == k.provider {
				a.ExternalID = i.ExternUID
			}
		}
	}
	return a
}

// nameOf is the name GitLab is given for p: the display name, else given
// and family names, else the e-mail.
func nameOf(p connector.Person) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	if n := strings.TrimSpace(p.GivenName + " " + p.FamilyName); n != "" {
		return n
	}
	return p.Email
}

// membership is one direct group membership of a user.
type membership struct {
	path  string
	level gl.AccessLevelValue
}

// memberships reads a user's direct group memberships in the app's scope
// (GET /users/:id/memberships?type=Namespace, then each group's full path,
// remembered for groupPathTTL).
func (k *Connector) memberships(ctx context.Context, id int64) ([]membership, error) {
	var raw []*gl.UserMembership
	err := pages(ctx, k, read, func(lo gl.ListOptions, o ...gl.RequestOptionFunc) ([]*gl.UserMembership, *gl.Response, error) {
		return k.gl.Users.GetUserMemberships(id, &gl.GetUserMembershipOptions{ListOptions: lo, Type: gl.Ptr("Namespace")}, o...)
	}, func(m *gl.UserMembership) error {
		raw = append(raw, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("memberships of user %d: %w", id, err)
	}
	var out []membership
	for _, m := range raw {
		path, err := k.groupPath(ctx, m.SourceID)
		if err != nil {
			return nil, err
		}
		if path != "" && k.inScope(path) {
			out = append(out, membership{path: path, level: m.AccessLevel})
		}
	}
	return out, nil
}

// groupPath is group id's full path, "" for a group gone since.
func (k *Connector) groupPath(ctx context.Context, id int64) (string, error) {
	k.mu.Lock()
	c, ok := k.paths[id]
	k.mu.Unlock()
	if ok && k.now().Sub(c.at) < groupPathTTL {
		return c.path, nil
	}
	var g *gl.Group
	_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		g, r, err = k.gl.Groups.GetGroup(id, &gl.GetGroupOptions{WithProjects: gl.Ptr(false)}, o...)
		return r, err
	})
	switch {
	case IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("group %d: %w", id, err)
	}
	k.remember(g)
	return g.FullPath, nil
}

func (k *Connector) remember(g *gl.Group) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.paths[g.ID] = cachedPath{path: g.FullPath, at: k.now()}
}

// inScope reports whether a group's full path is the app's to manage: any
// group without org, else org and the groups below it.
func (k *Connector) inScope(path string) bool {
	if k.org == "" {
		return true
	}
	p, org := strings.ToLower(path), strings.ToLower(k.org)
	return p == org || strings.HasPrefix(p, org+"/")
}

// levelFor is the access level a membership of group path is given.
func (k *Connector) levelFor(path string) gl.AccessLevelValue {
	if l, ok := k.groupLevels[strings.ToLower(path)]; ok {
		return l
	}
	return k.level
}

// ---- writes -------------------------------------------------------------------

// Create makes the person's user, or adopts the one GitLab holds for them
// (by extern_uid, then primary e-mail), linking the app's identity to an
// adopted user that has none there. A new user gets a username from HR's
// field, else the e-mail's local part, suffixed 1, 2, … when taken;
// skip_confirmation (the address is the employer's); with a provider a
// random password and the identity (people sign in through it), without
// one reset_password (GitLab e-mails a link to set one). GitLab answers 409
// "Email has already been taken" for an address that is any user's,
// primary or secondary: a user found then is adopted, and an address that
// is only someone's secondary one fails Permanent.
func (k *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	byIdentity := p
	byIdentity.AccountID = ""
	u, err := k.findUser(ctx, byIdentity)
	if err != nil {
		return connector.Account{}, err
	}
	if u != nil {
		return k.adopt(ctx, u, p)
	}
	if p.Email == "" {
		return connector.Account{}, fault.Permanent(fmt.Errorf("gitlab: employee %s has no e-mail: GitLab requires one", p.EmployeeID))
	}
	names, fixed, err := k.usernames(p)
	if err != nil {
		return connector.Account{}, err
	}
	for len(names) > 0 {
		name, free, err := k.freeUsername(ctx, names)
		if err != nil {
			return connector.Account{}, err
		}
		if !free {
			break
		}
		names = names[slices.Index(names, name)+1:]
		u, err := k.createUser(ctx, p, name)
		switch {
		case err == nil:
			return *k.bare(u, p), nil
		case IsConflict(err, "email"):
			// Another delivery's create crossed this one, or the address is
			// someone's secondary one.
			if u, ferr := k.findUser(ctx, byIdentity); ferr == nil && u != nil {
				return k.adopt(ctx, u, p)
			}
			return connector.Account{}, fault.Permanent(fmt.Errorf("create user for employee %s: %s is a secondary address of another GitLab user (GitLab refuses it as a new user's e-mail; remove it there or give HR another address): %w",
				p.EmployeeID, p.Email, err))
		case !fixed && (IsConflict(err, "username") || isInvalid(err, "username")):
			continue // taken meanwhile, or refused (a reserved name): the next one
		default:
			return connector.Account{}, fmt.Errorf("create user for employee %s: %w", p.EmployeeID, err)
		}
	}
	if fixed {
		return connector.Account{}, fault.Permanent(fmt.Errorf("gitlab: username %q (HR field %s of employee %s) belongs to another GitLab user", names[0], k.nameField, p.EmployeeID))
	}
	return connector.Account{}, fault.Permanent(fmt.Errorf("gitlab: no free username for employee %s after %d tries (%s…)", p.EmployeeID, usernameTries, baseUsername(p.Email)))
}

// usernames are the usernames Create may give p, in order, and whether
// HR fixed the one.
func (k *Connector) usernames(p connector.Person) ([]string, bool, error) {
	if k.nameField != "" {
		if v := strings.TrimPrefix(strings.TrimSpace(p.Custom[k.nameField]), "@"); v != "" {
			if !validUsername(v) {
				return nil, true, fault.Permanent(fmt.Errorf("gitlab: HR field %s of employee %s holds %q, which is not a GitLab username", k.nameField, p.EmployeeID, v))
			}
			return []string{v}, true, nil
		}
	}
	return candidates(baseUsername(p.Email), usernameTries), false, nil
}

// freeUsername is the first of names no user has (GET /users?username=),
// or false when every one is taken.
func (k *Connector) freeUsername(ctx context.Context, names []string) (string, bool, error) {
	for _, n := range names {
		us, err := k.listUsers(ctx, &gl.ListUsersOptions{Username: gl.Ptr(n)})
		if err != nil {
			return "", false, fmt.Errorf("username %s: %w", n, err)
		}
		if len(us) == 0 {
			return n, true, nil
		}
	}
	return "", false, nil
}

func (k *Connector) createUser(ctx context.Context, p connector.Person, username string) (*gl.User, error) {
	opt := &gl.CreateUserOptions{
		Email: gl.Ptr(p.Email), Name: gl.Ptr(nameOf(p)), Username: gl.Ptr(username),
		SkipConfirmation: gl.Ptr(true), JobTitle: gl.Ptr(p.Title),
	}
	if uid := k.externUID(p); uid != "" {
		opt.ExternUID, opt.Provider, opt.ForceRandomPassword = gl.Ptr(uid), gl.Ptr(k.provider), gl.Ptr(true)
	} else {
		opt.ResetPassword = gl.Ptr(true)
	}
	var u *gl.User
	_, err := k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		u, r, err = k.gl.Users.CreateUser(opt, o...)
		return r, err
	})
	return u, err
}

// adopt returns u as p's account, first linking the app's identity when u
// has none at the provider. One that names someone else is left alone
// (replacing it would break that person's sign-in) and logged.
func (k *Connector) adopt(ctx context.Context, u *gl.User, p connector.Person) (connector.Account, error) {
	if uid := k.externUID(p); uid != "" {
		i := slices.IndexFunc(u.Identities, func(i *gl.UserIdentity) bool { return i.Provider == k.provider })
		switch {
		case i < 0:
			_, err := k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
				u, r, err = k.gl.Users.ModifyUser(u.ID, &gl.ModifyUserOptions{ExternUID: gl.Ptr(uid), Provider: gl.Ptr(k.provider)}, o...)
				return r, err
			})
			if err != nil {
				return connector.Account{}, fmt.Errorf("link user %d to %s: %w", u.ID, k.provider, err)
			}
		case u.Identities[i].ExternUID != uid:
			k.log.Warn().Int64("user_id", u.ID).Str("provider", k.provider).Str("employee", p.EmployeeID).
				Msg("adopted GitLab user has another identity at the provider; left as it is")
		}
	}
	a, err := k.account(ctx, u, p)
	if err != nil {
		return connector.Account{}, err
	}
	return *a, nil
}

// Update sets the name, the e-mail (confirmed at once:
// skip_reconfirmation; GitLab keeps the old address as a secondary one)
// and the job title. The username is left alone: renaming it moves every
// project URL and git remote of the person's namespace.
func (k *Connector) Update(ctx context.Context, a connector.Account, p connector.Person) error {
	id, err := accountID(a)
	if err != nil {
		return err
	}
	opt := &gl.ModifyUserOptions{Name: gl.Ptr(nameOf(p)), JobTitle: gl.Ptr(p.Title)}
	if p.Email != "" && !strings.EqualFold(p.Email, a.Email) {
		opt.Email, opt.SkipReconfirmation = gl.Ptr(p.Email), gl.Ptr(true)
	}
	_, err = k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		_, r, err = k.gl.Users.ModifyUser(id, opt, o...)
		return r, err
	})
	if IsConflict(err, "email") {
		return fault.Permanent(fmt.Errorf("update user %d: %s already belongs to another GitLab user: %w", id, p.Email, err))
	}
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	return nil
}

// ErrNotReversible is the error of a user Keycard cannot switch on again
// through the API: blocked by LDAP synchronisation, or banned.
var ErrNotReversible = errors.New("gitlab: the user cannot be unblocked through the API")

// SetActive(false) takes the user out of every group in the app's scope
// Find did not report (a membership below the configured level, added by
// hand: the plan removed the rest already) and blocks them (POST
// /users/:id/block): they cannot sign in, their tokens and SSH keys stop
// working, and they no longer take a seat; their data stays. Blocking is
// used rather than deactivation, which GitLab refuses (403) for anyone
// active in the last 90 days. A user blocked already, or by LDAP, is left
// so. SetActive(true) unblocks a blocked user, activates a deactivated one
// and approves one pending approval; an LDAP-blocked or banned user fails
// Permanent (ErrNotReversible).
func (k *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	id, err := accountID(a)
	if err != nil {
		return err
	}
	u, err := k.user(ctx, id)
	if err != nil {
		return err
	}
	if u == nil {
		if active {
			return fault.Permanent(fmt.Errorf("gitlab: user %d no longer exists", id))
		}
		return nil
	}
	if !active {
		return k.block(ctx, u)
	}
	var path string
	switch u.State {
	case stateActive:
		return nil
	case stateBlocked:
		path = "unblock"
	case stateDeactivated:
		path = "activate"
	case statePendingApproval:
		path = "approve"
	default:
		return fault.Permanent(fmt.Errorf("%w: user %d is %s (unblock it in the directory, or unban it by hand)", ErrNotReversible, id, u.State))
	}
	if err := k.post(ctx, fmt.Sprintf("users/%d/%s", id, path)); err != nil {
		return fmt.Errorf("%s user %d: %w", path, id, err)
	}
	return nil
}

func (k *Connector) block(ctx context.Context, u *gl.User) error {
	ms, err := k.memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := k.removeMember(ctx, u.ID, m.path); err != nil {
			return err
		}
	}
	if u.State == stateBlocked || u.State == stateLDAPBlocked {
		return nil
	}
	err = k.post(ctx, fmt.Sprintf("users/%d/block", u.ID))
	switch {
	case isForbidden(err, "LDAP blocked"):
		return nil // blocked already, by the directory
	case isForbidden(err, "initiating user"):
		return fault.Permanent(fmt.Errorf("gitlab: user %d is the token's own: Keycard does not block the account it works as: %w", u.ID, err))
	case err != nil:
		return fmt.Errorf("block user %d: %w", u.ID, err)
	}
	return nil
}

// AddMembership makes the user a direct member of the group (by full
// path) at its configured level (POST /groups/:id/members). An existing
// membership at a lower level is raised (PUT); one at the level or above
// (an owner, a maintainer raised by hand) is left alone. GitLab refuses a
// direct membership below what the user inherits from an ancestor group;
// they have the access already, so that is done too.
func (k *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, path string) error {
	id, err := k.checkGroup(a, kind, path)
	if err != nil {
		return err
	}
	level := k.levelFor(path)
	_, err = k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		_, r, err = k.gl.GroupMembers.AddGroupMember(path, &gl.AddGroupMemberOptions{UserID: gl.Ptr(id), AccessLevel: gl.Ptr(level)}, o...)
		return r, err
	})
	switch {
	case err == nil:
		return nil
	case IsConflict(err, "already exists"):
		return k.raise(ctx, id, path, level)
	case isInvalid(err, "inherited membership"):
		k.log.Debug().Int64("user_id", id).Str("group", path).Msg("access inherited from an ancestor group at this level or above")
		return nil
	case IsNotFound(err):
		return fault.Permanent(fmt.Errorf("add user %d to group %s: no such group (a grant names a group by its full path) or no such user: %w", id, path, err))
	}
	return fmt.Errorf("add user %d to group %s: %w", id, path, err)
}

// raise sets an existing membership to level if it is below it.
func (k *Connector) raise(ctx context.Context, id int64, path string, level gl.AccessLevelValue) error {
	var m *gl.GroupMember
	_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		m, r, err = k.gl.GroupMembers.GetGroupMember(path, id, o...)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("membership of user %d in %s: %w", id, path, err)
	}
	if m.AccessLevel >= level {
		return nil
	}
	_, err = k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		_, r, err = k.gl.GroupMembers.EditGroupMember(path, id, &gl.EditGroupMemberOptions{AccessLevel: gl.Ptr(level)}, o...)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("raise user %d in %s to %s: %w", id, path, levelName(level), err)
	}
	return nil
}

// RemoveMembership removes the user's direct membership of the group
// (DELETE /groups/:id/members/:user_id with skip_subresources, so their
// memberships of its subgroups stay for their own grants); not a member
// (404) is done.
func (k *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, path string) error {
	id, err := k.checkGroup(a, kind, path)
	if err != nil {
		return err
	}
	return k.removeMember(ctx, id, path)
}

func (k *Connector) removeMember(ctx context.Context, id int64, path string) error {
	_, err := k.do(ctx, write, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		return k.gl.GroupMembers.RemoveGroupMember(path, id, &gl.RemoveGroupMemberOptions{SkipSubresources: gl.Ptr(true)}, o...)
	})
	switch {
	case err == nil, IsNotFound(err):
		return nil
	case hasStatus(err, http.StatusForbidden):
		return fault.Permanent(fmt.Errorf("remove user %d from group %s: GitLab refuses (the group's last owner?): %w", id, path, err))
	}
	return fmt.Errorf("remove user %d from group %s: %w", id, path, err)
}

// checkGroup checks a membership step and returns the user id.
func (k *Connector) checkGroup(a connector.Account, kind connector.Kind, path string) (int64, error) {
	if kind != connector.Group {
		return 0, fault.Permanent(fmt.Errorf("gitlab: %s memberships are not GitLab's: grant groups (by full path)", kind))
	}
	if !validGroupPath(path) {
		return 0, fault.Permanent(fmt.Errorf("gitlab: %q is not a group's full path", path))
	}
	if !k.inScope(path) {
		return 0, fault.Permanent(fmt.Errorf("gitlab: group %s is outside %s, the top-level group this app manages (org)", path, k.org))
	}
	return accountID(a)
}

func accountID(a connector.Account) (int64, error) {
	id, err := strconv.ParseInt(a.ID, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.Permanent(fmt.Errorf("gitlab: account id %q is not a GitLab user id", a.ID))
	}
	return id, nil
}

// ---- listing ------------------------------------------------------------------

// self is the token's own user (GET /user, once).
func (k *Connector) self(ctx context.Context) (*gl.User, error) {
	k.mu.Lock()
	me := k.me
	k.mu.Unlock()
	if me != nil {
		return me, nil
	}
	_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		me, r, err = k.gl.Users.CurrentUser(o...)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("the token's user: %w", err)
	}
	k.mu.Lock()
	k.me = me
	k.mu.Unlock()
	return me, nil
}

// List reports every human user of the instance but the token's own
// (bots and GitLab's internal users are not people; the administrator
// Keycard works as is never its to manage), each with their group
// memberships in scope at or above the configured level. Every page is
// paced. With org it reads the users (a request per 100), the org group
// and its descendants (per 100), then each group's direct members (per
// 100): U/100 + 1 + G/100 + G·M/100 requests. Without org it reads each
// user's memberships instead: U/100 + U requests.
func (k *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	me, err := k.self(ctx)
	if err != nil {
		return err
	}
	var order []int64
	accts := map[int64]*connector.Account{}
	err = pages(ctx, k, pacedRead, func(lo gl.ListOptions, o ...gl.RequestOptionFunc) ([]*gl.User, *gl.Response, error) {
		return k.gl.Users.ListUsers(&gl.ListUsersOptions{ListOptions: lo, Humans: gl.Ptr(true), ExcludeInternal: gl.Ptr(true)}, o...)
	}, func(u *gl.User) error {
		if u.ID == me.ID || u.Bot {
			return nil
		}
		if _, seen := accts[u.ID]; !seen {
			a := k.bare(u, connector.Person{})
			a.Attributes = map[string]string{"email": u.Email, "display_name": u.Name, "title": u.JobTitle, AttrState: u.State, AttrUsername: u.Username}
			accts[u.ID] = a
			order = append(order, u.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if k.org != "" {
		err = k.listGroupMembers(ctx, accts)
	} else {
		err = k.listUserMemberships(ctx, order, accts)
	}
	if err != nil {
		return err
	}
	for _, id := range order {
		a := accts[id]
		slices.Sort(a.Memberships[connector.Group])
		if err := fn(*a); err != nil {
			return err
		}
	}
	return nil
}

func (k *Connector) listGroupMembers(ctx context.Context, accts map[int64]*connector.Account) error {
	var top *gl.Group
	_, err := k.do(ctx, pacedRead, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		top, r, err = k.gl.Groups.GetGroup(k.org, &gl.GetGroupOptions{WithProjects: gl.Ptr(false)}, o...)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("group %s: %w", k.org, err)
	}
	groups := []*gl.Group{top}
	err = pages(ctx, k, pacedRead, func(lo gl.ListOptions, o ...gl.RequestOptionFunc) ([]*gl.Group, *gl.Response, error) {
		return k.gl.Groups.ListDescendantGroups(top.ID, &gl.ListDescendantGroupsOptions{ListOptions: lo}, o...)
	}, func(g *gl.Group) error {
		groups = append(groups, g)
		return nil
	})
	if err != nil {
		return fmt.Errorf("groups below %s: %w", k.org, err)
	}
	for _, g := range groups {
		k.remember(g)
		level := k.levelFor(g.FullPath)
		err := pages(ctx, k, pacedRead, func(lo gl.ListOptions, o ...gl.RequestOptionFunc) ([]*gl.GroupMember, *gl.Response, error) {
			return k.gl.Groups.ListGroupMembers(g.ID, &gl.ListGroupMembersOptions{ListOptions: lo}, o...)
		}, func(m *gl.GroupMember) error {
			if a, ok := accts[m.ID]; ok && m.AccessLevel >= level {
				a.Memberships[connector.Group] = append(a.Memberships[connector.Group], g.FullPath)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("members of group %s: %w", g.FullPath, err)
		}
	}
	return nil
}

func (k *Connector) listUserMemberships(ctx context.Context, order []int64, accts map[int64]*connector.Account) error {
	for _, id := range order {
		if k.pace != nil {
			if err := k.pace(ctx); err != nil {
				return err
			}
		}
		ms, err := k.memberships(ctx, id)
		if err != nil {
			return err
		}
		a := accts[id]
		for _, m := range ms {
			if m.level >= k.levelFor(m.path) {
				a.Memberships[connector.Group] = append(a.Memberships[connector.Group], m.path)
			}
		}
	}
	return nil
}

// Count is the instance's active human users but the token's own: the
// seats GitLab bills (blocked and deactivated users take none), read in
// one request from X-Total. GitLab leaves X-Total out above 10,000 rows;
// then the users are counted page by page.
func (k *Connector) Count(ctx context.Context) (int, error) {
	me, err := k.self(ctx)
	if err != nil {
		return 0, err
	}
	opt := func(lo gl.ListOptions) *gl.ListUsersOptions {
		return &gl.ListUsersOptions{ListOptions: lo, Active: gl.Ptr(true), Humans: gl.Ptr(true), ExcludeInternal: gl.Ptr(true)}
	}
	resp, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		_, r, err = k.gl.Users.ListUsers(opt(gl.ListOptions{PerPage: 1}), o...)
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	if resp.Header.Get("X-Total") != "" {
		n := int(resp.TotalItems)
		if me.State == stateActive && !me.Bot {
			n-- // the token's own user is one of them
		}
		return max(n, 0), nil
	}
	n := 0
	err = pages(ctx, k, read, func(lo gl.ListOptions, o ...gl.RequestOptionFunc) ([]*gl.User, *gl.Response, error) {
		return k.gl.Users.ListUsers(opt(lo), o...)
	}, func(u *gl.User) error {
		if u.ID != me.ID && !u.Bot {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}
