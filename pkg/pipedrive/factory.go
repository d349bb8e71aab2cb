package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a Pipedrive company.
const Type = "pipedrive"

// Settings of a Pipedrive app.
const (
	SettingCompanyDomain = "company_domain" // the subdomain: acme for acme.pipedrive.com
	SettingBaseURL       = "base_url"       // the API root, overriding company_domain: https://acme.pipedrive.com/api/v1/
	SettingPermissionSet = "permission_set" // the sales permission set (name or id) for people whose grant names no licence
)

// The default pace, of every request: Pipedrive's burst limit for an API
// token counts reads too, 20 requests per 2-second window on its lowest
// plan (40, 100 and 120 on higher ones), and the token's user's own
// clicks in Pipedrive count against it as well. 240 a minute with a burst
// of 8 allows at most 8 + 8 = 16 requests in any 2 seconds, leaving 4 to
// that user. Every request also spends the company's daily token budget
// (30,000 × plan multiplier × seats; a write costs 10, a lookup by e-mail
// 40): a hire costs about 100.
const (
	PacePerMinute = 240
	PaceBurst     = 8
)

// Factory builds Pipedrive connectors for the connector registry.
type Factory struct{}

func (Factory) Type() string { return Type }

// DeactivatedSeat (registry.Billing): an inactive user keeps its paid seat until an admin removes it (connectors.md §3.10).
func (Factory) DeactivatedSeat(registry.App) registry.Seat { return registry.SeatBilled }
func (Factory) Settings() []string {
	return []string{SettingCompanyDomain, SettingBaseURL, SettingPermissionSet}
}

// Assigns: a grant's license names the sales permission set a new user
// gets, and its org_unit the visibility role (see the package
// documentation).
func (Factory) Assigns() []string { return []string{registry.GrantLicense, registry.GrantOrgUnit} }

// Validate checks the company domain and the base URL. Neither is
// required: without them the connector talks to api.pipedrive.com.
func (Factory) Validate(app registry.App) error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &registry.SettingError{Key: key, Msg: msg}) }
	if d := app.Settings[SettingCompanyDomain]; d != "" && !domainLabel.MatchString(d) {
		bad(SettingCompanyDomain, fmt.Sprintf("%q: want the subdomain only, as acme in acme.pipedrive.com", d))
	}
	if raw := app.Settings[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			bad(SettingBaseURL, msg)
		}
	}
	return errors.Join(errs...)
}

// Pace is the fixed ceiling under Pipedrive's burst limit (PacePerMinute);
// every request the connector makes waits on it, like the worker's writes.
func (Factory) Pace(registry.App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: PacePerMinute, Burst: PaceBurst}
}

func config(app registry.App, token string) Config {
	return Config{CompanyDomain: app.Settings[SettingCompanyDomain], BaseURL: app.Settings[SettingBaseURL],
		PermissionSet: app.Settings[SettingPermissionSet], Token: token}
}

// New builds the company's connector.
func (Factory) New(_ context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg := config(app, deps.Credential)
	cfg.Pace, cfg.Observe, cfg.Log = deps.Pace, deps.Observe, deps.Log
	return New(cfg)
}

// Probe reads the company as the worker would, and only reads: the
// token's user (GET /users/me), the users (a page per 500) and, when the
// app names one, the permission set.
func (Factory) Probe(ctx context.Context, app registry.App, token string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type}
	if err := (Factory{}).Validate(app); err != nil || token == "" {
		r.Err = err
		return r
	}
	cfg := config(app, token)
	cfg.Timeout = timeout
	k, err := New(cfg)
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel, late := registry.ProbeDeadline(ctx, timeout)
	defer cancel()
	var me user
	if _, err := k.do(ctx, call{how: read, method: "GET", path: "users/me"}, &me); err != nil {
		r.Err = late(fmt.Errorf("the token's user: %w", err))
		return r
	}
	if !isAdmin(me) {
		r.Err = fmt.Errorf("the token's user %d is no admin: Pipedrive lets only admins add and deactivate users", me.ID)
		return r
	}
	seats, err := k.Seats(ctx)
	if err != nil {
		r.Err = late(err)
		return r
	}
	n := seats.Billed() - 1 // the token's own user is not listed
	r.Users = &n
	r.Notes = append(r.Notes, fmt.Sprintf("%d active and %d deactivated users: %d seats billed (deactivated users keep theirs until an admin removes it)",
		seats.Active, seats.Inactive, seats.Billed()))
	if want := cfg.PermissionSet; want != "" {
		id, known, err := k.idNamed(ctx, &k.sets, want)
		switch {
		case err != nil:
			r.Err = late(err)
		case id == "":
			r.Err = fmt.Errorf("permission_set %q: no such sales permission set (the company has %s)", want, listNames(known))
		}
	}
	return r
}

// isAdmin reports whether u administers the company (global or account
// settings admin access).
func isAdmin(u user) bool {
	for _, a := range u.Access {
		if a.Admin && (a.App == "global" || a.App == "account_settings") {
			return true
		}
	}
	return false
}
