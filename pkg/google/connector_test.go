package google

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/google/googletest"
	"keycard/pkg/ratelimit"
	"keycard/pkg/testclock"
)

func ada() connector.Person {
	return connector.Person{
		EmployeeID: "2001", Email: "ada@example.com", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace",
		DisplayName: "Ada Lovelace", Title: "Engineer", Department: "Engineering",
	}
}

// converge plans and applies for p until the plan is empty, at most
// three rounds, and returns the account.
func converge(t *testing.T, c *Connector, want connector.Want, p *connector.Person) *connector.Account {
	t.Helper()
	for range 3 {
		cur, err := c.Find(t.Context(), *p)
		if err != nil {
			t.Fatalf("Find: %v", err)
		}
		plan := connector.Plan(cur, want, *p)
		if len(plan) == 0 {
			return cur
		}
		got, _, err := connector.Apply(t.Context(), c, cur, *p, plan, func(context.Context) error { return nil })
		if err != nil {
			t.Fatalf("Apply %v: %v", plan, err)
		}
		if got != nil {
			p.AccountID = got.ID
		}
	}
	t.Fatalf("no convergence for %s", p.Email)
	return nil
}

// A leaver is signed out everywhere, loses every application-specific
// password and OAuth token, then is suspended; the licence stays (Google
// bills it as for an active user). A re-hire lifts the suspension.
func TestDeactivateRevokesAccess(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	p := ada()
	p.License = "1010020027"
	a := converge(t, c, connector.Want{Account: true, License: p.License}, &p)
	srv.AddASP(a.ID, "Thunderbird")
	srv.AddASP(a.ID, "Old phone")
	srv.AddToken(a.ID, "1234.apps.googleusercontent.com", "Some CRM", "https://mail.google.com/")

	converge(t, c, connector.Want{}, &p)
	u, _ := srv.User(a.ID)
	if !u.Suspended || u.SignOuts != 1 || len(u.ASPs) != 0 || len(u.Tokens) != 0 {
		t.Fatalf("after leaving: suspended %v, sign-outs %d, ASPs %v, tokens %v; want suspended, signed out once, none left",
			u.Suspended, u.SignOuts, u.ASPs, u.Tokens)
	}
	if got := srv.Licence("Google-Apps", a.ID); got != p.License {
		t.Errorf("licence after suspension %q; want %q kept (suspension does not free a seat)", got, p.License)
	}
	converge(t, c, connector.Want{Account: true, License: p.License}, &p)
	if u, _ := srv.User(a.ID); u.Suspended || len(srv.Users()) != 1 {
		t.Fatalf("after re-hire: suspended %v, %d users; want the same user back", u.Suspended, len(srv.Users()))
	}
}

// A revocation that fails leaves the user active, so the next plan
// deactivates again and the revocation is retried: suspension, what the
// plan reads, comes last.
func TestDeactivateRetriedUntilRevoked(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	p := ada()
	a := converge(t, c, connector.Want{Account: true}, &p)
	srv.AddToken(a.ID, "1234.apps.googleusercontent.com", "Some CRM")
	srv.FailNext(1, googletest.Failure{Status: 503, Method: "tokens.list"})
	err := c.SetActive(t.Context(), *a, false)
	if err == nil || fault.IsPermanent(err) {
		t.Fatalf("SetActive(false) with tokens.list failing = %v; want a transient error", err)
	}
	cur, err := c.Find(t.Context(), p)
	if err != nil || cur == nil || !cur.Active {
		t.Fatalf("after a failed revocation Find = %+v, %v; want the user still active", cur, err)
	}
	converge(t, c, connector.Want{}, &p)
	if u, _ := srv.User(a.ID); !u.Suspended || len(u.Tokens) != 0 {
		t.Fatalf("after the retry: suspended %v, tokens %v", u.Suspended, u.Tokens)
	}
}

