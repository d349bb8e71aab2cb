package consume

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"

	"keycard/pkg/deadletter"
	"keycard/pkg/fault"
)

// Recover turns a panic in the handler into a permanent error: a bug is
// not fixed by retrying, the process keeps serving the other messages,
// and the dead letter keeps the stack. It goes last in the chain, next to
// the handler, so that the error passes the dead-letter step: outside it,
// the error would only be NAKed until MaxDeliver, then never seen again.
func Recover[D Message](next Handler[D]) Handler[D] {
	return func(ctx context.Context, d D) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fault.Permanent(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
			}
		}()
		return next(ctx, d)
	}
}

// Measure times the rest of the chain and hands the result to observe,
// which knows the service's metrics and labels.
func Measure[D Message](observe func(d D, took time.Duration, err error)) Middleware[D] {
	return func(next Handler[D]) Handler[D] {
		return func(ctx context.Context, d D) error {
			start := time.Now()
			err := next(ctx, d)
			observe(d, time.Since(start), err)
			return err
		}
	}
}

// Log logs each delivery's result once, as msg with its outcome (a warning
// with the error if it will be retried); detail, if set, adds the
// service's fields.
func Log[D Message](msg string, detail func(D, *zerolog.Event)) Middleware[D] {
	return func(next Handler[D]) Handler[D] {
		return func(ctx context.Context, d D) error {
			err := next(ctx, d)
			b := d.delivery()
			ev := b.Log.Info()
			if err != nil {
				ev = b.Log.Warn().Err(err)
				if hint, ok := fault.RetryAfterHint(err); ok {
					ev.Dur("retry_after", hint)
				}
			}
			ev.Str("outcome", b.Outcome)
			if detail != nil {
				detail(d, ev)
			}
			ev.Msg(msg)
			return err
		}
	}
}

// DeadLetters moves a permanent failure, or a transient one on its last
// delivery, to HR_DLQ with its reason and terminates the original.
// Nothing is dropped: if the DLQ cannot be written, the error goes on and
// the message is NAKed and tried again.
type DeadLetters[D Message] struct {
	JS         deadletter.Publisher
	MaxDeliver int // the durable's: its last delivery is dead-lettered
	Now        func() time.Time
	// Letter addresses d's dead letter (App, Kind, EmployeeKey); the rest
	// is filled in here.
	Letter func(D) deadletter.Letter
	// Dead, if set, runs once the letter is stored and before the
	// original is terminated (the worker marks its ledger and audits).
	Dead func(ctx context.Context, d D, cause error)
}

// Middleware is the dead-letter step.
func (c DeadLetters[D]) Middleware(next Handler[D]) Handler[D] {
	return func(ctx context.Context, d D) error {
		err := next(ctx, d)
		if err == nil {
			return nil
		}
		b := d.delivery()
		class := ""
		switch {
		case fault.IsPermanent(err):
			class = deadletter.ClassPermanent
		case int(b.Meta.NumDelivered) >= c.MaxDeliver:
			class = deadletter.ClassExhausted
		default:
			return err
		}
		l := c.Letter(d)
		l.Msg, l.Class, l.Cause, l.At = b.Msg, class, err, c.Now()
		if dlErr := deadletter.Publish(ctx, c.JS, l); dlErr != nil {
			return fmt.Errorf("%w (and %v)", err, dlErr)
		}
		if c.Dead != nil {
			c.Dead(ctx, d, err)
		}
		_ = b.Msg.TermWithReason(class)
		b.settled, b.Outcome = true, "dead_lettered"
		b.Log.Error().Err(err).Str("class", class).Msg("dead-lettered")
		return nil
	}
}

// Retry retries transient failures in process for up to within (a brief
// 5xx or a short Retry-After), keeping the message in progress; longer
// waits go back to the server as a delayed NAK so no handler is held.
func Retry[D Message](within time.Duration) Middleware[D] {
	return func(next Handler[D]) Handler[D] {
		return func(ctx context.Context, d D) error {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxElapsedTime = 100*time.Millisecond, within
			op := func() error {
				err := next(ctx, d)
				switch {
				case err == nil:
					return nil
				case fault.IsPermanent(err):
					return backoff.Permanent(err)
				}
				if hint, ok := fault.RetryAfterHint(err); ok {
					if hint > within/2 {
						return backoff.Permanent(err) // too long to wait here
					}
					sleep(ctx, hint) // honour the request before the next try
				}
				_ = d.delivery().Msg.InProgress()
				return err
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
}
