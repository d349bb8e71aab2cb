package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Defaults used for zero Config fields.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultMaxBodyBytes = 8 << 20
	DefaultMaxResults   = 100_000
	DefaultUserAgent    = "keycard-scim/1"
	DefaultMaxIdleConns = 16
)

// Config says where a SCIM service provider is and how to talk to it.
// BaseURL and Token are required.
type Config struct {
	// BaseURL is the SCIM root that /Users and /Groups hang off, as
	// Profile.BaseURL builds it. It must be https, except on a loopback
	// host (tests), and carry no credentials, query or fragment.
	BaseURL string
	// Token is sent as the profile says (Authorization: Bearer <token> for
	// every built-in profile). It never appears in errors.
	Token string
	// Profile holds the vendor's quirks. Zero: Generic().
	Profile Profile

	// HTTPClient defaults to one on a clone of http.DefaultTransport. Its
	// own Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Timeout bounds one HTTP exchange, from sending the request to
	// reading the whole body. Default DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds one response body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxResults bounds how many resources one list call reads across all
	// its pages; more is an error, not a silent truncation. Default
	// DefaultMaxResults.
	MaxResults int
	// UserAgent defaults to DefaultUserAgent (GitHub refuses requests
	// without one).
	UserAgent string
	// Now reads the clock, for Retry-After given as an HTTP date. Default
	// time.Now.
	Now func() time.Time
	// Pace, when set, is waited on before each read where the profile's
	// budget counts reads too (RateLimit.Reads): the worker paces writes,
	// and the reads must come out of the same budget.
	Pace func(context.Context) error
	// Observe, when set, is told how the vendor answered each request
	// that took a token (every write; reads too where Pace covers them)
	// and every throttled one (a 429, or a rate-limit answer the profile
	// signals, GitHub's 403): the pacer's feedback. A 5xx or a request
	// without an answer says nothing about the pace and is not reported.
	Observe func(context.Context, ratelimit.Outcome)
}

// baseURL checks and normalises cfg.BaseURL.
func (cfg Config) baseURL() (string, error) {
	if cfg.BaseURL == "" {
		return "", errors.New("base URL is required (see Profile.BaseURL)")
	}
	if strings.Contains(cfg.BaseURL, "{") {
		return "", fmt.Errorf("base URL %q has unfilled placeholders (see Profile.BaseURL)", cfg.BaseURL)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return "", fmt.Errorf("base URL: %w", err)
	}
	switch {
	case u.Host == "":
		return "", fmt.Errorf("base URL %q: no host", cfg.BaseURL)
	case u.User != nil:
		return "", errors.New("base URL must not carry credentials; set Token")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("base URL %q: no query or fragment allowed", cfg.BaseURL)
	case u.Scheme == "https":
	case u.Scheme == "http" && registry.IsLoopback(u.Hostname()):
	default:
		return "", fmt.Errorf("base URL %q: must be https (http only on a loopback host)", cfg.BaseURL)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// validToken refuses tokens that would break the header or leak into it.
func validToken(t string) error {
	if t == "" {
		return errors.New("token is required")
	}
	for _, r := range t {
		if r < 0x21 || r == 0x7f {
			return errors.New("token contains spaces or control characters")
		}
	}
	return nil
}
