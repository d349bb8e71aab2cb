package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"
	admin "google.golang.org/api/admin/directory/v1"
	licensing "google.golang.org/api/licensing/v1"
	"google.golang.org/api/option"

	"keycard/pkg/ratelimit"
)

// Scopes are the OAuth scopes Keycard asks for: a super admin authorises
// the service account's client id for exactly these under Admin console
// > Security > API controls > Domain-wide delegation. Google refuses the
// token (unauthorized_client) when any is missing.
var Scopes = []string{
	admin.AdminDirectoryUserScope,          // users: find, create, update, suspend
	admin.AdminDirectoryUserSecurityScope,  // sign-out, application-specific passwords, OAuth tokens
	admin.AdminDirectoryGroupMemberScope,   // add and remove group members
	admin.AdminDirectoryGroupReadonlyScope, // groups.list: a user's groups (the member scope does not cover it)
	licensing.AppsLicensingScope,           // licence assignments
}

// Defaults.
const (
	DefaultCustomer       = "my_customer" // the admin's own customer
	DefaultLicenseProduct = "Google-Apps" // Google Workspace editions
	DefaultTimeout        = 30 * time.Second
	// countTTL is how long Count's answer is reused: counting reads every
	// user (a page of 500 per query) and the guard asks at every
	// deactivation.
	countTTL = 5 * time.Minute
	// managerTTL is how long a manager's address is reused.
	managerTTL = time.Hour
)

// Config is how to reach one Google Workspace tenant.
type Config struct {
	// Domain is the primary domain: a group named without one is a group
	// of it ("eng" is eng@Domain), and its groups are reported so.
	Domain string
	// AdminEmail is the admin the service account impersonates (the
	// JWT's subject).
	AdminEmail string
	// Customer is the customer users are listed for; default my_customer.
	Customer string
	// SSO: people sign in through an identity provider. Google still
	// requires a password at creation: a random one nobody learns is set
	// either way; without SSO it must be changed at first sign-in (an
	// admin hands out a reset).
	SSO bool
	// LicenseProduct is the product Person.License names a SKU of;
	// default Google-Apps.
	LicenseProduct string
	// LicenseSKUs are the other SKUs of LicenseProduct people may hold
	// that Keycard moves them from (Google has no "which SKU does this
	// user hold" call; each is one licenseAssignments.get).
	LicenseSKUs []string
	// Key is the service account's JSON key file (its contents). It is
	// never logged or put in an error.
	Key []byte
	// BaseURL replaces https://admin.googleapis.com/ and
	// https://licensing.googleapis.com/ (tests, proxies).
	BaseURL string
	// HTTPClient's transport carries the token and API requests; default
	// a clone of http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
	// Pace is waited on before each request Keycard's worker has not
	// paced: every read, and every write of a step after its first.
	Pace func(context.Context) error
	// Observe is told how Google answered each paced request.
	Observe func(context.Context, ratelimit.Outcome)
	Now     func() time.Time
}

// New builds the connector. It makes no request: the first token is
// fetched with the first call.
func New(ctx context.Context, cfg Config) (*Connector, error) {
	switch {
	case cfg.Domain == "":
		return nil, errors.New("google: domain is required (the tenant's primary domain)")
	case cfg.AdminEmail == "":
		return nil, errors.New("google: admin_email is required (the admin the service account impersonates)")
	case cfg.Timeout < 0:
		return nil, errors.New("google: timeout must not be negative")
	}
	jc, err := jwtConfig(cfg.Key)
	if err != nil {
		return nil, err
	}
	jc.Subject = cfg.AdminEmail
	base := http.DefaultTransport.(*http.Transport).Clone()
	var transport http.RoundTripper = base
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		transport = cfg.HTTPClient.Transport
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// The token source keeps this context for every token request: not
	// the caller's, which may end, but one carrying a client whose
	// timeout bounds each token request.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: transport, Timeout: timeout})
	hc := &http.Client{Transport: &oauth2.Transport{Source: jc.TokenSource(tokenCtx), Base: transport}}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.BaseURL, "/")+"/"))
	}
	dir, err := admin.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google: directory client: %w", err)
	}
	lic, err := licensing.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google: licensing client: %w", err)
	}
	c := &Connector{
		dir: dir, lic: lic,
		domain: strings.ToLower(cfg.Domain), customer: cfg.Customer, sso: cfg.SSO,
		product: cfg.LicenseProduct, skus: cfg.LicenseSKUs,
		pace: cfg.Pace, observe: cfg.Observe, timeout: timeout, now: cfg.Now,
	}
	c.managers = map[string]cachedAddr{}
	if c.customer == "" {
		c.customer = DefaultCustomer
	}
	if c.product == "" {
		c.product = DefaultLicenseProduct
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// jwtConfig reads the key for the JWT flow, in words that never quote it.
func jwtConfig(key []byte) (*jwt.Config, error) {
	var probe struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &probe); err != nil {
		return nil, errors.New("google: the credential is not JSON: want the contents of the service account's key file")
	}
	switch {
	case probe.Type != "service_account":
		return nil, fmt.Errorf("google: the credential is a %q key: want a service account's (domain-wide delegation)", probe.Type)
	case probe.ClientEmail == "" || probe.PrivateKey == "":
		return nil, errors.New("google: the service account key lacks client_email or private_key")
	}
	cfg, err := google.JWTConfigFromJSON(key, Scopes...)
	if err != nil {
		return nil, errors.New("google: the service account key cannot be read")
	}
	return cfg, nil
}

// kind says how a request is paced.
type kind int

const (
	read      kind = iota // paced
	stepWrite             // the worker paced it (the step's first write)
	write                 // a further write of the step: paced
)

// call runs one request of op: paced first unless the worker paced it,
// bounded by the timeout, its answer told to the pacer and its error in
// Keycard's words (see Error).
func call[T any](ctx context.Context, c *Connector, op string, k kind, do func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if k != stepWrite && c.pace != nil {
		if err := c.pace(ctx); err != nil {
			return zero, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := do(actx)
	err = apiError(ctx, actx, op, c.timeout, err, c.now())
	c.answered(ctx, err)
	if err != nil {
		return zero, err
	}
	return v, nil
}

// run is call for a request whose answer has no body.
func run(ctx context.Context, c *Connector, op string, k kind, do func(ctx context.Context) error) error {
	_, err := call(ctx, c, op, k, func(ctx context.Context) (struct{}, error) { return struct{}{}, do(ctx) })
	return err
}

// answered tells the pacer how Google answered: throttled on a quota
// answer, accepted on any other answer. A 5xx or no answer says nothing
// about the pace. Every request counts against Google's quota, so every
// one is reported.
func (c *Connector) answered(ctx context.Context, err error) {
	if c.observe == nil {
		return
	}
	if err == nil {
		c.observe(ctx, ratelimit.Outcome{})
		return
	}
	e, ok := errors.AsType[*Error](err)
	switch {
	case !ok || e.Status >= 500:
	case e.RateLimited():
		c.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: e.RetryAfter})
	default:
		c.observe(ctx, ratelimit.Outcome{})
	}
}

// cachedAddr is a manager's address as read at.
type cachedAddr struct {
	addr string
	at   time.Time
}

// counted is Count's last answer.
type counted struct {
	n  int
	at time.Time
}

// state is what the connector learns as it goes.
type state struct {
	mu       sync.Mutex
	managers map[string]cachedAddr
	count    counted
}
