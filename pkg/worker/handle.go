package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/fault"
	"keycard/pkg/ledger"
	"keycard/pkg/ratelimit"
	"keycard/pkg/streams"
)

// errBusy: another worker holds this event's lease right now;
// errPersonBusy: another event of the same person is being applied;
// errLeaseLost: a lease could not be renewed, so the apply stopped before
// its next write (someone else may hold it now).
var (
	errBusy       = errors.New("event is being handled by another worker")
	errPersonBusy = errors.New("another event of this person is being applied")
	errLeaseLost  = errors.New("lease lost: apply stopped before the next write")
)

// personBusyRetry is how soon to look again when the person is busy: their
// other event usually finishes in milliseconds.
const personBusyRetry = 200 * time.Millisecond

func (w *Worker) ledgerKey(d *Delivery) string { return w.cfg.App + ":" + d.Event.ID }

// handle converges the app for one event, exactly once in effect.
func (w *Worker) handle(ctx context.Context, d *Delivery) (err error) {
	key := w.ledgerKey(d)
	claim, err := w.cfg.Ledger.Claim(ctx, key, w.cfg.Lease, w.cfg.Holder)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if claim.State == ledger.StateDead && d.Replay {
		// An operator replays a dead letter: it may run again.
		if err := w.cfg.Ledger.Reopen(ctx, key); err != nil {
			return fmt.Errorf("ledger reopen: %w", err)
		}
		if claim, err = w.cfg.Ledger.Claim(ctx, key, w.cfg.Lease, w.cfg.Holder); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	switch {
	case claim.Acquired():
	case claim.State == ledger.StateDone, claim.State == ledger.StateDead:
		d.Outcome = "duplicate" // applied (or dead-lettered) before: a redelivery
		return nil
	default:
		return fault.RetryAfter(max(claim.Retry, time.Second), errBusy)
	}
	d.token = claim.Token
	defer func() {
		// A transient failure gives the lease back so a retry can claim
		// it; a permanent one keeps it for the dead-letter step. An auth
		// failure is the app's, not the event's: the circuit hands it
		// back, so it gives the lease back too.
		if err != nil && (!fault.IsPermanent(err) || fault.IsAuth(err)) {
			_ = w.cfg.Ledger.Release(ctx, key, d.token)
			d.token = ""
		}
	}()

	// One event per person per app at a time, on every replica: a hire and
	// the termination right behind it must not plan against the same empty
	// app and finish in the wrong order. The stale check below then orders
	// them.
	pkey := w.cfg.App + ":person:" + keyOrUnknown(d.Event.Employee.ID)
	personLease, err := w.cfg.Ledger.Claim(ctx, pkey, w.cfg.Lease, w.cfg.Holder)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if !personLease.Acquired() {
		return fault.RetryAfter(personBusyRetry, errPersonBusy)
	}
	if claim.TookOver || personLease.TookOver {
		d.Log.Info().Bool("event_lease", claim.TookOver).Bool("person_lease", personLease.TookOver).
			Msg("took over a lease left by this instance's previous run")
	}
	ptoken := personLease.Token
	hb := w.heartbeat(ctx, d, []heldLease{{pkey, &ptoken}, {key, &d.token}})
	defer func() { _ = w.cfg.Ledger.Release(ctx, pkey, ptoken) }()
	defer hb.stop() // before the releases: they need the last tokens

	outcome, err := w.converge(hb.ctx, d)
	hb.stop()
	if cause := context.Cause(hb.ctx); err != nil && errors.Is(cause, errLeaseLost) && !errors.Is(err, errLeaseLost) {
		return fmt.Errorf("%w (%v)", cause, err) // a vendor call cut short by the lost lease
	}
	if err != nil {
		return err
	}
	if outcome == "held" {
		// Not done: the operator's release replays this very event.
		d.Outcome = outcome
		return w.cfg.Ledger.Release(ctx, key, d.token)
	}
	if err := w.cfg.Ledger.Done(ctx, key, d.token); err != nil {
		return fmt.Errorf("ledger done: %w", err)
	}
	d.Outcome, d.token = outcome, ""
	return nil
}

// heldLease is one lease a delivery holds: its key and where its current
// token lives (the KV ledger's token changes at every renewal).
type heldLease struct {
	key   string
	token *string
}

// heartbeat keeps a delivery's leases alive while it is handled.
type heartbeat struct {
	ctx    context.Context // the apply's: cancelled with errLeaseLost when a lease is lost
	cancel context.CancelCauseFunc
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// heartbeat renews leases every Lease/3 and marks the message in progress,
// so a live handler keeps its leases and its message however long the
// vendor takes, while a dead one's lapse within Lease. When a lease is
// lost, or cannot be renewed for 2/3 of a lease (the store is unreachable
// and the lease may lapse before the next try), it cancels hb.ctx with
// errLeaseLost: the pace hook then refuses the next vendor write. The
// tokens are written only by the heartbeat goroutine until stop returns.
func (w *Worker) heartbeat(ctx context.Context, d *Delivery, leases []heldLease) *heartbeat {
	hb := &heartbeat{quit: make(chan struct{}), done: make(chan struct{})}
	hb.ctx, hb.cancel = context.WithCancelCause(ctx)
	every := w.cfg.Lease / 3
	go func() {
		defer close(hb.done)
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-hb.quit:
				return
			case <-t.C:
			}
			_ = d.Msg.InProgress()
			ok := true
			for _, l := range leases {
				rctx, cancel := context.WithTimeout(ctx, every)
				tok, err := w.cfg.Ledger.Renew(rctx, l.key, *l.token, w.cfg.Lease)
				cancel()
				switch {
				case err == nil:
					*l.token = tok
				case errors.Is(err, ledger.ErrLeaseLost):
					w.metrics.leasesLost.Inc()
					hb.cancel(fmt.Errorf("%w: %s", errLeaseLost, l.key))
					return
				default:
					ok = false
					d.Log.Warn().Err(err).Str("lease", l.key).Msg("lease renewal failed; retrying")
				}
			}
			if ok {
				renewed = time.Now()
			} else if time.Since(renewed) >= w.cfg.Lease*2/3 {
				w.metrics.leasesLost.Inc()
				hb.cancel(fmt.Errorf("%w: not renewed for %v", errLeaseLost, time.Since(renewed).Round(time.Millisecond)))
				return
			}
		}
	}()
	return hb
}

