// Package connectortest is the contract every application connector must
// satisfy: each connector's tests call Run with what its app supports and
// a constructor for a fresh, empty app. What an app legitimately does
// differently (no groups, a deactivation that removes the account,
// deactivated users hidden from searches) is declared in Features, so the
// suite checks that behaviour instead of skipping it.
package connectortest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
)

// Features is what the app does, where apps are allowed to differ.
type Features struct {
	// Kinds are the membership kinds the app grants; AddMembership of any
	// other kind must fail Permanent rather than be ignored.
	Kinds []connector.Kind
	// FindsByEmployeeID: Find without the stored account id finds an
	// account by the HR id it was created with.
	FindsByEmployeeID bool
	// FindsByEmail: Find without the stored account id finds an account by
	// its e-mail, also one made outside Keycard.
	FindsByEmail bool
	// HidesInactive: a deactivated account is found by its stored id only
	// (Atlassian), so Create over one must fail Permanent, not adopt.
	HidesInactive bool
	// DeactivateRemoves: SetActive(false) removes the account (Notion's
	// DELETE): Find then returns nil and a re-hire creates it again.
	// Otherwise the account stays, inactive, and SetActive(true) brings
	// the same account back.
	DeactivateRemoves bool
	// Counts: the connector implements connector.Counter.
	Counts bool
	// LoginField is the HR custom field (Person.Custom) holding each
	// person's own login at the app, for an app whose accounts belong to
	// the person and are found by it (GitHub): the suite gives person n the
	// login "person<n>" there, and Find without the stored id must find
	// the account by it.
	LoginField string
	// KeepsNoAttributes: the app stores none of the attributes Update
	// sets (a GitHub org membership is a login, a role and teams): its
	// accounts read them back as the person has them, so no plan asks for
	// an update, and Update has nothing to do (nor to fail).
	KeepsNoAttributes bool
	// FixedEmail: the app's API cannot change an account's e-mail (a
	// Pipedrive user owns their login address): Update leaves it, so the
	// suite moves the person without a new address.
	FixedEmail bool
	// Login is the login person n has in LoginField, for an app whose
	// logins have a form of their own (Discord's numeric user ids);
	// default "person<n>".
	Login func(n int) string
	// Invites: Create cannot make an account, only invite the person
	// (Discord): the account exists once they accept, as the login
	// LoginField holds. The suite accepts for them with App.Join right
	// after every Create, so the other tests run on joined accounts, and
	// Invitations checks the invitation itself.
	Invites bool
}

// App is a connector under test with the one control the suite needs of
// the app behind it.
type App struct {
	Connector connector.Connector
	// Fail makes the app answer its next request with f, as the vendor
	// would (a fake server's injected status, a Memory's FailNext).
	Fail func(f Failure)
	// Join makes the person p accept the invitation Create returned as a
	// (Features.Invites), as the login p's LoginField holds; nil when a is
	// no invitation (Create adopted a member). It fails for an invitation
	// that was revoked.
	Join func(p connector.Person, a connector.Account) error
}

// Failure is a vendor's error answer.
type Failure struct {
	Status     int           // 400, 429, 503, …
	RetryAfter time.Duration // the Retry-After sent with it; 0: none
}

// Run runs the contract against apps built by newApp, which must return a
// fresh, empty app and clean it up with t.Cleanup. Subtests run in
// parallel, each on its own app.
func Run(t *testing.T, f Features, newApp func(t *testing.T) App) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, f Features, app App)
	}{
		{"CreateFind", testCreateFind},
		{"AdoptOutside", testAdoptOutside},
		{"CreateTwiceAdopts", testCreateTwice},
		{"CreateOverInactive", testCreateOverInactive},
		{"Update", testUpdate},
		{"SetActive", testSetActive},
		{"Memberships", testMemberships},
		{"UnsupportedKinds", testUnsupportedKinds},
		{"ErrorClasses", testErrorClasses},
		{"ApplyTwiceConverges", testApplyTwice},
		{"ListCount", testListCount},
		{"Invitations", testInvitations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newApp(t)
			if f.Invites && tt.name != "Invitations" {
				app.Connector = joining{Connector: app.Connector, app: app}
			}
			tt.run(t, f, app)
		})
	}
}

