package scim

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"keycard/pkg/connector"
	"keycard/pkg/scim/scimtest"
)

// The whole lifecycle through Plan and Apply against the SCIM test server
// with each vendor's quirks: hire, move, leave, re-hire — one account,
// reactivated, never twinned; a leaver keeps no group.
func TestConnectorLifecycle(t *testing.T) {
	t.Parallel()
	vendors := []struct {
		profile Profile
		quirks  scimtest.Quirks
	}{
		{Slack(), scimtest.Slack()},
		{Atlassian(), scimtest.Atlassian()},
		{GitHubEMU(), scimtest.GitHubEMU()},
		{Figma(), scimtest.Figma()},
		{Miro(), scimtest.Miro()},
		{Asana(), scimtest.Asana()},
		{Notion(), scimtest.Notion()},
		{GitLab(), scimtest.GitLab()}, // Users only
	}
	for _, v := range vendors {
		t.Run(v.profile.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := scimtest.New(v.quirks, scimtest.WithRateScale(1000))
			defer srv.Close()
			c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: v.profile, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			k := NewConnector(c)
			p := connector.Person{EmployeeID: "1001", Email: "grace.hopper@example.com", UserName: "grace.hopper@example.com",
				GivenName: "Grace", FamilyName: "Hopper", DisplayName: "Grace Hopper", Title: "Engineer", Department: "Engineering"}
			managed := map[connector.Kind][]string{connector.Group: {"everyone", "eng", "sales"}}
			want := func(groups ...string) connector.Want {
				if !v.profile.Groups {
					groups = nil
				}
				return connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Group: groups}, Managed: managed}
			}
			converge := func(step string, w connector.Want) *connector.Account {
				t.Helper()
				cur, err := k.Find(ctx, p)
				if err != nil {
					t.Fatalf("%s: find: %v", step, err)
				}
				plan := connector.Plan(cur, w, p)
				cur, _, err = connector.Apply(ctx, k, cur, p, plan, func(context.Context) error { return nil })
				if err != nil {
					t.Fatalf("%s: apply %v: %v", step, plan, err)
				}
				if cur != nil && cur.ID != "" {
					p.AccountID = cur.ID // as the worker remembers it
				}
				return cur
			}
			members := func() []string {
				var out []string
				for _, g := range srv.Groups() {
					for _, m := range g.Members {
						if m == p.AccountID {
							out = append(out, g.DisplayName)
						}
					}
				}
				slices.Sort(out)
				return out
			}
			converge("hire", want("everyone", "eng"))
			if v.profile.Groups {
				if got := members(); !slices.Equal(got, []string{"eng", "everyone"}) {
					t.Fatalf("after hire: groups %v", got)
				}
			}
			converge("move", want("everyone", "sales"))
			if v.profile.Groups {
				if got := members(); !slices.Equal(got, []string{"everyone", "sales"}) {
					t.Fatalf("after move: groups %v", got)
				}
			}
			converge("leave", connector.Want{Managed: managed})
			u, ok := srv.User(p.AccountID)
			switch {
			case v.profile.Deactivate == DeactivateDelete:
				// Notion: DELETE is the only way out; the member leaves the
				// workspace and a re-hire creates them again.
				if ok {
					t.Fatalf("after leave: user %+v still in the workspace", u)
				}
			case !ok || u.Active:
				t.Fatalf("after leave: user %+v (found %v), want it deactivated", u, ok)
			}
			if got := members(); len(got) != 0 {
				t.Fatalf("after leave: still in %v", got)
			}
			converge("re-hire", want("everyone", "eng"))
			if n := len(srv.Users()); n != 1 {
				t.Fatalf("%d users after the re-hire, want the same one", n)
			}
			if u, _ := srv.User(p.AccountID); !u.Active {
				t.Fatal("re-hire did not reactivate the account")
			}
			// Converged: nothing more to do.
			cur, _ := k.Find(ctx, p)
			if plan := connector.Plan(cur, want("everyone", "eng"), p); len(plan) != 0 {
				t.Fatalf("not converged after re-hire: %v", plan)
			}
		})
	}
}