// The policy's org unit and licence are applied at creation, reported,
// and moved when they change: the licence within its product by
// licenseAssignments.patch, from a SKU listed in license_skus.
func TestOrgUnitAndLicence(t *testing.T) {
	t.Parallel()
	const starter, standard = "1010020027", "1010020028"
	c, srv := newTestApp(t, func(cfg *Config) { cfg.LicenseSKUs = []string{starter, standard} })
	srv.AddOrgUnit("/Engineering")
	srv.AddOrgUnit("/Sales/EMEA")
	p := ada()
	p.OrgUnit, p.License = "/Engineering", starter
	a := converge(t, c, connector.Want{Account: true, OrgUnit: p.OrgUnit, License: p.License}, &p)
	if a.Attributes["org_unit"] != "/Engineering" || a.Attributes["license"] != starter {
		t.Fatalf("attributes %v; want org unit /Engineering and licence %s", a.Attributes, starter)
	}
	if u, _ := srv.User(a.ID); u.OrgUnitPath != "/Engineering" || srv.Licence("Google-Apps", a.ID) != starter {
		t.Fatalf("at Google: org unit %q, licence %q", u.OrgUnitPath, srv.Licence("Google-Apps", a.ID))
	}

	p.OrgUnit, p.License = "/Sales/EMEA", standard
	cur, err := c.Find(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Attributes["license"] != starter {
		t.Fatalf("Find with a new licence wanted reads %q; want the held %s", cur.Attributes["license"], starter)
	}
	if plan := connector.Plan(cur, connector.Want{Account: true}, p); !slices.Contains(plan, connector.Action{Op: connector.OpUpdate}) {
		t.Fatalf("plan %v; want an update for the moved org unit and licence", plan)
	}
	before := srv.Requests().ByRoute["licenseAssignments.insert"]
	converge(t, c, connector.Want{Account: true, OrgUnit: p.OrgUnit, License: p.License}, &p)
	if u, _ := srv.User(a.ID); u.OrgUnitPath != "/Sales/EMEA" || srv.Licence("Google-Apps", a.ID) != standard {
		t.Fatalf("after the move: org unit %q, licence %q", u.OrgUnitPath, srv.Licence("Google-Apps", a.ID))
	}
	if st := srv.Requests(); st.ByRoute["licenseAssignments.patch"] != 1 || st.ByRoute["licenseAssignments.insert"] != before {
		t.Errorf("licence moved with %d patches and %d new inserts; want one patch", st.ByRoute["licenseAssignments.patch"], st.ByRoute["licenseAssignments.insert"]-before)
	}

	// An org unit that does not exist is Google's 400: permanent.
	bad := p
	bad.OrgUnit = "/Nowhere"
	if err := c.Update(t.Context(), *a, bad); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "INVALID_OU_ID") {
		t.Errorf("Update into a missing org unit = %v; want Google's INVALID_OU_ID, permanent", err)
	}
}

// A licence Google refuses (no seat left) fails the hire, permanently,
// with the account made: the retry after more seats are bought finds it
// and assigns only the licence.
func TestLicenceRefused(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	srv.SetSeats("Google-Apps", "1010020027", 0)
	p := ada()
	p.License = "1010020027"
	a, err := c.Create(t.Context(), p)
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "no seat left") || a.ID == "" {
		t.Fatalf("Create without a seat = %+v, %v; want the account and a permanent error explaining the refusal", a, err)
	}
	srv.SetSeats("Google-Apps", "1010020027", 5)
	p.AccountID = a.ID
	got := converge(t, c, connector.Want{Account: true, License: p.License}, &p)
	if got.ID != a.ID || srv.Licence("Google-Apps", a.ID) != p.License || len(srv.Users()) != 1 {
		t.Fatalf("after seats were added: account %s, licence %q, %d users", got.ID, srv.Licence("Google-Apps", a.ID), len(srv.Users()))
	}

	// A user holding a SKU Keycard was not told of cannot be moved.
	other := connector.Person{EmployeeID: "2002", Email: "bob@example.com", GivenName: "Bob", FamilyName: "B", License: "1010020027"}
	id := srv.AddUser(googletest.User{PrimaryEmail: other.Email, GivenName: "Bob", FamilyName: "B", HasPassword: true})
	srv.AssignLicence("Google-Apps", "1010020020", id)
	cur, err := c.Find(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Update(t.Context(), *cur, other); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "license_skus") {
		t.Errorf("Update of a user holding an unlisted SKU = %v; want a permanent error pointing at license_skus", err)
	}
}

