package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycard/pkg/simulate"
)

// simNow is the simulations' clock: every date of the generated export is
// on one side of it.
var simNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// writeExport writes a deterministic HR export of n people (n ≥ 100) with
// BambooHR's column names, and returns its path. Ids run 1..n:
//
//	1–20   left: status Inactive, terminated 2026-03-15
//	21–30  future hires, starting 2026-09-01
//	31–35  active, no work e-mail
//	36–40  active, no department
//	41–90  active contractors (employmentHistoryStatus Contractor)
//	n      department "Enginering" (a typo)
//
// Everyone else is an active full-time employee hired 2024-01-15 whose
// department is by id mod 5: 0 Engineering, 1 Sales, 2 Finance,
// 3 Marketing, 4 Support.
func writeExport(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hr.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"id", "firstName", "lastName", "workEmail", "department", "jobTitle", "status", "employmentHistoryStatus", "hireDate", "terminationDate", "supervisorEId"})
	depts := []string{"Engineering", "Sales", "Finance", "Marketing", "Support"}
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		email, dept, status, emp, hire, term := "p"+id+"@example.com", depts[i%5], "Active", "Full-Time", "2024-01-15", ""
		switch {
		case i <= 20:
			status, emp, term = "Inactive", "Terminated", "2026-03-15"
		case i <= 30:
			hire = "2026-09-01"
		case i <= 35:
			email = ""
		case i <= 40:
			dept = ""
		case i <= 90:
			emp = "Contractor"
		}
		if i == n {
			dept = "Enginering"
		}
		_ = w.Write([]string{id, "First" + id, "Last" + id, email, dept, "Title", status, emp, hire, term, "41"})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func simulateJSON(t *testing.T, args ...string) (simulateReport, output) {
	t.Helper()
	h := &harness{t: t} // no NATS server: simulate must not need one
	out := h.runWith("", simNow, append([]string{"simulate", "--config", "testdata/simulate.yaml", "--json"}, args...)...)
	if out.err != nil {
		t.Fatalf("simulate: %v\n%s", out.err, out.stderr)
	}
	var rep simulateReport
	if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, out.stdout)
	}
	return rep, out
}

func appPlan(t *testing.T, rep simulateReport, app string) simulate.AppPlan {
	t.Helper()
	for _, a := range rep.Apps {
		if a.App == app {
			return a
		}
	}
	t.Fatalf("no app %s in %+v", app, rep.Apps)
	return simulate.AppPlan{}
}

