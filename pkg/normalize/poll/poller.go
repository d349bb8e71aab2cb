// Package poll is the normalizer's safety net for lost webhooks. It never
// classifies anything: it feeds employee ids back through the same path as
// webhooks, by publishing "recheck" messages to HR_INBOX, which the
// normalizer consumes like any delivery (re-fetch the employee, compare with
// the last snapshot; an unchanged person yields no event).
//
// Two loops run under [Poller.Run]:
//
//   - The poll, every Config.Interval: GET employees/changed?since=cursor,
//     one recheck per changed employee on hr.inbox.poller, then the cursor
//     moves to the answer's "latest", but only after every PubAck came back.
//     The cursor lives in the JetStream KV bucket normalizer_state (key
//     poller.cursor) and is written with compare-and-set on its revision, so
//     replicas polling at once never move it backwards.
//   - The sweep, every Config.SweepInterval: the directory (active employees)
//     plus everyone the normalizer believes active but the directory no
//     longer lists, one recheck each on hr.inbox.sweep. It catches what
//     changed-since cannot: a change BambooHR does not report, a snapshot
//     store that lost an entry, a termination that arrived with no webhook.
//     A guard withholds the absentee rechecks when the directory is far
//     smaller than expected (a wrong base URL or a BambooHR glitch must not
//     turn into mass terminations).
//
// Recheck message format (the contract with the normalizer): a legacy
// field-based body with one employee,
//
//	{"employees":[{"id":"<id>","action":"Created|Updated|Deleted","timestamp":"<RFC 3339>"}]}
//
// with headers Nats-Msg-Id = Keycard-Event-Id = "poller:<employeeKey>:<lastChanged
// unix seconds>" (polls; the same change polled twice is stored once) or
// "sweep:<sweep start unix seconds>:<employeeKey>" (sweeps), Keycard-Kind
// "poll" or "sweep", and Keycard-Occurred-At.
package poll

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/fault"
)

// Defaults used for zero Config fields.
const (
	DefaultInterval          = 5 * time.Minute
	DefaultInitialLookback   = 24 * time.Hour
	DefaultSweepInterval     = 24 * time.Hour
	DefaultMinDirectoryShare = 0.5
	DefaultGuardMinActive    = 10
	DefaultPublishTimeout    = 5 * time.Second
	DefaultBucket            = "normalizer_state"
)

// KV keys in the state bucket.
const (
	CursorKey = "poller.cursor" // RFC 3339 (nano) time to poll changed-since from
	SweepKey  = "sweep.last"    // RFC 3339 (nano) start of the last claimed sweep
)

// HR is the part of *bamboohr.Client the poller uses.
type HR interface {
	Changed(ctx context.Context, since time.Time) (bamboohr.Changes, error)
	Directory(ctx context.Context) ([]bamboohr.Employee, error)
}

// JetStream is the part of jetstream.JetStream the poller uses.
type JetStream interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
	CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
	KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error)
}

// Roster says whom the normalizer believes active: the employees whose last
// snapshot has status active. The normalizer implements it over its
// snapshot store.
type Roster interface {
	ActiveIDs(ctx context.Context) ([]string, error)
}

