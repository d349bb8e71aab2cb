package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"keycard/pkg/bamboohr"
	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/redact"
	"keycard/pkg/simulate"
)

const simulateSynopsis = "simulate [--hr FILE] [--config FILE] [--accounts live | --accounts-dir DIR] [--json] [--html FILE]\n" +
	"                 [--from DATE [--to DATE] [--latency D] [--manual-access D] [--manual-revoke D]]"

// simulateReport is simulate's JSON document: one object per app and a
// summary.
type simulateReport struct {
	Apps    []simulate.AppPlan `json:"apps"`
	Summary simulateSummary    `json:"summary"`
}

type simulateSummary struct {
	Config             string                `json:"config"`
	HR                 string                `json:"hr"`
	At                 time.Time             `json:"at"`
	People             int                   `json:"people"`
	Active             int                   `json:"active"`
	Pending            int                   `json:"pending"`
	Gone               int                   `json:"gone"`
	Blocked            []simulate.Blocked    `json:"blocked"`
	Rules              []simulate.RuleMatch  `json:"rules"`
	RulesMatchNobody   []string              `json:"rules_matching_nobody"`
	UnknownDepartments []simulate.Department `json:"unknown_departments,omitempty"`
	Costs              simulate.Costs        `json:"costs"`
	Replay             *simulate.Replay      `json:"replay,omitempty"`
}

// simulate plans the whole company against a policy file before Keycard
// is rolled out, touching nothing (no NATS, no writes anywhere): HR from
// an export or the live tenant (read-only), accounts from the apps (List
// only) or a CSV per app, or none.
func (c *cli) simulate(ctx context.Context, g globals, args []string) error {
	var (
		hrPath, configPath, accounts, accountsDir, htmlPath string
		asJSON                                              bool
		manualAccess, manualRevoke                          = 72 * time.Hour, 24 * time.Hour
		latency                                             time.Duration
		from, to                                            string
	)
	fs := c.newFlagSet("simulate", simulateSynopsis, &g)
	fs.StringVar(&hrPath, "hr", "", "HR export (CSV with BambooHR's field names, or JSON); default: the live tenant (BAMBOOHR_*), read-only")
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file (env KEYCARD_CONFIG)")
	fs.StringVar(&accounts, "accounts", "", "live: list every app's accounts through its connector (read-only)")
	fs.StringVar(&accountsDir, "accounts-dir", "", "directory of <app>.csv files: id,email,username,active,groups,teams,channels,roles")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document: the apps and a summary")
	fs.StringVar(&htmlPath, "html", "", "also write an HTML report (tables and a chart per app) to this file")
	fs.StringVar(&from, "from", "", "replay the joiners and leavers from this date (YYYY-MM-DD)")
	fs.StringVar(&to, "to", "", "… to this date, inclusive (default: today)")
	fs.DurationVar(&latency, "latency", 0, "Keycard's time from an HR change's effective time to applied (default: the documented figure)")
	fs.DurationVar(&manualAccess, "manual-access", manualAccess, "your time today from a start date to access")
	fs.DurationVar(&manualRevoke, "manual-revoke", manualRevoke, "your time today from a leaving time to access revoked")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("simulate: unexpected argument %q", pos[0])
	case configPath == "":
		return usageErrorf("simulate: no configuration: pass --config FILE or set %s", envConfig)
	case accounts != "" && accounts != "live":
		return usageErrorf("simulate: --accounts takes only live (or use --accounts-dir DIR)")
	case accounts != "" && accountsDir != "":
		return usageErrorf("simulate: --accounts live and --accounts-dir exclude each other")
	case to != "" && from == "":
		return usageErrorf("simulate: --to needs --from")
	}
	cfg, err := c.loadPolicy(configPath)
	if err != nil {
		return err
	}
	now := c.now()
	var window simulate.Window
	if from != "" {
		if window, err = parseWindow(from, to, now); err != nil {
			return err
		}
	}
	mapping, fields, err := c.hrSettings()
	if err != nil {
		return err
	}
	records, source, err := c.readHR(ctx, hrPath, fields, cmp.Or(window.From, now.AddDate(-1, 0, 0)))
	if err != nil {
		return err
	}
	people := make([]event.Employee, len(records))
	for i, r := range records {
		people[i] = mapping.Employee(r)
	}
	in := simulate.Input{People: people, Config: cfg, Types: c.types, Now: now}
	switch {
	case accountsDir != "":
		if in.Accounts, err = simulate.AccountsDir(accountsDir, appNames(cfg)); err != nil {
			return err
		}
	case accounts == "live":
		if in.Accounts, err = c.liveAccounts(ctx, cfg); err != nil {
			return err
		}
	}
	res, err := simulate.Run(ctx, in)
	if err != nil {
		return err
	}
	rep := simulateReport{Apps: res.Apps, Summary: simulateSummary{
		Config: cfg.File, HR: source, At: res.At, People: res.People, Active: res.Active, Pending: res.Pending, Gone: res.Gone,
		Blocked: res.Blocked, Rules: res.Rules, UnknownDepartments: res.UnknownDepartments, Costs: res.Costs,
		RulesMatchNobody: []string{},
	}}
	for _, r := range res.Rules {
		if r.People == 0 {
			rep.Summary.RulesMatchNobody = append(rep.Summary.RulesMatchNobody, r.Rule)
		}
	}
	if from != "" {
		lat, basis := latency, "assumed: --latency"
		if lat == 0 {
			lat, basis = simulate.DocumentedLatency, simulate.DocumentedLatencyBasis
		}
		r, err := simulate.ReplayRange(people, cfg, mapping, window, simulate.Figures{
			Keycard: lat, KeycardBasis: basis, ManualAccess: manualAccess, ManualRevoke: manualRevoke,
		})
		if err != nil {
			return err
		}
		rep.Summary.Replay = &r
	}
	if htmlPath != "" {
		if err := writeSimulationHTML(htmlPath, rep); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "HTML report written to %s\n", htmlPath)
	}
	if asJSON {
		return writeJSON(c.stdout, rep)
	}
	return c.printSimulation(rep)
}

