package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Defaults of Config.
const (
	DefaultBaseURL = "https://api.github.com/"
	DefaultTimeout = 30 * time.Second
	// teamReads is how many team memberships Find reads at once.
	teamReads = 4
	// maxPages bounds one listing (100 a page): a server whose Link
	// header never ends cannot hold a worker for ever.
	maxPages = 10000
)

// Roles an app may give (the setting "role").
const (
	RoleMember = "member"
	RoleAdmin  = "admin"
)

// AttrState is the attribute that says what GitHub holds for an account:
// one of the State values. Plans never compare it (Keycard sets no such
// attribute); it is there for audits and List's readers.
const AttrState = "github_state"

// States of an account (AttrState).
const (
	StateActive   = "active"               // an org member
	StatePending  = "pending"              // invited, not accepted yet
	StateFailed   = "failed"               // the invitation expired or failed: Active false, SetActive(true) sends it again
	StateOutside  = "outside_collaborator" // repository access without org membership: List only
	invitationTag = "invitation:"
)

// Config is one organisation's connector configuration.
type Config struct {
	Org string
	// LoginField is the HR custom field (Person.Custom) that holds a
	// person's GitHub login; "" when HR holds none.
	LoginField string
	Role       string // RoleMember (default) or RoleAdmin
	BaseURL    string // the REST root; default DefaultBaseURL
	Token      string
	HTTPClient *http.Client  // default: a client of its own
	Timeout    time.Duration // per request; default DefaultTimeout
	// Pace is waited on before each page List reads.
	Pace func(context.Context) error
	// Observe is told how GitHub answered each write and paced read, and
	// every rate-limit answer: the pacer's feedback.
	Observe func(context.Context, ratelimit.Outcome)
	Now     func() time.Time
	Log     zerolog.Logger
}

// Connector manages one organisation's memberships and team memberships
// (see the package documentation for what an account is here).
type Connector struct {
	gh         *gh.Client
	org        string
	loginField string
	role       string
	token      string
	base       *url.URL
	pace       func(context.Context) error
	observe    func(context.Context, ratelimit.Outcome)
	now        func() time.Time
	log        zerolog.Logger
}

// New checks cfg and returns a connector.
func New(cfg Config) (*Connector, error) {
	if !validOrg(cfg.Org) {
		return nil, fmt.Errorf("github config: org %q is not a GitHub organisation name", cfg.Org)
	}
	if cfg.Token == "" || strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("github config: the token is empty or holds white space")
	}
	role := cmp.Or(cfg.Role, RoleMember)
	if role != RoleMember && role != RoleAdmin {
		return nil, fmt.Errorf("github config: role %q: want %s or %s", cfg.Role, RoleMember, RoleAdmin)
	}
	raw := cmp.Or(cfg.BaseURL, DefaultBaseURL)
	if msg := registry.CheckBaseURL(raw); msg != "" {
		return nil, fmt.Errorf("github config: base_url: %s", msg)
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, _ := url.Parse(raw)
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		hc = &http.Client{Transport: t}
	}
	// Keycard paces writes and parks a message for the wait a limit asks
	// for; go-github's own check would refuse requests from its memory of
	// an earlier answer, which another replica's pacer knows nothing of.
	client, err := gh.NewClient(gh.WithHTTPClient(hc), gh.WithTimeout(cmp.Or(cfg.Timeout, DefaultTimeout)),
		gh.WithAuthToken(cfg.Token), gh.WithURLs(&raw, &raw), gh.WithDisableRateLimitCheck(), gh.WithUserAgent("keycard"))
	if err != nil {
		return nil, fmt.Errorf("github config: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Connector{gh: client, org: cfg.Org, loginField: cfg.LoginField, role: role, token: cfg.Token, base: base,
		pace: cfg.Pace, observe: cfg.Observe, now: now, log: cfg.Log}, nil
}

// access is how a request counts against the pacer.
type access int

const (
	read      access = iota // a lookup of one person's: not paced
	pacedRead               // a page of List: paced
	write
)

