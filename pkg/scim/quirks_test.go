package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/scim/scimtest"
)

// A server that applies a PATCH's query parameters to the resource it
// patches (SCIMMY does: scimtest's PatchFromProjection) must lose no
// member, with any profile: 20 joiners added to two groups at once all end
// up in both, and removing some leaves the others.
func TestGroupMembersSurvivePatchProjection(t *testing.T) {
	t.Parallel()
	for _, prof := range Profiles() {
		if !prof.Groups {
			continue
		}
		t.Run(prof.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := scimtest.New(scimtest.Quirks{PatchFromProjection: true})
			defer srv.Close()
			prof.RateLimit.Reads = false // no pacer here
			c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: prof, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			k := NewConnector(c)
			accounts := make([]connector.Account, 20)
			var wg sync.WaitGroup
			errs := make(chan error, 2*len(accounts))
			for i := range accounts {
				mail := fmt.Sprintf("joiner%02d@example.com", i)
				a, err := k.Create(ctx, connector.Person{EmployeeID: fmt.Sprint(1000 + i), UserName: mail, Email: mail, GivenName: "J", FamilyName: fmt.Sprint(i)})
				if err != nil {
					t.Fatal(err)
				}
				accounts[i] = a
				for _, g := range []string{"eng", "everyone"} {
					wg.Go(func() { errs <- k.AddMembership(ctx, a, connector.Group, g) })
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("add: %v", err)
				}
			}
			members := func() map[string][]string {
				out := map[string][]string{}
				for _, g := range srv.Groups() {
					out[g.DisplayName] = slices.Sorted(slices.Values(g.Members))
				}
				return out
			}
			var all []string
			for _, a := range accounts {
				all = append(all, a.ID)
			}
			slices.Sort(all)
			for g, got := range members() {
				if !slices.Equal(got, all) {
					t.Fatalf("%s has %d members, want all %d: %v", g, len(got), len(all), got)
				}
			}
			for _, a := range accounts[:5] {
				if err := k.RemoveMembership(ctx, a, connector.Group, "eng"); err != nil {
					t.Fatal(err)
				}
			}
			got := members()
			if len(got["eng"]) != 15 || len(got["everyone"]) != 20 {
				t.Fatalf("after removing 5 from eng: eng %d, everyone %d members", len(got["eng"]), len(got["everyone"]))
			}
		})
	}
}

// Against a server without the enterprise extension, and with no
// discovery to narrow the profile, an attribute the server refuses never
// fails a person's access: the create is sent again with the core
// attributes, an update again without the extension, and each refusal is
// a fault.Partial error naming it. Other failures stay failures.
func TestRefusedAttributesArePartial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := scimtest.New(scimtest.Quirks{NoEnterpriseUser: true})
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Generic(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	k := NewConnector(c)
	p := connector.Person{EmployeeID: "7", UserName: "ada@example.com", Email: "ada@example.com", GivenName: "Ada", FamilyName: "L",
		Title: "Engineer", Department: "Engineering"}
	acc, err := k.Create(ctx, p)
	if !fault.IsPartial(err) || !strings.Contains(err.Error(), "created without the enterprise extension") || acc.ID == "" {
		t.Fatalf("create = %+v, %v; want the account and a partial error", acc, err)
	}
	if u, ok := srv.User(acc.ID); !ok || !u.Active {
		t.Fatalf("user %+v not created active", u)
	}
	title := func() any { u, _ := srv.User(acc.ID); return u.Attributes["title"] }

	p.Title, p.Department = "Lead", "Sales"
	err = k.Update(ctx, acc, p)
	if !fault.IsPartial(err) || !strings.Contains(err.Error(), "invalidPath") || title() != "Lead" {
		t.Fatalf("update = %v, title %v; want the title set and the department reported", err, title())
	}
	p.Department = "Support" // the extension alone
	if err := k.Update(ctx, acc, p); !fault.IsPartial(err) {
		t.Fatalf("department-only update = %v, want partial", err)
	}
	if err := k.AddMembership(ctx, acc, connector.Group, "sales"); err != nil {
		t.Fatalf("the move's membership: %v", err)
	}

	p.Title = "Head"
	srv.FailNext(1, http.StatusUnauthorized, "token revoked")
	if err := k.Update(ctx, acc, p); err == nil || fault.IsPartial(err) {
		t.Fatalf("update with a revoked token = %v, want a plain failure", err) // a read, refused: no attribute at fault
	}
	q := connector.Person{EmployeeID: "8", UserName: "bob@example.com", Email: "bob@example.com"}
	srv.FailNext(1, http.StatusBadRequest, "invalid_email")
	if _, err := k.Create(ctx, q); err == nil || fault.IsPartial(err) {
		t.Fatalf("create refused without an extension = %v, want the failure", err)
	}
}
