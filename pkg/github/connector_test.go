package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/github/githubtest"
	"keycard/pkg/ratelimit"
)

func ada() connector.Person {
	return connector.Person{EmployeeID: "7", Email: "ada@example.com", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace",
		Custom: map[string]string{loginField: "ada"}}
}

func emailOnly(n int) connector.Person {
	email := fmt.Sprintf("hire%d@example.com", n)
	return connector.Person{EmployeeID: fmt.Sprint(100 + n), Email: email, UserName: email}
}

func mustFind(t *testing.T, c *Connector, p connector.Person) *connector.Account {
	t.Helper()
	a, err := c.Find(t.Context(), p)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	return a
}

func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// A hire is invited (pending, Active) with pending teams; accepting makes
// both active; nothing is planned in between.
func TestInviteAcceptTeams(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	ctx := t.Context()
	p := ada()
	a, err := c.Create(ctx, p)
	mustOK(t, err, "Create")
	if a.ID != "ada" || !a.Active || a.Attributes[AttrState] != StatePending {
		t.Fatalf("Create = %+v; want ada, pending and active", a)
	}
	mustOK(t, c.AddMembership(ctx, a, connector.Team, "eng"), "AddMembership")
	got := mustFind(t, c, p)
	if got.Attributes[AttrState] != StatePending || !slices.Equal(got.Memberships[connector.Team], []string{"eng"}) {
		t.Fatalf("Find while pending = %+v; want pending in eng", got)
	}
	want := connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Team: {"eng"}}}
	if plan := connector.Plan(got, want, p); len(plan) != 0 {
		t.Fatalf("plan while the invitation is pending = %v; want none", plan)
	}
	if m, _ := srv.Membership("ada"); m.State != githubtest.Pending || m.Role != githubtest.RoleMember {
		t.Fatalf("fake holds %+v; want a pending member", m)
	}
	if !srv.Accept("ada") {
		t.Fatal("no invitation to accept")
	}
	got = mustFind(t, c, p)
	if got.Attributes[AttrState] != StateActive || !slices.Equal(got.Memberships[connector.Team], []string{"eng"}) {
		t.Fatalf("Find after accepting = %+v; want active in eng", got)
	}
	if invs := srv.Invitations(); len(invs) != 0 {
		t.Fatalf("invitations left after accepting: %+v", invs)
	}
}

// An owner or a maintainer made by hand is adopted, not demoted.
func TestAdoptKeepsRoles(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddMember("ada", githubtest.RoleAdmin)
	c := newConnector(t, srv)
	ctx := t.Context()
	a, err := c.Create(ctx, ada())
	mustOK(t, err, "Create")
	mustOK(t, c.AddMembership(ctx, a, connector.Team, "eng"), "AddMembership")
	mustOK(t, c.SetActive(ctx, a, true), "SetActive(true)")
	mustOK(t, c.AddMembership(ctx, a, connector.Team, "eng"), "AddMembership again")
	if m, _ := srv.Membership("ada"); m.Role != githubtest.RoleAdmin || m.State != githubtest.Active {
		t.Fatalf("fake holds %+v; want the owner kept", m)
	}
	if n := srv.Requests().ByRoute["PUT /orgs/{org}/memberships/{username}"]; n != 0 {
		t.Fatalf("%d PUTs of the org membership; want none for an existing member", n)
	}
	if n := srv.Requests().ByRoute["PUT /orgs/{org}/teams/{team_slug}/memberships/{username}"]; n != 1 {
		t.Fatalf("%d PUTs of the team membership; want 1 (the second add finds it)", n)
	}
}

// An expired invitation is an inactive account; activating it cancels the
// failed invitation and invites again.
func TestExpiredInvitationResent(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	ctx := t.Context()
	p := ada()
	_, err := c.Create(ctx, p)
	mustOK(t, err, "Create")
	if n := srv.Expire("ada"); n != 1 {
		t.Fatalf("%d invitations expired, want 1", n)
	}
	cur := mustFind(t, c, p)
	if cur == nil || cur.Active || cur.Attributes[AttrState] != StateFailed {
		t.Fatalf("Find after expiry = %+v; want ada inactive (failed)", cur)
	}
	want := connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Team: {"eng"}}}
	plan := connector.Plan(cur, want, p)
	if !slices.Contains(plan, connector.Action{Op: connector.OpActivate}) {
		t.Fatalf("plan %v; want the invitation sent again", plan)
	}
	if _, _, err := connector.Apply(ctx, c, cur, p, plan, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Apply %v: %v", plan, err)
	}
	invs := srv.Invitations()
	if len(invs) != 1 || invs[0].Login != "ada" || invs[0].FailedReason != "" || !slices.Equal(invs[0].Teams, []string{"eng"}) {
		t.Fatalf("invitations %+v; want one pending for ada with eng", invs)
	}
	// A leaver whose invitation expired has nothing to remove.
	srv.Expire("ada")
	if plan := connector.Plan(mustFind(t, c, p), connector.Want{}, p); len(plan) != 0 {
		t.Fatalf("leaver plan over an expired invitation = %v; want none", plan)
	}
	// Create over it invites again too.
	a, err := c.Create(ctx, p)
	if err != nil || a.Attributes[AttrState] != StatePending {
		t.Fatalf("Create over an expired invitation = %+v, %v; want pending", a, err)
	}
}

