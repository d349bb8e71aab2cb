package scim

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"keycard/pkg/connector"
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