// joining is an app of Features.Invites whose people accept every
// invitation at once: Create returns the joined account.
type joining struct {
	connector.Connector
	app App
}

func (j joining) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	a, err := j.Connector.Create(ctx, p)
	if err != nil {
		return a, err
	}
	if err := j.app.Join(p, a); err != nil {
		return a, fmt.Errorf("join with %s: %w", a.ID, err)
	}
	got, err := j.Connector.Find(ctx, withID(p, a.ID))
	if err != nil || got == nil {
		return a, fmt.Errorf("find after joining with %s: %+v, %v", a.ID, got, err)
	}
	return *got, nil
}

// raw is the connector under a joining wrapper.
func raw(c connector.Connector) connector.Connector {
	if j, ok := c.(joining); ok {
		return j.Connector
	}
	return c
}

// person is someone the suite provisions; n keeps people of one test apart.
func (f Features) person(n int) connector.Person {
	email := fmt.Sprintf("person%d@example.com", n)
	p := connector.Person{
		EmployeeID: fmt.Sprintf("e%d", 1000+n), Email: email, UserName: email,
		GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", n), DisplayName: fmt.Sprintf("Given Family%d", n),
		Title: "Engineer", Department: "Engineering",
	}
	if f.LoginField != "" {
		p.Custom = map[string]string{f.LoginField: f.login(n)}
	}
	return p
}

func (f Features) login(n int) string {
	if f.Login != nil {
		return f.Login(n)
	}
	return fmt.Sprintf("person%d", n)
}

// outsider is an account for p's address made by hand at the vendor, before
// Keycard: another HR-ish id (some apps require one), same e-mail and
// userName.
func outsider(p connector.Person) connector.Person {
	o := p
	o.EmployeeID = "hand-made-" + p.EmployeeID
	o.Title, o.Department = "", ""
	return o
}

func testCreateFind(t *testing.T, f Features, app App) {
	c := app.Connector
	p := f.person(1)
	a := create(t, c, p)
	if a.ID == "" || !a.Active {
		t.Fatalf("Create = %+v; want an active account with an id", a)
	}
	got := find(t, c, withID(p, a.ID))
	if got == nil || got.ID != a.ID || !got.Active {
		t.Fatalf("Find by stored id = %+v; want active account %s", got, a.ID)
	}
	if plan := connector.Plan(got, connector.Want{Account: true}, p); len(plan) != 0 {
		t.Fatalf("Plan right after Create = %v; want none (attributes read back as sent)", plan)
	}
	if f.FindsByEmployeeID {
		byHR := p
		byHR.Email = "someone-else@example.com"
		wantFound(t, c, byHR, a.ID, "by HR id")
	}
	if f.FindsByEmail {
		byEmail := p
		byEmail.EmployeeID = "unknown"
		wantFound(t, c, byEmail, a.ID, "by e-mail")
	}
	if f.LoginField != "" {
		byLogin := p
		byLogin.EmployeeID, byLogin.Email, byLogin.UserName = "unknown", "someone-else@example.com", "someone-else@example.com"
		wantFound(t, c, byLogin, a.ID, "by the login HR holds")
	}
	if !f.FindsByEmployeeID && !f.FindsByEmail && f.LoginField == "" {
		if got := find(t, c, p); got != nil {
			t.Fatalf("Find without stored id = %+v; Features say the app finds no one that way", got)
		}
	}
	if got := find(t, c, f.person(2)); got != nil {
		t.Fatalf("Find of someone without an account = %+v; want nil", got)
	}
}

// An account someone made by hand before Keycard is adopted, not twinned:
// found by e-mail where the app searches by it, and adopted by Create.
func testAdoptOutside(t *testing.T, f Features, app App) {
	c := app.Connector
	p := f.person(1)
	hand := create(t, c, outsider(p))
	if f.FindsByEmail {
		wantFound(t, c, p, hand.ID, "made outside Keycard, by e-mail")
	}
	a := create(t, c, p)
	if a.ID != hand.ID {
		t.Fatalf("Create over the hand-made account %s made %s; want it adopted", hand.ID, a.ID)
	}
	wantAccounts(t, c, hand.ID)
}

