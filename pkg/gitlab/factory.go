package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a GitLab self-managed (or Dedicated) instance.
// GitLab.com groups are provisioned over SCIM instead (the scim type,
// profile gitlab).
const Type = "gitlab"

// Settings of a GitLab app.
const (
	SettingOrg            = "org"                 // the top-level group Keycard manages (optional)
	SettingBaseURL        = "base_url"            // the instance's root, https://gitlab.example.com; required to connect
	SettingAccessLevel    = "access_level"        // the level of the memberships Keycard adds; default developer
	SettingGroupLevels    = "group_access_levels" // per group: "acme/leads=maintainer, acme/support=reporter"
	SettingProvider       = "identity_provider"   // the SAML/LDAP provider whose extern_uid Keycard sets and finds by
	SettingExternUIDField = "extern_uid_field"    // employee_id (default), email, or an HR custom field
	SettingUsernameField  = "username_field"      // the HR custom field holding usernames; default: from the e-mail
)

// The default pace. GitLab's authenticated API throttle, when an
// administrator turns it on, allows 7,200 requests an hour per user (120 a
// minute), reads included. A hire costs a write or two and a few reads, so
// writes are paced at 40 a minute with a burst of 10, leaving the rest of
// the budget to the reads around them: a fixed ceiling, raised in the file
// where the instance's throttle is off or higher.
const (
	PacePerMinute = 40
	PaceBurst     = 10
)

// Factory builds GitLab connectors for the connector registry.
type Factory struct{}

func (Factory) Type() string { return Type }

// DeactivatedSeat (registry.Billing): a blocked user takes no seat (connectors.md §3.5).
func (Factory) DeactivatedSeat(registry.App) registry.Seat { return registry.SeatFreed }
func (Factory) Settings() []string {
	return []string{SettingOrg, SettingBaseURL, SettingAccessLevel, SettingGroupLevels, SettingProvider, SettingExternUIDField, SettingUsernameField}
}

// Validate checks the settings' forms. A missing base_url waits for New,
// as a GitHub app's org does: a file may name the app before its instance
// is settled, and it then runs simulated until both base_url and token are
// set.
func (Factory) Validate(app registry.App) error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &registry.SettingError{Key: key, Msg: msg}) }
	s := app.Settings
	if raw := s[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			bad(SettingBaseURL, msg)
		}
	}
	org := strings.Trim(s[SettingOrg], "/")
	if s[SettingOrg] != "" && !validGroupPath(org) {
		bad(SettingOrg, fmt.Sprintf("%q is not a group path (as in https://gitlab.example.com/GROUP)", s[SettingOrg]))
	}
	if v := s[SettingAccessLevel]; v != "" {
		if _, ok := parseLevel(v); !ok {
			bad(SettingAccessLevel, fmt.Sprintf("%q: want one of %s", v, levelNames()))
		}
	}
	if v := s[SettingGroupLevels]; v != "" {
		levels, err := parseGroupLevels(v)
		switch {
		case err != nil:
			bad(SettingGroupLevels, err.Error())
		case org != "":
			for p := range levels {
				if p != strings.ToLower(org) && !strings.HasPrefix(p, strings.ToLower(org)+"/") {
					bad(SettingGroupLevels, fmt.Sprintf("%s is outside %s (org)", p, org))
				}
			}
		}
	}
	if v := s[SettingProvider]; v != "" && strings.ContainsFunc(v, func(r rune) bool { return !pathRune(r) }) {
		bad(SettingProvider, fmt.Sprintf("%q is not a provider name (as gitlab.rb names it: saml, ldapmain, openid_connect)", v))
	}
	if s[SettingExternUIDField] != "" && s[SettingProvider] == "" {
		bad(SettingExternUIDField, "needs identity_provider: the extern_uid is the identity at that provider")
	}
	return errors.Join(errs...)
}

// Pace is PacePerMinute with a burst of PaceBurst: a fixed ceiling, under
// GitLab's documented default throttle.
func (Factory) Pace(registry.App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: PacePerMinute, Burst: PaceBurst}
}

// config is app's connector configuration; it fails without a base URL.
func config(app registry.App, token string) (Config, error) {
	if err := (Factory{}).Validate(app); err != nil {
		return Config{}, err
	}
	s := app.Settings
	if s[SettingBaseURL] == "" {
		return Config{}, errors.New("base_url is required: the instance's root, as in https://gitlab.example.com")
	}
	levels, _ := parseGroupLevels(s[SettingGroupLevels])
	return Config{BaseURL: s[SettingBaseURL], Token: token, Org: s[SettingOrg], AccessLevel: s[SettingAccessLevel], GroupLevels: levels,
		Provider: s[SettingProvider], ExternUIDField: s[SettingExternUIDField], UsernameField: s[SettingUsernameField]}, nil
}

// New builds the instance's connector.
func (Factory) New(_ context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg, err := config(app, deps.Credential)
	if err != nil {
		return nil, err
	}
	cfg.Pace, cfg.Observe, cfg.Log = deps.Pace, deps.Observe, deps.Log
	return New(cfg)
}

// Probe reads the instance as the worker would, and only reads: the
// token's user (it must be an administrator), the org group when set, and
// the seat count.
func (Factory) Probe(ctx context.Context, app registry.App, token string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type}
	cfg, err := config(app, token)
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
	me, err := k.self(ctx)
	if err != nil {
		r.Err = late(err)
		return r
	}
	if !me.IsAdmin {
		r.Err = fmt.Errorf("the token belongs to %s, who is not an administrator: creating and blocking users needs an admin's token (api scope)", me.Username)
		return r
	}
	if k.org != "" {
		_, err := k.do(ctx, read, func(o ...gl.RequestOptionFunc) (resp *gl.Response, err error) {
			_, resp, err = k.gl.Groups.GetGroup(k.org, &gl.GetGroupOptions{WithProjects: gl.Ptr(false)}, o...)
			return resp, err
		})
		if err != nil {
			r.Err = late(fmt.Errorf("group %s (org): %w", k.org, err))
			return r
		}
	}
	n, err := k.Count(ctx)
	if err != nil {
		r.Err = late(err)
		return r
	}
	r.Users = &n
	r.Notes = append(r.Notes, fmt.Sprintf("%d active users take a seat (blocked users do not); leavers are blocked, not deleted", n),
		fmt.Sprintf("groups are joined as %s%s", levelName(k.level), map[bool]string{true: " (some groups per group_access_levels)"}[len(k.groupLevels) > 0]))
	if k.provider != "" {
		r.Notes = append(r.Notes, fmt.Sprintf("people are found by their %s identity (extern_uid from %s)", k.provider, k.uidField))
	} else {
		r.Notes = append(r.Notes, "no identity_provider: new users get a password-reset e-mail, and people are found by e-mail")
	}
	return r
}
