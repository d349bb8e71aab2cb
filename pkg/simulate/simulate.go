// Package simulate answers "what would Keycard do to my company?" before
// it is rolled out, touching nothing: it plans every person an HR export
// (or the live tenant, read-only) holds against a policy file and,
// optionally, each app's current accounts, and reports per app the
// accounts created, kept and deactivated, the memberships added and
// removed, the people whose HR data blocks or weakens provisioning, the
// rules that match nobody and the seat cost before and after. It can also
// replay a date range of joiners and leavers (Replay).
//
// It plans with the workers' own code, not a model of it: the policy's
// Evaluate through workers.EvaluatorAt, and pkg/reconcile's Compare (the
// worker's planner run against each listed account), so a simulation and
// the first day after roll-out cannot disagree about what is planned.
package simulate

import (
	"cmp"
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/reconcile"
	"keycard/pkg/workers"
)

// Input is what a simulation plans.
type Input struct {
	// People are the canonical snapshots (normalize.Mapping.Employee of
	// each HR record).
	People []event.Employee
	Config *policy.Config
	// Types is the registry the config was loaded with: it says which app
	// types apply a grant's org unit and licence.
	Types *registry.Registry
	// Accounts are the apps' current accounts, by app name. An app that
	// is absent is planned against an empty app (everyone granted is a
	// create); one present with no accounts is an app known to be empty.
	Accounts map[string][]connector.Account
	// Now is the moment everyone is evaluated at (each person's "today"
	// in their own zone, as the workers evaluate).
	Now time.Time
}

// Result is the whole simulation.
type Result struct {
	At     time.Time `json:"at"`
	People int       `json:"people"` // records read
	// Active, Pending and Gone count the people by their state now.
	Active  int       `json:"active"`
	Pending int       `json:"pending"`
	Gone    int       `json:"gone"`
	Apps    []AppPlan `json:"apps"`
	// Blocked lists the active people whose HR data blocks or weakens
	// their provisioning, in employee id order.
	Blocked []Blocked `json:"blocked"`
	// Rules is how many active people each rule matches, in file order;
	// a rule with People 0 matches nobody.
	Rules []RuleMatch `json:"rules"`
	// UnknownDepartments are departments of active people that no rule
	// reading employee.department names (a typo in HR, or a department
	// that gets only the birthright grants), with their head counts.
	UnknownDepartments []Department `json:"unknown_departments,omitempty"`
	Costs              Costs        `json:"costs"`
}

// AppPlan is one app's plan.
type AppPlan struct {
	App string `json:"app"`
	// AccountsKnown says the app's accounts were read (live or a CSV);
	// false: planned against an empty app.
	AccountsKnown bool `json:"accounts_known"`
	Accounts      int  `json:"accounts"` // listed
	// Create are new accounts; Reactivate, listed deactivated accounts
	// switched back on. Keep are active accounts of people still granted
	// one; DeactivateLeavers those of people HR says have left, and
	// DeactivateNotGranted those of current people the policy grants
	// none (or not yet: a future hire). Orphans are active accounts
	// matching nobody in HR: reported, not deactivated.
	Create               int `json:"create"`
	Reactivate           int `json:"reactivate"`
	Keep                 int `json:"keep"`
	DeactivateLeavers    int `json:"deactivate_leavers"`
	DeactivateNotGranted int `json:"deactivate_not_granted"`
	Orphans              int `json:"orphans"`
	// Blocked are people granted a new account here who have no work
	// e-mail: the account cannot be made (not counted in Create).
	Blocked int `json:"blocked"`
	// MembershipsAdded and MembershipsRemoved count memberships of people
	// who keep or get an account (a leaver's go with the account, and are
	// not counted); Memberships breaks them down by name.
	MembershipsAdded   int          `json:"memberships_added"`
	MembershipsRemoved int          `json:"memberships_removed"`
	Memberships        []Membership `json:"memberships,omitempty"`
	// SeatsToday are the active accounts listed; SeatsAfter those after
	// the plan (orphans keep theirs).
	SeatsToday int      `json:"seats_today"`
	SeatsAfter int      `json:"seats_after"`
	Cost       *AppCost `json:"cost,omitempty"` // nil: the config gives no seat price
}

// Deactivate is every deactivation the plan makes.
func (a AppPlan) Deactivate() int { return a.DeactivateLeavers + a.DeactivateNotGranted }

