package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/connectors"
	"keycard/pkg/ratelimit"
)

const exampleConfig = "../../deployments/keycard.example.yaml"

// problems returns the *Error values joined in err.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*Error, 0, len(errs))
	for _, e := range errs {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("problem %v is a %T, want *policy.Error", e, e)
		}
		out = append(out, pe)
	}
	return out
}

func TestLoadExample(t *testing.T) {
	t.Parallel()
	cfg, err := Load(exampleConfig, connectors.Registry())
	if err != nil {
		t.Fatalf("Load(%s): %v", exampleConfig, err)
	}
	if cfg.File != exampleConfig {
		t.Errorf("File = %q, want %q", cfg.File, exampleConfig)
	}
	var names []string
	for _, a := range cfg.Apps {
		names = append(names, a.Name+"/"+a.Type+"/"+a.Mode)
	}
	if want := []string{"slack/scim/apply", "google/google/apply", "github/github/dry-run", "gitlab/gitlab/dry-run", "pipedrive/pipedrive/apply", "discord/discord/apply"}; !reflect.DeepEqual(names, want) {
		t.Errorf("apps = %v, want %v", names, want)
	}
	// Seats and tiers as the example prices them (provctl report seats).
	if slack, ok := cfg.App("slack"); !ok || slack.Tier != TierCritical || slack.Seat == nil || slack.Seat.Monthly() != 8.75 {
		t.Errorf("slack tier %q seat %+v, want critical at 8.75 a month", slack.Tier, slack.Seat)
	}
	if gh, ok := cfg.App("github"); !ok || gh.Tier != TierStandard || gh.Seat == nil || gh.Seat.Monthly() != 4 {
		t.Errorf("github tier %q seat %+v, want standard at 48 a year = 4 a month", gh.Tier, gh.Seat)
	}
	if cfg.Costs != (Costs{BudgetPerEmployee: 60, Currency: "USD"}) {
		t.Errorf("costs %+v", cfg.Costs)
	}
	google, ok := cfg.App("google")
	if !ok || google.Credential() != "GOOGLE_SERVICE_ACCOUNT_JSON" || google.Settings["domain"] != "example.com" {
		t.Errorf("App(google) = %+v, %v", google, ok)
	}
	if _, ok := cfg.App("jira"); ok {
		t.Error("App(jira) found")
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/policy.yaml", connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	defaults := App{
		Mode:      ModeApply,
		RateLimit: RateLimit{WritesPerMinute: registry.DefaultWritesPerMinute, Burst: registry.DefaultBurst, MaxWritesPerMinute: registry.DefaultWritesPerMinute},
		Guard:     Guard{MaxDeactivations: DefaultMaxDeactivations, MaxShare: DefaultMaxShare, Window: DefaultWindow},
		Reconcile: Reconcile{Every: DefaultReconcileEvery, Orphans: OrphansReport},
		Tier:      TierStandard,
	}
	tests := []struct {
		app  string
		want func(a *App)
	}{
		{"slack", func(a *App) {
			a.Type, a.TokenEnv = "scim", "SLACK_SCIM_TOKEN"
			a.Settings = map[string]string{"profile": "slack", "base_url": "https://api.slack.com/scim/v2"}
			// Paced at Slack's documented 180 user writes/min, burst 20 − 1.
			a.RateLimit = RateLimit{WritesPerMinute: 180, Burst: 19, MaxWritesPerMinute: 180} // a fixed ceiling
		}},
		{"google", func(a *App) {
			a.Type, a.CredentialsEnv = "google", "GOOGLE_SERVICE_ACCOUNT_JSON"
			a.Settings = map[string]string{"domain": "example.com", "admin_email": "admin@example.com"}
			// Google's documented 2,400 queries/min, reads included, a
			// second's worth at once.
			a.RateLimit = RateLimit{WritesPerMinute: 2400, Burst: 40, MaxWritesPerMinute: 2400} // a fixed ceiling
		}},
		{"github", func(a *App) { // explicit dry-run despite a token
			a.Type, a.TokenEnv, a.Mode = "github", "GITHUB_TOKEN", ModeDryRun
			a.Settings = map[string]string{"org": "example-org"}
			// GitHub's secondary limit on content-creating requests.
			a.RateLimit = RateLimit{WritesPerMinute: 8, Burst: 20, MaxWritesPerMinute: 8}
		}},
		{"zoom", func(a *App) { // explicit zeros stay
			a.Type, a.TokenEnv = "scim", "ZOOM_TOKEN"
			a.Settings = map[string]string{"profile": "generic", "base_url": "http://127.0.0.1:8089/scim"}
			// A SCIM vendor without a published limit: the pace adapts,
			// up to 10 × the start.
			a.RateLimit = RateLimit{WritesPerMinute: 30, Burst: 5, Adaptive: true, MaxWritesPerMinute: 300}
			a.Guard = Guard{MaxDeactivations: 0, MaxShare: 0, Window: time.Hour}
			a.Reconcile = Reconcile{Every: 0, Fix: true, Orphans: OrphansDeactivate}
		}},
		{"pipedrive", func(a *App) { // no credential: dry-run
			a.Type, a.Mode = "pipedrive", ModeDryRun
			// Under Pipedrive's documented burst limit: a fixed ceiling.
			a.RateLimit = RateLimit{WritesPerMinute: 240, Burst: 8, MaxWritesPerMinute: 240}
		}},
		{"notion", func(a *App) { a.Type, a.Mode = registry.TypeDryRun, ModeDryRun }},
	}
	if len(cfg.Apps) != len(tests) {
		t.Fatalf("%d apps, want %d", len(cfg.Apps), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.app, func(t *testing.T) {
			t.Parallel()
			want := defaults
			want.Name = tc.app
			tc.want(&want)
			got, ok := cfg.App(tc.app)
			if !ok {
				t.Fatalf("no app %s", tc.app)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	var rules []string
	for _, r := range cfg.Policy.Rules {
		rules = append(rules, r.Name)
	}
	want := []string{"engineering", "employees-only", "contractors", "sales", "managers", "finance-cost-centers"}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules = %v, want %v", rules, want)
	}
}

func TestParseRuleNameDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("inline.yaml", []byte(`
apps: [{name: slack, type: dryrun}]
policy:
  rules:
    - {when: 'true', grant: {slack: {}}}
    - {name: named, when: 'false', grant: {slack: {}}}
    - {when: 'true', grant: {slack: {groups: [x]}}}
`), connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range cfg.Policy.Rules {
		names = append(names, r.Name)
	}
	if want := []string{"rules[0]", "named", "rules[2]"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
}

// TestParseInvalid loads every file under testdata/invalid and checks that
// exactly the expected problems are reported, in order, each as
// "line:col: field: message" fragments.
func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"syntax.yaml":          {"syntax.yaml:4: invalid YAML: did not find expected '-' indicator"},
		"empty.yaml":           {"empty.yaml: empty configuration"},
		"unknown_top_key.yaml": {":5:1: version: unknown key"},
		"unknown_app_key.yaml": {":4:5: apps[0].tokenenv: unknown key"},
		"token_literal.yaml":   {":4:5: apps[0].token: unknown key; secrets never go in this file"},
		"duplicate_app.yaml":   {`:6:11: apps[2].name: duplicate app name "slack" (first defined on line 2)`},
		"duplicate_key.yaml":   {`:4:5: apps[0].type: duplicate key "type"`},
		"bad_app_name.yaml":    {`:2:11: apps[0].name: "Slack_Prod": want lower-case letters`},
		"unknown_type.yaml":    {`:3:11: apps[0].type: unknown app type "slack"; want one of scim, `},
		"bad_seat.yaml": {
			`:5:11: apps[0].tier: value must be one of 'critical', 'standard'`,
			`:6:19: apps[0].seat.price: minimum: got -1, want 0`,
			`:6:33: apps[0].seat.currency: 'usd' does not match pattern '^[A-Z]{3}$'`,
			`:10:11: apps[1].seat: missing required key "price"`,
			`:10:32: apps[1].seat.per: value must be one of 'month', 'year'`,
		},
		"retired_type.yaml": {`:6:11: apps[1].type: app type "invision" is retired: InVision shut down at the end of 2024 (the vendor's announcement); ` +
			`Freehand boards can be imported into Miro. Remove the app, or grant its people a miro app: README.md, section Retired applications`},
		"missing_required.yaml": {
			`:1:1: missing required key "policy"`,
			`:2:5: apps[0]: missing required key "type"`,
			`:3:5: apps[1]: missing required key "name"`,
		},
		"undefined_app.yaml": {
			`:7:5: policy.birthright.jira: app "jira" is not defined in apps`,
			`:11:9: policy.rules[0].grant.github: app "github" is not defined in apps`,
		},
		"cel_syntax.yaml":   {":6:53: policy.rules[0].when: Syntax error: mismatched input '<EOF>'"},
		"cel_not_bool.yaml": {":7:13: policy.rules[0].when: must be a bool expression, got string"},
		"cel_unknown_field.yaml": {
			":8:22: policy.rules[1].when: unknown employee field 'departement' (did you mean 'department'?)",
			":12:11: policy.rules[2].when: undeclared reference to 'employe'",
		},
		"bad_duration.yaml": {
			`:4:21: apps[0].guard.window: "10 minutes": want a duration`,
			":8:15: apps[1].guard.window: must be positive",
		},
		"max_share.yaml": {":4:47: apps[0].guard.max_share: maximum: got 1.5, want 1"},
		"max_writes_per_minute.yaml": {
			":5:65: apps[0].rate_limit.max_writes_per_minute: 100 is below writes_per_minute (120), where the adaptive pace starts",
			":9:52: apps[1].rate_limit.max_writes_per_minute: applies only with adaptive: true",
			":13:58: apps[2].rate_limit.max_writes_per_minute: applies only with adaptive: true",
		},
		"http_base_url.yaml": {
			":4:15: apps[0].base_url: must use https (http only for localhost)",
			":10:15: apps[2].base_url: must not carry credentials",
		},
		"org_unit.yaml": {
			`:8:23: policy.birthright.slack.org_unit: app "slack" is of type scim, which has no org units`,
			`:13:28: policy.rules[0].grant.google.org_unit: 'Engineering' does not match pattern '^/'`,
		},
		"reconcile.yaml": {
			`:4:24: apps[0].reconcile.every: "-1h": want a duration such as 30s, 10m or 1h30m`,
			":4:38: apps[0].reconcile.orphans: value must be one of 'report', 'deactivate'",
			":7:17: apps[1].reconcile.fixes: unknown key",
		},
		"apply_without_credentials.yaml": {":4:11: apps[0].mode: mode apply needs token_env or credentials_env"},
		"duplicate_rule_name.yaml": {
			`:9:13: policy.rules[1].name: duplicate rule name "eng" (rules[0])`,
			`:12:13: policy.rules[2].name: "birthright" is reserved`,
		},
		"multi.yaml": {
			":5:5: apps[0].token: unknown key",
			":6:37: apps[0].rate_limit.writes_per_minute: minimum: got 0, want 1",
			`:7:11: apps[1].name: duplicate app name "slack"`,
			`:9:11: apps[2].name: "Bad": want lower-case letters`,
			`:10:11: apps[2].type: unknown app type "jira"; want one of scim, google, github, gitlab, discord, pipedrive, dryrun`,
			":11:24: apps[2].guard.max_share: maximum: got 2, want 1",
			`:11:35: apps[2].guard.window: "soon": want a duration`,
			":14:33: policy.birthright.slack.seats: unknown key",
			`:15:5: policy.birthright.zoom: app "zoom" is not defined in apps`,
			":17:14: policy.rules[0].when: undeclared reference to 'employe'",
			":20:13: policy.rules[1].when: must be a bool expression, got string",
			`:22:9: policy.rules[1].grant.github: app "github" is not defined in apps`,
		},
	}
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := tests[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expectation in TestParseInvalid", f)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "invalid", name)
			cfg, err := Load(path, connectors.Registry())
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want errors", path, cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a Config along with errors")
			}
			got := problems(t, err)
			for i := range max(len(got), len(want)) {
				switch {
				case i >= len(got):
					t.Errorf("missing problem %q", want[i])
				case i >= len(want):
					t.Errorf("unexpected problem %q", got[i])
				case !strings.HasPrefix(got[i].Error(), path) || !strings.Contains(got[i].Error(), want[i]):
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want[i])
				}
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/invalid/cel_unknown_field.yaml", connectors.Registry())
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("errors.As(%v) found no *Error", err)
	}
	want := &Error{
		File: "testdata/invalid/cel_unknown_field.yaml", Line: 8, Column: 22,
		Field: "policy.rules[1].when", Msg: "unknown employee field 'departement' (did you mean 'department'?)",
	}
	if !reflect.DeepEqual(pe, want) {
		t.Errorf("first problem = %#v, want %#v", pe, want)
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"full", Error{File: "k.yaml", Line: 14, Column: 11, Field: "policy.rules[1].when", Msg: "bad"}, "k.yaml:14:11: policy.rules[1].when: bad"},
		{"no field", Error{File: "k.yaml", Line: 1, Column: 1, Msg: "bad"}, "k.yaml:1:1: bad"},
		{"no column", Error{File: "k.yaml", Line: 3, Msg: "bad"}, "k.yaml:3: bad"},
		{"no line", Error{File: "k.yaml", Msg: "bad"}, "k.yaml: bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseYAMLFeatures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string // problems; none means it must load
	}{
		{
			name: "anchors and aliases",
			yaml: "apps:\n  - name: a\n    type: dryrun\n    guard: &g {max_deactivations: 3}\n  - name: b\n    type: dryrun\n    guard: *g\npolicy: {}\n",
		},
		{
			name: "merge key",
			yaml: "apps:\n  - &a {name: a, type: dryrun}\n  - <<: *a\n    name: b\npolicy: {}\n",
			want: []string{
				"<config>:3:5: apps[1]: merge keys (<<) are not supported",
				`<config>:3:5: apps[1]: missing required key "type"`,
			},
		},
		{
			name: "two documents",
			yaml: "apps: [{name: a, type: dryrun}]\npolicy: {}\n---\napps: []\n",
			want: []string{"<config>:3:1: more than one YAML document"},
		},
		{
			name: "not a mapping",
			yaml: "- apps\n",
			want: []string{"<config>:1:1: got array, want object"},
		},
		{
			name: "null grant",
			yaml: "apps: [{name: a, type: dryrun}]\npolicy:\n  birthright:\n    a:\n",
			want: []string{"<config>:4:7: policy.birthright.a: got null, want object"},
		},
		{
			name: "quoted key",
			yaml: "apps: [{name: a, type: dryrun}]\npolicy:\n  birthright:\n    \"a b\": {}\n",
			// No propertyNames in the schema: jsonschema v6.0.3 reports
			// those errors at a location that later validation overwrites.
			want: []string{`<config>:4:5: policy.birthright["a b"]: app "a b" is not defined in apps`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("", []byte(tc.yaml), connectors.Registry())
			got := problems(t, err)
			if len(tc.want) == 0 {
				if err != nil || cfg == nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %v, want %d %q", len(got), err, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i].Error(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), connectors.Registry())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/invalid/*.yaml", exampleConfig} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, connectors.Registry())
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one of them", cfg, err)
		}
		for _, p := range problems(t, err) {
			if p.File != "fuzz.yaml" || p.Msg == "" {
				t.Errorf("malformed problem %#v", p)
			}
		}
	})
}

