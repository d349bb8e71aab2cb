package worker

import (
	"context"
	"errors"

	"keycard/pkg/circuit"
	"keycard/pkg/fault"
	"keycard/pkg/ledger"
	"keycard/pkg/ratelimit"
)

// appError marks an error as the app's answer (or its silence), as
// opposed to Keycard's own (the ledger, the streams): only the app's
// count towards an auth or outage pause.
type appError struct{ err error }

func (e appError) Error() string { return e.err.Error() }
func (e appError) Unwrap() error { return e.err }

// pauses is the app's circuit in the chain, inside the in-process
// retries: each attempt's failure that is the app's or the store's, not
// the event's, is counted (so a dead store trips the circuit in a few
// quick attempts, not after the retry window), and while the app is paused
// the event goes back to its stream as it came (requeued, outcome
// "paused"), never to the dead letters.
func (w *Worker) pauses(next Handler) Handler {
	c := w.cfg.Circuit
	if c == nil {
		return next
	}
	return func(ctx context.Context, d *Delivery) error {
		if c.Shut() { // pulled just before the pause: do not touch the app
			return w.requeue(d)
		}
		err := next(ctx, d)
		if err == nil {
			c.Succeeded()
			return nil
		}
		reason, ok := failureReason(err)
		if !ok {
			if errors.As(err, new(appError)) { // the app answered
				c.Answered(circuit.Auth)
				c.Answered(circuit.Outage)
			}
			return err
		}
		if c.Failed(ctx, reason, err) {
			return w.requeue(d)
		}
		return err
	}
}

// spareAuth, between the dead letters and the retries, makes an auth
// failure below the circuit's trip transient: one 401 does not make a
// dead letter, and only an event refused while the app answers others is
// dead-lettered, after MaxDeliver. Inside the retries it stays permanent,
// so one event's refusal is not retried in process into a trip.
func (w *Worker) spareAuth(next Handler) Handler {
	if w.cfg.Circuit == nil {
		return next
	}
	return func(ctx context.Context, d *Delivery) error {
		err := next(ctx, d)
		if err != nil && fault.IsAuth(err) && errors.As(err, new(appError)) {
			return errors.New(err.Error())
		}
		return err
	}
}

// requeue hands d back while the app is paused. The delay is the first
// retry's: once the app resumes the event comes again at once.
func (w *Worker) requeue(d *Delivery) error {
	d.Requeue(w.cfg.RetryBase, "paused")
	return nil
}

// failureReason says which circuit reason err counts towards, if any: the
// store (ledger or pacer) unreachable, the app refusing the credential, or
// the app failing transiently without naming a wait (a wait it names is a
// rate limit, which the pacer handles).
func failureReason(err error) (circuit.Reason, bool) {
	switch {
	case errors.As(err, new(*ledger.StoreError)), errors.As(err, new(*ratelimit.StoreError)):
		return circuit.Store, true
	case errors.Is(err, errLeaseLost):
		return "", false // the apply stopped for Keycard's lease, whatever the app said
	case !errors.As(err, new(appError)):
		return "", false
	case fault.IsAuth(err):
		return circuit.Auth, true
	case fault.IsPermanent(err):
		return "", false
	}
	if _, limited := fault.RetryAfterHint(err); limited {
		return "", false
	}
	return circuit.Outage, true
}
