package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/reconcile"
)

// planChange is one change a new policy makes for one person in one app.
type planChange struct {
	App string `json:"app"`
	// Rule is the grant behind it: the new file's rule for what is
	// gained, the current file's for what is lost ("birthright" or a rule
	// name).
	Rule   string `json:"rule"`
	Change string `json:"change"` // "+account", "-account", "+group jira", "-team web", "org_unit /A → /B"
}

// personPlan is one person's changes.
type personPlan struct {
	EmployeeID string       `json:"employee_id"`
	Name       string       `json:"name"`
	Changes    []planChange `json:"changes"`
}

// planCount is how many people one change reaches.
type planCount struct {
	planChange
	People int `json:"people"`
}

// planResult is plan's JSON document.
type planResult struct {
	Current string       `json:"current"`
	New     string       `json:"new"`
	People  int          `json:"people"`
	Changed int          `json:"people_changed"`
	Counts  []planCount  `json:"counts"`
	Details []personPlan `json:"details,omitempty"`
}

// plan shows what a new policy file would change for everyone HR knows,
// against the current one: accounts gained and lost, memberships added
// and removed, per app and rule, and per person with --details. It
// touches nothing; applying it is deploying the file (the workers then
// re-evaluate everyone, guarded and paced).
func (c *cli) plan(ctx context.Context, g globals, args []string) error {
	var (
		newPath, currentPath string
		apps                 appList
		details, asJSON      bool
	)
	fs := c.newFlagSet("plan", "plan --config NEW [--current FILE] [--app A]... [--details] [--json]", &g)
	fs.StringVar(&newPath, "config", "", "the new policy file")
	fs.StringVar(&currentPath, "current", c.getenv(envConfig), "the policy file running now (env KEYCARD_CONFIG)")
	fs.Var(&apps, "app", "only this app (repeatable)")
	fs.BoolVar(&details, "details", false, "list every person's changes")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("plan: unexpected argument %q", pos[0])
	case newPath == "":
		return usageErrorf("plan: pass the new policy file with --config NEW")
	case currentPath == "":
		return usageErrorf("plan: no current policy: pass --current FILE or set %s", envConfig)
	}
	cur, err := c.loadPolicy(currentPath)
	if err != nil {
		return err
	}
	next, err := c.loadPolicy(newPath)
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
	c.warnIfNotRunning(ctx, s, cur)

	res := planResult{Current: cur.File, New: next.File, People: len(people)}
	counts := map[planChange]int{}
	now := c.now()
	for _, p := range people {
		e := &event.Event{Sequence: p.Sequence, Employee: p.Employee}
		changes := diffPerson(cur, next, desire(cur, e, now), desire(next, e, now), apps)
		if len(changes) == 0 {
			continue
		}
		res.Changed++
		for _, ch := range changes {
			counts[ch]++
		}
		if details {
			res.Details = append(res.Details, personPlan{EmployeeID: p.Employee.ID, Name: personName(p.Employee), Changes: changes})
		}
	}
	for ch, n := range counts {
		res.Counts = append(res.Counts, planCount{ch, n})
	}
	slices.SortFunc(res.Counts, func(a, b planCount) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Change, b.Change))
	})
	slices.SortFunc(res.Details, func(a, b personPlan) int { return cmp.Compare(a.EmployeeID, b.EmployeeID) })
	if asJSON {
		return writeJSON(c.stdout, res)
	}
	fmt.Fprintf(c.stdout, "%s → %s: %d of %d people change\n\n", res.Current, res.New, res.Changed, res.People)
	t := newTable(c.stdout, "APP", "RULE", "CHANGE", "PEOPLE")
	for _, n := range res.Counts {
		t.row(n.App, n.Rule, n.Change, strconv.Itoa(n.People))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if details {
		fmt.Fprintln(c.stdout)
		t = newTable(c.stdout, "EMPLOYEE", "NAME", "APP", "CHANGES")
		for _, p := range res.Details {
			byApp := map[string][]string{}
			for _, ch := range p.Changes {
				byApp[ch.App] = append(byApp[ch.App], ch.Change)
			}
			for _, app := range sortedKeys(byApp) {
				t.row(p.EmployeeID, p.Name, app, strings.Join(byApp[app], ", "))
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if res.Changed > 0 {
		fmt.Fprintln(c.stdout, "\nNothing was changed. Deploy the new file and restart (or reload) the workers to apply it to everyone;")
		fmt.Fprintln(c.stdout, "the blast-radius guard holds a change that deactivates too many. Follow it with provctl reconcile status.")
	}
	return nil
}

// warnIfNotRunning says so when the workers last re-evaluated an app
// under another policy than --current: the plan then compares against a
// file that is not the one running.
func (c *cli) warnIfNotRunning(ctx context.Context, s *session, cur *policy.Config) {
	store, err := reconcile.FindStore(ctx, s.js)
	if err != nil || store == nil {
		return
	}
	for _, a := range cur.Apps {
		if st, rev, err := store.Policy(ctx, a.Name); err == nil && rev > 0 && st.Fingerprint != cur.Fingerprint(a.Name) {
			fmt.Fprintf(c.stderr, "warning: %s: the workers run another policy for this app than %s (%s, applied %s)\n",
				a.Name, cur.File, st.File, when(st.At))
		}
	}
}

// diffPerson is what changes for one person from old to next, in every
// app either names (only those of apps when set).
func diffPerson(oldCfg, newCfg *policy.Config, old, next *desiredState, apps appList) []planChange {
	byApp := func(d *desiredState) map[string]policy.Desired {
		m := map[string]policy.Desired{}
		for _, a := range d.Apps {
			m[a.App] = a
		}
		return m
	}
	olds, news := byApp(old), byApp(next)
	names := sortedKeys(olds)
	for _, n := range sortedKeys(news) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var out []planChange
	for _, app := range names {
		if len(apps) > 0 && !slices.Contains(apps, app) {
			continue
		}
		o, n := olds[app], news[app]
		switch {
		case !o.Account && n.Account:
			out = append(out, planChange{app, firstOr(n.Matched), "+account"})
		case o.Account && !n.Account:
			out = append(out, planChange{app, firstOr(o.Matched), "-account"})
			continue // the memberships go with it
		}
		for _, k := range connector.Kinds {
			have, want := membersOf(o, k), membersOf(n, k)
			for _, name := range want {
				if !slices.Contains(have, name) {
					out = append(out, planChange{app, granting(newCfg, app, n.Matched, k, name), fmt.Sprintf("+%s %s", k, name)})
				}
			}
			for _, name := range have {
				if !slices.Contains(want, name) && n.Account {
					out = append(out, planChange{app, granting(oldCfg, app, o.Matched, k, name), fmt.Sprintf("-%s %s", k, name)})
				}
			}
		}
		if n.Account && o.OrgUnit != n.OrgUnit && n.OrgUnit != "" {
			out = append(out, planChange{app, "-", fmt.Sprintf("org_unit %s → %s", cmp.Or(o.OrgUnit, "-"), n.OrgUnit)})
		}
		if n.Account && o.License != n.License {
			out = append(out, planChange{app, "-", fmt.Sprintf("license %s → %s", cmp.Or(o.License, "-"), cmp.Or(n.License, "-"))})
		}
	}
	return out
}

func firstOr(matched []string) string {
	if len(matched) == 0 {
		return "-"
	}
	return matched[0]
}

func membersOf(d policy.Desired, k connector.Kind) []string {
	switch k {
	case connector.Group:
		return d.Groups
	case connector.Team:
		return d.Teams
	case connector.Channel:
		return d.Channels
	case connector.Role:
		return d.Roles
	}
	return nil
}

// granting is the first of the matched rules whose grant in app gives
// the membership: "birthright" or the rule's name.
func granting(cfg *policy.Config, app string, matched []string, k connector.Kind, name string) string {
	grants := func(g policy.Grant) bool {
		return slices.Contains(membersOf(policy.Desired{Groups: g.Groups, Teams: g.Teams, Channels: g.Channels, Roles: g.Roles}, k), name)
	}
	for _, m := range matched {
		if m == "birthright" {
			if g, ok := cfg.Policy.Birthright[app]; ok && grants(g) {
				return m
			}
			continue
		}
		for _, r := range cfg.Policy.Rules {
			if g, ok := r.Grant[app]; ok && r.Name == m && grants(g) {
				return m
			}
		}
	}
	return "-"
}

func personName(e event.Employee) string {
	return e.Name()
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
