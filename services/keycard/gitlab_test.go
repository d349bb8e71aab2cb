package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/event"
	"keycard/pkg/gitlab/gitlabtest"
)

// The whole pipeline for a GitLab self-managed instance: signed webhook →
// ingester → normalizer (fake BambooHR) → worker → the fake instance. A
// hire becomes a user in the org's groups at their levels (one group at
// maintainer by group_access_levels); a move swaps groups through a storm
// of a 429, a 503 and a 502; a termination leaves the groups and blocks
// the user (the seat is freed), and a duplicate changes nothing; a re-hire
// unblocks the same user; a permanent 400 goes to the dead-letter stream.
func TestGitLabLifecycleThroughPipeline(t *testing.T) {
	fake := bamboohrtest.New()
	defer fake.Close()
	fake.Put(bamboohrtest.Employee{ID: "3001", FirstName: "Margaret", LastName: "Hamilton", WorkEmail: "margaret@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h") // only webhooks drive this test
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")

	srv := gitlabtest.New(gitlabtest.WithRateScale(1000))
	defer srv.Close()
	srv.AddGroup("acme/everyone", "acme/eng", "acme/sales")
	t.Setenv("GITLAB_TOKEN", srv.Token())
	config := fmt.Sprintf(`apps:
  - {name: gitlab, type: gitlab, base_url: %q, org: acme, group_access_levels: "acme/eng=maintainer", token_env: GITLAB_TOKEN,
     rate_limit: {writes_per_minute: 60000, burst: 100}}
policy:
  birthright:
    gitlab: {groups: [acme/everyone]}
  rules:
    - {name: engineering, when: 'employee.department == "Engineering"', grant: {gitlab: {groups: [acme/eng]}}}
    - {name: sales, when: 'employee.department == "Sales"', grant: {gitlab: {groups: [acme/sales]}}}
`, srv.URL())
	in := startWithConfig(t, config)
	defer in.stop(t)

	// state is Margaret's user: its state, username and groups with their
	// levels, and how many users hold her address.
	var id int64
	state := func() string {
		u, ok := srv.UserByEmail("margaret@example.com")
		if !ok {
			return "none"
		}
		if id == 0 {
			id = u.ID
		}
		var groups []string
		for _, g := range slices.Sorted(maps.Keys(u.Groups)) {
			groups = append(groups, fmt.Sprintf("%s:%d", g, u.Groups[g]))
		}
		return fmt.Sprintf("%s %s %v, %d users", u.State, u.Username, groups, len(srv.Users()))
	}
	expect := func(step, want string, within time.Duration) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = state(); got == want {
				return
			}
		}
		t.Fatalf("%s:\n got  %s\n want %s", step, got, want)
	}
	routes := func() map[string]int { return srv.Requests().ByRoute }
	const (
		createUser = "POST /users"
		block      = "POST /users/:id/block"
		unblock    = "POST /users/:id/unblock"
	)

	in.send(t, "employee.created", "3001")
	in.send(t, "employee.updated", "3001") // BambooHR's create+update pair: one hire
	expect("hire", "active margaret [acme/eng:40 acme/everyone:30], 1 users", 10*time.Second)
	if n := routes()[createUser]; n != 1 {
		t.Fatalf("the hire created %d users; want 1", n)
	}
	seats := srv.Seats()

	// A storm: the move's first deliveries meet the throttle's 429, a 503
	// and a 502, each with the wait GitLab would ask for.
	srv.FailNextOn("", 1, http.StatusTooManyRequests, time.Second, "")
	srv.FailNextOn("", 1, http.StatusServiceUnavailable, time.Second, "")
	srv.FailNextOn("", 1, http.StatusBadGateway, 0, "")
	fake.Update("3001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "3001")
	expect("move through the storm", "active margaret [acme/everyone:30 acme/sales:30], 1 users", 15*time.Second)
	if st := srv.Requests(); st.RateLimited < 1 || st.ByStatus[http.StatusServiceUnavailable] != 1 || st.ByStatus[http.StatusBadGateway] != 1 {
		t.Fatalf("the storm was not served: %+v", st)
	}

	fake.Update("3001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "3001")
	in.send(t, "employee.updated", "3001") // a duplicate
	expect("terminate: blocked, out of every group", "blocked margaret [], 1 users", 10*time.Second)
	time.Sleep(500 * time.Millisecond) // let the duplicate be handled
	if n := routes()[block]; n != 1 {
		t.Fatalf("%d blocks; want 1 (the duplicate finds the user blocked)", n)
	}
	if srv.Seats() != seats-1 {
		t.Fatalf("seats %d; want %d: a blocked user takes none", srv.Seats(), seats-1)
	}

	fake.Update("3001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate, e.HireDate = "Active", "", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "3001")
	expect("re-hire: the same user, unblocked", "active margaret [acme/everyone:30 acme/sales:30], 1 users", 10*time.Second)
	if u, _ := srv.UserByEmail("margaret@example.com"); u.ID != id || routes()[unblock] != 1 || routes()[createUser] != 1 {
		t.Fatalf("re-hire: user %d (want %d), %d unblocks, %d creates; want the user unblocked, not made again", u.ID, id, routes()[unblock], routes()[createUser])
	}

	// GitLab refuses a hire's address (a domain the instance denies for
	// sign-up): a 400, permanent, dead-lettered.
	srv.FailNextOn(createUser, 1, http.StatusBadRequest, 0, "Email is not allowed for sign-up. Please use your regular email address.")
	fake.Put(bamboohrtest.Employee{ID: "3002", FirstName: "Mary", LastName: "Jackson", WorkEmail: "mary@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	in.send(t, "employee.created", "3002")
	reason := deadLetter(t, in.natsURL, "dlq.gitlab.hired."+event.EmployeeKey("3002"))
	if !strings.Contains(reason, "400") || !strings.Contains(reason, "not allowed for sign-up") || strings.Contains(reason, srv.Token()) {
		t.Fatalf("dead-letter reason %q; want GitLab's 400 and its message, no token", reason)
	}
	if _, ok := srv.UserByEmail("mary@example.com"); ok {
		t.Fatal("mary has a user despite the refusal")
	}
	expect("Margaret untouched", "active margaret [acme/everyone:30 acme/sales:30], 1 users", time.Second)
}
