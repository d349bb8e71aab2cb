package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/normalize"
	"keycard/pkg/reconcile"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// people stores snapshots in the employees bucket, as the normalizer
// leaves them.
func (h *harness) people(es ...event.Employee) {
	h.t.Helper()
	kv, err := h.js.CreateOrUpdateKeyValue(h.t.Context(), jetstream.KeyValueConfig{Bucket: normalize.Bucket})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range es {
		data, _ := json.Marshal(normalize.Snapshot{Sequence: 2, Employee: e})
		if _, err := kv.Put(h.t.Context(), event.EmployeeKey(e.ID), data); err != nil {
			h.t.Fatal(err)
		}
	}
}

func person(id, dept, status string) event.Employee {
	return event.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: "p" + id + "@example.com", Status: status,
		Department: dept, HireDate: "2020-01-01", TimeZone: "UTC"}
}

// toolPolicy gives engineers the group tool in slack, everyone the group
// everyone, and everyone a jira account when jira is true.
func toolPolicy(tool string, jira bool) string {
	s := "apps:\n  - {name: slack, type: scim, profile: slack}\n  - {name: jira, type: scim, profile: atlassian}\n" +
		"policy:\n  birthright:\n    slack: {groups: [everyone]}\n"
	if jira {
		s += "    jira: {}\n"
	}
	return s + fmt.Sprintf("  rules:\n    - name: engineering\n      when: 'employee.department == \"Engineering\"'\n      grant:\n        slack: {groups: [%s]}\n", tool)
}

// The tool swap previewed: the engineers lose trello and gain jira-users
// under the rule engineering; everyone gains a jira account; the leaver
// and nobody else gain nothing. Nothing is published.
func TestPlanShowsASwap(t *testing.T) {
	h := newHarness(t)
	h.people(person("1", "Engineering", event.StatusActive), person("2", "Engineering", event.StatusActive),
		person("3", "Sales", event.StatusActive), person("4", "Engineering", event.StatusInactive))
	cur := writeFile(t, "current.yaml", toolPolicy("trello", false))
	next := writeFile(t, "new.yaml", toolPolicy("jira-users", true))

	out := h.run("plan", "--current", cur, "--config", next, "--json")
	if out.err != nil {
		t.Fatal(out.err, out.stderr)
	}
	var res planResult
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatal(err, out.stdout)
	}
	got := map[string]int{}
	for _, n := range res.Counts {
		got[n.App+" "+n.Rule+" "+n.Change] = n.People
	}
	want := map[string]int{
		"slack engineering +group jira-users": 2,
		"slack engineering -group trello":     2,
		"jira birthright +account":            3,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.People != 4 || res.Changed != 3 {
		t.Fatalf("plan = %+v\nwant counts %v, 3 of 4 people changed", res, want)
	}

	out = h.run("plan", "--current", cur, "--config", next, "--details", "--app", "slack")
	if out.err != nil {
		t.Fatal(out.err)
	}
	for _, line := range []string{"2 of 4 people change", "engineering  +group jira-users  2", "1         P 1   slack  +group jira-users, -group trello"} {
		if !strings.Contains(out.stdout, line) {
			t.Errorf("plan --details lacks %q:\n%s", line, out.stdout)
		}
	}
	if n := len(natstest.Messages(t, h.js, streams.Replay)); n != 0 {
		t.Errorf("plan published %d messages", n)
	}
}