// hrSettings are the normalizer's own settings from the environment (the
// same variables the services read), so people are mapped as they will be.
func (c *cli) hrSettings() (normalize.Mapping, bamboohr.Config, error) {
	list := func(k, def string) []string {
		var out []string
		for _, s := range strings.Split(cmp.Or(c.getenv(k), def), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	zone, err := time.LoadLocation(cmp.Or(c.getenv("KEYCARD_TIME_ZONE"), "UTC"))
	if err != nil {
		return normalize.Mapping{}, bamboohr.Config{}, fmt.Errorf("KEYCARD_TIME_ZONE: %w", err)
	}
	m, err := normalize.NewMapping(normalize.Options{
		DefaultZone: zone, ContractorStatuses: list("KEYCARD_CONTRACTOR_STATUSES", "Contractor,Contract,Freelance"),
		JoinerTime: c.getenv("KEYCARD_JOINER_TIME"), LeaverTime: c.getenv("KEYCARD_LEAVER_TIME"),
	})
	if err != nil {
		return m, bamboohr.Config{}, err
	}
	return m, bamboohr.Config{
		Company: c.getenv("BAMBOOHR_COMPANY"), BaseURL: c.getenv("BAMBOOHR_API_URL"), APIKey: c.getenv("BAMBOOHR_API_KEY"),
		CustomFields: list("BAMBOOHR_CUSTOM_FIELDS", ""), ContractEndField: c.getenv("BAMBOOHR_CONTRACT_END_FIELD"),
		TimeZoneField: c.getenv("BAMBOOHR_TIME_ZONE_FIELD"),
	}, nil
}

// readHR reads the export at path, or the live tenant when path is "".
func (c *cli) readHR(ctx context.Context, path string, fields bamboohr.Config, since time.Time) ([]bamboohr.Employee, string, error) {
	progress := simulate.NewProgress(c.stderr, "people read", c.now)
	defer progress.Done()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		recs, err := simulate.ReadHR(f, fields, progress)
		return recs, path, err
	}
	if fields.APIKey == "" || (fields.Company == "" && fields.BaseURL == "") {
		return nil, "", usageErrorf("simulate: pass --hr FILE, or set BAMBOOHR_API_KEY and BAMBOOHR_COMPANY (or BAMBOOHR_API_URL) to read the live tenant")
	}
	api, err := bamboohr.New(fields)
	if err != nil {
		return nil, "", err
	}
	recs, err := simulate.FetchHR(ctx, api, since, progress)
	if err != nil {
		return nil, "", fmt.Errorf("read BambooHR: %s", redact.Secret(err.Error(), fields.APIKey))
	}
	return recs, "BambooHR " + cmp.Or(fields.Company, fields.BaseURL), nil
}

// liveAccounts lists every app that has a credential in the environment,
// read-only and paced at the app's rate; the others are planned against
// an empty app, and said so.
func (c *cli) liveAccounts(ctx context.Context, cfg *policy.Config) (map[string][]connector.Account, error) {
	pace, closePace, err := c.readPace(cfg)
	if err != nil {
		return nil, err
	}
	defer closePace()
	out := map[string][]connector.Account{}
	for _, a := range cfg.Apps {
		_, conn, token, skipped, err := c.openApp(ctx, a, pace)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name, err)
		}
		if conn == nil {
			fmt.Fprintf(c.stderr, "%s: accounts not read (%s): planned against an empty app\n", a.Name, skipped)
			continue
		}
		var accts []connector.Account
		err = c.listProgress(a.Name, conn.List)(ctx, func(acc connector.Account) error {
			accts = append(accts, acc)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: list accounts: %s", a.Name, redact.Secret(err.Error(), token))
		}
		out[a.Name] = accts
	}
	return out, nil
}