// Without a login the work e-mail is invited; teams wait (Partial) for the
// login; once the invitation is accepted GitHub does not say by whom, and
// Find fails Permanent. When HR has the login, the e-mail invitation gives
// way to one by login.
func TestEmailInvitation(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	ctx := t.Context()
	p := emailOnly(1)
	a, err := c.Create(ctx, p)
	mustOK(t, err, "Create")
	if !strings.HasPrefix(a.ID, "invitation:") || !a.Active || a.Email != p.Email {
		t.Fatalf("Create = %+v; want an active invitation account", a)
	}
	if err := c.AddMembership(ctx, a, connector.Team, "eng"); !fault.IsPartial(err) {
		t.Fatalf("AddMembership on an e-mail invitation = %v; want Partial", err)
	}
	again, err := c.Create(ctx, p)
	if err != nil || again.ID != a.ID {
		t.Fatalf("second Create = %+v, %v; want %s adopted", again, err, a.ID)
	}
	stored := p
	stored.AccountID = a.ID
	if got := mustFind(t, c, stored); got == nil || got.ID != a.ID {
		t.Fatalf("Find by stored id = %+v; want %s", got, a.ID)
	}
	if got := mustFind(t, c, p); got == nil || got.ID != a.ID {
		t.Fatalf("Find by e-mail = %+v; want %s", got, a.ID)
	}

	// HR learns the login before the invitation is accepted: one
	// invitation, by login, stands.
	withLogin := stored
	withLogin.Custom = map[string]string{loginField: "hire1"}
	if got := mustFind(t, c, withLogin); got != nil {
		t.Fatalf("Find by a login with no membership = %+v; want nil", got)
	}
	b, err := c.Create(ctx, withLogin)
	if err != nil || b.ID != "hire1" {
		t.Fatalf("Create with the login = %+v, %v", b, err)
	}
	if invs := srv.Invitations(); len(invs) != 1 || invs[0].Login != "hire1" {
		t.Fatalf("invitations %+v; want only hire1's", invs)
	}

	// Someone else's e-mail invitation is accepted: Keycard cannot tell
	// who they are now.
	q := emailOnly(2)
	inv, err := c.Create(ctx, q)
	mustOK(t, err, "Create")
	if !srv.AcceptEmail(q.Email, "octo") {
		t.Fatal("no invitation to accept")
	}
	q.AccountID = inv.ID
	_, err = c.Find(ctx, q)
	if !errors.Is(err, ErrInvitationGone) || !fault.IsPermanent(err) || !strings.Contains(err.Error(), loginField) {
		t.Fatalf("Find after the e-mail invitation was accepted = %v; want a permanent ErrInvitationGone naming %s", err, loginField)
	}
	// A leaver without a login: the invitation is cancelled.
	r := emailOnly(3)
	leaver, err := c.Create(ctx, r)
	mustOK(t, err, "Create")
	mustOK(t, c.SetActive(ctx, leaver, false), "SetActive(false)")
	mustOK(t, c.SetActive(ctx, leaver, false), "SetActive(false) again")
	if got := mustFind(t, c, r); got != nil {
		t.Fatalf("Find after cancelling = %+v; want nil", got)
	}
}

