package gitlab

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/gitlab/gitlabtest"
	"keycard/pkg/ratelimit"
)

func ada() connector.Person {
	return connector.Person{EmployeeID: "e1", Email: "ada@example.com", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace",
		DisplayName: "Ada Lovelace", Title: "Engineer", Department: "Engineering"}
}

func mustCreate(t *testing.T, c *Connector, p connector.Person) connector.Account {
	t.Helper()
	a, err := c.Create(t.Context(), p)
	if err != nil {
		t.Fatalf("Create(%s): %v", p.Email, err)
	}
	return a
}

func fakeUser(t *testing.T, srv *gitlabtest.Server, a connector.Account) gitlabtest.User {
	t.Helper()
	id, err := accountID(a)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := srv.User(id)
	if !ok {
		t.Fatalf("no user %d", id)
	}
	return u
}

// client-go's retryablehttp neither retries nor sleeps: a 5xx or a 429 is
// one request, answered at once, and the worker decides.
func TestNoHiddenRetries(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusTooManyRequests} {
		before := srv.Requests().Total
		srv.FailNext(status, 30*time.Second)
		start := time.Now()
		err := c.SetActive(t.Context(), a, false)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%d: SetActive took %v; client-go waited on its own", status, took)
		}
		if hint, _ := fault.RetryAfterHint(err); err == nil || fault.IsPermanent(err) || hint != 30*time.Second {
			t.Errorf("%d: SetActive = %v (hint %v); want transient with the 30 s Retry-After", status, err, hint)
		}
		if n := srv.Requests().Total - before; n != 1 {
			t.Errorf("%d: %d requests; want 1 (no retry)", status, n)
		}
	}
}

// Every request has a deadline: a server that never answers costs the
// timeout, and the error is transient.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	c, err := New(Config{BaseURL: slow.URL, Token: "glpat-x", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Find(t.Context(), ada())
	if err == nil || fault.IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Fatalf("Find against a silent server = %v after %v; want a transient timeout", err, time.Since(start))
	}
}

// A taken username gets the next suffix: taken by someone else, reserved
// by GitLab, or taken between the check and the create (409 "Username has
// already been taken").
func TestUsernameCollisions(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	srv.AddUser("ada", "someone@else.example", "Another Ada")
	if a := mustCreate(t, c, ada()); a.UserName != "ada1" {
		t.Errorf("username %q; want ada1 (ada is taken)", a.UserName)
	}
	admin := connector.Person{EmployeeID: "e2", Email: "admin@corp.example", GivenName: "Ad", FamilyName: "Min"}
	if a := mustCreate(t, c, admin); a.UserName != "admin1" {
		t.Errorf("username %q; want admin1 (admin is reserved)", a.UserName)
	}
	srv.FailNextOn("POST /users", 1, http.StatusConflict, 0, "Username has already been taken")
	grace := connector.Person{EmployeeID: "e3", Email: "grace.hopper+gl@example.com", DisplayName: "Grace Hopper"}
	if a := mustCreate(t, c, grace); a.UserName != "grace.hopper-gl1" {
		t.Errorf("username %q; want grace.hopper-gl1 after a 409 on grace.hopper-gl", a.UserName)
	}
}

// A username HR holds is used as it is, and one taken by someone else
// fails Permanent rather than becoming another.
func TestUsernameFromHR(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, func(cfg *Config) { cfg.UsernameField = "gitlabUsername" })
	p := ada()
	p.Custom = map[string]string{"gitlabUsername": "a.lovelace"}
	if a := mustCreate(t, c, p); a.UserName != "a.lovelace" {
		t.Errorf("username %q; want HR's a.lovelace", a.UserName)
	}
	srv.AddUser("taken", "t@example.com", "Taken")
	q := connector.Person{EmployeeID: "e2", Email: "q@example.com", Custom: map[string]string{"gitlabUsername": "taken"}}
	if _, err := c.Create(t.Context(), q); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "belongs to another") {
		t.Errorf("Create with a taken HR username = %v; want Permanent", err)
	}
}