// Membership is one group, team, channel or role's changes.
type Membership struct {
	Kind    connector.Kind `json:"kind"`
	Name    string         `json:"name"`
	Added   int            `json:"added"`
	Removed int            `json:"removed"`
}

// Blocked is one person whose data is in the way.
type Blocked struct {
	EmployeeID string   `json:"employee_id"`
	Name       string   `json:"name"`
	Reasons    []string `json:"reasons"`
	// Apps are the apps where an account cannot be made for them (no work
	// e-mail); empty when the person is only short of some grants.
	Apps []string `json:"apps,omitempty"`
}

// RuleMatch is how many active people a rule selects.
type RuleMatch struct {
	Rule   string `json:"rule"`
	People int    `json:"people"`
}

// Department is a department and its active head count.
type Department struct {
	Name   string `json:"name"`
	People int    `json:"people"`
}

// Run plans everyone against every app of in.Config.
func Run(ctx context.Context, in Input) (Result, error) {
	cfg := in.Config
	res := Result{At: in.Now.UTC(), People: len(in.People)}
	zones := &event.Zones{}
	snaps := make([]normalize.Snapshot, len(in.People))
	byID := make(map[string]event.Employee, len(in.People))
	for i, e := range in.People {
		snaps[i] = normalize.Snapshot{Employee: e}
		byID[e.ID] = e
	}
	deptRules, deptNames := departmentRules(cfg)
	matches := make([]int, len(cfg.Policy.Rules))
	unknown := map[string]int{}
	noEmail := map[string]bool{}
	blocked := map[string]*Blocked{}
	block := func(e event.Employee, reason string) {
		b := blocked[e.ID]
		if b == nil {
			b = &Blocked{EmployeeID: e.ID, Name: e.Name()}
			blocked[e.ID] = b
		}
		b.Reasons = append(b.Reasons, reason)
	}
	for _, e := range in.People {
		today := zones.Today(e, in.Now)
		switch e.StateOn(today) {
		case event.Pending:
			res.Pending++
			continue
		case event.Gone:
			res.Gone++
			continue
		}
		res.Active++
		ev := cfg.Evaluate(e, today)
		matched := map[string]bool{}
		for _, d := range ev.Apps {
			for _, m := range d.Matched {
				matched[m] = true
			}
		}
		for i, r := range cfg.Policy.Rules {
			if matched[r.Name] {
				matches[i]++
			}
		}
		for _, w := range ev.Warnings {
			block(e, w)
		}
		if strings.TrimSpace(e.WorkEmail) == "" {
			noEmail[e.ID] = true
			block(e, "no work e-mail: no account can be made")
		}
		if len(deptRules) > 0 {
			switch {
			case e.Department == "":
				block(e, "no department (read by rule "+strings.Join(deptRules, ", ")+")")
			case !deptNames[e.Department]:
				unknown[e.Department]++
			}
		}
	}
	for i, r := range cfg.Policy.Rules {
		res.Rules = append(res.Rules, RuleMatch{Rule: r.Name, People: matches[i]})
	}
	for _, name := range slices.Sorted(maps.Keys(unknown)) {
		res.UnknownDepartments = append(res.UnknownDepartments, Department{name, unknown[name]})
	}

	now := func() time.Time { return in.Now }
	for _, a := range cfg.Apps {
		f, _ := in.Types.Lookup(a.Type) // the config was loaded against in.Types
		eval := workers.EvaluatorAt(cfg, a.Name, f, nil, now)
		accts, known := in.Accounts[a.Name]
		plan, err := planApp(ctx, a.Name, snaps, byID, accts, eval, now, noEmail, blocked)
		if err != nil {
			return res, err
		}
		plan.AccountsKnown = known
		res.Apps = append(res.Apps, plan)
	}
	for _, id := range slices.Sorted(maps.Keys(blocked)) {
		res.Blocked = append(res.Blocked, *blocked[id])
	}
	res.Costs = costs(cfg, res.Apps, res.Active)
	return res, nil
}