// A leaver with a login is removed from the org and every team, and an
// e-mail invitation from before HR had the login goes too.
func TestLeaverRemovesEverything(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	ctx := t.Context()
	p := ada()
	noLogin := p
	noLogin.Custom = nil
	// An e-mail invitation made by hand, and an active membership.
	if _, err := c.Create(ctx, noLogin); err != nil {
		t.Fatal(err)
	}
	srv.AddMember("ada", githubtest.RoleMember)
	a := mustFind(t, c, p)
	mustOK(t, c.AddMembership(ctx, *a, connector.Team, "eng"), "AddMembership")
	mustOK(t, c.SetActive(ctx, *a, false), "SetActive(false)")
	if _, ok := srv.Membership("ada"); ok {
		t.Fatal("ada is still a member")
	}
	if invs := srv.Invitations(); len(invs) != 0 {
		t.Fatalf("invitations left: %+v", invs)
	}
	if got := mustFind(t, c, p); got != nil {
		t.Fatalf("Find after leaving = %+v; want nil", got)
	}
}

// List reports members with their teams (pending ones too), invitations,
// failed invitations and outside collaborators, pacing every page; Count
// is members plus pending invitations, across pages.
func TestListAndCount(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	for i := range 230 {
		srv.AddMember(fmt.Sprintf("member%d", i), githubtest.RoleMember)
	}
	srv.AddOutsideCollaborator("linus")
	var paced int
	var mu sync.Mutex
	c := newConnector(t, srv, func(cfg *Config) {
		cfg.Pace = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			paced++
			return nil
		}
	})
	ctx := t.Context()
	m0 := mustFind(t, c, connector.Person{AccountID: "member0"})
	mustOK(t, c.AddMembership(ctx, *m0, connector.Team, "eng"), "AddMembership")
	pending, err := c.Create(ctx, ada())
	mustOK(t, err, "Create")
	mustOK(t, c.AddMembership(ctx, pending, connector.Team, "sales"), "AddMembership")
	_, err = c.Create(ctx, emailOnly(1))
	mustOK(t, err, "Create")
	_, err = c.Create(ctx, emailOnly(2))
	mustOK(t, err, "Create")
	srv.Expire(emailOnly(2).Email)

	got := map[string]connector.Account{}
	mustOK(t, c.List(ctx, func(a connector.Account) error {
		got[a.ID] = a
		return nil
	}), "List")
	if len(got) != 230+1+2+1 {
		t.Fatalf("List reported %d accounts; want 234", len(got))
	}
	check := func(id, state string, active bool, teams ...string) {
		t.Helper()
		a, ok := got[id]
		if !ok || a.Active != active || a.Attributes[AttrState] != state || !slices.Equal(a.Memberships[connector.Team], teams) {
			t.Errorf("List %s = %+v; want %s, active %v, teams %v", id, a, state, active, teams)
		}
	}
	check("member0", StateActive, true, "eng")
	check("member229", StateActive, true)
	check("ada", StatePending, true, "sales")
	check("linus", StateOutside, false)
	var failed int
	for id, a := range got {
		if strings.HasPrefix(id, "invitation:") && !a.Active {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed e-mail invitations listed; want 1", failed)
	}
	// 3 pages of members, 1 of invitations, 1 failed, 1 outside, 1 of
	// teams, and 2 per team (3 teams).
	if paced != 3+1+1+1+1+2*3 {
		t.Errorf("List paced %d reads; want 13", paced)
	}
	n, err := c.Count(ctx)
	if err != nil || n != 230+2 {
		t.Fatalf("Count = %d, %v; want 232 (members and pending invitations)", n, err)
	}
}

// HR's login field must hold a login: anything else (a path, a URL) is
// refused before it reaches a request path.
func TestBadLogins(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	for _, bad := range []string{"../admin", "ada/teams", "-ada", "a--b", "https://github.com/ada", strings.Repeat("a", 40)} {
		p := ada()
		p.Custom = map[string]string{loginField: bad}
		if _, err := c.Find(t.Context(), p); !fault.IsPermanent(err) {
			t.Errorf("Find with login %q = %v; want Permanent", bad, err)
		}
	}
	p := ada()
	p.Custom = map[string]string{loginField: "@Ada"} // as people write it
	a, err := c.Create(t.Context(), p)
	if err != nil || a.ID != "Ada" {
		t.Fatalf("Create with @Ada = %+v, %v", a, err)
	}
	if srv.Requests().Total == 0 {
		t.Fatal("no request served")
	}
	if err := c.AddMembership(t.Context(), a, connector.Team, "../../orgs"); !fault.IsPermanent(err) {
		t.Errorf("AddMembership with a bad slug = %v; want Permanent", err)
	}
}