// do runs one request: paced first where paced, its answer reported to
// the pacer, its error classified.
func (k *Connector) do(ctx context.Context, how access, f func(context.Context) (*gh.Response, error)) (*gh.Response, error) {
	if how == pacedRead && k.pace != nil {
		if err := k.pace(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := f(ctx)
	err = classify(err, k.token, k.base, k.now())
	k.answered(ctx, how, resp, err)
	return resp, err
}

// answered tells the pacer how GitHub answered: a rate limit pauses the
// app (whatever the request), any other answer to a paced request counts
// towards the pace; 5xx answers and the invitation cap say nothing about
// the pace.
func (k *Connector) answered(ctx context.Context, how access, resp *gh.Response, err error) {
	if k.observe == nil {
		return
	}
	if e, ok := errors.AsType[*Error](err); ok {
		switch {
		case e.Throttled():
			k.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: e.RetryAfter})
		case how != read && e.Status < 500 && e.Limit == NoLimit:
			k.observe(ctx, ratelimit.Outcome{})
		}
		return
	}
	if resp != nil && how != read {
		k.observe(ctx, ratelimit.Outcome{})
	}
}

// ---- identity -----------------------------------------------------------------

// loginOf is the person's GitHub login: HR's field when it holds one (it
// wins over an older stored login: HR corrects typos, GitHub renames),
// else the stored account id when that is a login.
func (k *Connector) loginOf(p connector.Person) (string, error) {
	if k.loginField != "" {
		if v := strings.TrimPrefix(strings.TrimSpace(p.Custom[k.loginField]), "@"); v != "" {
			if !validLogin(v) {
				return "", fault.Permanent(fmt.Errorf("github: HR field %s of employee %s holds %q, which is not a GitHub login", k.loginField, p.EmployeeID, v))
			}
			return v, nil
		}
	}
	if validLogin(p.AccountID) {
		return p.AccountID, nil
	}
	return "", nil
}

// invitationID reads an account id of an e-mail invitation.
func invitationID(id string) (int64, bool) {
	rest, ok := strings.CutPrefix(id, invitationTag)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

func invitationAccountID(id int64) string { return invitationTag + strconv.FormatInt(id, 10) }

// Find returns the person's account: by login (HR's field, else the
// stored id) their org membership, active or pending, with their teams,
// or else their failed invitation (inactive); without a login, the e-mail
// invitation Keycard sent (by stored id, then by address), pending or
// failed.
func (k *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	login, err := k.loginOf(p)
	if err != nil {
		return nil, err
	}
	if login != "" {
		return k.findLogin(ctx, login, p)
	}
	return k.findInvitation(ctx, p)
}

func (k *Connector) findLogin(ctx context.Context, login string, p connector.Person) (*connector.Account, error) {
	var m *gh.Membership
	_, err := k.do(ctx, read, func(ctx context.Context) (r *gh.Response, err error) {
		m, r, err = k.gh.Organizations.GetOrgMembership(ctx, login, k.org)
		return r, err
	})
	switch {
	case IsNotFound(err):
		failed, err := k.failedFor(ctx, login)
		if err != nil || failed == nil {
			return nil, err
		}
		return k.account(failed.GetLogin(), StateFailed, p, nil), nil
	case err != nil:
		return nil, fmt.Errorf("membership of %s: %w", login, err)
	}
	if m.GetUser().GetLogin() != "" {
		login = m.GetUser().GetLogin() // GitHub's spelling
	}
	teams, err := k.teamsOf(ctx, login)
	if err != nil {
		return nil, err
	}
	return k.account(login, m.GetState(), p, teams), nil
}

// account is an account by login as the worker plans against it. GitHub
// keeps none of the attributes Keycard sets (a membership is a login, a
// role and teams), so they read as the person has them and never look out
// of date. Email is HR's address: where an e-mail invitation would have
// gone, which SetActive(false) cancels too.
func (k *Connector) account(login, state string, p connector.Person, teams []string) *connector.Account {
	attrs := p.Attributes()
	attrs[AttrState] = state
	return &connector.Account{ID: login, UserName: login, Email: strings.ToLower(p.Email), Active: state != StateFailed,
		Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Team: teams}}
}

// invitationAccount is an e-mail invitation as the worker plans against
// it. Its teams are not Keycard's (see AddMembership), so none are shown.
func (k *Connector) invitationAccount(inv *gh.Invitation, state string, p connector.Person) *connector.Account {
	attrs := p.Attributes()
	attrs[AttrState] = state
	return &connector.Account{ID: invitationAccountID(inv.GetID()), Email: strings.ToLower(inv.GetEmail()), Active: state != StateFailed,
		Attributes: attrs, Memberships: map[connector.Kind][]string{connector.Team: nil}}
}

