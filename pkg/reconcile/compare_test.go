package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
)

// engineering is a small policy: every active person gets an account in
// group all; engineers also get eng. Groups all and eng are managed.
func engineering(e event.Employee) (connector.Want, []string, []string) {
	managed := map[connector.Kind][]string{connector.Group: {"all", "eng"}}
	if e.StateOn(time.Now().UTC().Format(time.DateOnly)) != event.Active {
		return connector.Want{Managed: managed}, nil, nil
	}
	groups := []string{"all"}
	if e.Department == "Engineering" {
		groups = append(groups, "eng")
	}
	return connector.Want{Account: true, Managed: managed, Memberships: map[connector.Kind][]string{connector.Group: groups}}, []string{"birthright"}, nil
}

func snapshot(id, dept, status string) normalize.Snapshot {
	return normalize.Snapshot{Sequence: 3, Employee: event.Employee{ID: id, WorkEmail: id + "@example.com",
		FirstName: id, LastName: "Test", Department: dept, Status: status, HireDate: "2020-01-01"}}
}

// account creates an account for id in app with groups, active or not.
func account(t *testing.T, app *connector.Memory, id string, external bool, active bool, groups ...string) connector.Account {
	t.Helper()
	ctx := context.Background()
	p := connector.Person{Email: id + "@example.com", UserName: id + "@example.com"}
	if external {
		p.EmployeeID = id
	}
	a, err := app.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if err := app.AddMembership(ctx, a, connector.Group, g); err != nil {
			t.Fatal(err)
		}
	}
	if !active {
		if err := app.SetActive(ctx, a, false); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// Every class is found, once, against the person it belongs to; a person
// in line with the policy and memberships the policy never mentions are
// not drift.
func TestCompareClassifiesEveryKindOfDrift(t *testing.T) {
	app := connector.NewMemory()
	stored := map[string]string{}
	people := []normalize.Snapshot{
		snapshot("fine", "Engineering", event.StatusActive),
		snapshot("leaver", "Sales", event.StatusInactive),
		snapshot("mover", "Sales", event.StatusActive),        // still in eng, lacks nothing else
		snapshot("joiner", "Engineering", event.StatusActive), // no account at all
		snapshot("disabled", "Sales", event.StatusActive),     // account deactivated by hand
		snapshot("handmade", "Sales", event.StatusActive),     // account made outside Keycard
		snapshot("lacking", "Engineering", event.StatusActive),
	}
	keep := func(id string, a connector.Account) { stored[event.EmployeeKey(id)] = a.ID }
	keep("fine", account(t, app, "fine", true, true, "all", "eng", "hand-added"))
	keep("leaver", account(t, app, "leaver", true, true, "all")) // re-activated by hand
	keep("mover", account(t, app, "mover", true, true, "all", "eng"))
	keep("disabled", account(t, app, "disabled", true, false))
	keep("lacking", account(t, app, "lacking", true, true, "all"))
	account(t, app, "handmade", false, true, "all")
	account(t, app, "stranger", false, true) // nobody in HR

	rep, err := Compare(context.Background(), Input{App: "mem", People: people, Accounts: stored, Evaluate: engineering, List: app.List})
	if err != nil {
		t.Fatal(err)
	}
	got := map[Class][]string{}
	for _, it := range rep.Items {
		got[it.Class] = append(got[it.Class], it.EmployeeID+":"+it.Email+":"+joinSteps(it.Steps))
	}
	want := map[Class][]string{
		LeaverActive:      {"leaver:leaver@example.com:remove group all,deactivate"},
		Orphan:            {":stranger@example.com:deactivate"},
		Missing:           {"disabled:disabled@example.com:activate,add group all", "joiner:joiner@example.com:create"},
		MembershipMissing: {"lacking:lacking@example.com:add group eng"},
		MembershipExtra:   {"mover:mover@example.com:remove group eng"},
		Unmanaged:         {"handmade:handmade@example.com:"},
	}
	for _, c := range Classes {
		slices.Sort(got[c])
		if !slices.Equal(got[c], want[c]) {
			t.Errorf("%s: got %q, want %q", c, got[c], want[c])
		}
		if rep.Counts[c] != len(want[c]) {
			t.Errorf("count %s = %d, want %d", c, rep.Counts[c], len(want[c]))
		}
	}
	if rep.Accounts != 7 || rep.Active != 6 || rep.People != len(people) {
		t.Errorf("accounts %d active %d people %d, want 7, 6, %d", rep.Accounts, rep.Active, rep.People, len(people))
	}
	if rep.Drift() != 6 {
		t.Errorf("drift %d, want 6 (unmanaged is not drift)", rep.Drift())
	}
	if !slices.IsSortedFunc(rep.Items, func(a, b Item) int { return slices.Index(Classes, a.Class) - slices.Index(Classes, b.Class) }) {
		t.Errorf("items not worst first: %v", rep.Items)
	}
}

// A managed account of a current employee whom the policy grants nothing
// is not_granted; a fix would deactivate it.
func TestCompareNotGranted(t *testing.T) {
	app := connector.NewMemory()
	a := account(t, app, "intern", true, true, "all")
	none := func(event.Employee) (connector.Want, []string, []string) {
		return connector.Want{Managed: map[connector.Kind][]string{connector.Group: {"all"}}}, nil, nil
	}
	rep, err := Compare(context.Background(), Input{App: "mem", People: []normalize.Snapshot{snapshot("intern", "Sales", event.StatusActive)},
		Accounts: map[string]string{event.EmployeeKey("intern"): a.ID}, Evaluate: none, List: app.List})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[NotGranted] != 1 || len(rep.Items) != 1 || joinSteps(rep.Items[0].Steps) != "remove group all,deactivate" {
		t.Fatalf("got %+v", rep)
	}
}

func joinSteps(s []string) string { return strings.Join(s, ",") }
