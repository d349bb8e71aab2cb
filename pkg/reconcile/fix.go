package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// Why a re-evaluation runs; the audit record's reason.
const (
	ReasonReconcile = "reconcile" // a drift fix
	ReasonPolicy    = "policy"    // a policy change reaching everyone
)

// Accounts reads the app's account ids Keycard stored, by EmployeeKey.
func Accounts(ctx context.Context, js jetstream.JetStream, app string) (map[string]string, error) {
	out := map[string]string{}
	err := streams.EachValue(ctx, js, worker.AccountsBucket, app+".>", func(entry jetstream.KeyValueEntry) error {
		out[strings.TrimPrefix(entry.Key(), app+".")] = string(entry.Value())
		return nil
	})
	return out, err
}

// Publisher hands people back to one app's worker.
type Publisher struct {
	JS  jetstream.JetStream
	App string
	// Reason is the audit record's (ReasonReconcile, ReasonPolicy).
	Reason string
	// Stamp makes this pass's event ids: a policy change's fingerprint
	// (every replica publishing the same change publishes the same ids,
	// stored once), a reconcile run's start time.
	Stamp string
	Now   func() time.Time
}

// Reevaluate publishes one re-evaluation of each person on the app's
// replay subject, which only its worker reads, and returns how many it
// published. The event is the stored snapshot with its own sequence: the
// worker's stale check lets it through unless a newer HR event has been
// applied since (which then already converged the person). Each gets a
// fresh id, so the ledger treats it as new work; the same pass published
// twice is stored once (the stream's duplicate window).
func (p Publisher) Reevaluate(ctx context.Context, people []normalize.Snapshot, progress func(done int)) (int, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	at := now().UTC()
	for i, s := range people {
		key := event.EmployeeKey(s.Employee.ID)
		e := event.Event{
			ID:   fmt.Sprintf("%s:%s:%s:%d:%s", p.Reason, p.App, key, s.Sequence, p.Stamp),
			Kind: event.Updated, OccurredAt: at, EffectiveAt: at, Source: p.Reason,
			Sequence: s.Sequence, Employee: s.Employee,
		}
		if err := p.publish(ctx, key, e); err != nil {
			return i, err
		}
		if progress != nil {
			progress(i + 1)
		}
	}
	return len(people), nil
}

// DeactivateOrphans publishes the deactivation of each orphan account: an
// orphan has no HR record to re-evaluate, so it is filed under a
// stand-in person "orphan-<account id>", inactive in HR, whose stored
// account id is the orphan's. The worker then finds the account by that
// id and deactivates it the way it deactivates a leaver (the guard, the
// pace, the audit record). Only for an app whose reconcile.orphans says
// deactivate.
func (p Publisher) DeactivateOrphans(ctx context.Context, items []Item) (int, error) {
	items = slices.DeleteFunc(slices.Clone(items), func(it Item) bool { return it.Class != Orphan || it.AccountID == "" })
	if len(items) == 0 {
		return 0, nil
	}
	kv, err := p.JS.KeyValue(ctx, worker.AccountsBucket)
	if err != nil {
		return 0, fmt.Errorf("key-value bucket %s: %w", worker.AccountsBucket, err)
	}
	var people []normalize.Snapshot
	for _, it := range items {
		id := "orphan-" + it.AccountID
		if _, err := kv.PutString(ctx, worker.AccountKey(p.App, id), it.AccountID); err != nil {
			return 0, fmt.Errorf("store orphan account %s: %w", it.AccountID, err)
		}
		people = append(people, normalize.Snapshot{Sequence: 1, State: event.Gone,
			Employee: event.Employee{ID: id, WorkEmail: it.Email, Status: event.StatusInactive, LastName: "(orphan)"}})
	}
	return p.Reevaluate(ctx, people, nil)
}

func (p Publisher) publish(ctx context.Context, key string, e event.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(streams.ReplaySubject(p.App, key))
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, e.ID)
	msg.Header.Set(event.HeaderEventID, e.ID)
	msg.Header.Set(worker.HeaderReason, p.Reason)
	if _, err := p.JS.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Replay)); err != nil {
		return fmt.Errorf("publish re-evaluation of %s: %w", e.Employee.ID, err)
	}
	return nil
}

// Fixable says whether a fix converges the class: everything Keycard
// manages, and orphans where the app's configuration says so. Unmanaged
// accounts are never touched.
func Fixable(c Class, deactivateOrphans bool) bool {
	switch c {
	case Unmanaged:
		return false
	case Orphan:
		return deactivateOrphans
	}
	return true
}

// Fix publishes what converges rep: a re-evaluation of each person with
// fixable drift, and the orphans' deactivations when deactivateOrphans.
func (p Publisher) Fix(ctx context.Context, rep Report, people []normalize.Snapshot, deactivateOrphans bool) (int, error) {
	want := map[string]bool{}
	var orphans []Item
	for _, it := range rep.Items {
		switch {
		case !Fixable(it.Class, deactivateOrphans):
		case it.Class == Orphan:
			orphans = append(orphans, it)
		default:
			want[it.EmployeeID] = true
		}
	}
	var due []normalize.Snapshot
	for _, s := range people {
		if want[s.Employee.ID] {
			due = append(due, s)
		}
	}
	n, err := p.Reevaluate(ctx, due, nil)
	if err != nil {
		return n, err
	}
	m, err := p.DeactivateOrphans(ctx, orphans)
	return n + m, err
}

// Run is one reconcile of one app: read everyone HR knows and the
// accounts Keycard stored, list the app, compare, store the report (when
// Store is set) and, with Fix, publish what converges it.
type Run struct {
	JS        jetstream.JetStream
	Store     *Store
	App       string
	Connector connector.Connector
	Evaluate  worker.Evaluate
	Fix       bool
	// DeactivateOrphans: a fix deactivates orphans too.
	DeactivateOrphans bool
	Now               func() time.Time
}

// Run runs it.
func (r Run) Run(ctx context.Context) (Report, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	people, err := normalize.Snapshots(ctx, r.JS)
	if err != nil {
		return Report{}, err
	}
	accounts, err := Accounts(ctx, r.JS, r.App)
	if err != nil {
		return Report{}, err
	}
	rep, err := Compare(ctx, Input{App: r.App, People: people, Accounts: accounts, Evaluate: r.Evaluate, List: r.Connector.List, Now: now})
	if err != nil {
		return rep, fmt.Errorf("list %s: %w", r.App, err)
	}
	if r.Fix {
		p := Publisher{JS: r.JS, App: r.App, Reason: ReasonReconcile, Stamp: strconv.FormatInt(rep.At.UnixMilli(), 10), Now: now}
		if rep.Fixed, err = p.Fix(ctx, rep, people, r.DeactivateOrphans); err != nil {
			return rep, err
		}
	}
	if r.Store != nil {
		if err := r.Store.SaveReport(ctx, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
