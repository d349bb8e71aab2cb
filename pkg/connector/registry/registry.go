// Package registry is how Keycard builds an app's connector from its
// configuration without knowing the vendor. Each connector package exports
// one Factory; one explicit list (keycard/pkg/connectors) names them all,
// and the policy loader, the worker and provctl look types up in it. So a
// new app is one package, one line in that list and one contract-suite
// call, and nothing outside the connector's package names its vendor.
//
// The list is a value passed down, not a global that packages add
// themselves to from init(): what Keycard can run is readable in one
// place, and a test builds the registry it needs.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/ratelimit"
)

// The pace of an app whose vendor documents no limit and whose file sets
// none: conservative, and adaptive where the connector says so.
const (
	DefaultWritesPerMinute = 60
	DefaultBurst           = 1
)

// App is what a factory is told about one configured app: its name and
// the keys of its type (a SCIM app's profile and base_url), as the file
// writes them. The keys every app shares (mode, credential, rate_limit,
// guard) are the policy's, and applied outside the connector.
type App struct {
	Name     string
	Settings map[string]string
}

// SettingError is a problem with one of an app's settings. The policy
// loader reports it at the setting's line in the file.
type SettingError struct {
	Key string
	Msg string
}

func (e *SettingError) Error() string { return e.Key + ": " + e.Msg }

// Deps are what a connector is built with, besides its settings.
type Deps struct {
	// Credential is the value of the app's credential variable, never
	// empty: an app without it is simulated, not built.
	Credential string
	// Pace is waited on before each paced request the connector makes
	// itself (reads the vendor counts, writes it coalesces).
	Pace func(context.Context) error
	// Observe is told how the vendor answered each paced request: the
	// adaptive pace's feedback.
	Observe func(context.Context, ratelimit.Outcome)
	Log     zerolog.Logger
	// Getenv reads another environment variable an app's settings name
	// (a setting ending in _env: an SMTP password); nil reads none.
	Getenv func(string) string
}

// Probe is what a read-only credential check found (provctl apps check).
type Probe struct {
	// Label names the app's kind for people: "scim/slack".
	Label string
	// Simulated, when set, says why the worker simulates the app in
	// memory whatever its credential (a type without a connector yet).
	Simulated string
	// Users is the app's account count; nil when not read.
	Users *int
	// Patch is whether the server says it updates in place (SCIM's
	// PATCH); nil when not read or not applicable.
	Patch *bool
	// Notes explain how the worker will talk to the app where that is
	// not the obvious way.
	Notes []string
	// Err is why the worker could not connect. With an empty credential
	// only the settings are checked.
	Err error
}

// Factory builds one type of connector.
//
// What a connector can do beyond Connector (connector.Counter,
// connector.ManagerLinker, connector.Coalescer) is not declared here: it
// depends on the instance (a SCIM app links managers only where its
// profile or the server takes a manager), so the connector declares it and
// wrappers such as connector.NewDryRun keep it.
type Factory interface {
	// Type is the app type the configuration names: "scim".
	Type() string
	// Settings are the keys an app of this type may set beyond the ones
	// every app has; any other key is an error.
	Settings() []string
	// Validate checks an app's settings as the file is loaded; every
	// problem is a *SettingError (joined with errors.Join when several).
	// What needs the credential or the network waits for New.
	Validate(App) error
	// Pace is the app's pace where its file sets none: the vendor's
	// documented limit when there is one (a fixed ceiling: MaxPerMinute
	// is left for the policy to fill in).
	Pace(App) ratelimit.Limit
	// New builds the app's connector. It returns ErrNoConnector for a
	// type without one yet.
	New(ctx context.Context, app App, deps Deps) (connector.Connector, error)
	// Probe reads the app with credential, writing nothing, within
	// timeout.
	Probe(ctx context.Context, app App, credential string, timeout time.Duration) Probe
}

// The single-valued grant keys a connector may apply to an account.
const (
	GrantOrgUnit = "org_unit" // where the account lives (a Google org unit)
	GrantLicense = "license"  // the licence or seat it holds
)

// Assigner is a factory whose connector applies some of the single-valued
// grant keys (GrantOrgUnit, GrantLicense), given as Person.OrgUnit and
// Person.License. A type that is not one is not told them: a licence
// granted there is only recorded (the seat-cost report reads it), and an
// org unit is a config error.
type Assigner interface {
	Assigns() []string
}

// Assigns reports whether f's connector applies the grant key.
func Assigns(f Factory, key string) bool {
	a, ok := f.(Assigner)
	return ok && slices.Contains(a.Assigns(), key)
}

// Seat is what a vendor does with the seat of an account Keycard
// deactivated: the seat report counts deactivated accounts as money only
// where the vendor keeps billing them.
type Seat int

const (
	// SeatUnknown: the vendor documents neither; the report says so
	// rather than guess.
	SeatUnknown Seat = iota
	// SeatFreed: a deactivated account costs nothing (Slack, GitLab
	// blocked, a GitHub member removed from the org).
	SeatFreed
	// SeatBilled: a deactivated account still holds a paid seat until an
	// admin deletes it or removes the seat (Google Workspace suspended,
	// Pipedrive inactive): money a clean-up saves.
	SeatBilled
)

