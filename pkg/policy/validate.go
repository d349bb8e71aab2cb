package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// validator collects every problem of one file.
type validator struct {
	file  string
	types *registry.Registry
	lines []string
	root  *yaml.Node
	cfg   *Config
	errs  []*Error
	// bad holds the locations the schema rejected; semantic checks skip
	// them so one mistake is reported once.
	bad map[string]bool
}

func key(path []string) string { return strings.Join(path, "\x00") }

// errorf records a problem with the value at path and marks path bad.
func (v *validator) errorf(path []string, format string, args ...any) {
	_, n, _ := lookup(v.root, path)
	v.add(n, path, fmt.Sprintf(format, args...))
}

// keyErrorf records a problem with the mapping key at path.
func (v *validator) keyErrorf(path []string, format string, args ...any) {
	k, _, _ := lookup(v.root, path)
	v.add(k, path, fmt.Sprintf(format, args...))
}

func (v *validator) add(n *yaml.Node, path []string, msg string) {
	if v.bad == nil {
		v.bad = map[string]bool{}
	}
	v.bad[key(path)] = true
	e := &Error{File: v.file, Field: fieldPath(v.root, path), Msg: msg}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	v.errs = append(v.errs, e)
}

// ok says whether the schema accepted the value at path.
func (v *validator) ok(path ...string) bool { return !v.bad[key(path)] }

// has says whether the file sets path.
func (v *validator) has(path ...string) bool {
	_, _, found := lookup(v.root, path)
	return found
}

func (v *validator) validate(data []byte) {
	v.lines = strings.Split(string(data), "\n")
	conv := &converter{root: v.root, file: v.file}
	doc := conv.value(v.root, nil)
	v.errs = append(v.errs, conv.errs...)
	v.validateSchema(doc)

	v.cfg = &Config{}
	if err := v.root.Decode(v.cfg); err != nil && len(v.errs) == 0 {
		// The schema accepted what Go cannot hold (say 1.0 for an int).
		v.errs = append(v.errs, &Error{File: v.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
	}
	v.checkApps()
	v.checkPolicy()
	if len(v.errs) == 0 {
		v.applyDefaults()
		v.cfg.birthright = v.cfg.appGrants(v.cfg.Policy.Birthright)
		for i, r := range v.cfg.Policy.Rules {
			v.cfg.rules[i].grants = v.cfg.appGrants(r.Grant)
		}
	}
}

func (v *validator) checkApps() {
	first := map[string]int{}
	for i, a := range v.cfg.Apps {
		idx := strconv.Itoa(i)
		if a.Name != "" && v.ok("apps", idx, "name") {
			if j, dup := first[a.Name]; dup {
				_, prev, _ := lookup(v.root, []string{"apps", strconv.Itoa(j), "name"})
				v.errorf([]string{"apps", idx, "name"}, "duplicate app name %q (first defined on line %d)", a.Name, prev.Line)
			} else {
				first[a.Name] = i
			}
		}
		if a.Mode == ModeApply && a.Credential() == "" && a.Type != registry.TypeDryRun && v.ok("apps", idx, "mode") {
			v.errorf([]string{"apps", idx, "mode"}, "mode apply needs token_env or credentials_env")
		}
		if a.TokenEnv != "" && a.CredentialsEnv != "" {
			v.errorf([]string{"apps", idx, "credentials_env"}, "set token_env or credentials_env, not both")
		}
		v.checkType(i, a)
		v.checkCeiling(i, a)
		if p := []string{"apps", idx, "guard", "window"}; v.has(p...) && v.ok(p...) {
			_, n, _ := lookup(v.root, p)
			switch d, err := decodeDuration(n); {
			case err != nil:
				v.errorf(p, "%v", err)
			case d <= 0:
				v.errorf(p, "must be positive")
			}
		}
	}
}

// checkType checks app i's type is in the registry, and its settings are
// ones the type takes, as its factory validates them.
func (v *validator) checkType(i int, a App) {
	idx := strconv.Itoa(i)
	if !v.ok("apps", idx, "type") || a.Type == "" {
		return
	}
	f, ok := v.types.Lookup(a.Type)
	if !ok {
		v.errorf([]string{"apps", idx, "type"}, "unknown app type %q; want one of %s", a.Type, strings.Join(v.types.Types(), ", "))
		return
	}
	for k := range a.Settings {
		if p := []string{"apps", idx, k}; !slices.Contains(f.Settings(), k) && v.ok(p...) {
			v.keyErrorf(p, "%s", unknownKey(k))
		}
	}
	err := f.Validate(a.Connector())
	if err == nil {
		return
	}
	for _, err := range leafErrors(err) {
		var se *registry.SettingError
		switch {
		case !errors.As(err, &se):
			v.errorf([]string{"apps", idx}, "%v", err)
		case v.ok("apps", idx, se.Key):
			v.errorf([]string{"apps", idx, se.Key}, "%s", se.Msg)
		}
	}
}

// leafErrors are the errors errors.Join put together in err.
func leafErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leafErrors(e)...)
	}
	return out
}

