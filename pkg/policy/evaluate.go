package policy

import (
	"cmp"
	"fmt"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"keycard/pkg/event"
)

// matchedBirthright is the Matched entry for birthright grants; no rule
// may take the name.
const matchedBirthright = "birthright"

// Result is the policy's answer for one person on one day.
type Result struct {
	// Apps holds one Desired for every configured app, by app name.
	Apps map[string]Desired `json:"apps"`
	// Warnings lists the rules whose condition failed at run time (for
	// example a missing custom field); each counted as false.
	Warnings []string `json:"warnings,omitempty"`
}

// Desired is the state one app should converge to for one person.
type Desired struct {
	App string `json:"app"`
	// Account says the person should have an active account in App.
	Account bool `json:"account"`
	// Groups, Teams, Channels and Roles are sorted and unique; nil when
	// empty, and always nil when Account is false.
	Groups   []string `json:"groups,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	Channels []string `json:"channels,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	// License is set by the last grant that names one (birthright first,
	// then rules in file order); "" for none.
	License string `json:"license,omitempty"`
	// OrgUnit is set like License.
	OrgUnit string `json:"org_unit,omitempty"`
	// Matched names what contributed, in order: "birthright" and rule
	// names. It is the "why" of audit records.
	Matched []string `json:"matched,omitempty"`
	// Warnings lists the failed conditions of rules that grant access in
	// App. The state above lacks whatever those rules would have granted,
	// so a connector may choose to hold removals while it is non-empty.
	Warnings []string `json:"warnings,omitempty"`
}

// Evaluate returns the desired state of every configured app for e on day
// today ("YYYY-MM-DD" in the person's time zone).
//
// Only a person whose e.StateOn(today) is event.Active gets anything; a
// Pending (future start) or Gone (terminated) person gets Account false in
// every app. For an active person the birthright grants apply, and every
// rule whose condition holds adds its grants (set union); an app no
// applicable grant names gets Account false. A condition that fails at
// run time counts as false and is reported in Result.Warnings and in the
// Warnings of the apps that rule grants.
//
// Evaluate is safe for concurrent use. c must come from Load or Parse.
func (c *Config) Evaluate(e event.Employee, today string) Result {
	res := Result{Apps: make(map[string]Desired, len(c.Apps))}
	if e.StateOn(today) != event.Active {
		for _, a := range c.Apps {
			res.Apps[a.Name] = Desired{App: a.Name}
		}
		return res
	}
	loaded := c.adapter != nil && len(c.rules) == len(c.Policy.Rules)
	acc := make([]Desired, len(c.Apps))
	for i, a := range c.Apps {
		acc[i].App = a.Name
	}
	add := func(source string, gs []appGrant) {
		for _, g := range gs {
			d := &acc[g.app]
			d.Account = true
			d.Groups = append(d.Groups, g.Groups...)
			d.Teams = append(d.Teams, g.Teams...)
			d.Channels = append(d.Channels, g.Channels...)
			d.Roles = append(d.Roles, g.Roles...)
			d.License = cmp.Or(g.License, d.License)
			d.OrgUnit = cmp.Or(g.OrgUnit, d.OrgUnit)
			d.Matched = append(d.Matched, source)
		}
	}
	if loaded {
		add(matchedBirthright, c.birthright)
	} else {
		add(matchedBirthright, c.appGrants(c.Policy.Birthright))
	}

	var act *activation
	if loaded && len(c.rules) > 0 {
		act = &activation{employee: c.adapter.NativeToValue(e)}
	}
	for i, r := range c.Policy.Rules {
		ok, err := c.match(i, act)
		if err != nil {
			w := fmt.Sprintf("rule %s: when: %v (counted as false)", r.Name, err)
			res.Warnings = append(res.Warnings, w)
			for j := range acc {
				if _, grants := r.Grant[acc[j].App]; grants {
					acc[j].Warnings = append(acc[j].Warnings, w)
				}
			}
			continue
		}
		if ok {
			add(r.Name, c.rules[i].grants)
		}
	}
	for _, d := range acc {
		d.Groups = set(d.Groups)
		d.Teams = set(d.Teams)
		d.Channels = set(d.Channels)
		d.Roles = set(d.Roles)
		res.Apps[d.App] = d
	}
	return res
}

// appGrant is a Grant with the index of its app in Config.Apps.
type appGrant struct {
	app int
	Grant
}

// appGrants resolves gs to app indexes, in Config.Apps order, leaving out
// apps not configured (Parse rejects those; a hand-built Config may not).
func (c *Config) appGrants(gs map[string]Grant) []appGrant {
	var out []appGrant
	for i, a := range c.Apps {
		if g, ok := gs[a.Name]; ok {
			out = append(out, appGrant{app: i, Grant: g})
		}
	}
	return out
}

// match evaluates rule i's condition.
func (c *Config) match(i int, act *activation) (bool, error) {
	if act == nil || i >= len(c.rules) || c.rules[i].prg == nil {
		return false, fmt.Errorf("condition not compiled; build the Config with Load or Parse")
	}
	out, _, err := c.rules[i].prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("got %s, want bool", out.Type())
	}
	return bool(b), nil
}

// set sorts s and drops duplicates; nil when empty.
func set(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// activation binds the variable employee to one converted snapshot, so
// every rule reads the same value without converting it again.
type activation struct {
	employee ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == "employee" {
		return a.employee, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