func membership(a simulate.AppPlan, name string) (added, removed int) {
	for _, m := range a.Memberships {
		if m.Name == name {
			return m.Added, m.Removed
		}
	}
	return -1, -1
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

// TestSimulateExport plans the 500-person export against empty apps.
// Derivations (active people are ids 31–500, 470 of them; per department,
// each residue mod 5 has 94 ids in 31–500, less the one in 36–40 with no
// department, and Engineering also less id 500, the typo):
//   - Engineering 92 (1 without e-mail: 35), Sales 93 (31), Finance 93
//     (32), Marketing 93, Support 93; 5 without department, 1 typo.
//   - slack, birthright: 470 granted, 5 without e-mail blocked: 465
//     created, each +everyone; +eng for Engineering with e-mail, 91;
//     +contractors for ids 41–90, 50. Added: 465+91+50 = 606.
//   - github, engineering: 91 created (+engineering team), 1 blocked.
//   - notion, sales: 92 created, 1 blocked; legal matches nobody;
//     finance-emea fails for each of the 93 in Finance (no cost_center)
//     and so matches nobody too.
//   - blocked people: 5 without e-mail, 5 without department (four rules
//     read it), 93 whose finance rule failed, one of them (32) also
//     without e-mail: 5+5+93−1 = 102.
//   - cost: slack 465 × 8.75 = 4068.75 USD; github 91 × 48/12 = 364 USD;
//     notion 92 × 10 = 920 EUR, reported apart. Budget 20 USD × 470 =
//     9400 USD; spent 4432.75 USD, 9.43 per employee; notion excluded.
func TestSimulateExport(t *testing.T) {
	t.Parallel()
	rep, out := simulateJSON(t, "--hr", writeExport(t, 500))
	s := rep.Summary
	if s.People != 500 || s.Active != 470 || s.Pending != 10 || s.Gone != 20 {
		t.Errorf("people %d active %d pending %d gone %d, want 500 470 10 20", s.People, s.Active, s.Pending, s.Gone)
	}
	for _, tc := range []struct {
		app                                   string
		create, keep, deactivate, blocked, ad int
	}{
		{"slack", 465, 0, 0, 5, 606},
		{"github", 91, 0, 0, 1, 91},
		{"notion", 92, 0, 0, 1, 0},
	} {
		a := appPlan(t, rep, tc.app)
		if a.AccountsKnown || a.Create != tc.create || a.Keep != tc.keep || a.Deactivate() != tc.deactivate || a.Blocked != tc.blocked ||
			a.MembershipsAdded != tc.ad || a.MembershipsRemoved != 0 || a.SeatsToday != 0 || a.SeatsAfter != tc.create {
			t.Errorf("%s: %+v, want create %d keep %d deactivate %d blocked %d added %d", tc.app, a, tc.create, tc.keep, tc.deactivate, tc.blocked, tc.ad)
		}
	}
	slack := appPlan(t, rep, "slack")
	for name, want := range map[string]int{"everyone": 465, "eng": 91, "contractors": 50} {
		if got, _ := membership(slack, name); got != want {
			t.Errorf("slack +%s: %d, want %d", name, got, want)
		}
	}
	rules := map[string]int{}
	for _, r := range s.Rules {
		rules[r.Rule] = r.People
	}
	if want := map[string]int{"engineering": 92, "sales": 93, "contractors": 50, "legal": 0, "finance-emea": 0}; fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Errorf("rule matches %v, want %v", rules, want)
	}
	if strings.Join(s.RulesMatchNobody, ",") != "legal,finance-emea" {
		t.Errorf("rules matching nobody %v, want legal, finance-emea", s.RulesMatchNobody)
	}
	if len(s.Blocked) != 102 {
		t.Errorf("%d blocked, want 102", len(s.Blocked))
	}
	why := map[string]string{}
	for _, b := range s.Blocked {
		why[b.EmployeeID] = strings.Join(b.Reasons, "; ") + " | " + strings.Join(b.Apps, ",")
	}
	for id, want := range map[string][]string{
		"31": {"no work e-mail", "| slack,notion"},
		"35": {"no work e-mail", "| slack,github"},
		"32": {"no work e-mail", "rule finance-emea", "| slack"},
		"37": {"no department (read by rule engineering, sales, legal, finance-emea)"},
		"42": {"rule finance-emea: when:", "counted as false"},
	} {
		for _, w := range want {
			if !strings.Contains(why[id], w) {
				t.Errorf("blocked %s: %q, want it to say %q", id, why[id], w)
			}
		}
	}
	if fmt.Sprint(s.UnknownDepartments) != "[{Enginering 1} {Marketing 93} {Support 93}]" {
		t.Errorf("unknown departments %v", s.UnknownDepartments)
	}
	if c := slack.Cost; c == nil || c.Currency != "USD" || !near(c.After, 4068.75) || !near(c.Change, 4068.75) || c.Today != 0 {
		t.Errorf("slack cost %+v, want 4068.75 USD after", c)
	}
	if c := appPlan(t, rep, "github").Cost; c == nil || !near(c.PerSeat, 4) || !near(c.After, 364) {
		t.Errorf("github cost %+v, want 4 USD a seat a month (48 a year), 364 after", c)
	}
	totals := map[string]float64{}
	for _, tot := range s.Costs.Totals {
		totals[tot.Currency] = tot.After
	}
	if len(totals) != 2 || !near(totals["USD"], 4432.75) || !near(totals["EUR"], 920) {
		t.Errorf("totals %v, want 4432.75 USD and 920 EUR apart", totals)
	}
	b := s.Costs.Budget
	if b == nil || b.Employees != 470 || !near(b.Total, 9400) || !near(b.Spent, 4432.75) || !near(b.SpentPerEmployee, 4432.75/470) ||
		b.Over || strings.Join(b.Excluded, ",") != "notion" {
		t.Errorf("budget %+v, want 9400 USD for 470, 4432.75 spent, notion excluded", b)
	}
	if !strings.Contains(out.stderr, "500 people read in") || !strings.Contains(out.stderr, "/s), done") {
		t.Errorf("no progress line on stderr: %q", out.stderr)
	}
}

