package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Durable consumer names.
const (
	InboxConsumer = "normalizer"
	DueConsumer   = "normalizer-due"
)

// errPoison marks a message that can never be processed (bad body).
var errPoison = errors.New("poison message")

// consumerSpec is one durable consumer and how its messages are handled.
type consumerSpec struct {
	stream string
	config jetstream.ConsumerConfig
	handle func(context.Context, jetstream.Msg) error
}

// Run consumes HR_INBOX and the due re-checks in HR_SCHED until ctx is
// done, then stops fetching and lets in-flight messages finish.
func (n *Normalizer) Run(ctx context.Context) error {
	specs := []struct {
		consumerSpec
		workers int
	}{
		{consumerSpec{streams.Inbox, n.consumerConfig(InboxConsumer, "hr.inbox.>", n.opts.Concurrency), n.handleInbox}, n.opts.Concurrency},
		{consumerSpec{streams.Sched, n.consumerConfig(DueConsumer, DueSubjects, 1), n.handleDue}, 1},
	}
	var wg sync.WaitGroup
	for _, s := range specs {
		// Several Consume calls on one durable are the documented way to
		// handle messages in parallel.
		for range s.workers {
			wg.Go(func() { n.consume(ctx, s.consumerSpec) })
		}
	}
	wg.Wait()
	return nil
}

func (n *Normalizer) consumerConfig(durable, filter string, workers int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.opts.AckWait,
		MaxDeliver:    n.opts.MaxDeliver,
		MaxAckPending: workers * 4,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// consume keeps one Consume running until ctx is done. The client ends a
// Consume for good on some server-side events (a consumer deleted or not
// yet recovered after a restart), so it is set up again after a pause.
func (n *Normalizer) consume(ctx context.Context, s consumerSpec) {
	for ctx.Err() == nil {
		cc, err := n.startConsume(ctx, s)
		if err != nil {
			n.log.Warn().Err(err).Str("consumer", s.config.Durable).Msg("consume: will retry")
			sleep(ctx, time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			cc.Drain() // stop pulling; finish what is buffered
			<-cc.Closed()
			return
		case <-cc.Closed():
			n.log.Warn().Str("consumer", s.config.Durable).Msg("consume ended; restarting")
			sleep(ctx, time.Second)
		}
	}
}

func (n *Normalizer) startConsume(ctx context.Context, s consumerSpec) (jetstream.ConsumeContext, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := n.js.CreateOrUpdateConsumer(cctx, s.stream, s.config)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", s.config.Durable, s.stream, err)
	}
	return cons.Consume(func(msg jetstream.Msg) {
		// A message already received finishes even while shutting down
		// (Drain), within AckWait, rather than failing on the cancelled ctx.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.opts.AckWait)
		defer cancel()
		start := time.Now()
		err := s.handle(hctx, msg)
		n.metrics.duration.Observe(time.Since(start).Seconds())
		n.settle(hctx, msg, err)
	},
		// A small buffer per Consume, so no message waits past AckWait in
		// a client buffer behind a slow one.
		jetstream.PullMaxMessages(2),
		jetstream.PullExpiry(n.opts.PullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			n.log.Warn().Err(err).Str("consumer", s.config.Durable).Msg("consume")
		}))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
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

// settle acks, retries or dead-letters msg according to err's class:
// poison and permanent API errors go to HR_DLQ at once, transient ones are
// retried with a growing delay (or the server's Retry-After) until
// MaxDeliver, then dead-lettered too. Nothing is dropped silently.
func (n *Normalizer) settle(ctx context.Context, msg jetstream.Msg, err error) {
	source := "inbox"
	if md, mdErr := msg.Metadata(); mdErr == nil && md.Stream == streams.Sched {
		source = "due"
	}
	if err == nil {
		_ = msg.Ack()
		n.metrics.messages.WithLabelValues(source, "done").Inc()
		return
	}
	md, mdErr := msg.Metadata()
	if mdErr != nil {
		_ = msg.Nak()
		return
	}
	class := ""
	switch {
	case errors.Is(err, errPoison), bamboohr.IsPermanent(err):
		class = deadletter.ClassPermanent
	case int(md.NumDelivered) >= n.opts.MaxDeliver:
		class = deadletter.ClassExhausted
	}
	log := n.log.With().Str("subject", msg.Subject()).Uint64("stream_seq", md.Sequence.Stream).
		Uint64("delivery", md.NumDelivered).Logger()
	if class == "" {
		delay := n.backoff(md.NumDelivered, err)
		log.Warn().Err(err).Dur("retry_in", delay).Msg("retrying")
		_ = msg.NakWithDelay(delay)
		n.metrics.messages.WithLabelValues(source, "retried").Inc()
		return
	}
	if dlErr := deadletter.Publish(ctx, n.js, msg, "normalizer", source, "delivery", class, err, n.opts.Now()); dlErr != nil {
		// Not stored in the DLQ: keep the original and try again later.
		log.Error().Err(dlErr).Msg("dead-letter failed")
		_ = msg.NakWithDelay(n.opts.RetryBase)
		return
	}
	log.Error().Err(err).Str("class", class).Msg("dead-lettered")
	_ = msg.TermWithReason(class)
	n.metrics.messages.WithLabelValues(source, "dead_lettered").Inc()
}

// backoff is RetryBase doubled per delivery, capped at RetryMax, and never
// shorter than a Retry-After the API asked for.
func (n *Normalizer) backoff(delivered uint64, err error) time.Duration {
	d := n.opts.RetryBase
	for i := uint64(1); i < delivered && d < n.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, n.opts.RetryMax)
	if hint, ok := bamboohr.RetryAfter(err); ok && hint > d {
		d = hint
	}
	return d
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
