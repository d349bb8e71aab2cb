// Package reconcile is whole-company convergence: it compares what an app
// really holds (its connector's List) with what the policy wants for every
// person HR knows (the employees bucket), classifies the drift, and fixes
// it by handing each person back to the app's worker as a re-evaluation,
// so every fix takes the path an HR event takes: ledger, blast-radius
// guard, pace and audit. The same re-evaluation carries a policy change to
// everyone.
//
// The comparison is the worker's own planner (connector.Plan) run against
// each listed account: drift is exactly what the worker would do if the
// person's event came now, so a report and its fix cannot disagree.
package reconcile

import (
	"context"
	"slices"
	"strings"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/worker"
)

// Class is a kind of drift.
type Class string

const (
	// Orphan is an active account matched to nobody HR knows: a possible
	// leaver with access. Deactivated by a fix only where the app's
	// reconcile.orphans is "deactivate".
	Orphan Class = "orphan"
	// LeaverActive is an active account of someone HR says has left:
	// re-activated by hand, or never deactivated.
	LeaverActive Class = "leaver_active"
	// NotGranted is an active account Keycard manages for a current
	// employee the policy no longer grants one.
	NotGranted Class = "not_granted"
	// Unmanaged is an active account of a current employee that Keycard
	// did not make or adopt (only the e-mail matches: neither the account
	// id Keycard stored nor the external id): reported, never touched.
	Unmanaged Class = "unmanaged"
	// Missing is an account the policy grants that the app does not hold,
	// or holds deactivated.
	Missing Class = "missing"
	// MembershipMissing and MembershipExtra are managed memberships (names
	// the policy grants somewhere) a managed account lacks or should no
	// longer have. Memberships the policy never mentions are not drift.
	MembershipMissing Class = "membership_missing"
	MembershipExtra   Class = "membership_extra"
)

// Classes lists every class, worst first: the order of reports.
var Classes = []Class{LeaverActive, Orphan, NotGranted, Missing, MembershipMissing, MembershipExtra, Unmanaged}

// Item is one account's (or one missing account's) drift.
type Item struct {
	Class      Class  `json:"class"`
	EmployeeID string `json:"employee_id,omitempty"` // "" for an orphan
	AccountID  string `json:"account_id,omitempty"`  // "" for a missing account
	Email      string `json:"email,omitempty"`
	// Steps are what the worker would do, as the audit trail writes them
	// ("remove group eng", "deactivate").
	Steps []string `json:"steps,omitempty"`
	// Plan is Steps as the planner's actions, for a caller that counts
	// them (provctl simulate); not stored: Steps says the same.
	Plan []connector.Action `json:"-"`
}

// Report is one app's comparison.
type Report struct {
	App      string        `json:"app"`
	At       time.Time     `json:"at"`
	Took     time.Duration `json:"took_ns"`
	People   int           `json:"people"`   // snapshots compared
	Accounts int           `json:"accounts"` // accounts the app listed
	Active   int           `json:"active"`   // of which active
	// Counts has every class, zeros included, so a metric drops to 0.
	Counts map[Class]int `json:"counts"`
	Items  []Item        `json:"items,omitempty"`
	// ItemsOmitted is how many items a stored report left out (Trim).
	ItemsOmitted int `json:"items_omitted,omitempty"`
	// Fixed is how many re-evaluations a fix published.
	Fixed int `json:"fixed,omitempty"`
}

// Drift is how many items need attention: every class but Unmanaged.
func (r Report) Drift() int {
	n := 0
	for c, k := range r.Counts {
		if c != Unmanaged {
			n += k
		}
	}
	return n
}

// Input is what Compare compares.
type Input struct {
	App    string
	People []normalize.Snapshot
	// Accounts are the app's account ids Keycard stored, by EmployeeKey
	// (Accounts reads them).
	Accounts map[string]string
	Evaluate worker.Evaluate
	// List is the connector's List.
	List func(ctx context.Context, fn func(connector.Account) error) error
	Now  func() time.Time
}

