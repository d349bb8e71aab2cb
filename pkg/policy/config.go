package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"keycard/pkg/connector/registry"
)

// Modes.
const (
	ModeApply  = "apply"
	ModeDryRun = "dry-run"
)

// Defaults applied by Load and Parse to what the file leaves out.
const (
	DefaultMaxDeactivations = 10
	DefaultMaxShare         = 0.1
	DefaultWindow           = 10 * time.Minute
)

// Config is a loaded, validated configuration: the apps and the access
// policy. Build it with Load or Parse (Evaluate needs the rules' compiled
// conditions); it is immutable afterwards and safe for concurrent use.
type Config struct {
	Apps   []App  `yaml:"apps"`
	Policy Policy `yaml:"policy"`
	// Costs are the company-wide cost settings of the seat report.
	Costs Costs `yaml:"costs"`
	// File is the path the configuration was loaded from.
	File string `yaml:"-"`

	// Set by Parse: the rules' compiled conditions and grants, and the
	// birthright grants, resolved to indexes into Apps.
	rules      []compiledRule // parallel to Policy.Rules
	birthright []appGrant
	adapter    types.Adapter
}

// App is one application Keycard provisions.
type App struct {
	// Name is unique, ^[a-z][a-z0-9-]{0,31}$; the metric label "app" and
	// a NATS subject token.
	Name string `yaml:"name"`
	// Type names the app's connector in the registry the file is loaded
	// with ("scim").
	Type string `yaml:"type"`
	// TokenEnv names the environment variable holding the API token (never
	// the token itself).
	TokenEnv string `yaml:"token_env,omitempty"`
	// CredentialsEnv names the environment variable holding a credentials
	// document, such as a Google service-account key.
	CredentialsEnv string `yaml:"credentials_env,omitempty"`
	// Mode is ModeApply or ModeDryRun. Default: ModeApply when TokenEnv or
	// CredentialsEnv is set, ModeDryRun otherwise. A worker still runs in
	// dry-run when the named variable is unset at run time.
	Mode string `yaml:"mode"`
	// RateLimit paces writes.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Guard holds mass deactivations for an operator.
	Guard Guard `yaml:"guard"`
	// Reconcile is the scheduled comparison with what the app holds.
	Reconcile Reconcile `yaml:"reconcile"`
	// Tier is TierCritical or TierStandard (the default): the roll-out
	// order, and whose leavers go first in a process running several apps.
	Tier string `yaml:"tier"`
	// Seat is what one account costs, if the file says; nil otherwise.
	Seat *Seat `yaml:"seat"`
	// Settings are the keys of the app's type (a SCIM app's profile and
	// base_url), for its connector: the file writes them beside the
	// common keys, and the type's factory says which it takes and checks
	// them. They are the connector's, not the policy's, so a new
	// connector's settings need no change here or in the schema.
	Settings map[string]string `yaml:",inline"`
}

// Credential names the environment variable holding the app's credential:
// TokenEnv, else CredentialsEnv, else "".
func (a App) Credential() string {
	if a.TokenEnv != "" {
		return a.TokenEnv
	}
	return a.CredentialsEnv
}

// Connector is what the app's connector factory is told about it.
func (a App) Connector() registry.App {
	return registry.App{Name: a.Name, Settings: a.Settings}
}

// RateLimit is a token bucket: WritesPerMinute sustained, up to Burst at
// once. The defaults are the app's connector's (registry.Factory.Pace):
// the vendor's documented limit, else registry.DefaultWritesPerMinute and
// registry.DefaultBurst.
//
// Adaptive (default: the connector's; true for a SCIM app whose profile
// documents no limit) makes
// WritesPerMinute where the pace starts: it rises while the app accepts
// writes, up to MaxWritesPerMinute (default ratelimit.DefaultCeiling ×
// WritesPerMinute), and halves on a 429. A documented limit is not
// adaptive: it is a fixed ceiling (MaxWritesPerMinute = WritesPerMinute)
// that a 429 only pauses.
type RateLimit struct {
	WritesPerMinute    int  `yaml:"writes_per_minute"`
	Burst              int  `yaml:"burst"`
	Adaptive           bool `yaml:"adaptive"`
	MaxWritesPerMinute int  `yaml:"max_writes_per_minute"`
}

// Guard is the blast-radius guard: when more than MaxDeactivations
// (default DefaultMaxDeactivations) or more than MaxShare (0..1, default
// DefaultMaxShare) of the app's accounts would be deactivated within
// Window (default DefaultWindow), the excess is held for an operator.
type Guard struct {
	MaxDeactivations int           `yaml:"max_deactivations"`
	MaxShare         float64       `yaml:"max_share"`
	Window           time.Duration `yaml:"window"`
}

// Reconcile is an app's scheduled reconcile (pkg/reconcile): every Every
// (default DefaultReconcileEvery; 0 turns it off) one replica lists the
// app's accounts and reports the drift; with Fix it also converges it,
// through the worker like an HR event. Orphans (accounts matched to
// nobody in HR) are deactivated only when Orphans is OrphansDeactivate.
type Reconcile struct {
	Every   time.Duration `yaml:"every"`
	Fix     bool          `yaml:"fix"`
	Orphans string        `yaml:"orphans"`
}

