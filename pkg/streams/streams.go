// Package streams declares Keycard's JetStream streams (DESIGN.md §3) and
// creates or updates them idempotently at start-up, so every service and
// test runs against the same definitions.
package streams

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	Inbox  = "HR_INBOX"
	Events = "HR_EVENTS"
	Sched  = "HR_SCHED"
	DLQ    = "HR_DLQ"
	Audit  = "AUDIT"
	Replay = "HR_REPLAY"
	Held   = "HR_HELD"
)

// ReplaySubject is where an operator's replay for one app lands; only that
// app's worker reads it.
func ReplaySubject(app, employeeKey string) string { return "replay." + app + "." + employeeKey }

// HeldSubject holds a deactivation the blast-radius guard stopped.
func HeldSubject(app, employeeKey string) string { return "held." + app + "." + employeeKey }

// InboxSubject is where raw deliveries from one HR source land.
func InboxSubject(source string) string { return "hr.inbox." + source }

// Options are the per-deployment knobs; zero values mean the defaults.
type Options struct {
	// Replicas is 1 on a single node, 3 on a cluster.
	Replicas int
	// InboxDuplicates is HR_INBOX's dedup window. It must cover BambooHR's
	// whole retry horizon (5+10+20+40+80 = 155 minutes after the first try)
	// so a retried delivery is stored once; 6h leaves room for a slow
	// first attempt. It must also be at least the webhook timestamp window,
	// so a replayed request that passes the signature check is a duplicate.
	InboxDuplicates time.Duration
}

// DefaultInboxDuplicates is HR_INBOX's default dedup window.
const DefaultInboxDuplicates = 6 * time.Hour

// Configs returns the stream definitions for o.
func Configs(o Options) []jetstream.StreamConfig {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.InboxDuplicates <= 0 {
		o.InboxDuplicates = DefaultInboxDuplicates
	}
	const day = 24 * time.Hour
	return []jetstream.StreamConfig{
		{
			Name:        Inbox,
			Description: "Raw signed HR deliveries, as received",
			Subjects:    []string{"hr.inbox.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      14 * day, // room to replay the normalizer after an outage
			Duplicates:  o.InboxDuplicates,
			DenyDelete:  true,
		},
		{
			Name:        Events,
			Description: "Canonical employee lifecycle events with snapshots",
			Subjects:    []string{"hr.employee.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      90 * day, // the replay horizon for workers
			Duplicates:  day,
			DenyDelete:  true,
			DenyPurge:   true,
		},
		{
			// Schedules are ordinary messages: no MaxAge, or a termination
			// dated months ahead would expire before it fires. Schedules
			// force AllowRollup and allow purges (cancelling = purging a
			// schedule's subject), which is why they are not on HR_EVENTS.
			Name:              Sched,
			Description:       "Effective-dated re-checks (message schedules)",
			Subjects:          []string{"hr.sched.>"},
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			Replicas:          o.Replicas,
			AllowMsgSchedules: true,
			AllowMsgTTL:       true,
			AllowRollup:       true,
			Duplicates:        day,
		},
		{
			Name:        DLQ,
			Description: "Dead letters with reason headers",
			Subjects:    []string{"dlq.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      90 * day,
			Duplicates:  day,
		},
		{
			Name:        Audit,
			Description: "One record per applied or refused change",
			Subjects:    []string{"audit.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      400 * day, // a year of audit plus a quarter to read it
			Duplicates:  day,
			DenyDelete:  true,
			DenyPurge:   true,
		},
		{
			// Not in DESIGN.md's table: replays go to the one app that
			// failed rather than back onto HR_EVENTS, which every app reads.
			Name:        Replay,
			Description: "Operator replays of dead letters and released held actions, per app",
			Subjects:    []string{"replay.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      30 * day,
			Duplicates:  day, // a double click on replay stores one message
		},
		{
			// Deactivations held by the blast-radius guard, until an
			// operator releases or rejects them (no MaxAge: a held leaver
			// must not silently expire).
			Name:        Held,
			Description: "Actions held by the blast-radius guard",
			Subjects:    []string{"held.>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Duplicates:  day,
		},
	}
}

// Ensure creates every stream or updates it to the current definition.
// A stream already as defined is left alone: every replica runs Ensure at
// start, and nats-server 2.15 reads a stream's configuration without a
// lock when a consumer is created, so a needless update racing another
// replica's consumer creation is a data race in the server.
func Ensure(ctx context.Context, js jetstream.JetStream, o Options) error {
	for _, cfg := range Configs(o) {
		if s, err := js.Stream(ctx, cfg.Name); err == nil && asDefined(s.CachedInfo().Config, cfg) {
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// asDefined: have has every setting want defines (the server fills in
// the rest, so whole configurations never compare equal).
func asDefined(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == max(want.Replicas, 1) &&
		have.MaxAge == want.MaxAge && (want.Duplicates == 0 || have.Duplicates == want.Duplicates) &&
		have.DenyDelete == want.DenyDelete && have.DenyPurge == want.DenyPurge &&
		have.AllowMsgSchedules == want.AllowMsgSchedules && have.AllowMsgTTL == want.AllowMsgTTL && have.AllowRollup == want.AllowRollup
}

// Ready is a readiness check: JetStream answers and HR_INBOX exists.
func Ready(js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := js.Stream(ctx, Inbox); err != nil {
			return fmt.Errorf("JetStream stream %s: %w", Inbox, err)
		}
		return nil
	}
}