func (v *validator) checkPolicy() {
	apps := map[string]App{}
	for _, a := range v.cfg.Apps {
		apps[a.Name] = a
	}
	checkGrants := func(base []string, grants map[string]Grant) {
		if !v.ok("apps") {
			return // apps itself is malformed: every app would look undefined
		}
		for name, g := range grants {
			p := appendPath(base, name)
			a, defined := apps[name]
			if !defined && v.ok(p...) {
				v.keyErrorf(p, "app %q is not defined in apps", name)
			}
			if f, known := v.types.Lookup(a.Type); known && g.OrgUnit != "" && !registry.Assigns(f, registry.GrantOrgUnit) {
				if p := append(p, registry.GrantOrgUnit); v.ok(p...) {
					v.errorf(p, "app %q is of type %s, which has no org units", name, a.Type)
				}
			}
		}
	}
	checkGrants([]string{"policy", "birthright"}, v.cfg.Policy.Birthright)

	env, err := celEnv()
	if err != nil {
		v.errs = append(v.errs, &Error{File: v.file, Msg: fmt.Sprintf("build CEL environment: %v", err)})
		return
	}
	v.cfg.rules = make([]compiledRule, len(v.cfg.Policy.Rules))
	names := map[string]int{}
	for i := range v.cfg.Policy.Rules {
		r := &v.cfg.Policy.Rules[i]
		idx := strconv.Itoa(i)
		checkGrants([]string{"policy", "rules", idx, "grant"}, r.Grant)
		if r.Name == "" {
			r.Name = "rules[" + idx + "]"
		} else if namePath := []string{"policy", "rules", idx, "name"}; v.ok(namePath...) {
			if r.Name == matchedBirthright {
				v.errorf(namePath, "%q is reserved", r.Name)
			}
		}
		if j, dup := names[r.Name]; dup && v.ok("policy", "rules", idx, "name") {
			v.errorf([]string{"policy", "rules", idx, "name"}, "duplicate rule name %q (rules[%d])", r.Name, j)
		} else if !dup {
			names[r.Name] = i
		}
		whenPath := []string{"policy", "rules", idx, "when"}
		if r.When == "" || !v.ok(whenPath...) {
			continue
		}
		prg, issues := compileWhen(env, r.When)
		_, n, _ := lookup(v.root, whenPath)
		for _, is := range issues {
			line, col, note := exprPos(n, v.lines, is.line, is.col)
			v.errs = append(v.errs, &Error{
				File: v.file, Line: line, Column: col,
				Field: fieldPath(v.root, whenPath), Msg: is.msg + note,
			})
		}
		v.cfg.rules[i] = compiledRule{prg: prg}
	}
	v.cfg.adapter = env.CELTypeAdapter()
}

// applyDefaults fills in what the file leaves out (see App, RateLimit,
// Guard and Rule); explicit zeros stay.
func (v *validator) applyDefaults() {
	for i := range v.cfg.Apps {
		a := &v.cfg.Apps[i]
		has := func(p ...string) bool { return v.has(append([]string{"apps", strconv.Itoa(i)}, p...)...) }
		if a.Mode == "" {
			a.Mode = ModeDryRun
			if a.Credential() != "" {
				a.Mode = ModeApply
			}
		}
		a.RateLimit = v.rateLimit(i, *a)
		if !has("guard", "max_deactivations") {
			a.Guard.MaxDeactivations = DefaultMaxDeactivations
		}
		if !has("guard", "max_share") {
			a.Guard.MaxShare = DefaultMaxShare
		}
		if !has("guard", "window") {
			a.Guard.Window = DefaultWindow
		}
		if !has("reconcile", "every") {
			a.Reconcile.Every = DefaultReconcileEvery
		}
		if a.Reconcile.Orphans == "" {
			a.Reconcile.Orphans = OrphansReport
		}
		if a.Tier == "" {
			a.Tier = TierStandard
		}
		if a.Seat != nil && a.Seat.Per == "" {
			a.Seat.Per = SeatPerMonth
		}
	}
}

// rateLimit is app i's pace with the defaults filled in for what the
// file leaves out.
func (v *validator) rateLimit(i int, a App) RateLimit {
	has := func(field string) bool { return v.has("apps", strconv.Itoa(i), "rate_limit", field) }
	def, rl := v.defaultRateLimit(a), a.RateLimit
	if !has("writes_per_minute") {
		rl.WritesPerMinute = def.PerMinute
	}
	if !has("burst") {
		rl.Burst = def.Burst
	}
	if !has("adaptive") {
		rl.Adaptive = def.Adaptive
	}
	if !has("max_writes_per_minute") {
		rl.MaxWritesPerMinute = rl.WritesPerMinute
		if rl.Adaptive {
			rl.MaxWritesPerMinute = ratelimit.DefaultCeiling * rl.WritesPerMinute
		}
	}
	return rl
}

// checkCeiling refuses a ceiling an adaptive pace could not use.
func (v *validator) checkCeiling(i int, a App) {
	p := []string{"apps", strconv.Itoa(i), "rate_limit", "max_writes_per_minute"}
	if !v.has(p...) || !v.ok(p...) || !v.ok("apps", strconv.Itoa(i), "rate_limit", "writes_per_minute") {
		return
	}
	switch rl := v.rateLimit(i, a); {
	case !rl.Adaptive:
		v.errorf(p, "applies only with adaptive: true (a fixed pace is its own ceiling: set writes_per_minute)")
	case rl.MaxWritesPerMinute < rl.WritesPerMinute:
		v.errorf(p, "%d is below writes_per_minute (%d), where the adaptive pace starts", rl.MaxWritesPerMinute, rl.WritesPerMinute)
	}
}

// defaultRateLimit is the pace of an app whose file sets none: its
// connector's (registry.Factory.Pace); the registry's default, fixed, for a
// type the registry does not know (already reported).
func (v *validator) defaultRateLimit(a App) ratelimit.Limit {
	if f, ok := v.types.Lookup(a.Type); ok {
		return f.Pace(a.Connector())
	}
	return ratelimit.Limit{PerMinute: registry.DefaultWritesPerMinute, Burst: registry.DefaultBurst}
}
