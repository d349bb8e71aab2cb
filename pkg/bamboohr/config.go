package bamboohr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultMaxRetryAfter  = 30 * time.Second
	DefaultMaxBodyBytes   = 8 << 20
	DefaultUserAgent      = "keycard-bamboohr/1"
	DefaultMaxIdleConns   = 32
)

// maxFields is BambooHR's limit on the fields of one request; more gives 400.
const maxFields = 400

// Config says where BambooHR is and how to talk to it. Only APIKey and one
// of Company or BaseURL are required.
type Config struct {
	// Company is the company domain: "acme" for acme.bamboohr.com.
	Company string
	// BaseURL overrides https://{Company}.bamboohr.com (tests, proxies, the
	// legacy gateway). Requests go to BaseURL + "/api/v1/..." unless the path
	// already ends in "/v1".
	BaseURL string
	// APIKey is sent as the HTTP Basic user name, with password "x".
	APIKey string

	// HTTPClient defaults to a client on a clone of http.DefaultTransport
	// keeping DefaultMaxIdleConns idle connections to BambooHR. Its own
	// Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Timeout bounds one attempt, from sending the request to reading the
	// whole body. Default DefaultTimeout.
	Timeout time.Duration

	// MaxAttempts is the number of attempts per call, the first included;
	// 1 disables retries. Default DefaultMaxAttempts.
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential backoff (factor 2,
	// jitter ±50%) between attempts.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter is the longest the client waits in-process on a
	// Retry-After. When the server asks for longer, the call returns at once
	// and RetryAfter(err) reports the server's delay to the caller.
	MaxRetryAfter time.Duration

	// CustomFields are extra field aliases (e.g. "customShirtSize" or a
	// numeric field id) fetched into Employee.Custom.
	CustomFields []string
	// ContractEndField is the alias of the date field holding a contractor's
	// end date, or empty when the tenant has none.
	ContractEndField string
	// TimeZoneField is the alias of the field holding the employee's IANA
	// time zone. BambooHR has no standard one; empty means none.
	TimeZoneField string

	// MaxBodyBytes bounds a response body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string

	// Now reads the clock, for Retry-After given as an HTTP date.
	// Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done, returning ctx.Err() then.
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

var (
	companyPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	aliasPattern   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// apiRoot returns the URL that endpoint paths such as "/employees/changed"
// are appended to.
func (cfg Config) apiRoot() (string, error) {
	if cfg.BaseURL == "" {
		if cfg.Company == "" {
			return "", errors.New("company or base URL is required")
		}
		if !companyPattern.MatchString(cfg.Company) {
			return "", fmt.Errorf("company %q is not a valid subdomain", cfg.Company)
		}
		return "https://" + strings.ToLower(cfg.Company) + ".bamboohr.com/api/v1", nil
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return "", fmt.Errorf("base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("base URL %q: scheme must be http or https", cfg.BaseURL)
	case u.Host == "":
		return "", fmt.Errorf("base URL %q: no host", cfg.BaseURL)
	case u.User != nil:
		return "", errors.New("base URL must not carry credentials; set the API key")
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("base URL %q: no query or fragment allowed", cfg.BaseURL)
	}
	root := strings.TrimRight(u.String(), "/")
	if strings.HasSuffix(root, "/v1") {
		return root, nil
	}
	return root + "/api/v1", nil
}

// employeeFields lists the aliases Employee asks for, without duplicates.
func (cfg Config) employeeFields() ([]string, error) {
	fields := append([]string(nil), standardFields...)
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		seen[f] = true
	}
	extra := append([]string(nil), cfg.CustomFields...)
	if cfg.ContractEndField != "" {
		extra = append(extra, cfg.ContractEndField)
	}
	if cfg.TimeZoneField != "" {
		extra = append(extra, cfg.TimeZoneField)
	}
	for _, f := range extra {
		if !aliasPattern.MatchString(f) {
			return nil, fmt.Errorf("field alias %q: want letters, digits, '_', '.' or '-'", f)
		}
		if !seen[f] {
			seen[f] = true
			fields = append(fields, f)
		}
	}
	if len(fields) > maxFields {
		return nil, fmt.Errorf("%d fields requested, BambooHR accepts at most %d", len(fields), maxFields)
	}
	return fields, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