// writeAccounts writes DIR/slack.csv (github and notion have none, so they
// are planned against empty apps):
//   - ids 1–10 (left), active: deactivated as leavers;
//   - ids 21–22 (future hires), active: deactivated, not granted yet;
//   - ids 41–60, active, in everyone, eng and hand-made: kept;
//   - id 61, deactivated: reactivated;
//   - ghost1–3 active and ghost4 deactivated, matching nobody: 3 orphans.
func writeAccounts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,email,username,active,groups\n")
	row := func(id, email, active, groups string) {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\n", id, email, email, active, groups)
	}
	for i := 1; i <= 10; i++ {
		row("U"+strconv.Itoa(i), fmt.Sprintf("P%d@Example.com", i), "true", "") // e-mail matched in any case
	}
	row("U21", "p21@example.com", "yes", "")
	row("U22", "p22@example.com", "", "") // empty active is true
	for i := 41; i <= 60; i++ {
		row("U"+strconv.Itoa(i), fmt.Sprintf("p%d@example.com", i), "true", "everyone;eng;hand-made")
	}
	row("U61", "p61@example.com", "false", "")
	for i := 1; i <= 4; i++ {
		row(fmt.Sprintf("G%d", i), fmt.Sprintf("ghost%d@example.com", i), strconv.FormatBool(i < 4), "")
	}
	if err := os.WriteFile(filepath.Join(dir, "slack.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSimulateAccountsDir plans the same export against slack's accounts.
// 37 accounts listed, 35 active. Kept: 35 − 3 orphans − 10 leavers − 2
// future hires = 20. Created: the 465 granted less 20 kept and 1
// reactivated = 444. Seats after: 35 − 12 + 444 + 1 = 468 (465 + the 3
// orphans, which keep theirs). Memberships: everyone 444 + 1 (61); eng for
// the 91 Engineering with e-mail less 4 kept (45, 50, 55, 60) = 87, and
// removed from the other 16 kept; contractors for all 50 (41–90): 29
// created, 20 kept, 1 reactivated. hand-made is no grant's: untouched.
// Cost: 35 × 8.75 = 306.25 now, 468 × 8.75 = 4095 after.
func TestSimulateAccountsDir(t *testing.T) {
	t.Parallel()
	rep, _ := simulateJSON(t, "--hr", writeExport(t, 500), "--accounts-dir", writeAccounts(t))
	a := appPlan(t, rep, "slack")
	got := []int{a.Accounts, a.SeatsToday, a.Keep, a.Create, a.Reactivate, a.DeactivateLeavers, a.DeactivateNotGranted, a.Orphans, a.SeatsAfter}
	if want := []int{37, 35, 20, 444, 1, 10, 2, 3, 468}; !a.AccountsKnown || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slack accounts/today/keep/create/reactivate/leavers/not granted/orphans/after = %v, want %v", got, want)
	}
	for name, want := range map[string][2]int{"everyone": {445, 0}, "eng": {87, 16}, "contractors": {50, 0}, "hand-made": {-1, -1}} {
		if ad, rm := membership(a, name); ad != want[0] || rm != want[1] {
			t.Errorf("slack %s: +%d −%d, want +%d −%d", name, ad, rm, want[0], want[1])
		}
	}
	if c := a.Cost; c == nil || !near(c.Today, 306.25) || !near(c.After, 4095) || !near(c.Change, 3788.75) {
		t.Errorf("slack cost %+v, want 306.25 → 4095", c)
	}
	if g := appPlan(t, rep, "github"); g.AccountsKnown || g.Create != 91 {
		t.Errorf("github without a file: %+v, want an empty app with 91 created", g)
	}
}

// TestSimulateReplay replays 2026: the 20 leavers (2026-03-15) and the
// 10 future hires (2026-09-01) all hold or get slack. At --latency 5s,
// 72 h manual access and 24 h manual revoke: saved 10 × (72 h − 5 s) +
// 20 × (24 h − 5 s) = 1200 h − 150 s.
func TestSimulateReplay(t *testing.T) {
	t.Parallel()
	rep, _ := simulateJSON(t, "--hr", writeExport(t, 500), "--from", "2026-01-01", "--to", "2026-12-31", "--latency", "5s",
		"--manual-access", "72h", "--manual-revoke", "24h")
	r := rep.Summary.Replay
	if r == nil {
		t.Fatal("no replay in the report")
	}
	months := fmt.Sprint(r.Months)
	if r.Joiners != 10 || r.Leavers != 20 || len(r.Months) != 2 || r.Months[0].Month != "2026-03" || r.Months[0].Leavers != 20 ||
		r.Months[1].Month != "2026-09" || r.Months[1].Joiners != 10 || r.Months[1].AccessKeycard != 5 || r.Months[1].AccessManual != 72*3600 {
		t.Errorf("replay %d joiners %d leavers, months %s", r.Joiners, r.Leavers, months)
	}
	if want := 1200 - 150.0/3600; !near(r.HoursSaved, want) {
		t.Errorf("hours saved %.4f, want %.4f", r.HoursSaved, want)
	}
	notes := strings.Join(r.Notes, "\n")
	for _, w := range []string{"measured", "assumed: --latency", "entered by you"} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes do not say %q:\n%s", w, notes)
		}
	}
}