// stop ends the heartbeat and waits for it, so the tokens are final.
func (hb *heartbeat) stop() {
	hb.once.Do(func() { close(hb.quit) })
	<-hb.done
}

// converge plans and applies; it returns the outcome.
func (w *Worker) converge(ctx context.Context, d *Delivery) (string, error) {
	e := d.Event.Employee
	if d.Event.Kind == event.Terminated {
		// A leaver's reads and writes take the app's next tokens, ahead
		// of any queued joiner (issue 9: leavers first).
		ctx = ratelimit.WithPriority(ctx, ratelimit.High)
	}
	vkey := w.cfg.App + ":" + event.EmployeeKey(e.ID)
	applied, err := w.cfg.Versions.Applied(ctx, vkey)
	if err != nil {
		return "", fmt.Errorf("versions: %w", err)
	}
	if d.Event.Sequence < applied {
		// A newer snapshot of this person is already applied; this one is
		// out of date (a late redelivery or an old replay).
		return "stale", nil
	}

	want, matched, warnings := w.cfg.Evaluate(e)
	for _, warn := range warnings {
		d.Log.Warn().Str("rule", warn).Msg("policy rule failed to evaluate; treated as false")
	}
	p := Person(e, w.accountID(ctx, e.ID))
	p.OrgUnit, p.License = want.OrgUnit, want.License
	if e.ManagerID != "" && w.linksManagers {
		p.ManagerAccountID = w.accountID(ctx, e.ManagerID)
	}
	cur, err := w.cfg.Connector.Find(ctx, p)
	if err != nil {
		return "", fmt.Errorf("find account: %w", appError{err})
	}
	d.plan = connector.Plan(cur, want, p)
	if len(warnings) > 0 {
		// A rule that could not be evaluated may be the one granting a
		// membership: keep what the person has until it evaluates again
		// (reversible first), add what is certain.
		d.plan = slices.DeleteFunc(d.plan, func(a connector.Action) bool { return a.Op == connector.OpRemove && want.Account })
	}

	deactivates := slices.ContainsFunc(d.plan, func(a connector.Action) bool { return a.Op == connector.OpDeactivate })
	if deactivates {
		// Whatever the event's kind (an update to Inactive, a released
		// hold): removing access goes first too.
		ctx = ratelimit.WithPriority(ctx, ratelimit.High)
	}
	if deactivates && !d.Bypass {
		ok, err := w.guard.allow(ctx)
		if err != nil {
			return "", err
		}
		if !ok {
			if err := w.hold(ctx, d); err != nil {
				return "", err
			}
			w.audit(ctx, d, "held", nil, matched...)
			return "held", nil
		}
	}

	pace := func(ctx context.Context) error {
		if ctx.Err() != nil {
			return context.Cause(ctx) // e.g. the lease was lost: no further write
		}
		if w.cfg.Limiter == nil {
			return nil
		}
		start := time.Now()
		err := w.cfg.Limiter.Wait(ctx, w.cfg.App)
		waited := time.Since(start)
		w.metrics.limiterWait.Observe(waited.Seconds())
		if waited > w.cfg.AckWait/10 {
			_ = d.Msg.InProgress() // a long wait must not look like a hung handler
		}
		if err == nil && ctx.Err() != nil {
			return context.Cause(ctx) // lost while waiting for the pacer
		}
		return err
	}
	cur, _, err = connector.Apply(ctx, w.cfg.Connector, cur, p, d.plan, pace)
	if err != nil {
		err = appError{err}
	}
	if cur != nil && cur.ID != "" && cur.ID != p.AccountID {
		w.rememberAccount(ctx, e.ID, cur.ID)
	}
	if fault.IsPartial(err) {
		// Every step ran; the app refused an attribute. The access
		// change stands and the refusal is recorded, not retried: it
		// would be refused again.
		d.warning, err = err, nil
		d.Log.Warn().Err(d.warning).Msg("applied; the app refused part of the change")
	}
	if err != nil {
		return "", err
	}
	if _, err := w.cfg.Versions.Advance(ctx, vkey, d.Event.Sequence); err != nil {
		return "", fmt.Errorf("versions: %w", err)
	}
	outcome := "applied"
	if len(d.plan) == 0 {
		outcome = "noop"
	}
	w.audit(ctx, d, outcome, nil, matched...)
	return outcome, nil
}

