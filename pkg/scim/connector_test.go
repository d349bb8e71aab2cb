package scim

import (
	"context"
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
