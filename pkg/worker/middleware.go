package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Header set on a replay of a released held action: the guard let it go.
const HeaderGuardBypass = "Keycard-Guard-Bypass"

// Delivery is one message on its way through the middleware.
type Delivery struct {
	Msg    jetstream.Msg
	Meta   *jetstream.MsgMetadata
	Event  event.Event
	Replay bool // from HR_REPLAY: an operator asked for it again
	Bypass bool // a held action an operator released
	Log    zerolog.Logger

	outcome string // for metrics and logs: applied, noop, duplicate, stale, held, dead_lettered, retry
	token   string // our ledger lease, while held
	settled bool   // acked or terminated by a middleware
	plan    []connector.Action
	warning error // a partial step: applied without what the app refused
}

// Handler handles one delivery; an error is transient unless
// connector.IsPermanent says otherwise.
type Handler func(ctx context.Context, d *Delivery) error

// chain wraps h so that the first middleware listed runs first.
func chain(h Handler, mws ...func(Handler) Handler) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// process decodes a message, runs the chain and settles the message.
func (w *Worker) process(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Nak()
		return
	}
	d := &Delivery{Msg: msg, Meta: meta, Replay: meta.Stream == streams.Replay,
		Bypass: meta.Stream == streams.Replay && msg.Headers().Get(HeaderGuardBypass) == "true", Log: w.log}
	if err := json.Unmarshal(msg.Data(), &d.Event); err != nil || d.Event.ID == "" {
		err = connector.Permanent(fmt.Errorf("not a canonical event: %v", err))
		d.Event.ID = "undecodable"
		err = w.deadLetter(func(context.Context, *Delivery) error { return err })(ctx, d)
		w.settle(d, err)
		return
	}
	w.settle(d, w.chain(ctx, d))
}

// settle acks success and NAKs a transient failure with a growing delay
// (or the app's Retry-After), unless a middleware already settled it.
func (w *Worker) settle(d *Delivery, err error) {
	if d.settled {
		return
	}
	if err == nil {
		_ = d.Msg.Ack()
		return
	}
	delay := w.cfg.RetryBase << min(d.Meta.NumDelivered-1, 20)
	delay = min(delay, w.cfg.RetryMax)
	if hint, ok := connector.RetryAfterHint(err); ok && hint > delay {
		delay = hint
	}
	_ = d.Msg.NakWithDelay(delay)
}

// recoverer turns a panic in a connector into a permanent error: a bug is
// not fixed by retrying, and the dead letter keeps the stack.
func (w *Worker) recoverer(next Handler) Handler {
	return func(ctx context.Context, d *Delivery) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = connector.Permanent(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
			}
		}()
		return next(ctx, d)
	}
}

// measure counts outcomes and timings.
func (w *Worker) measure(next Handler) Handler {
	return func(ctx context.Context, d *Delivery) error {
		start := time.Now()
		err := next(ctx, d)
		outcome := d.outcome
		if err != nil {
			outcome = "retry"
		}
		w.metrics.observe(string(d.Event.Kind), outcome, time.Since(start), d.Event.OccurredAt, w.cfg.Now())
		return err
	}
}

// logger gives the delivery a child logger and logs its result once.
func (w *Worker) logger(next Handler) Handler {
	return func(ctx context.Context, d *Delivery) error {
		d.Log = w.log.With().Str("event_id", d.Event.ID).Str("employee", d.Event.Employee.ID).
			Str("kind", string(d.Event.Kind)).Uint64("stream_seq", d.Meta.Sequence.Stream).
			Uint64("delivery", d.Meta.NumDelivered).Bool("replay", d.Replay).Logger()
		err := next(ctx, d)
		ev := d.Log.Info()
		if err != nil {
			ev = d.Log.Warn().Err(err)
		}
		ev.Str("outcome", d.outcome).Stringer("plan", planString(d.plan)).Msg("event")
		return err
	}
}

type planString []connector.Action

func (p planString) String() string {
	b, _ := json.Marshal([]connector.Action(p))
	return string(b)
}

// deadLetter moves a permanent failure, or a transient one on its last
// delivery, to HR_DLQ with its reason, marks the ledger dead and
// terminates the original. Nothing is dropped: if the DLQ cannot be
// written, the message is NAKed and tried again.
func (w *Worker) deadLetter(next Handler) Handler {
	return func(ctx context.Context, d *Delivery) error {
		err := next(ctx, d)
		if err == nil {
			return nil
		}
		class := ""
		switch {
		case connector.IsPermanent(err):
			class = deadletter.ClassPermanent
		case int(d.Meta.NumDelivered) >= w.cfg.MaxDeliver:
			class = deadletter.ClassExhausted
		default:
			return err
		}
		key := event.EmployeeKey(d.Event.Employee.ID)
		if key == "" {
			key = "unknown"
		}
		if dlErr := deadletter.Publish(ctx, w.js, d.Msg, w.cfg.App, kindToken(d.Event.Kind), key, class, err, w.cfg.Now()); dlErr != nil {
			return fmt.Errorf("%w (and %v)", err, dlErr)
		}
		w.markDead(ctx, d)
		w.audit(ctx, d, "dead_lettered", err)
		_ = d.Msg.TermWithReason(class)
		d.settled, d.outcome = true, "dead_lettered"
		d.Log.Error().Err(err).Str("class", class).Msg("dead-lettered")
		return nil
	}
}

func kindToken(k event.Kind) string {
	if k == "" {
		return "unknown"
	}
	return string(k)
}

// retry retries transient failures in process for a short while (a brief
// 5xx or a short Retry-After), keeping the message in progress; longer
// waits go back to the server as a delayed NAK so no slot is held.
func (w *Worker) retry(next Handler) Handler {
	return func(ctx context.Context, d *Delivery) error {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.MaxElapsedTime = 100*time.Millisecond, w.cfg.InProcess
		var last error
		op := func() error {
			last = next(ctx, d)
			switch {
			case last == nil:
				return nil
			case connector.IsPermanent(last):
				return backoff.Permanent(last)
			}
			if hint, ok := connector.RetryAfterHint(last); ok {
				if hint > w.cfg.InProcess/2 {
					return backoff.Permanent(last) // too long to wait here
				}
				sleep(ctx, hint) // honour the app's request before the next try
			}
			_ = d.Msg.InProgress()
			return last
		}
		if err := backoff.Retry(op, backoff.WithContext(b, ctx)); err != nil {
			var perm *backoff.PermanentError
			if errors.As(err, &perm) {
				return perm.Err
			}
			return err
		}
		return nil
	}
}