// GitLab refuses an address that is any user's secondary one (409); that
// user is not the person's to adopt.
func TestSecondaryEmailConflict(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	id := srv.AddUser("other", "other@example.com", "Other")
	srv.AddSecondaryEmail(id, "ada@example.com")
	if _, err := c.Create(t.Context(), ada()); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "secondary address") {
		t.Fatalf("Create over a secondary address = %v; want Permanent, saying so", err)
	}
	if got, err := c.Find(t.Context(), ada()); err != nil || got != nil {
		t.Fatalf("Find = %+v, %v; want nobody (a secondary address is not the person's)", got, err)
	}
}

// A leaver is blocked and leaves every group in scope, also one Keycard
// did not report (below the configured level); the seat is freed. A
// re-hire is unblocked.
func TestLeaverAndRehire(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	id, _ := accountID(a)
	if err := c.AddMembership(t.Context(), a, connector.Group, "eng"); err != nil {
		t.Fatal(err)
	}
	srv.AddMember("sales", id, gitlabtest.Guest) // by hand, below developer
	seats := srv.Seats()
	if err := c.SetActive(t.Context(), a, false); err != nil {
		t.Fatal(err)
	}
	u := fakeUser(t, srv, a)
	if u.State != gitlabtest.StateBlocked || len(u.Groups) != 0 {
		t.Fatalf("after SetActive(false): state %s, groups %v; want blocked in none", u.State, u.Groups)
	}
	if srv.Seats() != seats-1 {
		t.Errorf("seats %d; want %d (a blocked user takes none)", srv.Seats(), seats-1)
	}
	if err := c.SetActive(t.Context(), a, true); err != nil {
		t.Fatal(err)
	}
	if u := fakeUser(t, srv, a); u.State != gitlabtest.StateActive {
		t.Fatalf("after SetActive(true): state %s; want active", u.State)
	}
}

// Users switched off outside Keycard: a deactivated (dormant) one is
// activated, one pending approval approved; an LDAP-blocked or banned one
// cannot be switched on through the API (Permanent), and blocking an
// LDAP-blocked one is done already.
func TestOtherStates(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	for _, tt := range []struct {
		state     string
		permanent bool
	}{
		{gitlabtest.StateDeactivated, false},
		{gitlabtest.StatePendingApproval, false},
		{gitlabtest.StateLDAPBlocked, true},
		{gitlabtest.StateBanned, true},
	} {
		p := ada()
		p.EmployeeID, p.Email = "e-"+tt.state, tt.state+"@example.com"
		a := mustCreate(t, c, p)
		id, _ := accountID(a)
		srv.SetState(id, tt.state)
		got, err := c.Find(t.Context(), p)
		if err != nil || got == nil || got.Active {
			t.Fatalf("%s: Find = %+v, %v; want the account, inactive", tt.state, got, err)
		}
		err = c.SetActive(t.Context(), a, true)
		if tt.permanent {
			if !fault.IsPermanent(err) || !errors.Is(err, ErrNotReversible) {
				t.Errorf("%s: SetActive(true) = %v; want ErrNotReversible", tt.state, err)
			}
			if err := c.SetActive(t.Context(), a, false); err != nil && tt.state == gitlabtest.StateLDAPBlocked {
				t.Errorf("%s: SetActive(false) = %v; want done (blocked already)", tt.state, err)
			}
			continue
		}
		if err != nil || fakeUser(t, srv, a).State != gitlabtest.StateActive {
			t.Errorf("%s: SetActive(true) = %v, state %s; want active", tt.state, err, fakeUser(t, srv, a).State)
		}
	}
}

// A token that is not an administrator's is refused as a credential
// problem (fault.Auth), so the worker pauses the app.
func TestNotAdminIsAuth(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, func(cfg *Config) { cfg.Token = srv.UserToken() })
	_, err := c.Create(t.Context(), ada())
	if !fault.IsAuth(err) || !fault.IsPermanent(err) {
		t.Fatalf("Create with a regular user's token = %v; want Auth", err)
	}
	wrong := newConnector(t, srv, func(cfg *Config) { cfg.Token = "glpat-wrong" })
	if _, err := wrong.Find(t.Context(), ada()); !fault.IsAuth(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Find with a wrong token = %v; want Auth 401", err)
	}
}