func (s Seat) String() string {
	switch s {
	case SeatFreed:
		return "freed"
	case SeatBilled:
		return "billed"
	}
	return "unknown"
}

// Billing is a factory that knows, from its vendor's documentation, what
// happens to a deactivated account's seat. A factory that is not one is
// SeatUnknown.
type Billing interface {
	DeactivatedSeat(App) Seat
}

// DeactivatedSeat is f's answer for app, SeatUnknown where it has none.
func DeactivatedSeat(f Factory, app App) Seat {
	if b, ok := f.(Billing); ok {
		return b.DeactivatedSeat(app)
	}
	return SeatUnknown
}

// ErrNoConnector is New's answer for a type Keycard has no connector for
// yet: the worker simulates the app in memory and runs it dry.
var ErrNoConnector = errors.New("no connector for this type yet")

// TypeDryRun is the type that only plans, against an in-memory app: it
// needs no credential, even in mode apply.
const TypeDryRun = "dryrun"

// Registry is a fixed set of factories, by type.
type Registry struct {
	factories []Factory
}

// New returns the registry of fs, in that order. Two factories of one
// type are a programming error: it panics.
func New(fs ...Factory) *Registry {
	for i, f := range fs {
		if slices.ContainsFunc(fs[:i], func(g Factory) bool { return g.Type() == f.Type() }) {
			panic(fmt.Sprintf("registry: two factories of type %q", f.Type()))
		}
	}
	return &Registry{factories: slices.Clone(fs)}
}

// Lookup returns the factory of type typ.
func (r *Registry) Lookup(typ string) (Factory, bool) {
	i := slices.IndexFunc(r.factories, func(f Factory) bool { return f.Type() == typ })
	if i < 0 {
		return nil, false
	}
	return r.factories[i], true
}

// Types lists the registered types a file may name, in registration
// order: retired ones are left out.
func (r *Registry) Types() []string {
	var out []string
	for _, f := range r.factories {
		if _, retired := f.(Retired); !retired {
			out = append(out, f.Type())
		}
	}
	return out
}

// Simulated is an app type Keycard has no connector for yet: the worker
// plans and audits its apps against an in-memory app, touching nothing.
// Its settings are accepted so a file can describe the app ahead of the
// connector, and checked by nothing.
type Simulated struct {
	Name string
	Keys []string
	// GrantKeys are the grant keys the app will assign (Assigner), so the
	// simulation plans them as the connector would.
	GrantKeys []string
	// Why is provctl's explanation of the simulation.
	Why string
}

func (s Simulated) Type() string       { return s.Name }
func (s Simulated) Settings() []string { return s.Keys }
func (s Simulated) Assigns() []string  { return s.GrantKeys }
func (Simulated) Validate(App) error   { return nil }
func (Simulated) Pace(App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: DefaultWritesPerMinute, Burst: DefaultBurst}
}
func (s Simulated) Probe(context.Context, App, string, time.Duration) Probe {
	return Probe{Label: s.Name, Simulated: s.Why}
}

func (Simulated) New(context.Context, App, Deps) (connector.Connector, error) {
	return nil, ErrNoConnector
}

// Retired is an app type Keycard no longer runs, because its vendor
// shut the service down: a file naming it does not load. Its Validate
// refuses the app at its type, with Why (the reason, and where the
// README says what to do instead), so the policy loader reports it at
// the file's line like any bad setting; the worker and provctl never see
// such an app. One entry in the registry list is the whole retirement.
type Retired struct {
	Name string
	// Why says what happened and where to read more: "InVision shut down
	// …; see README.md#retired-apps".
	Why string
}

// ErrRetired is the error of every retired type, its Why aside.
var ErrRetired = errors.New("app type retired")

func (r Retired) Type() string     { return r.Name }
func (Retired) Settings() []string { return nil }
func (Retired) Pace(App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: DefaultWritesPerMinute, Burst: DefaultBurst}
}

func (r Retired) err() error { return fmt.Errorf("%w: %q: %s", ErrRetired, r.Name, r.Why) }

func (r Retired) New(context.Context, App, Deps) (connector.Connector, error) { return nil, r.err() }

// Validate refuses every app of the type, at its type.
func (r Retired) Validate(App) error {
	return &SettingError{Key: "type", Msg: fmt.Sprintf("app type %q is retired: %s", r.Name, r.Why)}
}

func (r Retired) Probe(context.Context, App, string, time.Duration) Probe {
	return Probe{Label: r.Name, Err: r.err()}
}

// ProbeDeadline bounds a probe's requests to timeout. late names the
// timeout in an error that ran into it ("no answer within 5s: …").
func ProbeDeadline(ctx context.Context, timeout time.Duration) (_ context.Context, cancel context.CancelFunc, late func(error) error) {
	ctx, cancel = context.WithTimeout(ctx, timeout)
	return ctx, cancel, func(err error) error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return err
	}
}
