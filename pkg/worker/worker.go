// Package worker is the runtime every application worker shares: it
// consumes lifecycle events for one app, decides what the app should hold
// for the person (the access policy), converges the app to it through a
// connector, and records the result, exactly once in effect.
//
// Per message the consumer runtime (pkg/consume) runs metrics → log →
// dead-letter → retry → recover → handle; handle claims the idempotency
// ledger, skips stale snapshots, plans, passes deactivations through the
// blast-radius guard, applies at the app's pace and audits.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/circuit"
	"keycard/pkg/connector"
	"keycard/pkg/consume"
	"keycard/pkg/event"
	"keycard/pkg/ledger"
	"keycard/pkg/streams"
)

// Evaluate says what the policy wants for a person in this app, which
// rules matched, and any rule that failed to evaluate.
type Evaluate func(e event.Employee) (want connector.Want, matched, warnings []string)

// Limiter paces writes to an app (pkg/ratelimit).
type Limiter interface {
	Wait(ctx context.Context, key string) error
}

// Config is one app's worker.
type Config struct {
	App       string
	DryRun    bool // plan and audit, but the connector writes nothing real
	Connector connector.Connector
	Evaluate  Evaluate
	Ledger    ledger.Ledger
	Versions  ledger.Versions
	Limiter   Limiter
	Guard     GuardLimits

	Concurrency int // messages handled at once; default 64
	// Lease is how long the event's and the person's ledger leases last
	// without renewal; the handler renews both every Lease/3 while it
	// works, so a dead holder's leases lapse within Lease. Default 5s.
	Lease time.Duration
	// AckWait is the consumer's; the lease heartbeat also marks the message
	// in progress, so only a dead handler's message is redelivered, after
	// AckWait (sooner if a killed embedded server lost its record of the
	// deliveries: then Holder's takeover matters). At least 2 × Lease, so several missed
	// heartbeats pass before a live handler's message is redelivered; it
	// also bounds one handling, and how soon a dead handler's message comes
	// back. Default 10s.
	AckWait time.Duration
	// Holder names this process in its leases (ledger.NewHolder with a
	// stable instance id): a restart under the same instance id takes over
	// what its previous incarnation left at once. Default: a holder with
	// no instance, whose leases only lapse.
	Holder     ledger.Holder
	MaxDeliver int           // deliveries before a transient failure is dead-lettered; default 12
	RetryBase  time.Duration // first NAK delay, doubling; default 1s
	RetryMax   time.Duration // default 5m
	// InProcess bounds the quick in-process retries of one delivery before
	// it is NAKed with a delay; default 10s.
	InProcess time.Duration
	// Circuit pauses the app on consecutive auth failures, outages or an
	// unreachable store (pkg/circuit); nil: never paused.
	Circuit *circuit.Breaker
	// Replicas is the copies of the worker's buckets (accounts, guard):
	// the streams' replicas, 3 on a cluster.
	Replicas int
	Now      func() time.Time
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Lease <= 0 {
		c.Lease = 5 * time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = max(10*time.Second, 2*c.Lease)
	}
	if c.Holder.Boot == "" {
		c.Holder = ledger.NewHolder(c.Holder.Instance)
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 12
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.InProcess <= 0 {
		c.InProcess = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Worker runs one app.
type Worker struct {
	cfg      Config
	js       jetstream.JetStream
	accounts jetstream.KeyValue // app account id per person, for re-hires
	guard    *guard
	log      zerolog.Logger
	metrics  *appMetrics
	// linksManagers: the app wants the manager's account id, so each event
	// with a manager reads it (one more KV read, only for such apps).
	linksManagers bool
}

// New prepares a worker; the streams must exist (streams.Ensure).
func New(ctx context.Context, js jetstream.JetStream, cfg Config, log zerolog.Logger, m *Metrics) (*Worker, error) {
	cfg.defaults()
	if cfg.AckWait < 2*cfg.Lease {
		return nil, fmt.Errorf("worker %s: ack wait %v is under twice the lease %v: a redelivery would race the live holder", cfg.App, cfg.AckWait, cfg.Lease)
	}
	accounts, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: AccountsBucket, Description: "Each person's account id in each app", Storage: jetstream.FileStorage,
		Replicas: max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket accounts: %w", err)
	}
	w := &Worker{cfg: cfg, js: js, accounts: accounts, log: log.With().Str("app", cfg.App).Logger(), metrics: m.forApp(cfg.App),
		linksManagers: connector.LinksManagers(cfg.Connector)}
	total := w.knownAccounts
	if c, ok := cfg.Connector.(connector.Counter); ok {
		total = w.appAccounts(c)
	}
	if w.guard, err = newGuard(ctx, js, cfg.App, cfg.Replicas, cfg.Guard, cfg.Now, total); err != nil {
		return nil, err
	}
	return w, nil
}

// consumerSpec is one durable the worker pulls from, with its own
// handlers.
type consumerSpec struct {
	stream string
	cfg    jetstream.ConsumerConfig
	slots  int
	// open creates or updates the durable; nil: CreateOrUpdateConsumer.
	open func(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error)
}

// leaverSlots caps the handlers of the leavers' durable: terminations are
// few, and their writes take the next tokens anyway.
const leaverSlots = 8

// consumers are the app's durables: "worker-<app>" on every event but
// terminations, "worker-<app>-leavers" on terminations, and
// "worker-<app>-replay" on its replays. A leaver must not wait behind the
// joiners queued ahead of it (issue 9: 57 s behind 300 joiners at 600
// writes/min, first in first out): with a durable of its own a termination
// is pulled at once, and its writes take the app's next token
// (ratelimit.High). Order per person still holds across the durables: one
// event per person at a time (the person lease), and a snapshot older than
// the applied one is skipped.
func (w *Worker) consumers() []consumerSpec {
	base := func(name string, filters ...string) jetstream.ConsumerConfig {
		c := jetstream.ConsumerConfig{
			Durable: name, AckPolicy: jetstream.AckExplicitPolicy,
			// The server never gives up on an event (-1): the dead letters
			// count its deliveries against MaxDeliver, and an event handed
			// back while the app is paused must come again however often.
			AckWait: w.cfg.AckWait, MaxDeliver: -1, MaxAckPending: w.cfg.Concurrency * 4,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		}
		if len(filters) == 1 {
			c.FilterSubject = filters[0]
		} else {
			c.FilterSubjects = filters
		}
		return c
	}
	var others []string
	for _, k := range event.Kinds {
		if k != event.Terminated {
			others = append(others, event.Subject(k, ">"))
		}
	}
	durable := "worker-" + w.cfg.App
	return []consumerSpec{
		{stream: streams.Events, cfg: base(durable, others...), slots: w.cfg.Concurrency},
		{stream: streams.Events, cfg: base(durable+"-leavers", event.Subject(event.Terminated, ">")), slots: min(w.cfg.Concurrency, leaverSlots),
			open: func(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
				return w.openLeavers(ctx, cfg, durable)
			}},
		{stream: streams.Replay, cfg: base(durable+"-replay", streams.ReplaySubject(w.cfg.App, ">")), slots: w.cfg.Concurrency},
	}
}

// openLeavers creates the leavers' durable where the app's main durable
// stands: a deployment from before the split had terminations in the main
// durable, and those it has not acknowledged yet must not be skipped (a
// few already handled come again; the ledger finds them done). A new app
// starts from the beginning, as the main durable does. An existing
// leavers' durable keeps its position (a consumer's start cannot change).
func (w *Worker) openLeavers(ctx context.Context, cfg jetstream.ConsumerConfig, durable string) (jetstream.Consumer, error) {
	if c, err := w.js.Consumer(ctx, streams.Events, cfg.Durable); err == nil {
		cfg.DeliverPolicy, cfg.OptStartSeq = c.CachedInfo().Config.DeliverPolicy, c.CachedInfo().Config.OptStartSeq
		return w.js.CreateOrUpdateConsumer(ctx, streams.Events, cfg)
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	if m, err := w.js.Consumer(ctx, streams.Events, durable); err == nil {
		if floor := m.CachedInfo().AckFloor.Stream; floor > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	return w.js.CreateConsumer(ctx, streams.Events, cfg)
}

// Run consumes until ctx is done, then lets in-flight messages finish.
//
// One durable feeds a pool of handlers: many events in flight per app is
// what lets a coalescing connector put many joiners in one group write.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { w.observeQueues(ctx) })
	var durables []consume.Durable
	for _, c := range w.consumers() {
		durables = append(durables, consume.Durable{Name: c.cfg.Durable, Slots: c.slots,
			Open: func(ctx context.Context) (jetstream.Consumer, error) {
				if c.open != nil {
					return c.open(ctx, c.cfg)
				}
				return w.js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg)
			}})
	}
	w.pipeline().Run(ctx, durables...)
	wg.Wait()
	return nil
}