// Person maps the snapshot to what an app is told; reconcile plans with
// the same mapping.
func Person(e event.Employee, accountID string) connector.Person {
	given := e.FirstName
	if e.PreferredName != "" {
		given = e.PreferredName
	}
	display := e.DisplayName
	if display == "" {
		display = given + " " + e.LastName
	}
	return connector.Person{
		EmployeeID: e.ID, AccountID: accountID, Email: e.WorkEmail, UserName: e.WorkEmail,
		GivenName: given, FamilyName: e.LastName, DisplayName: display, Title: e.JobTitle,
		Department: e.Department, ManagerID: e.ManagerID, Custom: e.Custom,
	}
}

// AccountsBucket holds each person's account id in each app, under
// AccountKey: re-hires find the account an app hides from searches, and
// reconcile tells Keycard's accounts from the rest.
const AccountsBucket = "accounts"

// AccountKey is the AccountsBucket key of a person's account in app.
func AccountKey(app, employeeID string) string {
	return app + "." + event.EmployeeKey(employeeID)
}

func (w *Worker) accountKey(employeeID string) string { return AccountKey(w.cfg.App, employeeID) }

// accountID is the app's id for the person from an earlier sync, if any.
func (w *Worker) accountID(ctx context.Context, employeeID string) string {
	entry, err := w.accounts.Get(ctx, w.accountKey(employeeID))
	if err != nil {
		return ""
	}
	return string(entry.Value())
}

