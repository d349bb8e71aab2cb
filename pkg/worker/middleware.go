package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/consume"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/fault"
	"keycard/pkg/streams"
)

// Header set on a replay of a released held action: the guard let it go.
const HeaderGuardBypass = "Keycard-Guard-Bypass"

// HeaderReason names why a replay was asked for when it is not an
// operator's ("reconcile", "policy"); the audit record keeps it.
const HeaderReason = "Keycard-Reason"

// Delivery is one event on its way through the middleware.
type Delivery struct {
	*consume.Delivery // outcome: applied, noop, duplicate, stale, held, dead_lettered
	Event             event.Event
	Replay            bool   // from HR_REPLAY: an operator asked for it again
	Bypass            bool   // a held action an operator released
	Reason            string // HeaderReason of a replay

	undecodable error  // the body is not a canonical event
	token       string // our ledger lease, while held
	plan        []connector.Action
	warning     error // a partial step: applied without what the app refused
}

// Handler handles one delivery; an error is transient unless
// fault.IsPermanent says otherwise.
type Handler = consume.Handler[*Delivery]

// pipeline is the runtime for the app's durables: undecodable → metrics →
// log → dead-letter → spare auth → retry → circuit → recover → handle.
func (w *Worker) pipeline() consume.Pipeline[*Delivery] {
	dead := consume.DeadLetters[*Delivery]{JS: w.js, MaxDeliver: w.cfg.MaxDeliver, Now: w.cfg.Now,
		Letter: w.letter, Dead: w.dead}.Middleware
	p := consume.Pipeline[*Delivery]{
		Handler: consume.Chain(w.handle, undecodable(dead), consume.Measure(w.measure),
			consume.Log("event", logPlan), dead, w.spareAuth, consume.Retry[*Delivery](w.cfg.InProcess), w.pauses, consume.Recover),
		Wrap: w.decode, Backoff: w.cfg.RetryBase, MaxBackoff: w.cfg.RetryMax, MaxHandle: maxHandle, Log: w.log,
	}
	if w.cfg.Circuit != nil {
		p.Gate = w.cfg.Circuit
	}
	return p
}

// maxHandle bounds one handling (the pre-lease AckWait default). The lease
// heartbeat keeps the message in progress, so the bound is for a hung
// vendor only.
const maxHandle = time.Minute

// decode reads the event a message carries.
func (w *Worker) decode(b *consume.Delivery) *Delivery {
	d := &Delivery{Delivery: b, Replay: b.Meta.Stream == streams.Replay}
	d.Bypass = d.Replay && b.Msg.Headers().Get(HeaderGuardBypass) == "true"
	if d.Replay {
		d.Reason = b.Msg.Headers().Get(HeaderReason)
	}
	if err := json.Unmarshal(b.Msg.Data(), &d.Event); err != nil || d.Event.ID == "" {
		d.undecodable = fault.Permanent(fmt.Errorf("not a canonical event: %v", err))
		d.Event.ID = "undecodable"
	}
	d.Log = d.Log.With().Str("event_id", d.Event.ID).Str("employee", d.Event.Employee.ID).
		Str("kind", string(d.Event.Kind)).Bool("replay", d.Replay).Logger()
	return d
}

// undecodable sends a message that is not an event straight to the dead
// letters: there is no kind to measure it by, nothing to log or retry.
func undecodable(dead consume.Middleware[*Delivery]) consume.Middleware[*Delivery] {
	refuse := dead(func(_ context.Context, d *Delivery) error { return d.undecodable })
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			if d.undecodable != nil {
				return refuse(ctx, d)
			}
			return next(ctx, d)
		}
	}
}

// measure counts outcomes and timings.
func (w *Worker) measure(d *Delivery, took time.Duration, err error) {
	outcome := d.Outcome
	if err != nil {
		outcome = "retry"
	}
	w.metrics.observe(string(d.Event.Kind), outcome, took, d.Event.TookEffect(), w.cfg.Now())
}

func logPlan(d *Delivery, ev *zerolog.Event) { ev.Stringer("plan", planString(d.plan)) }

type planString []connector.Action

func (p planString) String() string {
	b, _ := json.Marshal([]connector.Action(p))
	return string(b)
}

// letter addresses a dead letter by app, kind and person.
func (w *Worker) letter(d *Delivery) deadletter.Letter {
	kind := string(d.Event.Kind)
	if kind == "" {
		kind = "unknown"
	}
	return deadletter.Letter{App: w.cfg.App, Kind: kind, EmployeeKey: keyOrUnknown(d.Event.Employee.ID)}
}

// dead marks a dead-lettered event dead in the ledger and audits it.
func (w *Worker) dead(ctx context.Context, d *Delivery, cause error) {
	w.markDead(ctx, d)
	w.audit(ctx, d, "dead_lettered", cause)
}