// planApp runs reconcile's Compare for one app. Before roll-out Keycard
// made none of the accounts, so each listed account is taken as the
// person's whose HR id is its external id or whose work e-mail it has (any
// case): the worker adopts such an account on the person's first event,
// and from then on plans it as its own. Without this, Compare would call
// them all unmanaged and plan nothing.
func planApp(ctx context.Context, app string, snaps []normalize.Snapshot, byID map[string]event.Employee, accts []connector.Account,
	eval func(event.Employee) (connector.Want, []string, []string), now func() time.Time,
	noEmail map[string]bool, blocked map[string]*Blocked) (AppPlan, error) {
	byEmail := make(map[string]string, len(snaps))
	for _, s := range snaps {
		if e := strings.ToLower(s.Employee.WorkEmail); e != "" {
			byEmail[e] = s.Employee.ID
		}
	}
	adopted := map[string]string{}
	for _, a := range accts {
		id := a.ExternalID
		if _, ok := byID[id]; !ok {
			id = byEmail[strings.ToLower(a.Email)]
		}
		if id != "" {
			adopted[event.EmployeeKey(id)] = a.ID
		}
	}
	rep, err := reconcile.Compare(ctx, reconcile.Input{
		App: app, People: snaps, Accounts: adopted, Evaluate: eval, Now: now,
		List: func(ctx context.Context, fn func(connector.Account) error) error {
			for _, a := range accts {
				if err := fn(a); err != nil {
					return err
				}
			}
			return nil
		},
	})
	if err != nil {
		return AppPlan{}, err
	}
	p := AppPlan{App: app, Accounts: rep.Accounts, SeatsToday: rep.Active}
	members := map[[2]string]*Membership{}
	count := func(acts []connector.Action) {
		for _, x := range acts {
			if x.Op != connector.OpAdd && x.Op != connector.OpRemove {
				continue
			}
			m := members[[2]string{string(x.Kind), x.Name}]
			if m == nil {
				m = &Membership{Kind: x.Kind, Name: x.Name}
				members[[2]string{string(x.Kind), x.Name}] = m
			}
			if x.Op == connector.OpAdd {
				m.Added++
				p.MembershipsAdded++
			} else {
				m.Removed++
				p.MembershipsRemoved++
			}
		}
	}
	for _, it := range rep.Items {
		switch it.Class {
		case reconcile.Orphan:
			p.Orphans++
		case reconcile.LeaverActive:
			p.DeactivateLeavers++
		case reconcile.NotGranted:
			p.DeactivateNotGranted++
		case reconcile.MembershipMissing, reconcile.MembershipExtra:
			count(it.Plan)
		case reconcile.Missing:
			if slices.ContainsFunc(it.Plan, func(x connector.Action) bool { return x.Op == connector.OpActivate }) {
				p.Reactivate++
				count(it.Plan)
				continue
			}
			if noEmail[it.EmployeeID] {
				p.Blocked++
				blocked[it.EmployeeID].Apps = append(blocked[it.EmployeeID].Apps, app)
				continue
			}
			p.Create++
			// Compare's item for a missing account is the create alone:
			// the memberships the new account gets are the plan's for no
			// account at all.
			want, _, _ := eval(byID[it.EmployeeID])
			count(connector.Plan(nil, want, connector.Person{}))
		}
	}
	p.Keep = rep.Active - p.Orphans - p.DeactivateLeavers - p.DeactivateNotGranted
	p.SeatsAfter = p.SeatsToday - p.Deactivate() + p.Create + p.Reactivate
	for _, m := range members {
		p.Memberships = append(p.Memberships, *m)
	}
	slices.SortFunc(p.Memberships, func(a, b Membership) int {
		return cmp.Or(cmp.Compare(slices.Index(connector.Kinds, a.Kind), slices.Index(connector.Kinds, b.Kind)), cmp.Compare(a.Name, b.Name))
	})
	return p, nil
}

// literalRE finds the string literals of a CEL condition.
var literalRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'`)

// departmentRules are the rules whose condition reads the department, and
// every string literal in those conditions: the department names the
// policy knows. A literal that is not a department ("contractor") does no
// harm: it only widens what counts as known.
func departmentRules(cfg *policy.Config) ([]string, map[string]bool) {
	var rules []string
	names := map[string]bool{}
	for _, r := range cfg.Policy.Rules {
		if !strings.Contains(r.When, "employee.department") && !strings.Contains(r.When, `employee["department"]`) {
			continue
		}
		rules = append(rules, r.Name)
		for _, m := range literalRE.FindAllStringSubmatch(r.When, -1) {
			names[m[1]+m[2]] = true
		}
	}
	return rules, names
}
