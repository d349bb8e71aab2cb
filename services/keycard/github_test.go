package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/event"
	"keycard/pkg/github/githubtest"
)

// The whole pipeline for a GitHub organisation: signed webhook → ingester
// → normalizer (fake BambooHR, the GitHub login in a custom field) →
// worker → the fake organisation. A hire is invited with pending teams and
// has them once they accept; a move swaps teams through a storm of rate
// limits and a 5xx; a termination removes the person from the org (no
// inactive member is left) and a duplicate changes nothing; a re-hire is
// invited again; a permanent 422 goes to the dead-letter stream.
func TestGitHubLifecycleThroughPipeline(t *testing.T) {
	const login, field = "kjohnson", "githubLogin"
	fake := bamboohrtest.New()
	defer fake.Close()
	fake.Put(bamboohrtest.Employee{ID: "2001", FirstName: "Katherine", LastName: "Johnson", WorkEmail: "katherine@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01",
		Fields: map[string]any{field: login}})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	t.Setenv("BAMBOOHR_CUSTOM_FIELDS", field)
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h") // only webhooks drive this test
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")

	srv := githubtest.New(githubtest.WithRateScale(1000))
	defer srv.Close()
	srv.AddTeam("everyone", "engineering", "sales")
	t.Setenv("GITHUB_TOKEN", srv.Token())
	config := fmt.Sprintf(`apps:
  - {name: github, type: github, org: %s, base_url: %q, login_field: %s, token_env: GITHUB_TOKEN, rate_limit: {writes_per_minute: 60000, burst: 100}}
policy:
  birthright:
    github: {teams: [everyone]}
  rules:
    - {name: engineering, when: 'employee.department == "Engineering"', grant: {github: {teams: [engineering]}}}
    - {name: sales, when: 'employee.department == "Sales"', grant: {github: {teams: [sales]}}}
`, srv.Org(), srv.URL(), field)
	in := startWithConfig(t, config)
	defer in.stop(t)

	// state is Katherine's org membership and teams, and the invitations.
	state := func() string {
		invs := len(srv.Invitations())
		m, ok := srv.Membership(login)
		if !ok {
			return fmt.Sprintf("none, %d invitations", invs)
		}
		return fmt.Sprintf("%s %s %v, %d invitations", m.State, m.Role, m.Teams, invs)
	}
	expect := func(step, want string, within time.Duration) {
		t.Helper()
		expectState(t, step, want, within, state)
	}
	routes := func() map[string]int { return srv.Requests().ByRoute }
	const (
		putMember = "PUT /orgs/{org}/memberships/{username}"
		delMember = "DELETE /orgs/{org}/memberships/{username}"
	)

	in.send(t, "employee.created", "2001")
	in.send(t, "employee.updated", "2001") // BambooHR's create+update pair: one hire
	expect("hire: invited, teams pending", "pending member [engineering everyone], 1 invitations", 20*time.Second)
	if !srv.Accept(login) {
		t.Fatal("no invitation to accept")
	}
	expect("hire: accepted", "active member [engineering everyone], 0 invitations", time.Second)
	if n := routes()[putMember]; n != 1 {
		t.Fatalf("the hire sent %d invitations; want 1", n)
	}

	// A storm: the move's first deliveries meet a 429, a secondary limit
	// and a 502, each with the wait GitHub would ask for.
	srv.FailNextOn("", 1, http.StatusTooManyRequests, time.Second, "")
	srv.FailNextOn("", 1, http.StatusForbidden, time.Second, "")
	srv.FailNextOn("", 1, http.StatusBadGateway, 0, "")
	fake.Update("2001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "2001")
	expect("move through the storm", "active member [everyone sales], 0 invitations", 40*time.Second)
	if st := srv.Requests(); st.RateLimited < 2 || st.ByStatus[http.StatusBadGateway] != 1 {
		t.Fatalf("the storm was not served: %+v", st)
	}

	hrTerminates(fake, "2001")
	in.send(t, "employee.updated", "2001")
	in.send(t, "employee.updated", "2001") // a duplicate
	expect("terminate", "none, 0 invitations", 20*time.Second)
	time.Sleep(500 * time.Millisecond) // let the duplicate be handled
	if n := routes()[delMember]; n != 1 {
		t.Fatalf("%d removals from the org; want 1 (the duplicate finds no one)", n)
	}

	hrRehires(fake, "2001")
	in.send(t, "employee.updated", "2001")
	expect("re-hire: invited again", "pending member [everyone sales], 1 invitations", 20*time.Second)
	if n := routes()[putMember]; n != 2 {
		t.Fatalf("%d invitations in all; want 2 (hire, re-hire)", n)
	}

	// GitHub refuses a hire's invitation with a 422: permanent, dead-lettered.
	srv.FailNextOn(putMember, 1, http.StatusUnprocessableEntity, 0, "Validation Failed: the user must enable two-factor authentication")
	fake.Put(bamboohrtest.Employee{ID: "2002", FirstName: "Dorothy", LastName: "Vaughan", WorkEmail: "dorothy@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01",
		Fields: map[string]any{field: "dvaughan"}})
	in.send(t, "employee.created", "2002")
	reason := deadLetter(t, in.natsURL, "dlq.github.hired."+event.EmployeeKey("2002"))
	if !strings.Contains(reason, "422") || !strings.Contains(reason, "two-factor") || strings.Contains(reason, srv.Token()) {
		t.Fatalf("dead-letter reason %q; want GitHub's 422 and its message, no token", reason)
	}
	if _, ok := srv.Membership("dvaughan"); ok {
		t.Fatal("dvaughan is a member despite the refusal")
	}
	expect("Katherine untouched", "pending member [everyone sales], 1 invitations", time.Second)
}