// Managers are linked by the vendor's id for the manager's account: set
// when Keycard knows that account, left alone while it does not, cleared
// when HR has no manager.
func TestConnectorManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := scimtest.New()
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Generic(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	k := NewConnector(c)
	if !connector.LinksManagers(k) || !connector.LinksManagers(connector.NewDryRun(k)) {
		t.Fatal("the generic profile takes managers: the connector (and its dry run) must say it links them")
	}
	if slack, _ := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Slack()}); connector.LinksManagers(NewConnector(slack)) {
		t.Fatal("Slack documents no manager attribute: its connector must not ask for managers")
	}
	converge := func(p *connector.Person) []connector.Action {
		t.Helper()
		cur, err := k.Find(ctx, *p)
		if err != nil {
			t.Fatal(err)
		}
		plan := connector.Plan(cur, connector.Want{Account: true}, *p)
		cur, _, err = connector.Apply(ctx, k, cur, *p, plan, func(context.Context) error { return nil })
		if err != nil {
			t.Fatalf("apply %v: %v", plan, err)
		}
		p.AccountID = cur.ID
		return plan
	}
	linked := func(id string) any {
		u, _ := srv.User(id)
		ext, _ := u.Attributes[EnterpriseUserSchema].(map[string]any)
		m, _ := ext["manager"].(map[string]any)
		return m["value"]
	}
	boss := connector.Person{EmployeeID: "1", UserName: "ada@example.com", Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace"}
	converge(&boss)
	p := connector.Person{EmployeeID: "2", UserName: "bob@example.com", Email: "bob@example.com", GivenName: "Bob", FamilyName: "Kahn", ManagerID: "1"}
	converge(&p)
	if got := linked(p.AccountID); got != nil {
		t.Fatalf("manager %v before Keycard knew the manager's account", got)
	}
	p.ManagerAccountID = boss.AccountID
	if plan := converge(&p); len(plan) != 1 || plan[0].Op != connector.OpUpdate {
		t.Fatalf("plan %v, want one update", plan)
	}
	if got := linked(p.AccountID); got != boss.AccountID {
		t.Fatalf("manager %v, want %s", got, boss.AccountID)
	}
	if plan := converge(&p); len(plan) != 0 {
		t.Fatalf("not converged: %v", plan)
	}
	// A new manager without an account here yet: the old link stays.
	p.ManagerID, p.ManagerAccountID = "3", ""
	if plan := converge(&p); len(plan) != 0 {
		t.Fatalf("plan %v with an unknown manager, want none", plan)
	}
	if got := linked(p.AccountID); got != boss.AccountID {
		t.Fatalf("manager %v, want %s kept", got, boss.AccountID)
	}
	// An update for another reason must not clear it either.
	p.Title = "Lead"
	converge(&p)
	if got := linked(p.AccountID); got != boss.AccountID {
		t.Fatalf("manager %v after a title change, want %s kept", got, boss.AccountID)
	}
	p.ManagerID = ""
	converge(&p)
	if got := linked(p.AccountID); got != nil {
		t.Fatalf("manager %v, want none when HR has none", got)
	}
}

// A group deleted at the vendor after the connector learnt its id is made
// again on the next grant; a removal from it is then a no-op.
func TestConnectorGroupDeletedAtVendor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := scimtest.New()
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Generic(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	k := NewConnector(c)
	create := func(id string) connector.Account {
		t.Helper()
		acc, err := k.Create(ctx, connector.Person{EmployeeID: id, UserName: id + "@example.com", Email: id + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	ada, bob := create("ada"), create("bob")
	if err := k.AddMembership(ctx, ada, connector.Group, "eng"); err != nil {
		t.Fatal(err)
	}
	old := srv.Groups()[0].ID
	req, _ := http.NewRequest(http.MethodDelete, srv.URL()+"/Groups/"+old, nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete group: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := k.AddMembership(ctx, bob, connector.Group, "eng"); err != nil {
		t.Fatalf("grant after the group was deleted: %v", err)
	}
	groups := srv.Groups()
	if len(groups) != 1 || groups[0].ID == old || !slices.Equal(groups[0].Members, []string{bob.ID}) {
		t.Fatalf("groups %+v, want eng made again with bob", groups)
	}
	if err := k.RemoveMembership(ctx, ada, connector.Group, "eng"); err != nil {
		t.Fatalf("remove: %v", err)
	}
}