// ErrInvitationGone is the error of an e-mail invitation that is neither
// pending nor failed any more: accepted (GitHub does not say by whom, so
// Keycard cannot manage, or remove, the member), or cancelled outside
// Keycard. It is permanent: the fix is the person's login in HR.
var ErrInvitationGone = errors.New("github: the e-mail invitation is no longer pending")

func (k *Connector) findInvitation(ctx context.Context, p connector.Person) (*connector.Account, error) {
	id, byID := invitationID(p.AccountID)
	if !byID && p.Email == "" {
		return nil, nil
	}
	pending, err := k.invitations(ctx, read, false)
	if err != nil {
		return nil, err
	}
	failed, err := k.invitations(ctx, read, true)
	if err != nil {
		return nil, err
	}
	match := func(f func(*gh.Invitation) bool) (*connector.Account, bool) {
		if i := slices.IndexFunc(pending, f); i >= 0 {
			return k.invitationAccount(pending[i], StatePending, p), true
		}
		if i := slices.IndexFunc(failed, f); i >= 0 {
			return k.invitationAccount(failed[i], StateFailed, p), true
		}
		return nil, false
	}
	if byID {
		if a, ok := match(func(inv *gh.Invitation) bool { return inv.GetID() == id }); ok {
			return a, nil
		}
	}
	if p.Email != "" {
		if a, ok := match(func(inv *gh.Invitation) bool {
			return inv.GetLogin() == "" && strings.EqualFold(inv.GetEmail(), p.Email)
		}); ok {
			return a, nil
		}
	}
	if byID {
		return nil, fault.Permanent(fmt.Errorf("%w: invitation %d for employee %s was accepted or cancelled, and GitHub does not say by which login: %s",
			ErrInvitationGone, id, p.EmployeeID, k.loginAdvice()))
	}
	return nil, nil
}

func (k *Connector) loginAdvice() string {
	if k.loginField == "" {
		return "set the app's login_field to the HR field holding GitHub logins, and fill it in"
	}
	return "fill in the person's GitHub login in HR field " + k.loginField
}

// invitations reads every pending (or failed) invitation.
func (k *Connector) invitations(ctx context.Context, how access, failed bool) ([]*gh.Invitation, error) {
	var out []*gh.Invitation
	err := pages(ctx, k, how, func(ctx context.Context, o *gh.ListOptions) ([]*gh.Invitation, *gh.Response, error) {
		if failed {
			return k.gh.Organizations.ListFailedOrgInvitations(ctx, k.org, o)
		}
		return k.gh.Organizations.ListPendingOrgInvitations(ctx, k.org, o)
	}, func(inv *gh.Invitation) error {
		out = append(out, inv)
		return nil
	})
	if err != nil {
		what := "pending"
		if failed {
			what = "failed"
		}
		return nil, fmt.Errorf("%s invitations: %w", what, err)
	}
	return out, nil
}

// failedFor returns login's failed invitation, if any.
func (k *Connector) failedFor(ctx context.Context, login string) (*gh.Invitation, error) {
	failed, err := k.invitations(ctx, read, true)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(failed, func(inv *gh.Invitation) bool { return strings.EqualFold(inv.GetLogin(), login) }); i >= 0 {
		return failed[i], nil
	}
	return nil, nil
}

