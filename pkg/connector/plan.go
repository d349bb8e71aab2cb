package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"keycard/pkg/fault"
)

// Want is the state the policy asks for in one app.
type Want struct {
	Account     bool // an active account
	Memberships map[Kind][]string
	// Managed are the memberships Keycard owns in this app (every name any
	// grant of the policy mentions). Others, added by hand, are left alone
	// while the person is active; a leaver loses every membership.
	Managed map[Kind][]string
	// OrgUnit and License are the policy's, for an app whose type applies
	// them (see Person); "" otherwise.
	OrgUnit string
	License string
}

// Op is one step of a plan.
type Op string

const (
	OpCreate     Op = "create"
	OpUpdate     Op = "update"
	OpActivate   Op = "activate"
	OpDeactivate Op = "deactivate"
	OpAdd        Op = "add"
	OpRemove     Op = "remove"
)

// Action is one step, with what it touches.
type Action struct {
	Op   Op     `json:"op"`
	Kind Kind   `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

func (a Action) String() string {
	if a.Kind == "" {
		return string(a.Op)
	}
	return fmt.Sprintf("%s %s %s", a.Op, a.Kind, a.Name)
}

// Plan is the smallest list of steps that takes cur (nil: no account) to
// want for p. Deprovision is reversible: memberships are removed, then the
// account is deactivated, never deleted.
func Plan(cur *Account, want Want, p Person) []Action {
	var plan []Action
	if !want.Account {
		if cur == nil || !cur.Active {
			return nil
		}
		for _, k := range Kinds {
			for _, name := range sorted(cur.Memberships[k]) {
				plan = append(plan, Action{Op: OpRemove, Kind: k, Name: name})
			}
		}
		return append(plan, Action{Op: OpDeactivate})
	}
	have := map[Kind][]string{}
	switch {
	case cur == nil:
		plan = append(plan, Action{Op: OpCreate})
	default:
		have = cur.Memberships
		if !cur.Active {
			plan = append(plan, Action{Op: OpActivate})
		}
		if needsUpdate(cur.Attributes, p.Attributes()) {
			plan = append(plan, Action{Op: OpUpdate})
		}
	}
	for _, k := range Kinds {
		wantSet := set(want.Memberships[k])
		for _, name := range sorted(want.Memberships[k]) {
			if !slices.Contains(have[k], name) {
				plan = append(plan, Action{Op: OpAdd, Kind: k, Name: name})
			}
		}
		managed := set(want.Managed[k])
		for _, name := range sorted(have[k]) {
			if managed[name] && !wantSet[name] {
				plan = append(plan, Action{Op: OpRemove, Kind: k, Name: name})
			}
		}
	}
	return plan
}

// Apply carries out plan on c, calling before ahead of every write (the
// worker paces writes with it). It stops at the first error and returns
// the account as it now stands and how many steps were done. A Partial
// error does not stop it: an attribute the app refused must not hold up
// the person's access. When every step ran and some were partial, the
// error is their Partial join, naming each step.
//
// A Coalescer paces the steps it coalesces itself, and consecutive
// coalesced additions run at once: a joiner then waits for one batch
// instead of one per group in turn, and every group's batch holds more
// people.
func Apply(ctx context.Context, c Connector, cur *Account, p Person, plan []Action, before func(context.Context) error) (*Account, int, error) {
	var partial []error
	co, _ := c.(Coalescer)
	coalesced := func(a Action) bool { return co != nil && co.Coalesces(a) && a.Op == OpAdd }
	for i := 0; i < len(plan); {
		a := plan[i]
		if coalesced(a) && cur != nil {
			n := 1
			for i+n < len(plan) && coalesced(plan[i+n]) {
				n++
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for k, a := range plan[i : i+n] {
				wg.Go(func() { errs[k] = c.AddMembership(ctx, *cur, a.Kind, a.Name) })
			}
			wg.Wait()
			for k, err := range errs {
				switch {
				case fault.IsPartial(err):
					partial = append(partial, fmt.Errorf("%s: %w", plan[i+k], err))
				case err != nil:
					return cur, i + k, fmt.Errorf("%s: %w", plan[i+k], err)
				}
			}
			i += n
			continue
		}
		if co == nil || !co.Coalesces(a) {
			if err := before(ctx); err != nil {
				return cur, i, err
			}
		}
		var err error
		switch a.Op {
		case OpCreate:
			var acct Account
			acct, err = c.Create(ctx, p)
			cur = &acct
		case OpUpdate:
			err = c.Update(ctx, *cur, p)
		case OpActivate, OpDeactivate:
			err = c.SetActive(ctx, *cur, a.Op == OpActivate)
		case OpAdd:
			err = c.AddMembership(ctx, *cur, a.Kind, a.Name)
		case OpRemove:
			err = c.RemoveMembership(ctx, *cur, a.Kind, a.Name)
		default:
			err = fault.Permanent(fmt.Errorf("unknown step %q", a.Op))
		}
		switch {
		case fault.IsPartial(err):
			partial = append(partial, fmt.Errorf("%s: %w", a, err))
		case err != nil:
			return cur, i, fmt.Errorf("%s: %w", a, err)
		}
		i++
	}
	return cur, len(plan), fault.Partial(errors.Join(partial...))
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func set(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// needsUpdate compares only the attributes Keycard sets; an empty value
// is the same as an absent one.
func needsUpdate(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return true
		}
	}
	return false
}
