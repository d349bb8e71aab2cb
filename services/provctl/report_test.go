package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/reconcile"
	"keycard/pkg/report"
)

const seatsPolicy = `apps:
  - {name: jira, type: scim, profile: atlassian}
  - {name: pipedrive, type: pipedrive, tier: standard, seat: {price: 240, currency: EUR, per: year}}
  - {name: slack, type: scim, profile: slack, tier: critical, seat: {price: 8.75, currency: USD}}
costs: {budget_per_employee: 10, currency: USD}
policy:
  birthright:
    slack: {groups: [everyone]}
    jira: {}
  rules:
    - name: sales
      when: 'employee.department == "Sales"'
      grant:
        pipedrive: {}
`

// The seat report over three active people (two in Sales) and a leaver:
// Slack's accounts are known from its last reconcile, Pipedrive's too
// (two deactivated accounts Pipedrive still bills), Jira has no report
// and no price. Critical apps are listed first.
func TestReportSeats(t *testing.T) {
	h := newHarness(t)
	h.people(person("1", "Sales", event.StatusActive), person("2", "Sales", event.StatusActive),
		person("3", "Engineering", event.StatusActive), person("4", "Sales", event.StatusInactive))
	store, err := reconcile.OpenStore(h.ctx(), h.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	for _, rep := range []reconcile.Report{
		{App: "slack", At: at, Accounts: 5, Active: 4, Counts: map[reconcile.Class]int{reconcile.Orphan: 1}},
		{App: "pipedrive", At: at, Accounts: 4, Active: 2, Counts: map[reconcile.Class]int{}},
	} {
		if err := store.SaveReport(h.ctx(), rep); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeFile(t, "keycard.yaml", seatsPolicy)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

	out := h.runWith("", now, "report", "seats", "--config", cfg, "--json")
	wantOK(t, out)
	var res report.Seats
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatal(err, out.stdout)
	}
	if res.Headcount != 3 || len(res.Lines) != 3 {
		t.Fatalf("headcount %d, %d lines, want 3 and 3: %s", res.Headcount, len(res.Lines), out.stdout)
	}
	slack, jira, pipedrive := res.Lines[0], res.Lines[1], res.Lines[2]
	if slack.App != "slack" || slack.Entitled != 3 || slack.Active != 4 || slack.Orphans != 1 || slack.BilledDeactivated != 0 ||
		slack.BilledMonthly != 35 || slack.DeactivatedSeat != "freed" {
		t.Errorf("slack = %+v", slack)
	}
	if pipedrive.App != "pipedrive" || pipedrive.Entitled != 2 || pipedrive.BilledDeactivated != 2 || pipedrive.SeatMonthly != 20 ||
		pipedrive.BilledMonthly != 80 || pipedrive.SavableMonthly != 40 || pipedrive.DeactivatedSeat != "billed" {
		t.Errorf("pipedrive = %+v", pipedrive)
	}
	if jira.App != "jira" || jira.Entitled != 3 || jira.Known || jira.Priced {
		t.Errorf("jira = %+v", jira)
	}
	if b := res.Budget; b == nil || b.Amount != 30 || b.Billed != 35 || b.Left != -5 {
		t.Errorf("budget = %+v, want 30 USD against 35 billed", b)
	}

	out = h.runWith("", now, "report", "seats", "--config", cfg)
	wantOK(t, out)
	for _, want := range []string{
		"3 people active in HR",
		"total EUR: entitled 40.00 EUR, billed 80.00 EUR a month",
		"40.00 EUR a month can be saved",
		"budget 10.00 USD × 3 people = 30.00 USD a month: billed 35.00 USD, 5.00 USD over",
		"EUR seats are not converted",
		"no seat price in the file: jira",
		"accounts not known (no reconcile report: run provctl reconcile, or wait for the schedule): jira",
	} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, out.stdout)
		}
	}
	if got := column(strings.SplitN(out.stdout, "\n\n", 3)[1]); strings.Join(got, ",") != "slack,jira,pipedrive" {
		t.Errorf("apps listed %v, want the critical slack first, then file order", got)
	}
}