// teamsOf reads login's teams, pending ones included: GitHub lists a
// user's teams only for the token's own user, so this is one read per
// team of the org (teamReads at once) after the team list.
func (k *Connector) teamsOf(ctx context.Context, login string) ([]string, error) {
	slugs, err := k.teamSlugs(ctx, read)
	if err != nil {
		return nil, err
	}
	in := make([]bool, len(slugs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(teamReads)
	for i, slug := range slugs {
		g.Go(func() error {
			_, err := k.do(gctx, read, func(ctx context.Context) (*gh.Response, error) {
				_, r, err := k.gh.Teams.GetTeamMembershipBySlug(ctx, k.org, slug, login)
				return r, err
			})
			switch {
			case IsNotFound(err):
			case err != nil:
				return fmt.Errorf("team %s membership of %s: %w", slug, login, err)
			default:
				in[i] = true
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []string
	for i, slug := range slugs {
		if in[i] {
			out = append(out, slug)
		}
	}
	return out, nil
}

func (k *Connector) teamSlugs(ctx context.Context, how access) ([]string, error) {
	var out []string
	err := pages(ctx, k, how, func(ctx context.Context, o *gh.ListOptions) ([]*gh.Team, *gh.Response, error) {
		return k.gh.Teams.ListTeams(ctx, k.org, o)
	}, func(t *gh.Team) error {
		out = append(out, t.GetSlug())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return out, nil
}

// pages reads a listing 100 at a time, following the Link header.
func pages[T any](ctx context.Context, k *Connector, how access, fetch func(context.Context, *gh.ListOptions) ([]T, *gh.Response, error), each func(T) error) error {
	opt := &gh.ListOptions{PerPage: 100, Page: 1}
	for range maxPages {
		var items []T
		resp, err := k.do(ctx, how, func(ctx context.Context) (r *gh.Response, err error) {
			items, r, err = fetch(ctx, opt)
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
	return fault.Permanent(fmt.Errorf("github: a listing longer than %d pages", maxPages))
}

// ---- writes -------------------------------------------------------------------

// Create invites the person, or adopts what GitHub holds for them. With a
// login: an existing membership, active or pending, is adopted untouched
// (a PUT would set its role: an owner would be demoted); a failed
// invitation is cancelled and the login invited again with PUT
// /orgs/{org}/memberships/{login}; an e-mail invitation sent before HR had
// the login is then cancelled, so one invitation stands. Without one: an
// e-mail invitation (POST /orgs/{org}/invitations), adopting a pending one
// to the address and replacing a failed one.
func (k *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	login, err := k.loginOf(p)
	if err != nil {
		return connector.Account{}, err
	}
	if login == "" {
		return k.inviteEmail(ctx, p)
	}
	cur, err := k.findLogin(ctx, login, p)
	if err != nil {
		return connector.Account{}, err
	}
	if cur != nil && cur.Active {
		return *cur, nil
	}
	m, err := k.inviteLogin(ctx, login)
	if err != nil {
		return connector.Account{}, err
	}
	if err := k.cancelEmailInvitations(ctx, p.Email); err != nil {
		return connector.Account{}, err
	}
	return *k.account(cmp.Or(m.GetUser().GetLogin(), login), cmp.Or(m.GetState(), StatePending), p, nil), nil
}

// inviteLogin cancels login's failed invitation, if any (GitHub refuses
// to invite over one), and sets their membership: an invitation for
// someone outside the org.
func (k *Connector) inviteLogin(ctx context.Context, login string) (*gh.Membership, error) {
	failed, err := k.failedFor(ctx, login)
	if err != nil {
		return nil, err
	}
	if failed != nil {
		if err := k.cancelInvitation(ctx, failed.GetID()); err != nil {
			return nil, err
		}
	}
	var m *gh.Membership
	_, err = k.do(ctx, write, func(ctx context.Context) (r *gh.Response, err error) {
		m, r, err = k.gh.Organizations.EditOrgMembership(ctx, login, k.org, &gh.Membership{Role: gh.Ptr(k.role)})
		return r, err
	})
	if IsNotFound(err) {
		return nil, fault.Permanent(fmt.Errorf("invite %s: GitHub has no user by that login (or the token cannot see the org): %w", login, err))
	}
	if err != nil {
		return nil, fmt.Errorf("invite %s: %w", login, err)
	}
	return m, nil
}

func (k *Connector) inviteEmail(ctx context.Context, p connector.Person) (connector.Account, error) {
	if p.Email == "" {
		return connector.Account{}, fault.Permanent(fmt.Errorf("github: employee %s has neither a GitHub login nor an e-mail to invite: %s", p.EmployeeID, k.loginAdvice()))
	}
	byEmail := p
	byEmail.AccountID = ""
	cur, err := k.findInvitation(ctx, byEmail)
	if err != nil {
		return connector.Account{}, err
	}
	if cur != nil && cur.Active {
		return *cur, nil
	}
	if cur != nil {
		id, _ := invitationID(cur.ID)
		if err := k.cancelInvitation(ctx, id); err != nil {
			return connector.Account{}, err
		}
	}
	var inv *gh.Invitation
	_, err = k.do(ctx, write, func(ctx context.Context) (r *gh.Response, err error) {
		inv, r, err = k.gh.Organizations.CreateOrgInvitation(ctx, k.org, gh.CreateOrgInvitationRequest{Email: gh.Ptr(p.Email), Role: gh.Ptr(invitationRole(k.role))})
		return r, err
	})
	if isValidation(err, "already been invited", "already invited") {
		// Another delivery's invitation crossed this one: adopt it.
		if cur, ferr := k.findInvitation(ctx, byEmail); ferr == nil && cur != nil {
			return *cur, nil
		}
	}
	if err != nil {
		return connector.Account{}, fmt.Errorf("invite employee %s by e-mail: %w", p.EmployeeID, err)
	}
	return *k.invitationAccount(inv, StatePending, p), nil
}

func invitationRole(role string) string {
	if role == RoleAdmin {
		return RoleAdmin
	}
	return "direct_member"
}

// cancelInvitation cancels a pending or failed invitation; one already
// gone is fine.
func (k *Connector) cancelInvitation(ctx context.Context, id int64) error {
	_, err := k.do(ctx, write, func(ctx context.Context) (*gh.Response, error) {
		return k.gh.Organizations.CancelInvite(ctx, k.org, id)
	})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("cancel invitation %d: %w", id, err)
	}
	return nil
}

// cancelEmailInvitations cancels the pending e-mail invitations to
// address: sent while HR had no login, they would let the person in
// after Keycard has removed their login, or twice.
func (k *Connector) cancelEmailInvitations(ctx context.Context, address string) error {
	if address == "" {
		return nil
	}
	pending, err := k.invitations(ctx, read, false)
	if err != nil {
		return err
	}
	for _, inv := range pending {
		if inv.GetLogin() == "" && strings.EqualFold(inv.GetEmail(), address) {
			if err := k.cancelInvitation(ctx, inv.GetID()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Update has nothing to do: GitHub keeps none of the attributes Keycard
// sets, and the accounts read them back as the person has them, so a plan
// never asks for it.
func (k *Connector) Update(context.Context, connector.Account, connector.Person) error { return nil }

// SetActive(false) removes the person from the org (DELETE
// /orgs/{org}/memberships/{login}: every team goes with it, a pending
// invitation is cancelled, the seat is freed) and cancels any e-mail
// invitation to their address; an e-mail invitation is cancelled. Find
// then returns nil, and a re-hire is invited again. SetActive(true) sends
// a failed invitation again; a membership, active or pending, is left as
// it is.
func (k *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	if id, ok := invitationID(a.ID); ok {
		if !active {
			return k.cancelInvitation(ctx, id)
		}
		return k.resendEmail(ctx, a, id)
	}
	if !validLogin(a.ID) {
		return fault.Permanent(fmt.Errorf("github: account id %q is neither a login nor an invitation", a.ID))
	}
	if active {
		cur, err := k.findLogin(ctx, a.ID, connector.Person{Email: a.Email})
		if err != nil {
			return err
		}
		if cur != nil && cur.Active {
			return nil
		}
		_, err = k.inviteLogin(ctx, a.ID)
		return err
	}
	_, err := k.do(ctx, write, func(ctx context.Context) (*gh.Response, error) {
		return k.gh.Organizations.RemoveOrgMembership(ctx, a.ID, k.org)
	})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove %s from the org: %w", a.ID, err)
	}
	return k.cancelEmailInvitations(ctx, a.Email)
}

// resendEmail sends a failed e-mail invitation again (a pending one is
// left alone).
func (k *Connector) resendEmail(ctx context.Context, a connector.Account, id int64) error {
	cur, err := k.findInvitation(ctx, connector.Person{AccountID: a.ID, Email: a.Email})
	if err != nil {
		return err
	}
	if cur == nil || cur.Active {
		return nil
	}
	_, err = k.inviteEmail(ctx, connector.Person{Email: cmp.Or(cur.Email, a.Email)})
	return err
}

// AddMembership adds a login to a team (PUT
// /orgs/{org}/teams/{slug}/memberships/{login}); a pending member's team
// membership is pending until they accept, and becomes active with their
// org membership. An existing one is left as it is (a PUT would make a
// maintainer a plain member). GitHub adds a team to an invitation only by
// login: for an e-mail invitation the step is Partial, and done once HR
// has the login.
func (k *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, slug string) error {
	if err := checkTeam(kind, slug); err != nil {
		return err
	}
	if _, ok := invitationID(a.ID); ok {
		return fault.Partial(fmt.Errorf("team %s not granted: GitHub adds an invitee to a team by login only (%s)", slug, k.loginAdvice()))
	}
	if !validLogin(a.ID) {
		return fault.Permanent(fmt.Errorf("github: account id %q is not a login", a.ID))
	}
	_, err := k.do(ctx, read, func(ctx context.Context) (*gh.Response, error) {
		_, r, err := k.gh.Teams.GetTeamMembershipBySlug(ctx, k.org, slug, a.ID)
		return r, err
	})
	switch {
	case err == nil:
		return nil
	case !IsNotFound(err):
		return fmt.Errorf("team %s membership of %s: %w", slug, a.ID, err)
	}
	_, err = k.do(ctx, write, func(ctx context.Context) (*gh.Response, error) {
		_, r, err := k.gh.Teams.AddTeamMembershipBySlug(ctx, k.org, slug, a.ID, gh.AddTeamMembershipRequest{Role: gh.Ptr("member")})
		return r, err
	})
	if IsNotFound(err) {
		return fault.Permanent(fmt.Errorf("add %s to team %s: no such team in %s (the grant names a team by its slug): %w", a.ID, slug, k.org, err))
	}
	if err != nil {
		return fmt.Errorf("add %s to team %s: %w", a.ID, slug, err)
	}
	return nil
}

// RemoveMembership removes a login from a team; not a member (404) is
// done. An e-mail invitation holds no team Keycard gave.
func (k *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, slug string) error {
	if err := checkTeam(kind, slug); err != nil {
		return err
	}
	if _, ok := invitationID(a.ID); ok {
		return nil
	}
	if !validLogin(a.ID) {
		return fault.Permanent(fmt.Errorf("github: account id %q is not a login", a.ID))
	}
	_, err := k.do(ctx, write, func(ctx context.Context) (*gh.Response, error) {
		return k.gh.Teams.RemoveTeamMembershipBySlug(ctx, k.org, slug, a.ID)
	})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove %s from team %s: %w", a.ID, slug, err)
	}
	return nil
}

func checkTeam(kind connector.Kind, slug string) error {
	if kind != connector.Team {
		return fault.Permanent(fmt.Errorf("github: %s memberships are not GitHub's: grant teams", kind))
	}
	if !validSlug(slug) {
		return fault.Permanent(fmt.Errorf("github: %q is not a team slug", slug))
	}
	return nil
}

// ---- listing ------------------------------------------------------------------

// List reports every account: members, pending and failed invitations,
// and outside collaborators (Active false, AttrState
// "outside_collaborator": repository access that org removal does not
// touch), each member with their teams. Every page is paced. It reads
// ceil(n/100) pages of members, invitations, failed invitations, outside
// collaborators and teams, then two listings per team (its members and
// its pending invitations).
func (k *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	var order []string
	accts := map[string]*connector.Account{}
	add := func(id, login, email, state string) {
		key := strings.ToLower(id)
		if _, ok := accts[key]; ok {
			return
		}
		order = append(order, key)
		accts[key] = &connector.Account{ID: id, UserName: login, Email: strings.ToLower(email),
			Active: state == StateActive || state == StatePending, Attributes: map[string]string{AttrState: state},
			Memberships: map[connector.Kind][]string{connector.Team: nil}}
	}
	err := pages(ctx, k, pacedRead, func(ctx context.Context, o *gh.ListOptions) ([]*gh.User, *gh.Response, error) {
		return k.gh.Organizations.ListMembers(ctx, k.org, &gh.ListMembersOptions{ListOptions: *o})
	}, func(u *gh.User) error {
		add(u.GetLogin(), u.GetLogin(), "", StateActive)
		return nil
	})
	if err != nil {
		return fmt.Errorf("members: %w", err)
	}
	for _, failed := range []bool{false, true} {
		invs, err := k.invitations(ctx, pacedRead, failed)
		if err != nil {
			return err
		}
		state := StatePending
		if failed {
			state = StateFailed
		}
		for _, inv := range invs {
			if inv.GetLogin() != "" {
				add(inv.GetLogin(), inv.GetLogin(), inv.GetEmail(), state)
			} else {
				add(invitationAccountID(inv.GetID()), "", inv.GetEmail(), state)
			}
		}
	}
	err = pages(ctx, k, pacedRead, func(ctx context.Context, o *gh.ListOptions) ([]*gh.User, *gh.Response, error) {
		return k.gh.Organizations.ListOutsideCollaborators(ctx, k.org, &gh.ListOutsideCollaboratorsOptions{ListOptions: *o})
	}, func(u *gh.User) error {
		add(u.GetLogin(), u.GetLogin(), "", StateOutside)
		return nil
	})
	if err != nil {
		return fmt.Errorf("outside collaborators: %w", err)
	}
	slugs, err := k.teamSlugs(ctx, pacedRead)
	if err != nil {
		return err
	}
	join := func(login, slug string) {
		if a, ok := accts[strings.ToLower(login)]; ok && !slices.Contains(a.Memberships[connector.Team], slug) {
			a.Memberships[connector.Team] = append(a.Memberships[connector.Team], slug)
		}
	}
	for _, slug := range slugs {
		err := pages(ctx, k, pacedRead, func(ctx context.Context, o *gh.ListOptions) ([]*gh.User, *gh.Response, error) {
			return k.gh.Teams.ListTeamMembersBySlug(ctx, k.org, slug, &gh.TeamListTeamMembersOptions{ListOptions: *o})
		}, func(u *gh.User) error {
			join(u.GetLogin(), slug)
			return nil
		})
		if err != nil {
			return fmt.Errorf("members of team %s: %w", slug, err)
		}
		err = pages(ctx, k, pacedRead, func(ctx context.Context, o *gh.ListOptions) ([]*gh.Invitation, *gh.Response, error) {
			return k.gh.Teams.ListPendingTeamInvitationsBySlug(ctx, k.org, slug, o)
		}, func(inv *gh.Invitation) error {
			if inv.GetLogin() != "" {
				join(inv.GetLogin(), slug)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("invitations of team %s: %w", slug, err)
		}
	}
	for _, key := range order {
		if err := fn(*accts[key]); err != nil {
			return err
		}
	}
	return nil
}

// Count is the org's seats: members plus pending invitations (GitHub
// bills both), read in two requests (one item a page: the Link header's
// last page is the count).
func (k *Connector) Count(ctx context.Context) (int, error) {
	members, err := k.count(ctx, func(ctx context.Context, o *gh.ListOptions) (int, *gh.Response, error) {
		us, r, err := k.gh.Organizations.ListMembers(ctx, k.org, &gh.ListMembersOptions{ListOptions: *o})
		return len(us), r, err
	})
	if err != nil {
		return 0, fmt.Errorf("count members: %w", err)
	}
	invited, err := k.count(ctx, func(ctx context.Context, o *gh.ListOptions) (int, *gh.Response, error) {
		is, r, err := k.gh.Organizations.ListPendingOrgInvitations(ctx, k.org, o)
		return len(is), r, err
	})
	if err != nil {
		return 0, fmt.Errorf("count invitations: %w", err)
	}
	return members + invited, nil
}

func (k *Connector) count(ctx context.Context, fetch func(context.Context, *gh.ListOptions) (int, *gh.Response, error)) (int, error) {
	var n int
	resp, err := k.do(ctx, read, func(ctx context.Context) (r *gh.Response, err error) {
		n, r, err = fetch(ctx, &gh.ListOptions{PerPage: 1})
		return r, err
	})
	if err != nil {
		return 0, err
	}
	if resp.LastPage > 0 {
		return resp.LastPage, nil
	}
	return n, nil
}

// ---- names --------------------------------------------------------------------

// validLogin is GitHub's rule for a user login: letters, digits and
// single hyphens, not at either end, at most 39 characters. Logins go into
// request paths, so nothing else passes.
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

// validOrg is an organisation login: the same rule.
func validOrg(s string) bool { return validLogin(s) }

// validSlug is a team slug as GitHub makes them: lower-case letters,
// digits, '-', '_' and '.', no path element.
func validSlug(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}
