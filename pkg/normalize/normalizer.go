// Package normalize turns raw deliveries into canonical lifecycle events:
// for each employee a delivery names, it fetches the record from BambooHR,
// compares it with the last snapshot (KV bucket "employees"), classifies
// the change, publishes at most one event to HR_EVENTS, keeps a schedule
// in HR_SCHED for the next effective date, and stores the new snapshot.
// It lives outside internal/ because the single binary runs it too.
package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Bucket holds the last snapshot of every employee, keyed by EmployeeKey.
const Bucket = "employees"

// Fetcher is the part of the BambooHR client the normalizer uses.
type Fetcher interface {
	Employee(ctx context.Context, id string) (bamboohr.Employee, error)
}

// Options tune the normalizer; New fills in defaults for zero values.
type Options struct {
	Replicas           int
	DefaultZone        *time.Location // the company's time zone
	ContractorStatuses []string       // employment statuses meaning "contractor"
	JoinerTime         string         // local clock time a start date takes effect, "00:00"
	LeaverTime         string         // local clock time a termination/contract end takes effect, "18:00"
	Concurrency        int            // messages handled at once
	MaxDeliver         int            // attempts before a transient failure is dead-lettered
	AckWait            time.Duration
	// PullExpiry bounds each fetch, so a pull request lost on the server
	// (e.g. across a NATS restart) is replaced within it.
	PullExpiry time.Duration
	RetryBase  time.Duration // first retry delay; doubles per attempt
	RetryMax   time.Duration
	Now        func() time.Time
}

func (o *Options) defaults() {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.DefaultZone == nil {
		o.DefaultZone = time.UTC
	}
	if o.ContractorStatuses == nil {
		o.ContractorStatuses = []string{"Contractor", "Contract", "Freelance"}
	}
	if o.JoinerTime == "" {
		o.JoinerTime = "00:00"
	}
	if o.LeaverTime == "" {
		o.LeaverTime = "18:00"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 20
	}
	if o.AckWait <= 0 {
		o.AckWait = time.Minute
	}
	if o.PullExpiry <= 0 {
		o.PullExpiry = 30 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Normalizer is safe for concurrent use: concurrent rechecks of one person
// are serialised by compare-and-set on the snapshot's KV revision.
type Normalizer struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	events  jetstream.Stream
	sched   jetstream.Stream
	api     Fetcher
	opts    Options
	mapping mapping
	log     zerolog.Logger
	metrics *meters
}

// New creates the snapshot bucket if needed. The streams must exist
// (streams.Ensure).
func New(ctx context.Context, js jetstream.JetStream, api Fetcher, o Options, log zerolog.Logger, reg prometheus.Registerer) (*Normalizer, error) {
	o.defaults()
	for _, t := range []string{o.JoinerTime, o.LeaverTime} {
		if _, err := time.Parse("15:04", t); err != nil {
			return nil, fmt.Errorf("effective time %q: want HH:MM", t)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Last known snapshot of each employee",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	events, err := js.Stream(ctx, streams.Events)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.Events, err)
	}
	sched, err := js.Stream(ctx, streams.Sched)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.Sched, err)
	}
	return &Normalizer{
		js: js, kv: kv, events: events, sched: sched, api: api, opts: o,
		mapping: mapping{zones: &event.Zones{Fallback: o.DefaultZone}, contractorStatuses: o.ContractorStatuses},
		log:     log,
		metrics: newMetrics(reg),
	}, nil
}

// Snapshot is the KV value: a person's last snapshot and what was derived
// from it. Sequence is the sequence of the last event published for them,
// so a re-evaluation of the snapshot passes the worker's stale check and a
// newer HR event still wins over it.
type Snapshot struct {
	Sequence       uint64         `json:"sequence"` // of the last event published
	Employee       event.Employee `json:"employee"`
	State          event.State    `json:"state"`
	EverTerminated bool           `json:"ever_terminated"`
	// ScheduleAt is the pending effective-date re-check, zero if none.
	ScheduleAt time.Time `json:"schedule_at"`
}

// trigger says why a person is being looked at again.
type trigger struct {
	deleted     bool      // BambooHR said the record was deleted
	occurredAt  time.Time // when the change happened at the source
	traceparent string
}

// errConflict: another recheck of the same person stored first.
var errConflict = errors.New("snapshot changed concurrently")

// maxAttempts bounds the compare-and-set loop of one recheck.
const maxAttempts = 5

// Recheck looks at one person again and publishes an event if something
// relevant changed. It is idempotent: rechecking an unchanged person
// publishes nothing.
func (n *Normalizer) Recheck(ctx context.Context, id string, tr trigger) error {
	var fetched *event.Employee
	if !tr.deleted {
		b, err := n.api.Employee(ctx, id)
		switch {
		case errors.Is(err, bamboohr.ErrNotFound):
			tr.deleted = true // a record that now 404s is a termination
		case err != nil:
			return fmt.Errorf("fetch employee %s: %w", id, err)
		default:
			e := n.mapping.employee(b)
			fetched = &e
		}
	}
	key := event.EmployeeKey(id)
	for attempt := 1; ; attempt++ {
		err := n.converge(ctx, key, id, fetched, tr)
		if !errors.Is(err, errConflict) || attempt == maxAttempts {
			return err
		}
	}
}

