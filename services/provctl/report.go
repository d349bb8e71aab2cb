package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"keycard/pkg/connector/registry"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/reconcile"
	"keycard/pkg/report"
)

// reportCmd runs one of the reports after roll-out: seats (what the apps
// cost against what the policy entitles) or activity (a period's
// joiners, movers and leavers, and how fast they were served).
func (c *cli) reportCmd(ctx context.Context, g globals, name string, args []string) error {
	switch name {
	case "seats":
		return c.reportSeats(ctx, g, args)
	case "activity":
		return c.reportActivity(ctx, g, args)
	}
	return usageErrorf("report %s: unknown subcommand (seats, activity)", name)
}

// reportSeats shows per app the people the policy grants an account
// (the employees snapshot evaluated as plan does), the accounts the last
// reconcile listed, the deactivated ones the vendor still bills, the
// orphans, and what it all costs a month against the budget.
func (c *cli) reportSeats(ctx context.Context, g globals, args []string) error {
	var (
		configPath string
		asJSON     bool
	)
	fs := c.newFlagSet("report seats", "report seats [--config FILE] [--json]", &g)
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file naming the apps, their seats and costs (env KEYCARD_CONFIG)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("report seats: unexpected argument %q", pos[0])
	case configPath == "":
		return usageErrorf("report seats: no configuration: pass --config FILE or set %s", envConfig)
	}
	cfg, err := c.loadPolicy(configPath)
	if err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	people, err := normalize.Snapshots(ctx, s.js)
	if err != nil {
		return err
	}
	store, err := reconcile.FindStore(ctx, s.js)
	if err != nil {
		return err
	}

	headcount, entitled := 0, map[string]int{}
	now := c.now()
	for _, p := range people {
		d := desire(cfg, &event.Event{Sequence: p.Sequence, Employee: p.Employee}, now)
		if d.State != event.Active {
			continue
		}
		headcount++
		for _, a := range d.Apps {
			if a.Account {
				entitled[a.App]++
			}
		}
	}
	var apps []report.AppSeats
	for _, a := range policy.ByTier(cfg.Apps) {
		as := report.AppSeats{App: a.Name, Tier: a.Tier, Seat: a.Seat, Entitled: entitled[a.Name]}
		if f, ok := c.types.Lookup(a.Type); ok {
			as.Deactivated = registry.DeactivatedSeat(f, a.Connector())
		}
		if store != nil {
			rep, ok, err := store.Report(ctx, a.Name)
			if err != nil {
				return err
			}
			if ok {
				as.Accounts = &report.Accounts{At: rep.At, Total: rep.Accounts, Active: rep.Active, Orphans: rep.Counts[reconcile.Orphan]}
			}
		}
		apps = append(apps, as)
	}
	res := report.SeatReport(cfg.Costs, headcount, apps)
	if asJSON {
		return writeJSON(c.stdout, res)
	}
	return c.printSeats(res)
}

func (c *cli) printSeats(res report.Seats) error {
	fmt.Fprintf(c.stdout, "%d people active in HR\n\n", res.Headcount)
	t := newTable(c.stdout, "APP", "TIER", "ENTITLED", "ACTIVE", "DEACTIVATED", "BILLED DEACT.", "ORPHANS", "SEAT/MONTH", "ENTITLED/MONTH", "BILLED/MONTH", "SAVABLE/MONTH", "ACCOUNTS AS OF")
	var unknown []string
	for _, l := range res.Lines {
		active, deact, billed, orphans, asOf := "?", "?", "?", "?", "no reconcile yet"
		if l.Known {
			active, deact, orphans, asOf = strconv.Itoa(l.Active), strconv.Itoa(l.Deactivated), strconv.Itoa(l.Orphans), when(l.AsOf)
			billed = strconv.Itoa(l.BilledDeactivated)
			if l.DeactivatedSeat == registry.SeatUnknown.String() {
				billed = "undocumented"
			}
		} else {
			unknown = append(unknown, l.App)
		}
		seat, ent, bill, save := "-", "-", "-", "-"
		if l.Priced {
			seat, ent = money(l.SeatMonthly, l.Currency), money(l.EntitledMonthly, l.Currency)
			if l.Known {
				bill, save = money(l.BilledMonthly, l.Currency), money(l.SavableMonthly, l.Currency)
			} else {
				bill, save = "?", "?"
			}
		}
		t.row(l.App, l.Tier, strconv.Itoa(l.Entitled), active, deact, billed, orphans, seat, ent, bill, save, asOf)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	for _, tot := range res.Totals {
		fmt.Fprintf(c.stdout, "total %s: entitled %s, billed %s a month", tot.Currency, money(tot.Entitled, tot.Currency), money(tot.Billed, tot.Currency))
		if len(tot.Unknown) > 0 {
			fmt.Fprintf(c.stdout, " (without %s: accounts not known)", strings.Join(tot.Unknown, ", "))
		}
		fmt.Fprintln(c.stdout)
		if tot.Savable > 0 {
			fmt.Fprintf(c.stdout, "  %s a month can be saved: deactivated accounts the vendor still bills (delete them or remove their seats)\n", money(tot.Savable, tot.Currency))
		}
	}
	if b := res.Budget; b != nil {
		if b.Currency == "" {
			fmt.Fprintf(c.stdout, "budget %.2f per employee: costs.currency is not set and the seats are in several currencies; not compared\n", b.PerEmployee)
		} else {
			state := "left"
			if b.Left < 0 {
				state = "over"
			}
			fmt.Fprintf(c.stdout, "budget %s × %d people = %s a month: billed %s, %s %s\n", money(b.PerEmployee, b.Currency), b.Headcount,
				money(b.Amount, b.Currency), money(b.Billed, b.Currency), money(abs(b.Left), b.Currency), state)
			for _, tot := range res.Totals {
				if tot.Currency != b.Currency {
					fmt.Fprintf(c.stdout, "  %s seats are not converted: compare them yourself\n", tot.Currency)
				}
			}
		}
	}
	if len(res.Unpriced) > 0 {
		fmt.Fprintf(c.stdout, "no seat price in the file: %s\n", strings.Join(res.Unpriced, ", "))
	}
	if len(unknown) > 0 {
		fmt.Fprintf(c.stdout, "accounts not known (no reconcile report: run provctl reconcile, or wait for the schedule): %s\n", strings.Join(unknown, ", "))
	}
	return nil
}

func money(v float64, currency string) string { return fmt.Sprintf("%.2f %s", v, currency) }

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