// A Create whose account exists already (a retry after the answer was
// lost, so Keycard never stored the id) adopts it.
func testCreateTwice(t *testing.T, f Features, app App) {
	c := app.Connector
	p := f.person(1)
	first := create(t, c, p)
	second, err := c.Create(t.Context(), p)
	if err != nil || second.ID != first.ID {
		t.Fatalf("second Create = %+v, %v; want account %s adopted", second, err, first.ID)
	}
	wantAccounts(t, c, first.ID)
}

// Creating someone whose deactivated account holds their identity (a
// re-hire whose stored id was lost) adopts that account, inactive, so the
// plan reactivates it; where the app hides it, Create fails Permanent
// rather than make a second account.
func testCreateOverInactive(t *testing.T, f Features, app App) {
	c := app.Connector
	p := f.person(1)
	a := create(t, c, p)
	mustOK(t, c.SetActive(t.Context(), a, false), "SetActive(false)")
	if !f.DeactivateRemoves {
		got := find(t, c, p)
		switch {
		case f.HidesInactive && got != nil:
			t.Fatalf("Find without stored id of a deactivated account = %+v; Features say the app hides it", got)
		case !f.HidesInactive && (f.FindsByEmployeeID || f.FindsByEmail) && (got == nil || got.ID != a.ID || got.Active):
			t.Fatalf("Find without stored id of deactivated %s = %+v; want it, inactive", a.ID, got)
		}
	}
	again, err := c.Create(t.Context(), p)
	switch {
	case f.DeactivateRemoves:
		if err != nil || !again.Active {
			t.Fatalf("Create after the account was removed = %+v, %v; want a new active account", again, err)
		}
		wantAccounts(t, c, again.ID)
	case f.HidesInactive:
		if !fault.IsPermanent(err) {
			t.Fatalf("Create over a hidden deactivated account = %+v, %v; want a Permanent error", again, err)
		}
		wantAccounts(t, c) // the inactive one is not listed either
	default:
		if err != nil || again.ID != a.ID {
			t.Fatalf("Create over deactivated %s = %+v, %v; want it adopted", a.ID, again, err)
		}
		if plan := connector.Plan(&again, connector.Want{Account: true}, p); !slices.Contains(plan, connector.Action{Op: connector.OpActivate}) {
			t.Fatalf("plan for the adopted account %v; want it reactivated", plan)
		}
	}
}

func testUpdate(t *testing.T, f Features, app App) {
	c, ctx := app.Connector, t.Context()
	p := f.person(1)
	a := create(t, c, p)
	moved := p
	moved.AccountID = a.ID
	moved.FamilyName, moved.DisplayName, moved.Title, moved.Department = "Renamed", "Given Renamed", "Lead", "Sales"
	if !f.FixedEmail {
		moved.Email = "renamed@example.com"
		moved.UserName = moved.Email
	}
	mustOK(t, c.Update(ctx, a, moved), "Update")
	mustOK(t, c.Update(ctx, a, moved), "Update again")
	got := find(t, c, moved)
	if got == nil || got.ID != a.ID {
		t.Fatalf("Find after Update = %+v; want account %s", got, a.ID)
	}
	if plan := connector.Plan(got, connector.Want{Account: true}, moved); len(plan) != 0 {
		t.Fatalf("Plan after Update = %v; want none", plan)
	}
	// Read against the old values, the account has changed, unless the
	// app keeps no attributes to change.
	if plan := connector.Plan(find(t, c, withID(p, a.ID)), connector.Want{Account: true}, p); !f.KeepsNoAttributes && !slices.Contains(plan, connector.Action{Op: connector.OpUpdate}) {
		t.Fatalf("Plan against the old attributes = %v; want an update (did Update change nothing?)", plan)
	}
	if f.FindsByEmail {
		newAddr := moved
		newAddr.AccountID, newAddr.EmployeeID = "", "unknown"
		wantFound(t, c, newAddr, a.ID, "by the new e-mail")
	}
	// The old address leads nowhere now: it may be someone else's later.
	if !f.FixedEmail {
		if got := find(t, c, connector.Person{EmployeeID: "e-other", Email: p.Email, UserName: p.UserName}); got != nil {
			t.Fatalf("Find by the old e-mail = %+v; want nil", got)
		}
	}
}