// TestSimulateTable checks the screen output's tables and notes.
func TestSimulateTable(t *testing.T) {
	t.Parallel()
	h := &harness{t: t}
	out := h.runWith("", simNow, "simulate", "--config", "testdata/simulate.yaml", "--hr", writeExport(t, 100), "--from", "2026-01-01")
	if out.err != nil {
		t.Fatalf("%v\n%s", out.err, out.stderr)
	}
	for _, w := range []string{"Nothing was touched", "APP ", "CREATE", "slack ", "none read", "8.75 USD", "total EUR",
		"Not in the budget figure (priced in another currency than USD): notion", "legal ", "matches nobody",
		"whose HR data blocks", "2026-03 ", "Keycard's 3.00838s: assumed"} {
		if !strings.Contains(out.stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, out.stdout)
		}
	}
}

func TestSimulateUsageErrors(t *testing.T) {
	t.Parallel()
	h := &harness{t: t}
	for _, args := range [][]string{
		{"simulate", "--config", "testdata/simulate.yaml"}, // no --hr and no tenant
		{"simulate", "--config", "testdata/simulate.yaml", "--hr", "x.csv", "--accounts", "csv"},
		{"simulate", "--config", "testdata/simulate.yaml", "--hr", "x.csv", "--to", "2026-01-01"},
		{"simulate", "--config", "testdata/simulate.yaml", "--hr", "x.csv", "--from", "01/01/2026"},
	} {
		if out := h.run(args...); exitCode(out.err) != 2 {
			t.Errorf("%v: err %v, want a usage error", args, out.err)
		}
	}
}

// TestSimulateHTML renders the report and loads it in headless Chromium:
// the page's tables and one chart per app must be in the DOM Chromium
// builds. Without Chromium it skips, unless KEYCARD_REQUIRE_CHROMIUM=1
// (make test sets it and installs Chromium).
func TestSimulateHTML(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "report.html")
	rep, _ := simulateJSON(t, "--hr", writeExport(t, 100), "--accounts-dir", writeAccounts(t), "--html", path, "--from", "2026-01-01")
	if len(rep.Apps) != 3 {
		t.Fatalf("%d apps", len(rep.Apps))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "<script") {
		t.Error("the report has a script: it must open offline as one file")
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("KEYCARD_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium not found and KEYCARD_REQUIRE_CHROMIUM=1")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	cmd := exec.CommandContext(t.Context(), bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
		"--dump-dom", "file://"+path)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	page := string(dom)
	for _, id := range []string{`id="apps"`, `id="costs"`, `id="memberships"`, `id="rules"`, `id="blocked"`, `id="replay"`, `id="budget"`} {
		if !strings.Contains(page, id) {
			t.Errorf("the rendered page has no %s", id)
		}
	}
	for _, app := range []string{"slack", "github", "notion"} {
		if !strings.Contains(page, `<figure class="chart" id="chart-`+app+`"`) || !strings.Contains(page, `data-label="deactivated"`) {
			t.Errorf("no chart for %s in the rendered page", app)
		}
	}
	if !strings.Contains(page, `<rect x="110"`) || !strings.Contains(page, `data-label="cost after"`) {
		t.Errorf("the charts have no bars or costs:\n%s", page)
	}
}

// TestSimulateTenThousand measures a simulation of 10,000 generated
// people against empty apps (the README's Performance row) and checks
// progress is shown every 1,000.
func TestSimulateTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 people")
	}
	t.Parallel()
	path := writeExport(t, 10_000)
	h := &harness{t: t}
	start := time.Now()
	out := h.runWith("", simNow, "simulate", "--config", "testdata/simulate.yaml", "--hr", path, "--json")
	took := time.Since(start)
	if out.err != nil {
		t.Fatalf("%v\n%s", out.err, out.stderr)
	}
	for _, w := range []string{"1000 people read", "10000 people read", "done"} {
		if !strings.Contains(out.stderr, w) {
			t.Errorf("stderr lacks %q: %s", w, out.stderr)
		}
	}
	var rep simulateReport
	if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Active != 9970 {
		t.Errorf("active %d, want 9970", rep.Summary.Active)
	}
	t.Logf("simulate, 10,000 people × 3 apps (read CSV, plan, report): %s", took.Round(time.Millisecond))
}