// The manager relation holds the manager's address, read from the
// account Keycard knows for them; it follows HR and is cleared when HR
// has no manager.
func TestManagerRelation(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	grace := connector.Person{EmployeeID: "1001", Email: "grace@example.com", GivenName: "Grace", FamilyName: "Hopper"}
	alan := connector.Person{EmployeeID: "1002", Email: "alan@example.com", GivenName: "Alan", FamilyName: "Turing"}
	g := converge(t, c, connector.Want{Account: true}, &grace)
	m := converge(t, c, connector.Want{Account: true}, &alan)

	p := ada()
	p.ManagerID, p.ManagerAccountID = grace.EmployeeID, g.ID
	a := converge(t, c, connector.Want{Account: true}, &p)
	if u, _ := srv.User(a.ID); !slices.Equal(u.Relations, []googletest.Relation{{Type: "manager", Value: "grace@example.com"}}) {
		t.Fatalf("relations %+v; want manager grace@example.com", u.Relations)
	}
	if a.Attributes["manager_id"] != grace.EmployeeID {
		t.Errorf("manager_id %q; want HR's %s", a.Attributes["manager_id"], grace.EmployeeID)
	}
	p.ManagerID, p.ManagerAccountID = alan.EmployeeID, m.ID
	converge(t, c, connector.Want{Account: true}, &p)
	if u, _ := srv.User(a.ID); !slices.Equal(u.Relations, []googletest.Relation{{Type: "manager", Value: "alan@example.com"}}) {
		t.Fatalf("relations after a new manager %+v; want alan@example.com", u.Relations)
	}
	p.ManagerID, p.ManagerAccountID = "", ""
	converge(t, c, connector.Want{Account: true}, &p)
	if u, _ := srv.User(a.ID); len(u.Relations) != 0 {
		t.Fatalf("relations without a manager %+v; want none", u.Relations)
	}
}

// Groups of the domain go by their local part, others by their address;
// names that would never match what Find reports are refused, as is a
// group that does not exist (Keycard makes none).
func TestGroupNames(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	srv.AddGroup("partners@other.org", "Partners")
	p := ada()
	a := converge(t, c, connector.Want{Account: true}, &p)
	ctx := t.Context()
	for _, name := range []string{"eng", "partners@other.org"} {
		if err := c.AddMembership(ctx, *a, connector.Group, name); err != nil {
			t.Fatalf("AddMembership(%s): %v", name, err)
		}
	}
	if got := srv.MemberOf(a.ID); !slices.Equal(got, []string{"eng@example.com", "partners@other.org"}) {
		t.Fatalf("at Google: member of %v", got)
	}
	cur, _ := c.Find(ctx, p)
	if got := slices.Sorted(slices.Values(cur.Memberships[connector.Group])); !slices.Equal(got, []string{"eng", "partners@other.org"}) {
		t.Fatalf("Find reports groups %v; want eng and partners@other.org", got)
	}
	for name, want := range map[string]string{"Eng": "lower case", "eng@example.com": `as "eng"`, "missing": "existing groups only"} {
		err := c.AddMembership(ctx, *a, connector.Group, name)
		if !fault.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("AddMembership(%s) = %v; want a permanent error saying %q", name, err, want)
		}
	}
}

