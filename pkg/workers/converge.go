package workers

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/normalize"
	"keycard/pkg/policy"
	"keycard/pkg/reconcile"
	"keycard/pkg/worker"
)

// convergence runs an app's whole-company passes beside its worker: at
// start, a policy change's re-evaluation of everyone; then the scheduled
// reconcile. Both hand people to the worker through its replay subject,
// so they take the path of an HR event (guard, pace, audit).
type convergence struct {
	js       jetstream.JetStream
	store    *reconcile.Store
	metrics  *reconcile.Metrics
	cfg      *policy.Config
	app      policy.App
	conn     connector.Connector
	evaluate worker.Evaluate
	// applied is the policy the app's people were last re-evaluated
	// under, at revision rev of its record (0: none).
	applied reconcile.PolicyState
	rev     uint64
	// listable: the app is real (its credential is set), so there is
	// something to list; a simulated app is only re-evaluated.
	listable bool
	holder   string
	log      zerolog.Logger
	now      func() time.Time
}

// run reports errors to the log: convergence never stops the worker.
func (c *convergence) run(ctx context.Context) {
	if err := c.policyChange(ctx); err != nil && ctx.Err() == nil {
		c.log.Error().Err(err).Msg("policy change: re-evaluation not published; it is tried again at the next start")
	}
	c.schedule(ctx)
}

// policyChange re-evaluates everyone when what the policy grants in the
// app has changed since it last did (policy.Config.Fingerprint), and
// records the new fingerprint (and, at the app's first start, only
// records it). The pass's event ids derive from the
// fingerprint and the record's revision: replicas starting together
// publish the same ids (stored once), and a policy changed back later
// gets fresh ones. A start that dies half-way publishes again next time;
// what was applied already is then a no-op.
func (c *convergence) policyChange(ctx context.Context) error {
	fp, st, rev := c.cfg.Fingerprint(c.app.Name), c.applied, c.rev
	if st.Fingerprint == fp {
		return nil
	}
	if rev == 0 {
		// The app's first start (or the first of a version that records
		// the policy): the people HR knows are being provisioned under
		// this policy by their own events, so it is only recorded.
		err := c.store.SetPolicy(ctx, c.app.Name, reconcile.PolicyState{Fingerprint: fp, File: c.cfg.File, At: c.now().UTC(),
			Managed: Managed(c.cfg, c.app.Name, nil)}, 0)
		if errors.Is(err, reconcile.ErrRaced) {
			return nil // another replica recorded it
		}
		return err
	}
	people, err := normalize.Snapshots(ctx, c.js)
	if err != nil {
		return err
	}
	c.log.Info().Str("from", st.Fingerprint).Str("to", fp).Int("people", len(people)).
		Msg("the policy for this app changed: re-evaluating everyone")
	p := reconcile.Publisher{JS: c.js, App: c.app.Name, Reason: reconcile.ReasonPolicy, Stamp: fp + "-" + strconv.FormatUint(rev, 10), Now: c.now}
	n, err := p.Reevaluate(ctx, people, nil)
	c.metrics.Published(c.app.Name, reconcile.ReasonPolicy, n)
	if err != nil {
		return err
	}
	err = c.store.SetPolicy(ctx, c.app.Name, reconcile.PolicyState{Fingerprint: fp, File: c.cfg.File, At: c.now().UTC(), Published: n,
		Managed: Managed(c.cfg, c.app.Name, st.Managed)}, rev)
	if errors.Is(err, reconcile.ErrRaced) {
		c.log.Info().Msg("policy change: another replica recorded it first")
		return nil
	}
	return err
}

// runHold is how long a claimed scheduled run may take before another
// replica takes it as dead.
const runHold = time.Hour

// schedule runs the reconcile every app.Reconcile.Every on one replica,
// and keeps the drift gauges at the stored report. The first run is one
// interval after the app first starts: HR is fully known by then (a
// reconcile against a half-synced HR would take everyone for an orphan).
func (c *convergence) schedule(ctx context.Context) {
	every := c.app.Reconcile.Every
	tick := min(max(every/10, time.Second), time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if every > 0 && c.listable {
			c.maybeRun(ctx, every)
		}
		if rep, ok, err := c.store.Report(ctx, c.app.Name); err == nil && ok {
			c.metrics.Observe(rep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *convergence) maybeRun(ctx context.Context, every time.Duration) {
	now := c.now()
	next, err := c.store.NextRun(ctx, c.app.Name)
	if err != nil {
		c.log.Warn().Err(err).Msg("reconcile schedule unreadable")
		return
	}
	if next.IsZero() {
		if err := c.store.Done(ctx, c.app.Name, now.Add(every)); err != nil {
			c.log.Warn().Err(err).Msg("reconcile schedule not stored")
		}
		return
	}
	ok, err := c.store.Claim(ctx, c.app.Name, c.holder, now, runHold)
	if err != nil || !ok {
		return
	}
	log := c.log.With().Bool("fix", c.app.Reconcile.Fix).Logger()
	log.Info().Msg("scheduled reconcile started")
	rctx, cancel := context.WithTimeout(ctx, runHold)
	rep, err := reconcile.Run{JS: c.js, Store: c.store, App: c.app.Name, Connector: c.conn, Evaluate: c.evaluate,
		Fix: c.app.Reconcile.Fix, DeactivateOrphans: c.app.Reconcile.Orphans == policy.OrphansDeactivate, Now: c.now}.Run(rctx)
	cancel()
	next = c.now().Add(every)
	if err != nil {
		log.Error().Err(err).Msg("scheduled reconcile failed")
		next = c.now().Add(min(every, 10*time.Minute)) // try again sooner
	} else {
		c.metrics.Published(c.app.Name, reconcile.ReasonReconcile, rep.Fixed)
		ev := log.Info().Int("accounts", rep.Accounts).Int("drift", rep.Drift()).Int("fixed", rep.Fixed).Dur("took", rep.Took)
		for cls, n := range rep.Counts {
			ev = ev.Int(string(cls), n)
		}
		ev.Msg("scheduled reconcile done")
	}
	if err := c.store.Done(ctx, c.app.Name, next); err != nil {
		log.Warn().Err(err).Msg("reconcile schedule not stored")
	}
}
