package bamboohr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"keycard/pkg/fault"
	"keycard/pkg/retryafter"
)

// Client reads employees from one BambooHR company. It is safe for
// concurrent use.
type Client struct {
	apiRoot string
	apiKey  string
	hc      *http.Client

	timeout        time.Duration
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	maxRetryAfter  time.Duration
	maxBody        int64
	userAgent      string

	fields   string // comma-separated aliases for Employee
	fieldMap fieldMap

	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// New checks cfg, fills in defaults and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("bamboohr config: API key is required")
	}
	root, err := cfg.apiRoot()
	if err != nil {
		return nil, fmt.Errorf("bamboohr config: %w", err)
	}
	fields, err := cfg.employeeFields()
	if err != nil {
		return nil, fmt.Errorf("bamboohr config: %w", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"timeout", cfg.Timeout},
		{"initial backoff", cfg.InitialBackoff},
		{"max backoff", cfg.MaxBackoff},
		{"max retry-after", cfg.MaxRetryAfter},
	} {
		if d.v < 0 {
			return nil, fmt.Errorf("bamboohr config: %s is negative (%s)", d.name, d.v)
		}
	}
	if cfg.MaxAttempts < 0 || cfg.MaxBodyBytes < 0 {
		return nil, errors.New("bamboohr config: max attempts and max body bytes must not be negative")
	}
	c := &Client{
		apiRoot:        root,
		apiKey:         cfg.APIKey,
		hc:             cfg.HTTPClient,
		timeout:        orDefault(cfg.Timeout, DefaultTimeout),
		maxAttempts:    orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		initialBackoff: orDefault(cfg.InitialBackoff, DefaultInitialBackoff),
		maxBackoff:     orDefault(cfg.MaxBackoff, DefaultMaxBackoff),
		maxRetryAfter:  orDefault(cfg.MaxRetryAfter, DefaultMaxRetryAfter),
		maxBody:        orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		userAgent:      orDefault(cfg.UserAgent, DefaultUserAgent),
		fields:         strings.Join(fields, ","),
		fieldMap:       cfg.fieldMap(),
		now:            cfg.Now,
		sleep:          cfg.Sleep,
	}
	c.maxBackoff = max(c.maxBackoff, c.initialBackoff)
	if c.hc == nil {
		// The default transport keeps 2 idle connections per host, so a
		// normalizer running many rechecks at once would open and close a
		// TCP+TLS connection per call; keep enough for its concurrency.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = DefaultMaxIdleConns
		c.hc = &http.Client{Transport: t}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// get fetches path (relative to the API root) and returns the body of a 2xx
// answer. It retries transient failures with exponential backoff, waiting at
// least as long as a Retry-After asks, up to maxAttempts attempts.
func (c *Client) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     c.initialBackoff,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          backoff.DefaultMultiplier,
		MaxInterval:         c.maxBackoff,
		MaxElapsedTime:      0, // attempts are counted instead
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	for attempt := 1; ; attempt++ {
		body, err := c.attempt(ctx, path, query)
		switch {
		case err == nil:
			return body, nil
		case ctx.Err() != nil:
			if errors.Is(err, ctx.Err()) {
				return nil, err
			}
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case !retryable(err):
			return nil, err
		case attempt >= c.maxAttempts:
			return nil, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		wait := b.NextBackOff()
		if hint, ok := fault.RetryAfterHint(err); ok {
			if hint > c.maxRetryAfter {
				return nil, fmt.Errorf("server asks to wait longer than %s: %w", c.maxRetryAfter, err)
			}
			wait = max(wait, hint)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w (stopped waiting to retry: %w)", err, serr)
		}
	}
}

// attempt makes one request, bounded by c.timeout.
func (c *Client) attempt(ctx context.Context, path string, query url.Values) ([]byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.apiRoot + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("bamboohr: build request: %w", err))
	}
	req.SetBasicAuth(c.apiKey, "x")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportErr(ctx, actx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		msg := resp.Header.Get("X-Bamboohr-Error-Message")
		if msg == "" {
			msg = resp.Header.Get("X-Bamboohr-Message")
		}
		return nil, &APIError{
			Method:     req.Method,
			Path:       req.URL.Path,
			StatusCode: resp.StatusCode,
			Message:    cleanMessage(msg, c.apiKey),
			RetryAfter: retryafter.Parse(resp.Header.Get("Retry-After"), c.now(), maxRetryHint),
		}
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, c.transportErr(ctx, actx, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, fault.Permanent(fmt.Errorf("bamboohr: response body exceeds %d bytes", c.maxBody))
	}
	return body, nil
}

// transportErr describes a request that got no usable response.
func (c *Client) transportErr(ctx, actx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is the caller's context, not ours to repeat
	}
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &transportError{err: fmt.Errorf("no response within %s: %w", c.timeout, context.DeadlineExceeded)}
	}
	return &transportError{err: err}
}
