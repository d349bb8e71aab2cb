package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/event"
	"keycard/pkg/pipedrive/pipedrivetest"
)

// The whole pipeline for a Pipedrive company: signed webhook → ingester →
// normalizer (fake BambooHR) → worker → the fake company. A hire is added
// with the permission set its licence names, the visibility role its
// org_unit names, and its teams; a move swaps teams and role through a
// storm of 429s and a 502; a termination takes the teams away and
// deactivates the user, who stays on a billed seat, and a duplicate
// changes nothing; a re-hire switches the same user back on; a permanent
// 400 goes to the dead-letter stream.
func TestPipedriveLifecycleThroughPipeline(t *testing.T) {
	const email = "katherine@example.com"
	fake := bamboohrtest.New()
	defer fake.Close()
	fake.Put(bamboohrtest.Employee{ID: "3001", FirstName: "Katherine", LastName: "Johnson", WorkEmail: email,
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Sales", JobTitle: "Account Executive", HireDate: "2024-03-01"})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h") // only webhooks drive this test
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")

	srv := pipedrivetest.New(pipedrivetest.WithRateScale(1000))
	defer srv.Close()
	srv.AddTeam("everyone", "closers", "engineering")
	srv.AddRole("Sales EU")
	srv.AddRole("Product")
	srv.AddPermissionSet(pipedrivetest.AppSales, "Sales manager")
	t.Setenv("PIPEDRIVE_API_TOKEN", srv.Token())
	config := fmt.Sprintf(`apps:
  - {name: pipedrive, type: pipedrive, base_url: %q, permission_set: Regular user, token_env: PIPEDRIVE_API_TOKEN, rate_limit: {writes_per_minute: 60000, burst: 100}}
policy:
  birthright:
    pipedrive: {teams: [everyone]}
  rules:
    - {name: sales, when: 'employee.department == "Sales"', grant: {pipedrive: {teams: [closers], license: Sales manager, org_unit: /Sales EU}}}
    - {name: engineering, when: 'employee.department == "Engineering"', grant: {pipedrive: {teams: [engineering], org_unit: /Product}}}
`, srv.URL())
	in := startWithConfig(t, config)
	defer in.stop(t)

	// state is Katherine's user: active flag, permission set, role, teams,
	// and how many users the company has.
	state := func() string {
		n := len(srv.Users())
		u, ok := srv.UserByEmail(email)
		if !ok {
			return fmt.Sprintf("none, %d users", n)
		}
		return fmt.Sprintf("active %v, %s, %s, %v, %d users", u.Active, u.PermissionSet, u.Role, u.Teams, n)
	}
	expect := func(step, want string, within time.Duration) {
		t.Helper()
		expectState(t, step, want, within, state)
	}
	routes := func() map[string]int { return srv.Requests().ByRoute }
	const (
		addUser = "POST /users"
		putUser = "PUT /users/{id}"
	)

	in.send(t, "employee.created", "3001")
	in.send(t, "employee.updated", "3001") // BambooHR's create+update pair: one hire
	expect("hire", "active true, Sales manager, Sales EU, [closers everyone], 2 users", 20*time.Second)
	if n := routes()[addUser]; n != 1 {
		t.Fatalf("the hire added %d users; want 1", n)
	}
	u, _ := srv.UserByEmail(email)

	// A storm: the move's first deliveries meet two burst-limit 429s and a
	// 502, each with the wait Pipedrive would ask for.
	srv.FailNextOn("", 2, http.StatusTooManyRequests, time.Second, "")
	srv.FailNextOn("", 1, http.StatusBadGateway, 0, "")
	fake.Update("3001", func(e *bamboohrtest.Employee) { e.Department = "Engineering" })
	in.send(t, "employee.updated", "3001")
	// Engineering names no licence: the permission set stays as it was.
	expect("move through the storm", "active true, Sales manager, Product, [engineering everyone], 2 users", 40*time.Second)
	if st := srv.Requests(); st.RateLimited < 2 || st.ByStatus[http.StatusBadGateway] != 1 {
		t.Fatalf("the storm was not served: %+v", st)
	}

	fake.Update("3001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "3001")
	in.send(t, "employee.updated", "3001") // a duplicate
	expect("terminate: deactivated, still in the company", "active false, Sales manager, Product, [], 2 users", 20*time.Second)
	time.Sleep(500 * time.Millisecond) // let the duplicate be handled
	if n := routes()[putUser]; n != 1 {
		t.Fatalf("%d active_flag changes; want 1 (the duplicate finds the user inactive)", n)
	}
	if got, _ := srv.User(u.ID); got.Active {
		t.Fatal("the leaver is active")
	}

	fake.Update("3001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate, e.HireDate = "Active", "", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "3001")
	expect("re-hire: the same user back", "active true, Sales manager, Product, [engineering everyone], 2 users", 20*time.Second)
	if back, _ := srv.UserByEmail(email); back.ID != u.ID || routes()[addUser] != 1 || routes()[putUser] != 2 {
		t.Fatalf("re-hire: user %d (was %d), %d added, %d active_flag changes; want the same user switched back on", back.ID, u.ID, routes()[addUser], routes()[putUser])
	}

	// Pipedrive refuses a hire with a 400: permanent, dead-lettered.
	srv.FailNextOn(addUser, 1, http.StatusBadRequest, 0, "Email domain is not allowed for this company")
	fake.Put(bamboohrtest.Employee{ID: "3002", FirstName: "Dorothy", LastName: "Vaughan", WorkEmail: "dorothy@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	in.send(t, "employee.created", "3002")
	reason := deadLetter(t, in.natsURL, "dlq.pipedrive.hired."+event.EmployeeKey("3002"))
	if !strings.Contains(reason, "400") || !strings.Contains(reason, "Email domain is not allowed") || strings.Contains(reason, srv.Token()) {
		t.Fatalf("dead-letter reason %q; want Pipedrive's 400 and its error, no token", reason)
	}
	if _, ok := srv.UserByEmail("dorothy@example.com"); ok {
		t.Fatal("dorothy was added despite the refusal")
	}
	expect("Katherine untouched", "active true, Sales manager, Product, [engineering everyone], 2 users", time.Second)
	if st := srv.Requests(); st.QueryToken != 0 {
		t.Fatalf("%d requests carried the token in the URL", st.QueryToken)
	}
}