// Memberships are given at their group's level; one below it is raised,
// one above it (an owner, by hand) left alone, and Find reports only those
// at the level or above.
func TestAccessLevels(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, func(cfg *Config) {
		cfg.AccessLevel = "reporter"
		cfg.GroupLevels = map[string]gl.AccessLevelValue{"acme/eng/backend": gl.MaintainerPermissions}
	})
	a := mustCreate(t, c, ada())
	id, _ := accountID(a)
	srv.AddMember("sales", id, gitlabtest.Guest)
	srv.AddMember("all", id, gitlabtest.Owner)
	if got, _ := c.Find(t.Context(), ada()); !slices.Equal(got.Memberships[connector.Group], []string{"all"}) {
		t.Fatalf("groups %v; want [all] (sales is below reporter)", got.Memberships[connector.Group])
	}
	for _, g := range []string{"eng", "acme/eng/backend", "sales", "all"} {
		if err := c.AddMembership(t.Context(), a, connector.Group, g); err != nil {
			t.Fatalf("AddMembership(%s): %v", g, err)
		}
	}
	want := map[string]int{"eng": gitlabtest.Reporter, "acme/eng/backend": gitlabtest.Maintainer, "sales": gitlabtest.Reporter, "all": gitlabtest.Owner}
	if got := fakeUser(t, srv, a).Groups; !mapsEqual(got, want) {
		t.Fatalf("levels %v; want %v", got, want)
	}
	got, _ := c.Find(t.Context(), ada())
	if g := got.Memberships[connector.Group]; !slices.Equal(g, []string{"acme/eng/backend", "all", "eng", "sales"}) {
		t.Fatalf("groups %v", g)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// GitLab refuses a direct membership below one inherited from an
// ancestor; the person has the access, so the step is done. Removing a
// membership leaves the person's memberships of subgroups alone.
func TestInheritedAndSubgroups(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	id, _ := accountID(a)
	srv.AddMember("acme", id, gitlabtest.Maintainer)
	if err := c.AddMembership(t.Context(), a, connector.Group, "acme/eng"); err != nil {
		t.Fatalf("AddMembership under an inherited maintainer: %v", err)
	}
	if _, direct := fakeUser(t, srv, a).Groups["acme/eng"]; direct {
		t.Error("a direct membership below the inherited one was made")
	}
	srv.AddMember("acme", id, gitlabtest.Developer)
	if err := c.AddMembership(t.Context(), a, connector.Group, "acme/sales"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddMembership(t.Context(), a, connector.Group, "acme/eng/backend"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveMembership(t.Context(), a, connector.Group, "acme"); err != nil {
		t.Fatal(err)
	}
	if got := fakeUser(t, srv, a).Groups; !mapsEqual(got, map[string]int{"acme/sales": gitlabtest.Developer, "acme/eng/backend": gitlabtest.Developer}) {
		t.Fatalf("groups after leaving acme %v; want the subgroups kept", got)
	}
	if err := c.AddMembership(t.Context(), a, connector.Group, "no/such/group"); !fault.IsPermanent(err) {
		t.Errorf("AddMembership to a missing group = %v; want Permanent", err)
	}
}

// With org the app manages that top-level group only: grants elsewhere
// fail Permanent, memberships elsewhere are neither read nor removed, and
// List reads the org's groups' members. The token's own user is never
// listed.
func TestOrgScope(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, func(cfg *Config) { cfg.Org = "acme" })
	a := mustCreate(t, c, ada())
	id, _ := accountID(a)
	srv.AddMember("eng", id, gitlabtest.Developer) // outside acme
	if err := c.AddMembership(t.Context(), a, connector.Group, "eng"); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "outside acme") {
		t.Errorf("AddMembership outside org = %v; want Permanent", err)
	}
	if err := c.AddMembership(t.Context(), a, connector.Group, "acme/eng/backend"); err != nil {
		t.Fatal(err)
	}
	got, _ := c.Find(t.Context(), ada())
	if g := got.Memberships[connector.Group]; !slices.Equal(g, []string{"acme/eng/backend"}) {
		t.Fatalf("groups %v; want only acme's", g)
	}
	var listed []connector.Account
	if err := c.List(t.Context(), func(a connector.Account) error { listed = append(listed, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].ID != a.ID || !slices.Equal(listed[0].Memberships[connector.Group], []string{"acme/eng/backend"}) {
		t.Fatalf("List = %+v; want ada alone, in acme/eng/backend (not root)", listed)
	}
	if err := c.SetActive(t.Context(), a, false); err != nil {
		t.Fatal(err)
	}
	if g := fakeUser(t, srv, a).Groups; !mapsEqual(g, map[string]int{"eng": gitlabtest.Developer}) {
		t.Fatalf("groups after leaving %v; want eng (outside org) kept", g)
	}
}

// With a provider, an account adopted by e-mail is linked to the person's
// identity there, so it is found by the HR id afterwards; one linked to
// another identity is left as it is.
func TestAdoptLinksIdentity(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, withProvider)
	id := srv.AddUser("alovelace", "ada@example.com", "Ada L.")
	if a := mustCreate(t, c, ada()); a.ID != strconv.FormatInt(id, 10) {
		t.Fatalf("Create adopted %s; want %d", a.ID, id)
	}
	if u, _ := srv.User(id); u.Identities[provider] != "e1" {
		t.Fatalf("identities %v; want saml:e1 linked", u.Identities)
	}
	byHR := ada()
	byHR.Email = "elsewhere@example.com"
	if got, err := c.Find(t.Context(), byHR); err != nil || got == nil || got.ID != strconv.FormatInt(id, 10) || got.ExternalID != "e1" {
		t.Fatalf("Find by HR id = %+v, %v", got, err)
	}
	other := srv.AddUser("grace", "grace@example.com", "Grace")
	srv.AddIdentity(other, provider, "someone-else")
	g := connector.Person{EmployeeID: "e2", Email: "grace@example.com", DisplayName: "Grace"}
	mustCreate(t, c, g)
	if u, _ := srv.User(other); u.Identities[provider] != "someone-else" {
		t.Fatalf("identities %v; want the other identity kept", u.Identities)
	}
}

// The attributes read back as HR sends them, whatever case HR writes an
// address in (GitLab keeps it in lower case), so a create is followed by
// no update; a changed address is confirmed at once.
func TestAttributesReadBack(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	p := ada()
	p.Email, p.DisplayName = "Ada@Example.com", ""
	a := mustCreate(t, c, p)
	got, err := c.Find(t.Context(), p)
	if err != nil || got == nil || got.ID != a.ID {
		t.Fatalf("Find = %+v, %v", got, err)
	}
	if plan := connector.Plan(got, connector.Want{Account: true}, p); len(plan) != 0 {
		t.Fatalf("plan after create %v; want none", plan)
	}
	if u := fakeUser(t, srv, a); u.Name != "Ada Lovelace" || u.JobTitle != "Engineer" {
		t.Fatalf("user %+v; want name from given and family names, the title", u)
	}
	p.Email = "ada.lovelace@example.com"
	if err := c.Update(t.Context(), *got, p); err != nil {
		t.Fatal(err)
	}
	if u := fakeUser(t, srv, a); u.Email != "ada.lovelace@example.com" || u.UnconfirmedEmail != "" {
		t.Fatalf("user %+v; want the new address confirmed", u)
	}
}

// A throttled answer carries GitLab's wait and tells the pacer, and the
// fake's throttle sends the documented headers.
func TestThrottle(t *testing.T) {
	t.Parallel()
	srv := newFake(t, gitlabtest.WithRateLimit(3, time.Hour), gitlabtest.WithRateScale(1))
	var throttled atomic.Int32
	var wait atomic.Int64
	c := newConnector(t, srv, func(cfg *Config) {
		cfg.Observe = func(_ context.Context, o ratelimit.Outcome) {
			if o.Throttled {
				throttled.Add(1)
				wait.Store(int64(o.RetryAfter))
			}
		}
	})
	var err error
	for range 4 {
		_, err = c.Find(t.Context(), connector.Person{Email: "nobody@example.com"})
	}
	hint, _ := fault.RetryAfterHint(err)
	if err == nil || fault.IsPermanent(err) || hint <= 0 || hint > time.Hour || !strings.Contains(err.Error(), "Retry later") {
		t.Fatalf("fourth request = %v (hint %v); want 429 Retry later with a wait", err, hint)
	}
	if throttled.Load() != 1 || time.Duration(wait.Load()) != hint {
		t.Errorf("pacer told %d throttles, wait %v; want 1, %v", throttled.Load(), time.Duration(wait.Load()), hint)
	}
}