func testSetActive(t *testing.T, f Features, app App) {
	c, ctx := app.Connector, t.Context()
	p := f.person(1)
	a := create(t, c, p)
	p.AccountID = a.ID
	mustOK(t, c.SetActive(ctx, a, false), "SetActive(false)")
	mustOK(t, c.SetActive(ctx, a, false), "SetActive(false) again")
	got := find(t, c, p)
	if f.DeactivateRemoves {
		if got != nil {
			t.Fatalf("Find after SetActive(false) = %+v; Features say deactivation removes the account", got)
		}
		back := create(t, c, p)
		wantAccounts(t, c, back.ID)
		return
	}
	if got == nil || got.ID != a.ID || got.Active {
		t.Fatalf("Find after SetActive(false) = %+v; want account %s, inactive", got, a.ID)
	}
	mustOK(t, c.SetActive(ctx, a, true), "SetActive(true)")
	mustOK(t, c.SetActive(ctx, a, true), "SetActive(true) again")
	if got := find(t, c, p); got == nil || got.ID != a.ID || !got.Active {
		t.Fatalf("Find after SetActive(true) = %+v; want account %s, active", got, a.ID)
	}
	wantAccounts(t, c, a.ID)
}

func testMemberships(t *testing.T, f Features, app App) {
	c, ctx := app.Connector, t.Context()
	ada, bob := f.person(1), f.person(2)
	a, b := create(t, c, ada), create(t, c, bob)
	ada.AccountID, bob.AccountID = a.ID, b.ID
	for _, k := range f.Kinds {
		mustOK(t, c.AddMembership(ctx, a, k, "eng"), fmt.Sprintf("AddMembership(%s eng)", k))
		mustOK(t, c.AddMembership(ctx, a, k, "eng"), fmt.Sprintf("AddMembership(%s eng) again", k))
		mustOK(t, c.AddMembership(ctx, a, k, "all"), fmt.Sprintf("AddMembership(%s all)", k))
		mustOK(t, c.AddMembership(ctx, b, k, "eng"), fmt.Sprintf("AddMembership(%s eng) for another", k))
		wantMembers(t, c, ada, k, "all", "eng")
		mustOK(t, c.RemoveMembership(ctx, a, k, "eng"), fmt.Sprintf("RemoveMembership(%s eng)", k))
		mustOK(t, c.RemoveMembership(ctx, a, k, "eng"), fmt.Sprintf("RemoveMembership(%s eng) of a non-member", k))
		mustOK(t, c.RemoveMembership(ctx, a, k, "never-made"), fmt.Sprintf("RemoveMembership(%s never-made)", k))
		wantMembers(t, c, ada, k, "all")
		wantMembers(t, c, bob, k, "eng")
	}
}

func testUnsupportedKinds(t *testing.T, f Features, app App) {
	c := app.Connector
	a := create(t, c, f.person(1))
	for _, k := range connector.Kinds {
		if slices.Contains(f.Kinds, k) {
			continue
		}
		if err := c.AddMembership(t.Context(), a, k, "eng"); !fault.IsPermanent(err) {
			t.Errorf("AddMembership(%s) = %v; the app does not grant %s: want a Permanent error", k, err, k)
		}
	}
}

