package github

import (
	"context"
	"errors"
	"fmt"
	"time"

	gh "github.com/google/go-github/v93/github"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a GitHub organisation.
const Type = "github"

// Settings of a GitHub app.
const (
	SettingOrg        = "org"         // the organisation's login; required to connect
	SettingLoginField = "login_field" // the HR custom field holding each person's GitHub login
	SettingBaseURL    = "base_url"    // the REST root: GitHub Enterprise Server's https://HOST/api/v3/; default https://api.github.com/
	SettingRole       = "role"        // the org role given: member (default) or admin
)

// The default pace: GitHub's secondary limits allow no more than 80
// content-creating requests a minute and 500 an hour. 8 a minute with a
// burst of 20 stays under both: at most 28 in any minute, and 20 + 8×60 =
// 500 in any hour.
const (
	PacePerMinute = 8
	PaceBurst     = 20
)

// Factory builds GitHub organisation connectors for the connector
// registry.
type Factory struct{}

func (Factory) Type() string { return Type }

// DeactivatedSeat (registry.Billing): a member removed from the org no longer holds a seat (connectors.md §3.3).
func (Factory) DeactivatedSeat(registry.App) registry.Seat { return registry.SeatFreed }
func (Factory) Settings() []string {
	return []string{SettingOrg, SettingLoginField, SettingBaseURL, SettingRole}
}

// Validate checks the organisation's name, the base URL and the role. A
// missing org waits for New, as a SCIM app's base URL does: a file may
// name the app before its organisation is settled, and it then runs
// simulated until both org and token are set.
func (Factory) Validate(app registry.App) error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &registry.SettingError{Key: key, Msg: msg}) }
	if org := app.Settings[SettingOrg]; org != "" && !validOrg(org) {
		bad(SettingOrg, fmt.Sprintf("%q is not a GitHub organisation name (letters, digits and single hyphens, at most 39)", org))
	}
	if raw := app.Settings[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			bad(SettingBaseURL, msg)
		}
	}
	if role := app.Settings[SettingRole]; role != "" && role != RoleMember && role != RoleAdmin {
		bad(SettingRole, fmt.Sprintf("%q: want %s or %s", role, RoleMember, RoleAdmin))
	}
	return errors.Join(errs...)
}

// Pace is GitHub's secondary limit on content-creating requests (see
// PacePerMinute): a fixed ceiling, not adaptive.
func (Factory) Pace(registry.App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: PacePerMinute, Burst: PaceBurst}
}

// config is app's connector configuration; it fails without an org.
func config(app registry.App, token string) (Config, error) {
	if app.Settings[SettingOrg] == "" {
		return Config{}, errors.New("org is required: the organisation's login, as in https://github.com/ORG")
	}
	return Config{Org: app.Settings[SettingOrg], LoginField: app.Settings[SettingLoginField], Role: app.Settings[SettingRole],
		BaseURL: app.Settings[SettingBaseURL], Token: token}, nil
}

// New builds the organisation's connector.
func (Factory) New(_ context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg, err := config(app, deps.Credential)
	if err != nil {
		return nil, err
	}
	cfg.Pace, cfg.Observe, cfg.Log = deps.Pace, deps.Observe, deps.Log
	return New(cfg)
}

// Probe reads the organisation as the worker would, and only reads: GET
// /orgs/{org}, then the member, invitation and outside collaborator counts
// (one request each).
func (Factory) Probe(ctx context.Context, app registry.App, token string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type}
	cfg, err := config(app, token)
	if err == nil {
		err = Factory{}.Validate(app)
	}
	if err != nil || token == "" {
		r.Err = err
		return r
	}
	cfg.Timeout = timeout
	k, err := New(cfg)
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel, late := registry.ProbeDeadline(ctx, timeout)
	defer cancel()
	var org *gh.Organization
	_, err = k.do(ctx, read, func(ctx context.Context) (resp *gh.Response, err error) {
		org, resp, err = k.gh.Organizations.Get(ctx, k.org)
		return resp, err
	})
	if err != nil {
		r.Err = late(fmt.Errorf("organisation %s: %w", k.org, err))
		return r
	}
	n, err := k.Count(ctx)
	if err != nil {
		r.Err = late(err)
		return r
	}
	r.Users = &n
	if p := org.GetPlan(); p != nil && p.GetSeats() > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s plan, %d of %d seats filled", p.GetName(), p.GetFilledSeats(), p.GetSeats()))
	}
	outside, err := k.count(ctx, func(ctx context.Context, o *gh.ListOptions) (int, *gh.Response, error) {
		us, resp, err := k.gh.Organizations.ListOutsideCollaborators(ctx, k.org, &gh.ListOutsideCollaboratorsOptions{ListOptions: *o})
		return len(us), resp, err
	})
	switch {
	case err != nil:
		r.Notes = append(r.Notes, fmt.Sprintf("outside collaborators not read: %v", err))
	case outside > 0:
		r.Notes = append(r.Notes, fmt.Sprintf("%d outside collaborators (repository access; not removed)", outside))
	}
	if cfg.LoginField == "" {
		r.Notes = append(r.Notes, "no login_field: invites by e-mail only, without teams")
	}
	return r
}
