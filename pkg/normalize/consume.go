package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/consume"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/fault"
	"keycard/pkg/streams"
)

// Durable consumer names.
const (
	InboxConsumer = "normalizer"
	DueConsumer   = "normalizer-due"
)

// errPoison marks a message that can never be processed (bad body).
var errPoison = errors.New("poison message")

// delivery is one message of HR_INBOX or a due re-check of HR_SCHED.
type delivery struct {
	*consume.Delivery        // outcome: done, dead_lettered
	source            string // inbox or due: the metrics' label and the dead letter's kind
}

// Run consumes HR_INBOX and the due re-checks in HR_SCHED until ctx is
// done, then stops fetching and lets in-flight messages finish. Poison
// and permanent API errors go to HR_DLQ at once, transient ones are
// retried with a growing delay (or the server's Retry-After) until
// MaxDeliver, then dead-lettered too; a panic is a permanent error.
func (n *Normalizer) Run(ctx context.Context) error {
	dead := consume.DeadLetters[*delivery]{JS: n.js, MaxDeliver: n.opts.MaxDeliver, Now: n.opts.Now,
		Letter: func(d *delivery) deadletter.Letter {
			return deadletter.Letter{App: "normalizer", Kind: d.source, EmployeeKey: "delivery"}
		}}
	p := consume.Pipeline[*delivery]{
		Handler: consume.Chain(n.handle, consume.Measure(n.measure), consume.Log[*delivery]("delivery", nil),
			dead.Middleware, consume.Recover),
		Wrap: func(b *consume.Delivery) *delivery {
			d := &delivery{Delivery: b, source: "inbox"}
			if b.Meta.Stream == streams.Sched {
				d.source = "due"
			}
			return d
		},
		Backoff: n.opts.RetryBase, MaxBackoff: n.opts.RetryMax, MaxHandle: n.opts.AckWait, Log: n.log,
	}
	p.Run(ctx, n.durable(streams.Inbox, InboxConsumer, "hr.inbox.>", n.opts.Concurrency),
		n.durable(streams.Sched, DueConsumer, DueSubjects, 1))
	return nil
}

func (n *Normalizer) durable(stream, name, filter string, slots int) consume.Durable {
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.opts.AckWait,
		// The server never gives up (-1): the dead letters count
		// MaxDeliver. A delivery lost in flight (a pull cut short after
		// the server sent it) counts as one too, and were it the last the
		// server would drop the message with no dead letter.
		MaxDeliver:    -1,
		MaxAckPending: slots * 4,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	return consume.Durable{Name: name, Slots: slots, Expiry: n.opts.PullExpiry,
		Open: func(ctx context.Context) (jetstream.Consumer, error) {
			return n.js.CreateOrUpdateConsumer(ctx, stream, cfg)
		}}
}

// handle rechecks whom the message names, giving BambooHR's error classes
// to the runtime.
func (n *Normalizer) handle(ctx context.Context, d *delivery) error {
	var err error
	if d.source == "due" {
		err = n.handleDue(ctx, d.Msg)
	} else {
		err = n.handleInbox(ctx, d.Msg)
	}
	if errors.Is(err, errPoison) || fault.IsPermanent(err) {
		return fault.Permanent(err)
	}
	if hint, ok := fault.RetryAfterHint(err); ok {
		return fault.RetryAfter(hint, err)
	}
	if err == nil {
		d.Outcome = "done"
	}
	return err
}

func (n *Normalizer) measure(d *delivery, took time.Duration, err error) {
	n.metrics.duration.Observe(took.Seconds())
	outcome := d.Outcome
	if err != nil {
		outcome = "retried"
	}
	n.metrics.messages.WithLabelValues(d.source, outcome).Inc()
}

// handleInbox rechecks every employee a delivery names.
func (n *Normalizer) handleInbox(ctx context.Context, msg jetstream.Msg) error {
	d, err := webhook.Decode(msg.Data())
	if err != nil {
		return fmt.Errorf("%w: %v", errPoison, err)
	}
	occurred, _ := time.Parse(time.RFC3339Nano, msg.Headers().Get(event.HeaderOccurredAt))
	for i, c := range d.Changes {
		if i > 0 {
			_ = msg.InProgress() // a large batch must not outlive AckWait
		}
		tr := trigger{deleted: c.Action == webhook.Deleted, occurredAt: occurred, traceparent: msg.Headers().Get(event.HeaderTraceparent)}
		if !c.Timestamp.IsZero() {
			tr.occurredAt = c.Timestamp
		}
		if err := n.Recheck(ctx, c.EmployeeID, tr); err != nil {
			return err
		}
	}
	return nil
}

// handleDue rechecks a person whose effective date has come.
func (n *Normalizer) handleDue(ctx context.Context, msg jetstream.Msg) error {
	var d due
	if err := json.Unmarshal(msg.Data(), &d); err != nil || d.EmployeeID == "" {
		return fmt.Errorf("%w: due re-check without an employee id", errPoison)
	}
	return n.Recheck(ctx, d.EmployeeID, trigger{occurredAt: d.At, traceparent: msg.Headers().Get(event.HeaderTraceparent)})
}

// ActiveIDs lists the employees whose last known state is active; the
// directory sweep rechecks those BambooHR no longer lists.
func (n *Normalizer) ActiveIDs(ctx context.Context) ([]string, error) {
	keys, err := n.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Bucket, err)
	}
	var ids []string
	for key := range keys.Keys() {
		r, _, err := n.load(ctx, key)
		if err != nil {
			return nil, err
		}
		if r != nil && r.State == active {
			ids = append(ids, r.Employee.ID)
		}
	}
	return ids, nil
}