// Compare lists the app's accounts and classifies each against the person
// it belongs to, then reports everyone the policy grants an account the
// app did not list.
//
// An account belongs to the person whose stored account id it has, else
// whose HR id is its external id, else whose work e-mail it has (any
// case). Attribute differences (a title) are not drift here: the List of
// some apps does not return every attribute Keycard sets, and the next HR
// event updates them anyway.
func Compare(ctx context.Context, in Input) (Report, error) {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	start := now()
	rep := Report{App: in.App, At: start.UTC(), People: len(in.People), Counts: map[Class]int{}}
	for _, c := range Classes {
		rep.Counts[c] = 0
	}
	byID := map[string]*normalize.Snapshot{}
	byAccount := map[string]*normalize.Snapshot{}
	byEmail := map[string]*normalize.Snapshot{}
	for i := range in.People {
		s := &in.People[i]
		byID[s.Employee.ID] = s
		if id := in.Accounts[event.EmployeeKey(s.Employee.ID)]; id != "" {
			byAccount[id] = s
		}
		if e := strings.ToLower(s.Employee.WorkEmail); e != "" {
			byEmail[e] = s
		}
	}
	zones := &event.Zones{}
	seen := map[string]bool{} // employee ids with an account listed
	add := func(it Item) {
		rep.Counts[it.Class]++
		rep.Items = append(rep.Items, it)
	}
	err := in.List(ctx, func(a connector.Account) error {
		rep.Accounts++
		if a.Active {
			rep.Active++
		}
		s, managed := byAccount[a.ID], true
		if s == nil {
			s = byID[a.ExternalID]
		}
		if s == nil {
			s, managed = byEmail[strings.ToLower(a.Email)], false
		}
		if s == nil {
			if a.Active {
				add(Item{Class: Orphan, AccountID: a.ID, Email: a.Email, Steps: []string{string(connector.OpDeactivate)},
					Plan: []connector.Action{{Op: connector.OpDeactivate}}})
			}
			return nil
		}
		e := s.Employee
		seen[e.ID] = true
		gone := e.StateOn(zones.Today(e, now())) == event.Gone
		if !managed && !gone {
			if a.Active {
				// Keycard adopts it on the person's next event; until then
				// it is not Keycard's to change.
				add(Item{Class: Unmanaged, EmployeeID: e.ID, AccountID: a.ID, Email: a.Email})
			}
			return nil
		}
		want, _, _ := in.Evaluate(e)
		p := worker.Person(e, a.ID)
		p.OrgUnit, p.License = want.OrgUnit, want.License
		steps := slices.DeleteFunc(connector.Plan(&a, want, p), func(x connector.Action) bool { return x.Op == connector.OpUpdate })
		if len(steps) == 0 {
			return nil
		}
		it := Item{EmployeeID: e.ID, AccountID: a.ID, Email: a.Email, Steps: stepStrings(steps), Plan: steps}
		switch {
		case !want.Account && gone:
			it.Class = LeaverActive
		case !want.Account:
			it.Class = NotGranted
		case slices.ContainsFunc(steps, func(x connector.Action) bool { return x.Op == connector.OpActivate }):
			it.Class = Missing
		default:
			// Only memberships differ: one item per direction.
			for _, op := range []connector.Op{connector.OpAdd, connector.OpRemove} {
				part := slices.DeleteFunc(slices.Clone(steps), func(x connector.Action) bool { return x.Op != op })
				if len(part) == 0 {
					continue
				}
				cls := MembershipMissing
				if op == connector.OpRemove {
					cls = MembershipExtra
				}
				add(Item{Class: cls, EmployeeID: e.ID, AccountID: a.ID, Email: a.Email, Steps: stepStrings(part), Plan: part})
			}
			return nil
		}
		add(it)
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, s := range in.People {
		if seen[s.Employee.ID] {
			continue
		}
		if want, _, _ := in.Evaluate(s.Employee); want.Account {
			add(Item{Class: Missing, EmployeeID: s.Employee.ID, Email: s.Employee.WorkEmail, Steps: []string{string(connector.OpCreate)},
				Plan: []connector.Action{{Op: connector.OpCreate}}})
		}
	}
	slices.SortStableFunc(rep.Items, func(a, b Item) int {
		return slices.Index(Classes, a.Class) - slices.Index(Classes, b.Class)
	})
	rep.Took = now().Sub(start)
	return rep, nil
}

func stepStrings(steps []connector.Action) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}