// knownAccounts counts the accounts Keycard has created or adopted in the
// app: the base of the guard's share limit.
func (w *Worker) knownAccounts(ctx context.Context) (int, error) {
	lister, err := w.accounts.ListKeysFiltered(ctx, w.cfg.App+".>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return n, nil
}

// appAccountsTTL is how long the guard trusts an app's account count.
const appAccountsTTL = time.Minute

// appAccounts is the guard's base for an app that counts its accounts:
// the app's own count (every account, also those Keycard has never seen,
// so the share limit holds from the first day), read at most once per
// appAccountsTTL; the accounts Keycard knows when the app does not answer.
func (w *Worker) appAccounts(c connector.Counter) func(context.Context) (int, error) {
	var (
		mu sync.Mutex
		n  int
		at time.Time
	)
	return func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if now := w.cfg.Now(); at.IsZero() || now.Sub(at) >= appAccountsTTL {
			count, err := c.Count(ctx)
			if err != nil {
				w.log.Warn().Err(err).Msg("guard: the app did not say how many accounts it holds; using the accounts Keycard knows")
				return w.knownAccounts(ctx)
			}
			n, at = count, now
		}
		return n, nil
	}
}

func (w *Worker) rememberAccount(ctx context.Context, employeeID, id string) {
	if _, err := w.accounts.PutString(ctx, w.accountKey(employeeID), id); err != nil {
		w.log.Warn().Err(err).Str("employee", employeeID).Msg("remember account id")
	}
}

// markDead records a dead-lettered event in the ledger, so a redelivery
// is not applied; only an operator's replay reopens it.
func (w *Worker) markDead(ctx context.Context, d *Delivery) {
	key := w.ledgerKey(d)
	if d.token == "" {
		claim, err := w.cfg.Ledger.Claim(ctx, key, w.cfg.Lease, w.cfg.Holder)
		if err != nil || !claim.Acquired() {
			return
		}
		d.token = claim.Token
	}
	if err := w.cfg.Ledger.Dead(ctx, key, d.token); err != nil {
		d.Log.Warn().Err(err).Msg("ledger dead")
	}
	d.token = ""
}

// Record is one AUDIT message: what was done (or refused) in which app,
// for whom, why, and how it ended. It never holds a secret.
type Record struct {
	App        string             `json:"app"`
	EventID    string             `json:"event_id"`
	EmployeeID string             `json:"employee_id"`
	Kind       event.Kind         `json:"kind"`
	Sequence   uint64             `json:"sequence"`
	Mode       string             `json:"mode"` // apply or dry-run
	Outcome    string             `json:"outcome"`
	Actions    []connector.Action `json:"actions"`
	Matched    []string           `json:"matched_rules,omitempty"`
	Error      string             `json:"error,omitempty"`
	// Warning is what the app refused of an applied change (an attribute
	// it does not take): the access change stands without it.
	Warning string `json:"warning,omitempty"`
	Replay  bool   `json:"replay,omitempty"`
	// Reason is why a replay ran when no operator asked: "reconcile" (a
	// drift fix) or "policy" (a policy change reaching everyone).
	Reason     string    `json:"reason,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	At         time.Time `json:"at"`
}

// audit publishes one record per final outcome; its dedup id makes a
// redelivered success record once.
func (w *Worker) audit(ctx context.Context, d *Delivery, outcome string, cause error, matched ...string) {
	mode := "apply"
	if w.cfg.DryRun {
		mode = "dry-run"
	}
	rec := Record{App: w.cfg.App, EventID: d.Event.ID, EmployeeID: d.Event.Employee.ID, Kind: d.Event.Kind,
		Sequence: d.Event.Sequence, Mode: mode, Outcome: outcome, Actions: d.plan, Matched: matched,
		Replay: d.Replay, Reason: d.Reason, OccurredAt: d.Event.OccurredAt, At: w.cfg.Now().UTC()}
	if cause != nil {
		rec.Error = cause.Error()
	}
	if d.warning != nil {
		rec.Warning = d.warning.Error()
	}
	data, _ := json.Marshal(rec)
	msg := nats.NewMsg("audit." + w.cfg.App + "." + keyOrUnknown(d.Event.Employee.ID))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s:%s:%s:%d", w.cfg.App, d.Event.ID, outcome, d.Meta.Sequence.Stream))
	msg.Header.Set(event.HeaderEventID, d.Event.ID)
	if _, err := w.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Audit)); err != nil {
		d.Log.Error().Err(err).Msg("audit record not stored")
	}
}

func keyOrUnknown(id string) string {
	if id == "" {
		return "unknown"
	}
	return event.EmployeeKey(id)
}