// reconcile against a SCIM test server: a leaver whose account is active
// again, an orphan and an account made by hand are found and counted;
// --fix hands only the leaver to the worker (reason reconcile), and the
// report is stored for reconcile status.
func TestReconcileReportsAndFixes(t *testing.T) {
	h := newHarness(t)
	srv := scimtest.New(scimtest.Slack())
	defer srv.Close()
	h.env = map[string]string{"SLACK_TOKEN": srv.Token()}
	cfg := writeFile(t, "keycard.yaml", fmt.Sprintf("apps:\n  - {name: slack, type: scim, profile: slack, token_env: SLACK_TOKEN, base_url: %q}\n"+
		"policy:\n  birthright:\n    slack: {groups: [everyone]}\n", srv.URL()))
	h.people(person("1", "Sales", event.StatusActive), person("2", "Sales", event.StatusInactive), person("3", "Sales", event.StatusActive))
	seed := func(email, external string) scimtest.User {
		return srv.Seed(scimtest.User{UserName: email, ExternalID: external, Active: true, Emails: []scimtest.Email{{Value: email, Primary: true}}})
	}
	fine := seed("p1@example.com", "1")
	srv.SeedGroup(scimtest.Group{DisplayName: "everyone", Members: []string{fine.ID}})
	seed("p2@example.com", "2") // the leaver, active again
	seed("p3@example.com", "")  // made by hand
	seed("stranger@example.com", "")
	// Workers have started once: the bucket for reports exists.
	if _, err := reconcile.OpenStore(h.t.Context(), h.js, 1); err != nil {
		t.Fatal(err)
	}

	out := h.run("reconcile", "--config", cfg, "--json")
	if out.err != nil {
		t.Fatal(out.err, out.stderr)
	}
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
		t.Fatal(err, out.stdout)
	}
	want := map[reconcile.Class]int{reconcile.LeaverActive: 1, reconcile.Orphan: 1, reconcile.Unmanaged: 1}
	for _, c := range reconcile.Classes {
		if rep.Counts[c] != want[c] {
			t.Errorf("%s = %d, want %d (report %+v)", c, rep.Counts[c], want[c], rep)
		}
	}
	if n := len(natstest.Messages(t, h.js, streams.Replay)); n != 0 {
		t.Fatalf("reconcile without --fix published %d messages", n)
	}

	out = h.run("reconcile", "--config", cfg, "--fix", "--details")
	if out.err != nil {
		t.Fatal(out.err, out.stderr)
	}
	for _, s := range []string{"leaver_active  2", "orphan", "stranger@example.com", "unmanaged"} {
		if !strings.Contains(out.stdout, s) {
			t.Errorf("reconcile --details lacks %q:\n%s", s, out.stdout)
		}
	}
	msgs := natstest.Messages(t, h.js, streams.Replay)
	if len(msgs) != 1 || msgs[0].Subject != streams.ReplaySubject("slack", "2") || msgs[0].Header.Get(worker.HeaderReason) != reconcile.ReasonReconcile {
		t.Fatalf("fix published %d messages (%v): want one re-evaluation of the leaver", len(msgs), msgs)
	}
	var e event.Event
	if err := json.Unmarshal(msgs[0].Data, &e); err != nil || e.Sequence != 2 || e.Employee.Status != event.StatusInactive {
		t.Fatalf("re-evaluation %s: %v", msgs[0].Data, err)
	}

	out = h.run("reconcile", "status")
	if out.err != nil {
		t.Fatal(out.err, out.stderr)
	}
	if !strings.Contains(out.stdout, "slack") || !strings.Contains(out.stdout, "LEAVER_ACTIVE") || !strings.Contains(out.stdout, time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("reconcile status:\n%s", out.stdout)
	}
}

// An app without its credential is skipped, named on stderr.
func TestReconcileSkipsSimulatedApps(t *testing.T) {
	h := newHarness(t)
	cfg := writeFile(t, "keycard.yaml", toolPolicy("eng", false))
	out := h.run("reconcile", "--config", cfg, "--app", "jira")
	if out.err != nil || !strings.Contains(out.stderr, "jira: skipped: no credential set") {
		t.Fatalf("err %v, stderr %q", out.err, out.stderr)
	}
	if out := h.run("reconcile", "--config", cfg, "--app", "zoom"); out.err == nil || !strings.Contains(out.err.Error(), "no such app") {
		t.Fatalf("an unknown --app: %v", out.err)
	}
}
