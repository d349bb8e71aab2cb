package consume

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Delivery is one message on its way through the middleware.
type Delivery struct {
	Msg  jetstream.Msg
	Meta *jetstream.MsgMetadata
	// Log carries the message's subject, stream_seq and delivery; Wrap may
	// add the service's own fields.
	Log zerolog.Logger
	// Outcome is how the handling ended, for metrics and logs (the
	// service's words; DeadLetters sets "dead_lettered").
	Outcome string

	settled bool // terminated by a middleware: settle leaves it alone
}

func (d *Delivery) delivery() *Delivery { return d }

// Requeue hands the message back to be delivered again after delay, with
// outcome: a middleware that knows the failure is not the message's (the
// app is paused) settles it so, and the dead letters never see it.
func (d *Delivery) Requeue(delay time.Duration, outcome string) {
	_ = d.Msg.NakWithDelay(delay)
	d.settled, d.Outcome = true, outcome
}

// Message is a service's delivery type: a struct embedding *Delivery
// (the unexported method is promoted, so nothing else satisfies it).
type Message interface{ delivery() *Delivery }

// Handler handles one delivery. An error is transient unless it is
// permanent (fault.Permanent), and may carry a Retry-After.
type Handler[D Message] func(ctx context.Context, d D) error

// Middleware wraps a Handler.
type Middleware[D Message] func(Handler[D]) Handler[D]

// Chain wraps h so that the first middleware listed runs first.
func Chain[D Message](h Handler[D], mws ...Middleware[D]) Handler[D] {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