// Config tunes the poller. Zero values mean the defaults.
type Config struct {
	// Interval is the time between two changed-since polls.
	// Default DefaultInterval.
	Interval time.Duration
	// InitialLookback is how far back the very first poll (no cursor in KV
	// yet) looks. A bounded window, not "since the beginning": the first
	// poll must not turn the whole company history into rechecks, and the
	// sweep already covers everyone who is active. 24h covers the changes
	// made while Keycard was being set up or the webhook was not yet
	// configured, and any plausible outage before the first deployment.
	// Default DefaultInitialLookback.
	InitialLookback time.Duration
	// SweepInterval is the time between two directory sweeps in Run; a
	// negative value disables them (SweepOnce still works). The time of the
	// last sweep is kept in KV, so a restart does not sweep again, and a
	// deployment that has never swept sweeps at once. Default
	// DefaultSweepInterval.
	SweepInterval time.Duration
	// MinDirectoryShare and GuardMinActive form the sweep's guard: when the
	// normalizer believes at least GuardMinActive employees active and the
	// directory lists fewer than MinDirectoryShare of that count, the
	// absentee rechecks are withheld. MinDirectoryShare must lie in [0, 1];
	// defaults DefaultMinDirectoryShare and DefaultGuardMinActive.
	MinDirectoryShare float64
	GuardMinActive    int
	// PublishTimeout bounds the wait for one PubAck. Default
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Bucket is the KV bucket holding the cursor and the sweep time; it is
	// created (file storage, BucketReplicas replicas) when missing and used
	// as it is otherwise. Default DefaultBucket.
	Bucket         string
	BucketReplicas int

	// Now reads the clock (first cursor, sweep times, gauges).
	// Default time.Now.
	Now func() time.Time
	// After waits: it returns a channel that receives once d has passed.
	// Tests replace it to drive the loops. Default time.After.
	After func(d time.Duration) <-chan time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.Interval < 0 || c.InitialLookback < 0 || c.PublishTimeout < 0 || c.GuardMinActive < 0 || c.BucketReplicas < 0 {
		return c, errors.New("poll: Interval, InitialLookback, PublishTimeout, GuardMinActive and BucketReplicas must not be negative")
	}
	if c.MinDirectoryShare < 0 || c.MinDirectoryShare > 1 {
		return c, fmt.Errorf("poll: MinDirectoryShare must lie in [0, 1], got %g", c.MinDirectoryShare)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.InitialLookback == 0 {
		c.InitialLookback = DefaultInitialLookback
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.MinDirectoryShare == 0 {
		c.MinDirectoryShare = DefaultMinDirectoryShare
	}
	if c.GuardMinActive == 0 {
		c.GuardMinActive = DefaultGuardMinActive
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.BucketReplicas == 0 {
		c.BucketReplicas = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return c, nil
}

// Poller runs the changed-since poll and the directory sweep. Its methods
// are safe for concurrent use.
type Poller struct {
	cfg    Config
	hr     HR
	js     JetStream
	roster Roster
	log    zerolog.Logger
	m      *meters
	state  *state
}

// New returns a Poller. roster may be nil: the sweep then rechecks the
// directory only. Metrics are registered on reg.
func New(cfg Config, hr HR, js JetStream, roster Roster, log zerolog.Logger, reg prometheus.Registerer) (*Poller, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if hr == nil || js == nil {
		return nil, errors.New("poll: HR and JetStream are required")
	}
	return &Poller{
		cfg:    cfg,
		hr:     hr,
		js:     js,
		roster: roster,
		log:    log,
		m:      newMetrics(reg),
		state:  &state{js: js, bucket: cfg.Bucket, replicas: cfg.BucketReplicas},
	}, nil
}

// Run polls at once and then every Interval, and sweeps whenever a sweep is
// due, until ctx is done; then it returns nil. Failures are logged, counted
// and retried on the next tick (or after the server's Retry-After, when
// longer); none of them ends the loop.
func (p *Poller) Run(ctx context.Context) error {
	p.log.Info().Dur("interval", p.cfg.Interval).Dur("sweep_interval", p.cfg.SweepInterval).
		Str("bucket", p.cfg.Bucket).Msg("poller started")
	var wg sync.WaitGroup
	if p.cfg.SweepInterval > 0 {
		wg.Go(func() { p.sweepLoop(ctx) })
	}
	p.pollLoop(ctx)
	wg.Wait()
	p.log.Info().Msg("poller stopped")
	return nil
}

func (p *Poller) pollLoop(ctx context.Context) {
	for {
		wait := p.cfg.Interval
		if _, err := p.PollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = p.retryDelay(err)
			p.logFailure(err).Dur("retry_in", wait).Msg("poll")
		}
		if !p.sleep(ctx, wait) {
			return
		}
	}
}

// sweepLoop claims a sweep when one is due (so that of several replicas
// only one sweeps) and retries a failed sweep with the same start time, so
// rechecks already stored are deduplicated. A process that dies between
// claim and completion leaves the claim in place: the next sweep is then
// one SweepInterval later, and the changed-since poll keeps running.
func (p *Poller) sweepLoop(ctx context.Context) {
	var pending time.Time // claimed, not yet completed
	for {
		wait := p.cfg.Interval
		if pending.IsZero() {
			start, next, err := p.claimSweep(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				p.log.Warn().Err(err).Dur("retry_in", wait).Msg("sweep schedule")
			case start.IsZero():
				wait = min(max(next.Sub(p.cfg.Now()), time.Second), p.cfg.SweepInterval)
			default:
				pending = start
			}
		}
		if !pending.IsZero() {
			_, err := p.sweep(ctx, pending)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				wait = p.retryDelay(err)
				p.logFailure(err).Time("sweep_start", pending).Dur("retry_in", wait).Msg("sweep")
			default:
				pending = time.Time{}
				wait = p.cfg.SweepInterval
			}
		}
		if !p.sleep(ctx, wait) {
			return
		}
	}
}

// retryDelay is the next tick, or the server's Retry-After when longer.
func (p *Poller) retryDelay(err error) time.Duration {
	if d, ok := fault.RetryAfterHint(err); ok && d > p.cfg.Interval {
		return d
	}
	return p.cfg.Interval
}

// logFailure starts the log line of a failed poll or sweep: a warning for
// what a retry may fix, an error for what needs an operator.
func (p *Poller) logFailure(err error) *zerolog.Event {
	ev := p.log.Warn()
	if fault.IsPermanent(err) {
		ev = p.log.Error()
	}
	return ev.Err(err)
}

func (p *Poller) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-p.cfg.After(d):
		return ctx.Err() == nil
	}
}