func appNames(cfg *policy.Config) []string {
	out := make([]string, len(cfg.Apps))
	for i, a := range cfg.Apps {
		out[i] = a.Name
	}
	return out
}

// parseWindow reads --from and --to: dates, the whole of each day in UTC.
func parseWindow(from, to string, now time.Time) (simulate.Window, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return simulate.Window{}, usageErrorf("simulate: --from %q: want YYYY-MM-DD", from)
	}
	t := now.UTC()
	if to != "" {
		if t, err = time.Parse(time.DateOnly, to); err != nil {
			return simulate.Window{}, usageErrorf("simulate: --to %q: want YYYY-MM-DD", to)
		}
	}
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	if !t.After(f) {
		return simulate.Window{}, usageErrorf("simulate: --to is before --from")
	}
	return simulate.Window{From: f, To: t}, nil
}

// printSimulation writes the report's tables.
func (c *cli) printSimulation(rep simulateReport) error {
	s := rep.Summary
	fmt.Fprintf(c.stdout, "%s against %s at %s: %d people (%d active, %d future hires, %d gone). Nothing was touched.\n\n",
		s.HR, s.Config, when(s.At), s.People, s.Active, s.Pending, s.Gone)
	t := newTable(c.stdout, "APP", "ACCOUNTS", "CREATE", "REACTIVATE", "KEEP", "DEACTIVATE", "ORPHANS", "BLOCKED", "+MEMBERS", "-MEMBERS", "SEATS NOW", "SEATS AFTER")
	for _, a := range rep.Apps {
		accts := "none read"
		if a.AccountsKnown {
			accts = strconv.Itoa(a.Accounts)
		}
		t.row(a.App, accts, strconv.Itoa(a.Create), strconv.Itoa(a.Reactivate), strconv.Itoa(a.Keep), strconv.Itoa(a.Deactivate()),
			strconv.Itoa(a.Orphans), strconv.Itoa(a.Blocked), strconv.Itoa(a.MembershipsAdded), strconv.Itoa(a.MembershipsRemoved),
			strconv.Itoa(a.SeatsToday), strconv.Itoa(a.SeatsAfter))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\nMonthly seat cost (each app in its own currency; never converted):")
	t = newTable(c.stdout, "APP", "PER SEAT", "NOW", "AFTER", "CHANGE")
	for _, a := range rep.Apps {
		if a.Cost == nil {
			t.row(a.App, "no seat price in the config")
			continue
		}
		t.row(a.App, money(a.Cost.PerSeat, a.Cost.Currency), money(a.Cost.Today, a.Cost.Currency), money(a.Cost.After, a.Cost.Currency), signed(a.Cost.Change, a.Cost.Currency))
	}
	for _, tot := range s.Costs.Totals {
		t.row("total "+tot.Currency, "", money(tot.Today, tot.Currency), money(tot.After, tot.Currency), signed(tot.Change, tot.Currency))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if b := s.Costs.Budget; b != nil {
		verdict := "within budget"
		if b.Over {
			verdict = "OVER budget"
		}
		fmt.Fprintf(c.stdout, "Budget: %s per employee × %d active = %s a month; the plan spends %s (%s per employee): %s.\n",
			money(b.PerEmployee, b.Currency), b.Employees, money(b.Total, b.Currency), money(b.Spent, b.Currency), money(b.SpentPerEmployee, b.Currency), verdict)
		if len(b.Excluded) > 0 {
			fmt.Fprintf(c.stdout, "Not in the budget figure (priced in another currency than %s): %s.\n", b.Currency, strings.Join(b.Excluded, ", "))
		}
	}
	if err := c.printMemberships(rep.Apps); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\nRules (active people matched):")
	t = newTable(c.stdout, "RULE", "PEOPLE", "NOTE")
	for _, r := range s.Rules {
		note := ""
		if r.People == 0 {
			note = "matches nobody"
		}
		t.row(r.Rule, strconv.Itoa(r.People), note)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(s.UnknownDepartments) > 0 {
		fmt.Fprintln(c.stdout, "\nDepartments no rule names (a typo in HR, or birthright only):")
		t = newTable(c.stdout, "DEPARTMENT", "PEOPLE")
		for _, d := range s.UnknownDepartments {
			t.row(d.Name, strconv.Itoa(d.People))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "\n%s whose HR data blocks or weakens provisioning:\n", plural(len(s.Blocked), "person"))
	if len(s.Blocked) > 0 {
		t = newTable(c.stdout, "EMPLOYEE", "NAME", "NO ACCOUNT IN", "WHY")
		for _, b := range s.Blocked {
			t.row(b.EmployeeID, b.Name, joinOrDash(b.Apps), strings.Join(b.Reasons, "; "))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if s.Replay != nil {
		return c.printReplay(*s.Replay)
	}
	return nil
}

func (c *cli) printMemberships(apps []simulate.AppPlan) error {
	fmt.Fprintln(c.stdout, "\nMemberships (Keycard manages only those a grant names):")
	t := newTable(c.stdout, "APP", "KIND", "NAME", "ADDED", "REMOVED")
	for _, a := range apps {
		for _, m := range a.Memberships {
			t.row(a.App, string(m.Kind), m.Name, strconv.Itoa(m.Added), strconv.Itoa(m.Removed))
		}
	}
	return t.flush()
}

func (c *cli) printReplay(r simulate.Replay) error {
	fmt.Fprintf(c.stdout, "\nReplay %s to %s: joiners and leavers by month (counted from HR: measured; times: %s):\n",
		r.From.Format(time.DateOnly), r.To.AddDate(0, 0, -1).Format(time.DateOnly), "see the notes below")
	t := newTable(c.stdout, "MONTH", "JOINERS", "LEAVERS", "ACCESS KEYCARD", "ACCESS MANUAL", "REVOKE KEYCARD", "REVOKE MANUAL", "HOURS SAVED")
	for _, m := range r.Months {
		t.row(m.Month, strconv.Itoa(m.Joiners), strconv.Itoa(m.Leavers), seconds(m.AccessKeycard), seconds(m.AccessManual),
			seconds(m.RevokeKeycard), seconds(m.RevokeManual), strconv.FormatFloat(m.HoursSaved, 'f', 1, 64))
	}
	t.row("total", strconv.Itoa(r.Joiners), strconv.Itoa(r.Leavers), "", "", "", "", strconv.FormatFloat(r.HoursSaved, 'f', 1, 64))
	if err := t.flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintln(c.stdout, "  "+n)
	}
	return nil
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) + " s" }

func signed(v float64, cur string) string {
	if v > 0 {
		return "+" + money(v, cur)
	}
	return money(v, cur)
}