// A rename keeps the old address as an alias at Google: the old address
// finds no one, and a new hire given it is refused rather than merged
// into the renamed person's account.
func TestRenameLeavesAlias(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	p := ada()
	a := converge(t, c, connector.Want{Account: true}, &p)
	p.Email, p.UserName = "ada.byron@example.com", "ada.byron@example.com"
	converge(t, c, connector.Want{Account: true}, &p)
	if u, ok := srv.User("ada@example.com"); !ok || u.ID != a.ID || u.PrimaryEmail != "ada.byron@example.com" {
		t.Fatalf("the old address at Google: %+v, %v; want an alias of %s", u, ok, a.ID)
	}
	newcomer := connector.Person{EmployeeID: "3003", Email: "ada@example.com", GivenName: "Ada", FamilyName: "Other"}
	if got, err := c.Find(t.Context(), newcomer); err != nil || got != nil {
		t.Fatalf("Find by the alias = %+v, %v; want nobody", got, err)
	}
	if _, err := c.Create(t.Context(), newcomer); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("Create with the alias = %v; want a permanent error naming the alias", err)
	}
}

// Reads Keycard makes itself are paced, and so is every write of a step
// after its first (the worker paced that one); each answer reaches the
// pacer, a quota 403 as throttled.
func TestPacing(t *testing.T) {
	t.Parallel()
	var paced atomic.Int64
	var mu sync.Mutex
	var outcomes []ratelimit.Outcome
	c, srv := newTestApp(t, func(cfg *Config) {
		cfg.Pace = func(context.Context) error { paced.Add(1); return nil }
		cfg.Observe = func(_ context.Context, o ratelimit.Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
	})
	ctx := t.Context()
	p := ada()
	a, err := c.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := paced.Load(); n != 0 {
		t.Errorf("Create paced %d requests; want 0 (one insert, paced by the worker)", n)
	}
	paced.Store(0)
	p.AccountID = a.ID
	if _, err := c.Find(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := paced.Load(); n != 2 {
		t.Errorf("Find by id paced %d requests; want 2 (users.get, groups.list)", n)
	}
	paced.Store(0)
	if err := c.SetActive(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	if n := paced.Load(); n != 3 {
		t.Errorf("SetActive(false) paced %d requests; want 3 (signOut by the worker; asps.list, tokens.list, users.patch)", n)
	}

	srv.SetQueriesPerMinute(1) // users.get spends it, groups.list is refused
	_, err = c.Find(ctx, connector.Person{AccountID: a.ID})
	if e, ok := errors.AsType[*Error](err); !ok || !e.RateLimited() || fault.IsPermanent(err) || e.Reason != "userRateLimitExceeded" {
		t.Fatalf("Find over the quota = %v; want a transient userRateLimitExceeded", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) == 0 || !outcomes[len(outcomes)-1].Throttled || slices.ContainsFunc(outcomes[:len(outcomes)-1], func(o ratelimit.Outcome) bool { return o.Throttled }) {
		t.Errorf("outcomes %v; want every earlier answer accepted and the quota 403 throttled", outcomes)
	}
}

// The newer front ends' 429 is the same quota answer.
func TestQuota429(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil, googletest.WithRateLimitStatus(429))
	srv.SetQueriesPerMinute(1)
	_, _ = c.Find(t.Context(), connector.Person{Email: "x@example.com"})
	_, err := c.Find(t.Context(), connector.Person{Email: "x@example.com"})
	if e, ok := errors.AsType[*Error](err); !ok || e.Status != 429 || !e.RateLimited() || fault.IsPermanent(err) {
		t.Fatalf("Find over the quota = %v; want a transient 429", err)
	}
}

// One token serves every request until it expires; the fake verified the
// JWT (signature, issuer, audience, subject, scopes) to issue it.
func TestTokenReused(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	for range 5 {
		if _, err := c.Find(t.Context(), ada()); err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Requests(); st.Tokens != 1 || st.Total < 5 {
		t.Errorf("%d token requests for %d API requests; want one", st.Tokens, st.Total)
	}
}

// Without the delegation Google refuses the token: every call fails
// permanently, saying where to fix it, and no part of the key shows.
func TestDelegationMissing(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil, googletest.WithDelegatedScopes(googletest.ScopeUser, googletest.ScopeMember))
	_, err := c.Find(t.Context(), ada())
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "unauthorized_client") || !strings.Contains(err.Error(), "Domain-wide delegation") {
		t.Fatalf("Find without delegated scopes = %v; want a permanent unauthorized_client naming the fix", err)
	}
	key := string(srv.Key())
	for _, part := range []string{"PRIVATE KEY", key[strings.Index(key, "MII") : strings.Index(key, "MII")+20]} {
		if strings.Contains(err.Error(), part) {
			t.Errorf("error %q shows the key", err)
		}
	}
}

// A subject that is not an admin gets a token and a 403 on every call.
func TestSubjectNotAdmin(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	srv.AddUser(googletest.User{PrimaryEmail: "clerk@example.com", GivenName: "C", FamilyName: "Lerk"})
	c2, err := New(t.Context(), Config{Domain: srv.Domain(), AdminEmail: "clerk@example.com", Key: srv.Key(), BaseURL: srv.URL(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Find(t.Context(), ada())
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "403 forbidden") {
		t.Fatalf("Find as a non-admin = %v; want a permanent 403 forbidden", err)
	}
	if _, err := c.Find(t.Context(), ada()); err != nil {
		t.Fatalf("Find as the admin: %v", err)
	}
}

// Count reads every user, suspended ones too, and reuses its answer for
// five minutes.
func TestCountCached(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	c, srv := newTestApp(t, func(cfg *Config) { cfg.Now = clock.Now })
	for i := range 3 {
		srv.AddUser(googletest.User{PrimaryEmail: fmt.Sprintf("u%d@example.com", i), GivenName: "G", FamilyName: "F", Suspended: i == 0})
	}
	if n, err := c.Count(t.Context()); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
	srv.AddUser(googletest.User{PrimaryEmail: "d@example.com", GivenName: "G", FamilyName: "F"})
	if n, _ := c.Count(t.Context()); n != 3 {
		t.Errorf("Count within five minutes = %d; want the cached 3", n)
	}
	clock.Advance(countTTL)
	if n, _ := c.Count(t.Context()); n != 4 {
		t.Errorf("Count after five minutes = %d; want 4", n)
	}
}

// List pages through the users (500 a page) and reports each one's
// groups and licence from the tenant-wide listings.
func TestListPagesAndMemberships(t *testing.T) {
	t.Parallel()
	c, srv := newTestApp(t, nil)
	const n = 1203
	var ids []string
	for i := range n {
		ids = append(ids, srv.AddUser(googletest.User{PrimaryEmail: fmt.Sprintf("u%04d@example.com", i), GivenName: "G", FamilyName: "F"}))
	}
	p := connector.Person{AccountID: ids[7]}
	a, _ := c.Find(t.Context(), p)
	if err := c.AddMembership(t.Context(), *a, connector.Group, "eng"); err != nil {
		t.Fatal(err)
	}
	srv.AssignLicence("Google-Apps", "1010020027", ids[7])
	seen := map[string]connector.Account{}
	err := c.List(t.Context(), func(a connector.Account) error {
		if _, dup := seen[a.ID]; dup {
			t.Errorf("List reported %s twice", a.ID)
		}
		seen[a.ID] = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("List reported %d users; want %d", len(seen), n)
	}
	if got := seen[ids[7]]; !slices.Equal(got.Memberships[connector.Group], []string{"eng"}) || got.Attributes["license"] != "1010020027" {
		t.Errorf("listed %+v; want group eng and licence 1010020027", got)
	}
	if pages := srv.Requests().ByRoute["users.list"]; pages != 3 {
		t.Errorf("%d users.list pages for %d users; want 3", pages, n)
	}
}
