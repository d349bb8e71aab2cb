// Package ingest is the webhook front door: it verifies a BambooHR
// delivery, bounds it, and stores it in HR_INBOX before saying yes.
// It lives outside internal/ because the single binary serves it too.
package ingest

import (
	"errors"
	"fmt"
	"time"

	"keycard/pkg/opshttp"
)

// Settings are the ingester's environment variables. The single binary
// and the standalone ingester read the same ones.
type Settings struct {
	// WebhookKey is the webhook's private key. It is never logged.
	WebhookKey string `envconfig:"BAMBOOHR_WEBHOOK_KEY"`
	// InsecureSkipVerify accepts unsigned deliveries: local development only.
	InsecureSkipVerify bool `envconfig:"KEYCARD_INSECURE_SKIP_VERIFY"`
	// MaxBodyBytes caps a delivery; larger ones get 413.
	MaxBodyBytes int64 `envconfig:"KEYCARD_MAX_BODY_BYTES" default:"1048576"`
	// MaxAge is how old a signed X-BambooHR-Timestamp may be. BambooHR
	// retries a 5xx five times, 5/10/20/40/80 minutes apart, i.e. up to 155
	// minutes after the first try; 3h accepts the last retry even if it
	// carries the original timestamp, with margin for clock skew.
	MaxAge time.Duration `envconfig:"KEYCARD_WEBHOOK_MAX_AGE" default:"3h"`
	// MaxFuture tolerates a sender clock that runs ahead.
	MaxFuture time.Duration `envconfig:"KEYCARD_WEBHOOK_MAX_FUTURE" default:"5m"`
	// PublishTimeout bounds the wait for JetStream's PubAck; past it the
	// answer is 503 and BambooHR retries.
	PublishTimeout time.Duration `envconfig:"KEYCARD_PUBLISH_TIMEOUT" default:"2s"`
	// MaxInFlight bounds concurrent deliveries (and so memory: at most
	// MaxInFlight × MaxBodyBytes of bodies). Excess requests get 503.
	MaxInFlight int `envconfig:"KEYCARD_MAX_INFLIGHT" default:"256"`
	// RetryAfter is the Retry-After sent with a 503.
	RetryAfter time.Duration `envconfig:"KEYCARD_RETRY_AFTER" default:"30s"`
	// Timeouts bound the webhook listener's reads and writes
	// (KEYCARD_HTTP_READ_HEADER_TIMEOUT, …).
	opshttp.Timeouts
}

// Validate checks the settings against each other and against the inbox
// dedup window: a replayed request whose signature is still inside the
// timestamp window must also still be inside the dedup window, or it
// would be stored twice.
func (s Settings) Validate(inboxDuplicates time.Duration) error {
	var errs []error
	if s.WebhookKey == "" && !s.InsecureSkipVerify {
		errs = append(errs, errors.New("BAMBOOHR_WEBHOOK_KEY is not set: set it to the webhook's private key "+
			"(BambooHR > Settings > Webhooks > Private Key), or set KEYCARD_INSECURE_SKIP_VERIFY=true for local development only"))
	}
	if s.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("KEYCARD_MAX_BODY_BYTES must be positive, got %d", s.MaxBodyBytes))
	}
	if s.MaxAge < 0 || s.MaxFuture < 0 {
		errs = append(errs, errors.New("KEYCARD_WEBHOOK_MAX_AGE and KEYCARD_WEBHOOK_MAX_FUTURE must not be negative"))
	}
	if s.MaxAge+s.MaxFuture > inboxDuplicates {
		errs = append(errs, fmt.Errorf("KEYCARD_WEBHOOK_MAX_AGE + KEYCARD_WEBHOOK_MAX_FUTURE (%s) exceeds the HR_INBOX dedup window (%s): a replay could be stored twice",
			s.MaxAge+s.MaxFuture, inboxDuplicates))
	}
	if s.PublishTimeout <= 0 {
		errs = append(errs, errors.New("KEYCARD_PUBLISH_TIMEOUT must be positive"))
	}
	if s.MaxInFlight <= 0 {
		errs = append(errs, errors.New("KEYCARD_MAX_INFLIGHT must be positive"))
	}
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"KEYCARD_HTTP_READ_HEADER_TIMEOUT", s.ReadHeader}, {"KEYCARD_HTTP_READ_TIMEOUT", s.Read},
		{"KEYCARD_HTTP_WRITE_TIMEOUT", s.Write}, {"KEYCARD_HTTP_IDLE_TIMEOUT", s.Idle},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.env, d.v))
		}
	}
	if s.Write > 0 && s.Write <= s.PublishTimeout {
		errs = append(errs, fmt.Errorf("KEYCARD_HTTP_WRITE_TIMEOUT (%s) must exceed KEYCARD_PUBLISH_TIMEOUT (%s), or a stored delivery could not be answered", s.Write, s.PublishTimeout))
	}
	return errors.Join(errs...)
}
