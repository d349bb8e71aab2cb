package connector

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"keycard/pkg/fault"
)

func ada() Person {
	return Person{EmployeeID: "1", Email: "ada@example.com", UserName: "ada", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace", Title: "Engineer", Department: "Engineering"}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	p := ada()
	current := func(active bool, groups ...string) *Account {
		return &Account{ID: "9", ExternalID: "1", Active: active, Attributes: p.Attributes(), Memberships: map[Kind][]string{Group: groups}}
	}
	managed := map[Kind][]string{Group: {"everyone", "eng", "sales"}}
	want := Want{Account: true, Memberships: map[Kind][]string{Group: {"everyone", "eng"}, Team: {"platform"}}, Managed: managed}
	tests := []struct {
		name string
		cur  *Account
		want Want
		plan []Action
	}{
		{"hire", nil, want, []Action{{Op: OpCreate}, {OpAdd, Group, "eng"}, {OpAdd, Group, "everyone"}, {OpAdd, Team, "platform"}}},
		{"nothing to do", &Account{ID: "9", Active: true, Attributes: p.Attributes(), Memberships: map[Kind][]string{Group: {"eng", "everyone"}, Team: {"platform"}}}, want, nil},
		{"move swaps a managed group, keeps a hand-added one", current(true, "everyone", "sales", "book-club"), want,
			[]Action{{OpAdd, Group, "eng"}, {OpRemove, Group, "sales"}, {OpAdd, Team, "platform"}}},
		{"rehire reactivates the same account", current(false), want,
			[]Action{{Op: OpActivate}, {OpAdd, Group, "eng"}, {OpAdd, Group, "everyone"}, {OpAdd, Team, "platform"}}},
		{"attribute drift", &Account{ID: "9", Active: true, Attributes: map[string]string{"title": "Intern"}, Memberships: map[Kind][]string{Group: {"eng", "everyone"}, Team: {"platform"}}}, want,
			[]Action{{Op: OpUpdate}}},
		{"leaver loses every membership, then is deactivated", current(true, "everyone", "book-club"), Want{},
			[]Action{{OpRemove, Group, "book-club"}, {OpRemove, Group, "everyone"}, {Op: OpDeactivate}}},
		{"leaver already deactivated", current(false, "everyone"), Want{}, nil},
		{"leaver with no account", nil, Want{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Plan(tt.cur, tt.want, p); !reflect.DeepEqual(got, tt.plan) {
				t.Fatalf("Plan =\n%v\nwant\n%v", got, tt.plan)
			}
		})
	}
}

// Applying a plan to the memory app converges: the next plan is empty.
func TestApplyConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemory()
	p := ada()
	want := Want{Account: true, Memberships: map[Kind][]string{Group: {"everyone", "eng"}}, Managed: map[Kind][]string{Group: {"everyone", "eng"}}}
	noWait := func(context.Context) error { return nil }
	for i, w := range []Want{want, {}, want} { // hire, leave, rehire
		cur, _ := m.Find(ctx, p)
		if _, _, err := Apply(ctx, m, cur, p, Plan(cur, w, p), noWait); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		cur, _ = m.Find(ctx, p)
		if plan := Plan(cur, w, p); len(plan) != 0 {
			t.Fatalf("step %d: not converged, next plan %v", i, plan)
		}
	}
	if n := len(m.Accounts()); n != 1 {
		t.Fatalf("%d accounts after hire, leave, rehire; want the same one", n)
	}
	// A failing write stops the plan and keeps its class.
	m.FailNext(fault.RetryAfter(2*time.Second, errors.New("429")))
	other := Person{EmployeeID: "2", Email: "b@example.com"}
	_, done, err := Apply(ctx, m, nil, other, Plan(nil, want, other), noWait)
	if d, ok := fault.RetryAfterHint(err); !ok || d != 2*time.Second || done != 0 {
		t.Fatalf("Apply = %d steps, %v; want 0 steps and a retry-after of 2s", done, err)
	}
	if fault.IsPermanent(err) || !fault.IsPermanent(fault.Permanent(errors.New("400"))) {
		t.Fatal("error classes are wrong")
	}
}

// A partial step (an attribute the app refused) does not stop the plan:
// the memberships after it are still applied and the refusal is returned
// as a Partial error naming the step. A failure after it still stops it.
func TestApplyGoesOnAfterPartial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemory()
	p := ada()
	noWait := func(context.Context) error { return nil }
	if _, _, err := Apply(ctx, m, nil, p, Plan(nil, Want{Account: true}, p), noWait); err != nil {
		t.Fatal(err)
	}
	moved := p
	moved.Department = "Sales"
	want := Want{Account: true, Memberships: map[Kind][]string{Group: {"sales", "everyone"}}}
	cur, _ := m.Find(ctx, moved)
	plan := Plan(cur, want, moved)
	if len(plan) != 3 || plan[0].Op != OpUpdate {
		t.Fatalf("plan %v, want an update and two adds", plan)
	}
	refused := fault.Permanent(errors.New("400 invalidPath: department"))
	m.FailNext(fault.Partial(refused))
	_, done, err := Apply(ctx, m, cur, moved, plan, noWait)
	if done != len(plan) || !fault.IsPartial(err) || !errors.Is(err, refused) || !strings.Contains(err.Error(), "update: 400 invalidPath") {
		t.Fatalf("Apply = %d steps, %v; want all %d and the update reported as partial", done, err, len(plan))
	}
	cur, _ = m.Find(ctx, moved)
	if got := cur.Memberships[Group]; !slices.Equal(slices.Sorted(slices.Values(got)), []string{"everyone", "sales"}) {
		t.Fatalf("memberships %v after a partial update", got)
	}

	m.FailNext(fault.Partial(refused), errors.New("503"))
	other := Person{EmployeeID: "2", Email: "b@example.com", Department: "Eng"}
	_, done, err = Apply(ctx, m, nil, other, []Action{{Op: OpCreate}, {Op: OpAdd, Kind: Group, Name: "eng"}}, noWait)
	if done != 1 || fault.IsPartial(err) || err == nil {
		t.Fatalf("Apply = %d steps, %v; want it stopped by the failure after the partial step", done, err)
	}
	if fault.IsPartial(fault.Partial(nil)) || fault.Partial(nil) != nil {
		t.Fatal("fault.Partial(nil) must be nil")
	}
}
