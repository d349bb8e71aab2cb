package google

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a Google Workspace app.
const Type = "google"

// Settings of a Google app.
const (
	// SettingDomain is the tenant's primary domain (required to connect).
	SettingDomain = "domain"
	// SettingAdminEmail is the admin the service account impersonates
	// (required to connect).
	SettingAdminEmail = "admin_email"
	// SettingCustomer is the customer users are listed for; default
	// my_customer.
	SettingCustomer = "customer"
	// SettingSSO is "true" when people sign in through an identity
	// provider: their random initial password need not be changed.
	SettingSSO = "sso"
	// SettingLicenseProduct is the product a grant's license names a SKU
	// of; default Google-Apps.
	SettingLicenseProduct = "license_product"
	// SettingLicenseSKUs are the other SKUs of the product Keycard moves
	// people from, comma-separated.
	SettingLicenseSKUs = "license_skus"
	// SettingBaseURL replaces Google's API hosts (tests, proxies): https,
	// or http for loopback only.
	SettingBaseURL = "base_url"
)

// DefaultQueriesPerMinute is the Directory API's documented default quota:
// 2,400 queries a minute per user (the impersonated admin) per project.
// Reads count as much as writes.
const DefaultQueriesPerMinute = 2400

// defaultBurst is a second of the quota.
const defaultBurst = DefaultQueriesPerMinute / 60

// Factory builds Google Workspace connectors for the connector registry.
type Factory struct{}

var (
	_ registry.Factory  = Factory{}
	_ registry.Assigner = Factory{}
)

func (Factory) Type() string { return Type }

// DeactivatedSeat (registry.Billing): a suspended user is charged like an active one until deleted (connectors.md §3.6).
func (Factory) DeactivatedSeat(registry.App) registry.Seat { return registry.SeatBilled }

func (Factory) Settings() []string {
	return []string{SettingDomain, SettingAdminEmail, SettingCustomer, SettingSSO, SettingLicenseProduct, SettingLicenseSKUs, SettingBaseURL}
}

// Assigns implements registry.Assigner: a grant's org_unit is the user's
// orgUnitPath, its license a SKU of the licence product.
func (Factory) Assigns() []string { return []string{registry.GrantOrgUnit, registry.GrantLicense} }

// Validate checks the settings' shape. A missing domain or admin_email
// waits for New: a file may name the app before the tenant is set up, and
// it then runs simulated.
func (Factory) Validate(app registry.App) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &registry.SettingError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	s := app.Settings
	if d := s[SettingDomain]; d != "" && !validDomain(d) {
		bad(SettingDomain, "%q: want a domain name such as example.com", d)
	}
	if a := s[SettingAdminEmail]; a != "" {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Address != a {
			bad(SettingAdminEmail, "%q: want an address such as admin@example.com", a)
		}
	}
	if v := s[SettingSSO]; v != "" && v != "true" && v != "false" {
		bad(SettingSSO, "%q: want true or false", v)
	}
	if c := s[SettingCustomer]; c != "" && strings.ContainsAny(c, " /?#") {
		bad(SettingCustomer, "%q: want my_customer or a customer id such as C01234567", c)
	}
	if p := s[SettingLicenseProduct]; strings.ContainsAny(p, " /?#") {
		bad(SettingLicenseProduct, "%q: want a product id such as Google-Apps", p)
	}
	if _, err := skus(s[SettingLicenseSKUs]); err != nil {
		bad(SettingLicenseSKUs, "%v", err)
	}
	if raw := s[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			bad(SettingBaseURL, "%s", msg)
		}
	}
	return errors.Join(errs...)
}

func validDomain(d string) bool {
	if d != strings.ToLower(d) || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func skus(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " /?#") {
			return nil, fmt.Errorf("%q: want SKU ids separated by commas, such as 1010020027,1010020028", raw)
		}
		out = append(out, s)
	}
	return out, nil
}

// Pace is Google's documented quota, a fixed ceiling: every read Keycard
// makes itself is paced with it too (Deps.Pace), since reads count.
func (Factory) Pace(registry.App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: DefaultQueriesPerMinute, Burst: defaultBurst}
}

// config is the connector configuration of app with key.
func config(app registry.App, key string) (Config, error) {
	s := app.Settings
	list, err := skus(s[SettingLicenseSKUs])
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Domain: s[SettingDomain], AdminEmail: s[SettingAdminEmail], Customer: s[SettingCustomer], SSO: s[SettingSSO] == "true",
		LicenseProduct: s[SettingLicenseProduct], LicenseSKUs: list, Key: []byte(key), BaseURL: s[SettingBaseURL],
	}
	switch {
	case cfg.Domain == "":
		return Config{}, errors.New("domain is required (the tenant's primary domain)")
	case cfg.AdminEmail == "":
		return Config{}, errors.New("admin_email is required (the admin the service account impersonates)")
	}
	return cfg, nil
}

// New builds the app's connector; deps.Credential is the service
// account's JSON key (the contents of the file).
func (Factory) New(ctx context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg, err := config(app, deps.Credential)
	if err != nil {
		return nil, err
	}
	cfg.Pace, cfg.Observe = deps.Pace, deps.Observe
	c, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	deps.Log.Info().Str("admin", cfg.AdminEmail).Str("domain", c.domain).Str("customer", c.customer).Bool("sso", cfg.SSO).
		Str("license_product", c.product).Msg("Google Workspace via a service account with domain-wide delegation")
	return c, nil
}

// Probe checks the key and the delegation, writing nothing: it fetches a
// token impersonating the admin and lists one user of the customer.
func (Factory) Probe(ctx context.Context, app registry.App, key string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type}
	cfg, err := config(app, key)
	if err != nil || key == "" {
		r.Err = err
		return r
	}
	cfg.Timeout = timeout
	c, err := New(ctx, cfg)
	if err != nil {
		r.Err = err
		return r
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("impersonates %s; domain-wide delegation must grant %s", cfg.AdminEmail, strings.Join(Scopes, ", ")),
		"suspended users keep their licence and are billed for it")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = call(ctx, c, "users.list", read, func(ctx context.Context) (*admin.Users, error) {
		return c.dir.Users.List().Customer(c.customer).MaxResults(1).Context(ctx).Do()
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	r.Err = err
	return r
}
