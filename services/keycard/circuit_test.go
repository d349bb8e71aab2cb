package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
)

// Issue 12: Slack's token is revoked while ten people join and one of
// them leaves. Slack pauses after three refusals instead of dead-lettering
// the events; Notion carries on; once the token is back, Slack's probe
// resumes it by itself and everyone converges there: the leaver without
// access (when their newer snapshot is applied first their older hire is
// stale, and they never get an account), the others active, nobody twice,
// no dead letter.
func TestRevokedTokenPausesOneAppThroughPipeline(t *testing.T) {
	fake := webhookHR(t)
	// Ten joiners, and Katherine (2001) whom the first poll finds.
	const people = 10
	const everyone = people + 1
	for i := range people {
		id := fmt.Sprint(3001 + i)
		fake.Put(bamboohrtest.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: "p" + id + "@example.com",
			Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", HireDate: "2024-03-01"})
	}
	slack := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer slack.Close()
	notion := scimtest.New(scimtest.Notion(), scimtest.WithRateScale(1000))
	defer notion.Close()
	token := slack.Token()
	t.Setenv("TOKEN_SLACK", token)
	t.Setenv("TOKEN_NOTION", notion.Token())
	t.Setenv("KEYCARD_CIRCUIT_PROBE_EVERY", "200ms")
	t.Setenv("KEYCARD_CIRCUIT_PROBE_MAX", "400ms")
	in := startWithConfig(t, fmt.Sprintf(`apps:
  - {name: slack, type: scim, profile: slack, token_env: TOKEN_SLACK, base_url: %q, rate_limit: {writes_per_minute: 60000, burst: 100}}
  - {name: notion, type: scim, profile: notion, token_env: TOKEN_NOTION, base_url: %q, rate_limit: {writes_per_minute: 60000, burst: 100}}
policy:
  birthright:
    slack: {groups: [everyone]}
    notion: {groups: [everyone]}
`, slack.URL(), notion.URL()))
	defer in.stop(t)

	slack.SetToken("rotated-by-an-admin") // Keycard's token is refused from now on
	for i := range people {
		in.send(t, "employee.created", fmt.Sprint(3001+i))
	}
	active := func(srv *scimtest.Server) (n, total int) {
		for _, u := range srv.Users() {
			if u.Active {
				n++
			}
		}
		return n, len(srv.Users())
	}
	waitUntil(t, 20*time.Second, "notion has everyone", func() bool { n, _ := active(notion); return n == everyone })
	waitUntil(t, 10*time.Second, "slack paused", func() bool {
		_, body := get(t, in.opsURL+"/metrics")
		return strings.Contains(body, `keycard_worker_app_paused{app="slack",cause="find account: scim: GET /Users: 401 Unauthorized (token rejected)`)
	})
	// A leaver while Slack is paused: deprovisioned there once it resumes.
	fake.Update("3001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "3001")
	waitUntil(t, 10*time.Second, "notion deprovisions the leaver", func() bool { n, _ := active(notion); return n == everyone-1 })
	if _, total := active(slack); total != 0 {
		t.Fatalf("slack has %d users while refusing the token", total)
	}
	if n := len(streamMsgs(t, in.natsURL, streams.DLQ)); n != 0 {
		t.Fatalf("%d dead letters while slack was paused", n)
	}

	restored := time.Now()
	slack.SetToken(token) // the admin puts the token back
	waitUntil(t, 20*time.Second, "slack converges", func() bool {
		n, total := active(slack)
		return n == everyone-1 && total <= everyone
	})
	for _, u := range slack.Users() {
		if u.Active && strings.HasPrefix(u.UserName, "p3001@") {
			t.Fatal("the leaver is active in slack")
		}
	}
	t.Logf("slack converged %v after its token came back (probe every 200ms)", time.Since(restored).Round(time.Millisecond))
	if n := len(streamMsgs(t, in.natsURL, streams.DLQ)); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	_, body := get(t, in.opsURL+"/metrics")
	if strings.Contains(body, `keycard_worker_app_paused{app="slack"`) {
		t.Error("slack still shown paused after it resumed")
	}
	if !strings.Contains(body, `keycard_worker_app_pauses_total{app="slack",reason="auth"} 1`) {
		t.Error("the pause is not counted")
	}
}

// waitUntil polls cond every 20ms for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", d, what)
		}
	}
}
