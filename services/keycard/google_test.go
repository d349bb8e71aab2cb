package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/deadletter"
	"keycard/pkg/google/googletest"
	"keycard/pkg/streams"
)

// The whole pipeline for Google Workspace: signed webhook → ingester →
// normalizer (fake BambooHR) → worker → the Google fake, authenticated as
// a service account impersonating the admin (the JWT flow against the
// fake's token endpoint). A hire creates one user in the department's org
// unit, groups and licence; a move changes all three (the licence moved
// within its product); a termination signs the user out everywhere,
// deletes their app passwords and OAuth tokens, removes every group and
// suspends them (the licence stays: Google bills it); a re-hire lifts the
// suspension of the same user; duplicate webhooks change nothing; a storm
// of 503s and quota 403s still converges; a hire Google refuses for good
// (an address outside the tenant's domains) is dead-lettered.
func TestGoogleLifecycleThroughPipeline(t *testing.T) {
	const starter, standard = "1010020027", "1010020028"
	fake := webhookHR(t)

	gw := googletest.New(googletest.WithRateScale(1000))
	defer gw.Close()
	for _, g := range []string{"everyone", "engineering", "sales"} {
		gw.AddGroup(g+"@example.com", g)
	}
	gw.AddOrgUnit("/Engineering")
	gw.AddOrgUnit("/Sales")
	t.Setenv("GOOGLE_SERVICE_ACCOUNT_JSON", string(gw.Key()))

	cfg := fmt.Sprintf(`apps:
  - name: google
    type: google
    domain: example.com
    admin_email: %s
    base_url: %q
    license_skus: "%s,%s"
    credentials_env: GOOGLE_SERVICE_ACCOUNT_JSON
    rate_limit: {writes_per_minute: 60000, burst: 100}
policy:
  birthright:
    google: {groups: [everyone]}
  rules:
    - name: engineering
      when: 'employee.department == "Engineering"'
      grant:
        google: {groups: [engineering], org_unit: /Engineering, license: "%s"}
    - name: sales
      when: 'employee.department == "Sales"'
      grant:
        google: {groups: [sales], org_unit: /Sales, license: "%s"}
`, gw.AdminEmail(), gw.URL(), starter, standard, standard, starter)
	in := startWithConfig(t, cfg)
	defer in.stop(t)

	// state is Katherine at Google, as one line.
	state := func() string {
		users := gw.Users()
		if len(users) != 1 {
			return fmt.Sprintf("%d users", len(users))
		}
		u := users[0]
		title := ""
		if len(u.Organizations) > 0 {
			title = u.Organizations[0].Title
		}
		return fmt.Sprintf("suspended=%v groups=%v ou=%s licence=%s title=%s", u.Suspended, gw.MemberOf(u.ID), u.OrgUnitPath,
			gw.Licence("Google-Apps", u.ID), title)
	}
	expect := func(step, want string) {
		t.Helper()
		expectState(t, step, want, 20*time.Second, state)
	}

	in.send(t, "employee.created", "2001")
	in.send(t, "employee.updated", "2001") // BambooHR's create+update pair: one hire
	expect("hire", "suspended=false groups=[engineering@example.com everyone@example.com] ou=/Engineering licence="+standard+" title=Engineer")
	u := gw.Users()[0]
	if u.PrimaryEmail != "katherine@example.com" || !u.HasPassword || !u.ChangePasswordAtNextLogin ||
		len(u.ExternalIDs) != 1 || u.ExternalIDs[0] != (googletest.ExternalID{Type: "organization", Value: "2001"}) {
		t.Fatalf("hired user %+v; want the address, a password to change at first sign-in and the HR id", u)
	}

	fake.Update("2001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "2001")
	expect("move", "suspended=false groups=[everyone@example.com sales@example.com] ou=/Sales licence="+starter+" title=Engineer")

	// A storm: Google fails the next reads and writes with 503s and quota
	// 403s; the worker's retries ride it out.
	gw.FailNext(4, googletest.Failure{Status: http.StatusServiceUnavailable})
	gw.FailNext(4, googletest.Failure{Status: http.StatusForbidden, Reason: "userRateLimitExceeded", Message: "Quota exceeded"})
	fake.Update("2001", func(e *bamboohrtest.Employee) { e.JobTitle = "Senior Engineer" })
	in.send(t, "employee.updated", "2001")
	expect("storm", "suspended=false groups=[everyone@example.com sales@example.com] ou=/Sales licence="+starter+" title=Senior Engineer")
	if st := gw.Requests(); st.ByStatus[http.StatusServiceUnavailable] != 4 || st.ByStatus[http.StatusForbidden] != 4 {
		t.Fatalf("storm answers %v; want the 8 injected failures served", st.ByStatus)
	}

	gw.AddASP(u.ID, "Thunderbird")
	gw.AddToken(u.ID, "1234.apps.googleusercontent.com", "Some CRM", "https://mail.google.com/")
	fake.Update("2001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "2001")
	in.send(t, "employee.updated", "2001") // a duplicate
	expect("terminate", "suspended=true groups=[] ou=/Sales licence="+starter+" title=Senior Engineer")
	if u, _ := gw.User(u.ID); u.SignOuts != 1 || len(u.ASPs) != 0 || len(u.Tokens) != 0 {
		t.Fatalf("after termination: %d sign-outs, ASPs %v, tokens %v; want signed out once and nothing left", u.SignOuts, u.ASPs, u.Tokens)
	}

	fake.Update("2001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate, e.HireDate = "Active", "", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "2001")
	expect("re-hire", "suspended=false groups=[everyone@example.com sales@example.com] ou=/Sales licence="+starter+" title=Senior Engineer")
	if got := gw.Users()[0].ID; got != u.ID {
		t.Fatalf("re-hire made %s; want %s back", got, u.ID)
	}

	// Google refuses an address outside the tenant's domains for good:
	// the hire is dead-lettered, not retried.
	fake.Put(bamboohrtest.Employee{ID: "2002", FirstName: "Dorothy", LastName: "Vaughan", WorkEmail: "dorothy@personal.example.org",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Sales", JobTitle: "Analyst", HireDate: "2024-03-01"})
	in.send(t, "employee.created", "2002")
	var dead string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && dead == ""; time.Sleep(50 * time.Millisecond) {
		for _, m := range streamMsgs(t, in.natsURL, streams.DLQ) {
			if m.Header.Get(deadletter.HeaderApp) == "google" {
				dead = m.Header.Get(deadletter.HeaderError)
			}
		}
	}
	if !strings.Contains(dead, "Domain not found.") {
		t.Fatalf("dead letter error %q; want Google's 400 Domain not found.", dead)
	}
	if n := len(gw.Users()); n != 1 {
		t.Fatalf("%d users after the refused hire; want 1", n)
	}
}