// The values of App.Tier.
const (
	TierCritical = "critical"
	TierStandard = "standard"
)

// ByTier is apps with the critical ones first, each tier in file order:
// the order workers start in and provctl lists apps, so what a leaver
// must lose first is served and read first.
func ByTier(apps []App) []App {
	out := slices.Clone(apps)
	slices.SortStableFunc(out, func(a, b App) int {
		return cmp.Compare(tierRank(a.Tier), tierRank(b.Tier))
	})
	return out
}

func tierRank(tier string) int {
	if tier == TierCritical {
		return 0
	}
	return 1
}

// Seat is the price of one account in an app, Price in Currency (ISO
// 4217) per Per (SeatPerMonth, the default, or SeatPerYear).
type Seat struct {
	Price    float64 `yaml:"price"`
	Currency string  `yaml:"currency"`
	Per      string  `yaml:"per"`
}

// The values of Seat.Per.
const (
	SeatPerMonth = "month"
	SeatPerYear  = "year"
)

// Monthly is the seat's price for one month.
func (s Seat) Monthly() float64 {
	if s.Per == SeatPerYear {
		return s.Price / 12
	}
	return s.Price
}

// Costs are the company-wide cost settings: a monthly tool budget per
// employee in Currency, which the seat report sets the apps' total
// against (0: none).
type Costs struct {
	BudgetPerEmployee float64 `yaml:"budget_per_employee"`
	Currency          string  `yaml:"currency"`
}

// Reconcile defaults and the values of Reconcile.Orphans.
const (
	DefaultReconcileEvery = 24 * time.Hour
	OrphansReport         = "report"
	OrphansDeactivate     = "deactivate"
)

// Policy says who gets what.
type Policy struct {
	// Birthright grants apply to every active person, by app name.
	Birthright map[string]Grant `yaml:"birthright,omitempty"`
	// Rules add grants to the people their condition selects.
	Rules []Rule `yaml:"rules,omitempty"`
}

// Rule grants access to the people for whom When holds.
type Rule struct {
	// Name is unique; default "rules[<index>]".
	Name string `yaml:"name"`
	// When is a CEL expression of type bool over the variable employee
	// (the snapshot event.Employee by its JSON field names).
	When string `yaml:"when"`
	// Grant is the access granted, by app name.
	Grant map[string]Grant `yaml:"grant"`
}

// Grant is access in one app. The zero Grant means an account with no
// groups.
type Grant struct {
	Groups   []string `yaml:"groups,omitempty"`
	Teams    []string `yaml:"teams,omitempty"`
	Channels []string `yaml:"channels,omitempty"`
	Roles    []string `yaml:"roles,omitempty"`
	License  string   `yaml:"license,omitempty"`
	// OrgUnit places the person (a Google Workspace org unit path such as
	// /Engineering); only for an app whose type applies it.
	OrgUnit string `yaml:"org_unit,omitempty"`
}

// compiledRule is a rule's condition, ready to evaluate.
type compiledRule struct {
	prg    cel.Program
	grants []appGrant
}

// Load reads and parses the configuration file at path; see Parse.
func Load(path string, types *registry.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data, types)
}

// Parse decodes, validates and compiles the configuration in data; file
// names it in errors and becomes Config.File. Every problem found is
// reported, as *Error values joined with errors.Join, sorted by position.
// Validation runs in three passes: the YAML syntax; the document against
// the keycard-config.v1 JSON Schema; then the semantic checks (unique app
// names, app types and their settings as types has them, grants only for
// defined apps, CEL conditions, durations), which skip fields the schema
// already rejected. Defaults are applied after validation.
func Parse(file string, data []byte, types *registry.Registry) (*Config, error) {
	display := file
	if display == "" {
		display = "<config>"
	}
	root, perr := decodeYAML(display, data)
	if perr != nil {
		return nil, joinErrors([]*Error{perr})
	}
	v := &validator{file: display, root: root, types: types}
	v.validate(data)
	if len(v.errs) > 0 {
		return nil, joinErrors(v.errs)
	}
	v.cfg.File = file
	return v.cfg, nil
}

// App returns the app named name.
func (c *Config) App(name string) (App, bool) {
	for _, a := range c.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// Fingerprint identifies what the policy grants in app: its birthright
// grant and every rule that grants there (name, condition and grant, in
// file order, which decides a licence or org unit). A change anywhere
// else in the file (another app's rules, a rate limit) leaves it as it
// is, so only the apps a change reaches re-evaluate everyone.
func (c *Config) Fingerprint(app string) string {
	type ruleGrant struct {
		Name, When string
		Grant      Grant
	}
	var parts struct {
		Birthright *Grant
		Rules      []ruleGrant
	}
	if g, ok := c.Policy.Birthright[app]; ok {
		parts.Birthright = &g
	}
	for _, r := range c.Policy.Rules {
		if g, ok := r.Grant[app]; ok {
			parts.Rules = append(parts.Rules, ruleGrant{r.Name, r.When, g})
		}
	}
	data, _ := json.Marshal(parts)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