// A vendor's answer keeps its class through the connector: a 4xx is
// Permanent, a 429 or 5xx transient with the Retry-After it sent, and the
// step succeeds once the vendor does.
func testErrorClasses(t *testing.T, f Features, app App) {
	c, ctx := app.Connector, t.Context()
	a, off := create(t, c, f.person(1)), create(t, c, f.person(2))
	n := 10
	steps := map[string]func() error{
		"Create": func() error {
			n++
			p := f.person(n)
			p.Department = "" // a 400 with the enterprise extension is retried without it
			_, err := c.Create(ctx, p)
			return err
		},
		"SetActive": func() error { return c.SetActive(ctx, off, false) },
	}
	if !f.KeepsNoAttributes {
		steps["Update"] = func() error { return c.Update(ctx, a, withID(f.person(1), a.ID)) }
	}
	for _, k := range f.Kinds {
		steps["AddMembership "+string(k)] = func() error { return c.AddMembership(ctx, a, k, "eng") }
	}
	failures := []struct {
		name      string
		fail      Failure
		permanent bool
	}{
		{"400", Failure{Status: http.StatusBadRequest}, true},
		{"403", Failure{Status: http.StatusForbidden}, true},
		{"429 with Retry-After", Failure{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second}, false},
		{"503 with Retry-After", Failure{Status: http.StatusServiceUnavailable, RetryAfter: 3 * time.Second}, false},
		{"500", Failure{Status: http.StatusInternalServerError}, false},
	}
	for _, name := range slices.Sorted(maps.Keys(steps)) {
		step := steps[name]
		for _, fl := range failures {
			app.Fail(fl.fail)
			err := step()
			hint, hinted := fault.RetryAfterHint(err)
			switch {
			case err == nil:
				t.Errorf("%s after a vendor %s succeeded; want the error", name, fl.name)
			case fault.IsPermanent(err) != fl.permanent:
				t.Errorf("%s after a vendor %s = %v: permanent %v, want %v", name, fl.name, err, !fl.permanent, fl.permanent)
			case fault.IsPartial(err):
				t.Errorf("%s after a vendor %s = %v: partial; want a failure", name, fl.name, err)
			case hinted != (fl.fail.RetryAfter > 0) || hint != fl.fail.RetryAfter:
				t.Errorf("%s after a vendor %s = %v: retry hint %v (%v), want %v", name, fl.name, err, hint, hinted, fl.fail.RetryAfter)
			}
			if err := step(); err != nil {
				t.Errorf("%s once the vendor answers again: %v", name, err)
			}
		}
	}
}

// A plan applied twice (a redelivery after the first apply was not
// recorded) leaves the app as once, and the next plan is empty: for a
// hire, a leaver and a re-hire.
func testApplyTwice(t *testing.T, f Features, app App) {
	c, ctx := app.Connector, t.Context()
	p := f.person(1)
	want := connector.Want{Account: true, Memberships: map[connector.Kind][]string{}, Managed: map[connector.Kind][]string{}}
	for _, k := range f.Kinds {
		want.Memberships[k] = []string{"all", "eng"}
		want.Managed[k] = []string{"all", "eng", "sales"}
	}
	leave := connector.Want{Managed: want.Managed}
	var id string
	for _, step := range []struct {
		name string
		want connector.Want
	}{{"hire", want}, {"leave", leave}, {"re-hire", want}} {
		cur := find(t, c, p)
		plan := connector.Plan(cur, step.want, p)
		if len(plan) == 0 {
			t.Fatalf("%s: empty plan from %+v", step.name, cur)
		}
		for i := range 2 {
			got, _, err := connector.Apply(ctx, c, cur, p, plan, noWait)
			if err != nil {
				t.Fatalf("%s: Apply %v (time %d): %v", step.name, plan, i+1, err)
			}
			if got != nil && got.ID != "" {
				p.AccountID = got.ID // as the worker remembers it
			}
		}
		cur = find(t, c, p)
		if next := connector.Plan(cur, step.want, p); len(next) != 0 {
			t.Fatalf("%s: plan after applying %v twice = %v; want none", step.name, plan, next)
		}
		if step.want.Account {
			for _, k := range f.Kinds {
				if got := slices.Sorted(slices.Values(cur.Memberships[k])); !slices.Equal(got, want.Memberships[k]) {
					t.Fatalf("%s: %s memberships %v; want %v once each", step.name, k, got, want.Memberships[k])
				}
			}
			if id != "" && id != cur.ID && !f.DeactivateRemoves {
				t.Fatalf("%s: account %s; want %s reactivated", step.name, cur.ID, id)
			}
			id = cur.ID
			wantAccounts(t, c, id)
		}
	}
}

func testListCount(t *testing.T, f Features, app App) {
	c := app.Connector
	var ids []string
	for n := range 3 {
		ids = append(ids, create(t, c, f.person(n)).ID)
	}
	wantAccounts(t, c, ids...)
	counter, ok := raw(c).(connector.Counter)
	if ok != f.Counts {
		t.Fatalf("connector implements Counter: %v; Features say %v", ok, f.Counts)
	}
	if ok {
		if n, err := counter.Count(t.Context()); err != nil || n != len(ids) {
			t.Fatalf("Count = %d, %v; want %d", n, err, len(ids))
		}
	}
}