// converge runs one compare-and-set round for a person.
func (n *Normalizer) converge(ctx context.Context, key, id string, fetched *event.Employee, tr trigger) error {
	prev, rev, err := n.load(ctx, key)
	if err != nil {
		return err
	}
	next := gone(prev, id)
	if fetched != nil {
		next = *fetched
	}
	loc := n.mapping.zone(next.TimeZone)
	now := n.opts.Now()
	st := next.StateOn(now.In(loc).Format(time.DateOnly))
	rec := Snapshot{Employee: next, State: st, EverTerminated: st == terminated}
	if prev != nil {
		rec.Sequence, rec.ScheduleAt = prev.Sequence, prev.ScheduleAt
		rec.EverTerminated = rec.EverTerminated || prev.EverTerminated
	}

	if kind, emit := classify(prev, next, st); emit {
		ev := event.Event{
			ID: event.ID(event.SourceBambooHR, id, rec.Sequence+1), Kind: kind, Source: event.SourceBambooHR,
			OccurredAt: orNow(tr.occurredAt, now), EffectiveAt: now, Sequence: rec.Sequence + 1,
			Employee: next, ChangedFields: event.Diff(prevEmployee(prev), next),
		}
		if prev != nil {
			ev.Previous = &prev.Employee
		}
		ack, err := n.publish(ctx, ev, tr.traceparent)
		if err != nil {
			return err
		}
		if ack.Duplicate {
			// An earlier attempt published this sequence and died before
			// storing the snapshot. Adopt what it published, then look again.
			adopted, err := n.adopt(ctx, ack.Sequence, rec, now)
			if err != nil {
				return err
			}
			if err := n.store(ctx, key, adopted, rev); err != nil {
				return err
			}
			return errConflict
		}
		rec.Sequence = ev.Sequence
		n.metrics.events.WithLabelValues(string(kind)).Inc()
		n.log.Info().Str("employee", id).Str("kind", string(kind)).Uint64("sequence", ev.Sequence).
			Strs("changed", ev.ChangedFields).Msg("event")
	} else {
		n.metrics.unchanged.Inc()
	}

	if rec.ScheduleAt, err = n.reschedule(ctx, key, id, rec, loc, now); err != nil {
		return err
	}
	if prev != nil && rec.equal(*prev) {
		return nil // nothing to store
	}
	return n.store(ctx, key, rec, rev)
}

// gone is the snapshot of a person BambooHR no longer has: the last one
// known, now inactive, or a bare id if they were never seen.
func gone(prev *Snapshot, id string) event.Employee {
	e := event.Employee{ID: id}
	if prev != nil {
		e = prev.Employee
	}
	e.Status = event.StatusInactive
	return e
}

func prevEmployee(prev *Snapshot) event.Employee {
	if prev == nil {
		return event.Employee{}
	}
	return prev.Employee
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func (r Snapshot) equal(o Snapshot) bool {
	return r.Sequence == o.Sequence && r.State == o.State && r.EverTerminated == o.EverTerminated &&
		r.ScheduleAt.Equal(o.ScheduleAt) && len(event.Diff(r.Employee, o.Employee)) == 0
}

// load returns the stored record and its revision (nil, 0 if none).
func (n *Normalizer) load(ctx context.Context, key string) (*Snapshot, uint64, error) {
	entry, err := n.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load snapshot %s: %w", key, err)
	}
	var r Snapshot
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("decode snapshot %s: %w", key, err)
	}
	return &r, entry.Revision(), nil
}

// store writes rec if the key is still at revision rev.
func (n *Normalizer) store(ctx context.Context, key string, rec Snapshot, rev uint64) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = n.kv.Create(ctx, key, data)
	} else {
		_, err = n.kv.Update(ctx, key, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("store snapshot %s: %w", key, err)
	}
	return nil
}

// publish stores ev in HR_EVENTS; the dedup id is the event id, so a
// retry after a crash cannot publish one sequence twice.
func (n *Normalizer) publish(ctx context.Context, ev event.Event, traceparent string) (*jetstream.PubAck, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	msg.Header.Set(event.HeaderEventID, ev.ID)
	msg.Header.Set(event.HeaderKind, string(ev.Kind))
	msg.Header.Set(event.HeaderOccurredAt, ev.OccurredAt.UTC().Format(time.RFC3339Nano))
	if traceparent != "" {
		msg.Header.Set(event.HeaderTraceparent, traceparent)
	}
	ack, err := n.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Events))
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", ev.ID, err)
	}
	return ack, nil
}

// adopt rebuilds the record from the event already stored at seq.
func (n *Normalizer) adopt(ctx context.Context, seq uint64, rec Snapshot, now time.Time) (Snapshot, error) {
	raw, err := n.events.GetMsg(ctx, seq)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read back %s sequence %d: %w", streams.Events, seq, err)
	}
	var ev event.Event
	if err := json.Unmarshal(raw.Data, &ev); err != nil {
		return Snapshot{}, fmt.Errorf("decode %s sequence %d: %w", streams.Events, seq, err)
	}
	rec.Sequence, rec.Employee = ev.Sequence, ev.Employee
	rec.State = ev.Employee.StateOn(now.In(n.mapping.zone(ev.Employee.TimeZone)).Format(time.DateOnly))
	rec.EverTerminated = rec.EverTerminated || ev.Kind == event.Terminated
	return rec, nil
}
