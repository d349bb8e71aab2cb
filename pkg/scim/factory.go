package scim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a SCIM app.
const Type = "scim"

// Settings of a SCIM app.
const (
	// SettingProfile names the vendor's quirks ("slack"); default generic.
	SettingProfile = "profile"
	// SettingBaseURL is the SCIM root: https, or http for loopback only.
	// Required to connect; the error shows the profile's URL template.
	SettingBaseURL = "base_url"
)

// Factory builds SCIM connectors for the connector registry.
type Factory struct{}

func (Factory) Type() string       { return Type }
func (Factory) Settings() []string { return []string{SettingProfile, SettingBaseURL} }

// DeactivatedSeat is the profile's billing fact (registry.Billing).
func (Factory) DeactivatedSeat(app registry.App) registry.Seat {
	p, _ := ProfileByName(cmp.Or(app.Settings[SettingProfile], Generic().Name))
	return p.DeactivatedSeat
}

// Validate checks the profile is known and the base URL is one the client
// will use. A missing base URL waits for New: a file may name the app
// before its URL is known, and it then runs simulated.
func (Factory) Validate(app registry.App) error {
	var errs []error
	if name := app.Settings[SettingProfile]; name != "" {
		if _, known := ProfileByName(name); !known {
			var names []string
			for _, p := range Profiles() {
				names = append(names, p.Name)
			}
			errs = append(errs, &registry.SettingError{Key: SettingProfile,
				Msg: fmt.Sprintf("unknown SCIM profile %q; want one of %s", name, strings.Join(names, ", "))})
		}
	}
	if raw := app.Settings[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			errs = append(errs, &registry.SettingError{Key: SettingBaseURL, Msg: msg})
		}
	}
	return errors.Join(errs...)
}

// Pace is the profile's documented write limit, with a burst one below
// the vendor's so the first refill never races the server's (rate limits
// are paced, not discovered); a vendor that publishes none starts at the
// registry's default and adapts to its 429s.
func (Factory) Pace(app registry.App) ratelimit.Limit {
	if p, ok := ProfileByName(app.Settings[SettingProfile]); ok && p.RateLimit.Documented {
		return ratelimit.Limit{PerMinute: max(1, p.RateLimit.PerMinute()), Burst: max(1, p.RateLimit.Burst-1)}
	}
	return ratelimit.Limit{PerMinute: registry.DefaultWritesPerMinute, Burst: registry.DefaultBurst, Adaptive: true}
}

// config is the client configuration of app: its profile (default
// generic), base URL and token. It fails for an unknown profile (Validate
// refuses those already) or a missing base URL (the message shows the
// profile's URL template).
func config(app registry.App, token string) (Config, error) {
	name := cmp.Or(app.Settings[SettingProfile], Generic().Name)
	prof, ok := ProfileByName(name)
	if !ok {
		return Config{}, fmt.Errorf("unknown SCIM profile %q", name)
	}
	base := app.Settings[SettingBaseURL]
	switch {
	case base != "":
		return Config{BaseURL: base, Token: token, Profile: prof}, nil
	case prof.BaseURLTemplate == "": // generic: no vendor to take an example from
		return Config{}, fmt.Errorf("base_url is required (the %s SCIM root)", prof.Name)
	}
	return Config{}, fmt.Errorf("base_url is required (the %s SCIM root, e.g. %s)", prof.Name, prof.BaseURLTemplate)
}

// New builds the app's connector: group additions of many joiners share
// one PATCH, paced as one write; a generic app is first narrowed to what
// the server reports (see discover).
func (Factory) New(ctx context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg, err := config(app, deps.Credential)
	if err != nil {
		return nil, err
	}
	cfg.Pace, cfg.Observe = deps.Pace, deps.Observe
	client, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Profile.Name == Generic().Name {
		client = discover(ctx, client, cfg, deps.Log)
	}
	return NewConnector(client, Coalesce(deps.Pace)), nil
}

// discover narrows the generic profile to what the server reports:
// /ServiceProviderConfig (no PATCH: read and PUT instead; a smaller page)
// and /ResourceTypes with /Schemas (only the User attributes it declares,
// so a server without the enterprise extension is never sent a
// department). A vendor profile is not narrowed: its documented values win
// over a vendor's self-description. Discovery as a whole gets 10 s, so
// start-up does not hang on a vendor; what it cannot read keeps the
// profile's value (an attribute then refused is left out at run time and
// reported, see Connector.Update).
func discover(ctx context.Context, c *Client, cfg Config, log zerolog.Logger) *Client {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := c.Profile()
	if spc, err := c.ServiceProviderConfig(ctx); err != nil {
		log.Warn().Err(err).Msg("SCIM discovery: no ServiceProviderConfig: assuming PATCH and the default page size")
	} else {
		p = p.WithDiscovery(spc)
	}
	if du, err := c.DiscoverUser(ctx); err != nil {
		log.Warn().Err(err).Msg("SCIM discovery: no resource types: sending every User attribute the profile takes")
	} else {
		p = p.WithDeclaredUser(du)
	}
	cfg.Profile = p
	d, err := New(cfg)
	if err != nil {
		return c
	}
	log.Info().Bool("patch", p.Patch).Int("page_size", p.MaxPageSize).Str("attributes", p.Accepts.String()).Msg("SCIM discovery")
	return d
}

// Probe reads the app as the worker would connect to it, and only reads:
// GET /ServiceProviderConfig and one user of GET /Users.
func (Factory) Probe(ctx context.Context, app registry.App, token string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type + "/" + strings.ToLower(cmp.Or(app.Settings[SettingProfile], Generic().Name))} // profile names are lower case
	cfg, err := config(app, token)
	if err != nil || token == "" {
		r.Err = err
		return r
	}
	cfg.Timeout = timeout
	client, err := New(cfg)
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel, late := registry.ProbeDeadline(ctx, timeout)
	defer cancel()
	spc, err := client.ServiceProviderConfig(ctx)
	switch {
	case err == nil:
		r.Patch = &spc.PatchSupported
		if n := patchNote(cfg.Profile, spc); n != "" {
			r.Notes = append(r.Notes, n)
		}
	case notServed(err):
		// Optional for many vendors: the profile decides, as in the worker.
		r.Notes = append(r.Notes, fmt.Sprintf("no ServiceProviderConfig served: the %s profile's PATCH (%s) applies",
			cfg.Profile.Name, yesNo(cfg.Profile.Patch)))
	default:
		r.Err = late(err)
		return r
	}
	n, err := client.CountUsers(ctx)
	if err != nil {
		r.Err = late(err)
		return r
	}
	r.Users = &n
	return r
}

// patchNote says how the worker will update when that is not PATCH as
// the server reported: the generic profile follows the server, a vendor
// profile its documentation.
func patchNote(p Profile, spc ServiceProviderConfig) string {
	if p.Name == Generic().Name {
		p = p.WithDiscovery(spc)
	}
	switch {
	case !p.Patch:
		return "updates read the resource and PUT it back (no PATCH)"
	case !spc.PatchSupported:
		return fmt.Sprintf("server reports no PATCH; the %s profile uses it", p.Name)
	}
	return ""
}

// notServed reports whether err is the server not having the endpoint
// (404, 405, 501), rather than refusing the token or failing.
func notServed(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && (e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusNotImplemented)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