// A login GitHub does not know and a team that does not exist are
// permanent, with GitHub's words.
func TestUnknownUserAndTeam(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.NoSuchUser("ghost")
	c := newConnector(t, srv)
	p := ada()
	p.Custom = map[string]string{loginField: "ghost"}
	_, err := c.Create(t.Context(), p)
	if !fault.IsPermanent(err) || !IsNotFound(err) || !strings.Contains(err.Error(), "no user by that login") {
		t.Fatalf("Create of an unknown login = %v; want a permanent 404", err)
	}
	a, err := c.Create(t.Context(), ada())
	mustOK(t, err, "Create")
	err = c.AddMembership(t.Context(), a, connector.Team, "no-such-team")
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "no such team") {
		t.Fatalf("AddMembership to a missing team = %v; want permanent", err)
	}
}

// A wrong token is permanent, says so, and is never in the error.
func TestBadToken(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	const wrong = "github_pat_wrong0123456789"
	c := newConnector(t, srv, func(cfg *Config) { cfg.Token = wrong })
	_, err := c.Find(t.Context(), ada())
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") {
		t.Fatalf("Find with a wrong token = %v; want a permanent 401", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), srv.Token()) {
		t.Fatalf("the error holds a token: %v", err)
	}
}

type observed struct {
	mu  sync.Mutex
	out []ratelimit.Outcome
}

func (o *observed) observe(_ context.Context, oc ratelimit.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.out = append(o.out, oc)
}

func (o *observed) throttled() []ratelimit.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []ratelimit.Outcome
	for _, oc := range o.out {
		if oc.Throttled {
			out = append(out, oc)
		}
	}
	return out
}

// The fake's own limits reach the connector as GitHub's do: the primary
// limit is a wait until the reset, the secondary limit the retry-after,
// both pause the app; the invitation cap is a long wait that does not.
func TestRealLimits(t *testing.T) {
	t.Parallel()
	t.Run("primary", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, githubtest.WithPrimaryLimit(3))
		var o observed
		c := newConnector(t, srv, func(cfg *Config) { cfg.Observe = o.observe })
		var err error
		for range 10 {
			if _, err = c.Find(t.Context(), connector.Person{AccountID: "ada"}); err != nil {
				break
			}
		}
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Limit != PrimaryLimit || fault.IsPermanent(err) {
			t.Fatalf("Find past the primary limit = %v; want the primary limit, transient", err)
		}
		if hint, ok := fault.RetryAfterHint(err); !ok || hint < time.Second || hint > 5*time.Second {
			t.Fatalf("hint %v (%v); want the scaled reset, 1-5 s", hint, ok)
		}
		if th := o.throttled(); len(th) != 1 {
			t.Fatalf("pacer told %v; want one throttled answer", th)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, githubtest.WithRateScale(1)) // 80 writes a minute, really
		var o observed
		c := newConnector(t, srv, func(cfg *Config) { cfg.Observe = o.observe })
		a := connector.Account{ID: "ada"}
		var err error
		for i := range 100 {
			if err = c.RemoveMembership(t.Context(), a, connector.Team, "eng"); err != nil {
				if i != githubtest.SecondaryPerMinute {
					t.Fatalf("limited after %d writes; want %d", i, githubtest.SecondaryPerMinute)
				}
				break
			}
		}
		e, ok := errors.AsType[*Error](err)
		hint, hinted := fault.RetryAfterHint(err)
		if !ok || e.Limit != SecondaryLimit || e.Status != http.StatusForbidden || !hinted || hint < time.Second || hint > time.Minute {
			t.Fatalf("write past the secondary limit = %v (hint %v); want a 403 secondary limit with retry-after", err, hint)
		}
		if th := o.throttled(); len(th) != 1 || th[0].RetryAfter != hint {
			t.Fatalf("pacer told %v; want one throttled answer with %v", th, hint)
		}
	})
	t.Run("invitation cap", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, githubtest.WithInvitationCap(2))
		var o observed
		c := newConnector(t, srv, func(cfg *Config) { cfg.Observe = o.observe })
		var err error
		for i := range 3 {
			if _, err = c.Create(t.Context(), emailOnly(i)); err != nil {
				break
			}
		}
		e, ok := errors.AsType[*Error](err)
		hint, _ := fault.RetryAfterHint(err)
		if !ok || e.Limit != InvitationLimit || fault.IsPermanent(err) || hint != InvitationCapWait {
			t.Fatalf("third invitation = %v (hint %v); want the invitation cap, retried after %v", err, hint, InvitationCapWait)
		}
		if th := o.throttled(); len(th) != 0 {
			t.Fatalf("pacer told %v; the cap must not pause removals", th)
		}
		// Removals still go through.
		mustOK(t, c.SetActive(t.Context(), connector.Account{ID: "ada"}, false), "SetActive(false) under the cap")
	})
}
