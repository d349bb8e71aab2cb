package google_test

import (
	"context"
	"fmt"

	"keycard/pkg/connector"
	"keycard/pkg/google"
	"keycard/pkg/google/googletest"
)

// A hire against the fake tenant: the service account's key authenticates
// by the JWT flow, the user lands in the org unit with a licence and the
// birthright group.
func Example() {
	srv := googletest.New()
	defer srv.Close()
	srv.AddGroup("everyone@example.com", "Everyone")
	srv.AddOrgUnit("/Engineering")

	ctx := context.Background()
	c, err := google.New(ctx, google.Config{
		Domain: srv.Domain(), AdminEmail: srv.AdminEmail(), Key: srv.Key(), BaseURL: srv.URL(), HTTPClient: srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	p := connector.Person{
		EmployeeID: "2001", Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace",
		OrgUnit: "/Engineering", License: "1010020027",
	}
	want := connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Group: {"everyone"}}}
	plan := connector.Plan(nil, want, p)
	a, _, err := connector.Apply(ctx, c, nil, p, plan, func(context.Context) error { return nil })
	if err != nil {
		panic(err)
	}
	u, _ := srv.User(a.ID)
	fmt.Println(plan)
	fmt.Println(u.PrimaryEmail, u.OrgUnitPath, srv.Licence("Google-Apps", a.ID), srv.MemberOf(a.ID))
	// Output:
	// [create add group everyone]
	// ada@example.com /Engineering 1010020027 [everyone@example.com]
}