func TestParseNoCascade(t *testing.T) {
	t.Parallel()
	_, err := Parse("k.yaml", []byte("apps: slack\npolicy:\n  birthright: {slack: {}}\n"), connectors.Registry())
	got := problems(t, err)
	if len(got) != 1 || got[0].Error() != "k.yaml:1:7: apps: got string, want array" {
		t.Errorf("problems = %q, want only the one about apps", got)
	}
}

// acme is a connector type policy has never heard of: it is checked and
// paced through the registry alone.
type acme struct{ registry.Simulated }

func (acme) Validate(a registry.App) error {
	if a.Settings["subdomain"] == "bad" {
		return &registry.SettingError{Key: "subdomain", Msg: "no such acme tenant"}
	}
	return nil
}

func (acme) Pace(registry.App) ratelimit.Limit { return ratelimit.Limit{PerMinute: 42, Burst: 3} }

func TestParseTypeFromRegistry(t *testing.T) {
	t.Parallel()
	types := registry.New(acme{registry.Simulated{Name: "acme", Keys: []string{"subdomain"}}})
	tests := []struct {
		name string
		app  string
		want string // the one problem; "" for none
	}{
		{"valid", "subdomain: good", ""},
		{"setting refused by the connector", "subdomain: bad", "k.yaml:4:16: apps[0].subdomain: no such acme tenant"},
		{"setting of another type", "profile: slack", "k.yaml:4:5: apps[0].profile: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("k.yaml", []byte("apps:\n  - name: a\n    type: acme\n    "+tt.app+"\npolicy: {}\n"), types)
			if tt.want != "" {
				if got := problems(t, err); len(got) != 1 || got[0].Error() != tt.want {
					t.Fatalf("problems %v, want %q", got, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rl := cfg.Apps[0].RateLimit; rl != (RateLimit{WritesPerMinute: 42, Burst: 3, MaxWritesPerMinute: 42}) {
				t.Errorf("rate limit %+v, want the connector's 42/min, burst 3", rl)
			}
		})
	}
}

// Critical apps come first, each tier keeps the file's order, and the
// input is left alone.
func TestByTier(t *testing.T) {
	t.Parallel()
	apps := []App{{Name: "jira", Tier: TierStandard}, {Name: "slack", Tier: TierCritical}, {Name: "figma", Tier: TierStandard}, {Name: "google", Tier: TierCritical}}
	var got []string
	for _, a := range ByTier(apps) {
		got = append(got, a.Name)
	}
	if want := []string{"slack", "google", "jira", "figma"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ByTier = %v, want %v", got, want)
	}
	if apps[0].Name != "jira" {
		t.Errorf("ByTier reordered its input: %v", apps)
	}
}