// testInvitations checks an app that invites (Features.Invites): the
// invitation is an active account, found by its stored id and adopted by
// a retried Create (one invitation, not two); roles wait, as a Partial
// step, until the person joins; once they have, the account is theirs,
// found by their login; and a leaver's unused invitation is revoked.
func testInvitations(t *testing.T, f Features, app App) {
	if !f.Invites {
		return
	}
	c, ctx := app.Connector, t.Context()
	p := f.person(1)
	inv := create(t, c, p)
	if inv.ID == "" || !inv.Active {
		t.Fatalf("Create = %+v; want an active invitation with an id", inv)
	}
	wantFound(t, c, withID(p, inv.ID), inv.ID, "invitation by stored id")
	if again := create(t, c, withID(p, inv.ID)); again.ID != inv.ID {
		t.Fatalf("Create with the invitation's id stored = %s; want %s adopted, not a second invitation", again.ID, inv.ID)
	}
	for _, k := range f.Kinds {
		err := c.AddMembership(ctx, inv, k, "eng")
		if !fault.IsPartial(err) || fault.IsPermanent(err) {
			t.Fatalf("AddMembership(%s) before joining = %v; want a Partial error, not Permanent", k, err)
		}
		mustOK(t, c.RemoveMembership(ctx, inv, k, "eng"), "RemoveMembership before joining")
	}
	mustOK(t, app.Join(p, inv), "Join")
	joined := find(t, c, withID(p, inv.ID))
	if joined == nil || joined.ID != f.login(1) || !joined.Active {
		t.Fatalf("Find after joining = %+v; want the account of login %s", joined, f.login(1))
	}
	for _, k := range f.Kinds {
		mustOK(t, c.AddMembership(ctx, *joined, k, "eng"), fmt.Sprintf("AddMembership(%s) after joining", k))
		wantMembers(t, c, p, k, "eng")
	}

	q := f.person(2)
	left := create(t, c, q)
	mustOK(t, c.SetActive(ctx, left, false), "SetActive(false) of an unused invitation")
	if got := find(t, c, withID(q, left.ID)); got != nil {
		t.Fatalf("Find after the invitation was revoked = %+v; want nil", got)
	}
	if err := app.Join(q, left); err == nil {
		t.Fatal("Join with a revoked invitation succeeded")
	}
}

func noWait(context.Context) error { return nil }

func withID(p connector.Person, id string) connector.Person {
	p.AccountID = id
	return p
}

func create(t *testing.T, c connector.Connector, p connector.Person) connector.Account {
	t.Helper()
	a, err := c.Create(t.Context(), p)
	if err != nil {
		t.Fatalf("Create(%s): %v", p.Email, err)
	}
	return a
}

func find(t *testing.T, c connector.Connector, p connector.Person) *connector.Account {
	t.Helper()
	a, err := c.Find(t.Context(), p)
	if err != nil {
		t.Fatalf("Find(%s): %v", p.Email, err)
	}
	return a
}

func wantFound(t *testing.T, c connector.Connector, p connector.Person, id, how string) {
	t.Helper()
	if got := find(t, c, p); got == nil || got.ID != id {
		t.Fatalf("Find %s = %+v; want account %s", how, got, id)
	}
}

func wantMembers(t *testing.T, c connector.Connector, p connector.Person, k connector.Kind, names ...string) {
	t.Helper()
	a := find(t, c, p)
	if a == nil {
		t.Fatalf("Find(%s): no account", p.Email)
	}
	if got := slices.Sorted(slices.Values(a.Memberships[k])); !slices.Equal(got, names) {
		t.Fatalf("%s memberships of %s = %v; want %v, each once", k, p.Email, got, names)
	}
}

// wantAccounts checks that List reports exactly the accounts ids (the
// active ones, where the app hides the others): no twin was made.
func wantAccounts(t *testing.T, c connector.Connector, ids ...string) {
	t.Helper()
	var got []string
	err := c.List(t.Context(), func(a connector.Account) error {
		got = append(got, a.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v; want %v", got, want)
	}
}

func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
