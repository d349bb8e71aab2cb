// Package consume is the one JetStream consumer runtime: a restartable
// pull loop per durable that fetches only for free handlers, and a
// Handler with middleware (Recover, Measure, Log, DeadLetters, Retry)
// over one Delivery type, settled at the end: ack on success, a NAK with
// a capped doubling delay (or the error's Retry-After) otherwise.
//
// A service keeps its domain in its handler and in a type that embeds
// *Delivery; the runtime owns how a message is pulled, bounded, retried,
// dead-lettered and settled, so every consumer does it one way.
package consume

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/fault"
)

// Durable is one consumer the pipeline pulls from.
type Durable struct {
	Name string // for logs
	// Open creates or updates the durable; it runs again whenever the
	// pull has to be set up anew (e.g. after a server restart).
	Open   func(ctx context.Context) (jetstream.Consumer, error)
	Slots  int           // messages of this durable handled at once
	Expiry time.Duration // how long one fetch waits for messages; default 30s
}

// Pipeline is how the messages of a service's durables are handled.
type Pipeline[D Message] struct {
	Handler Handler[D] // the chain (Chain)
	// Wrap turns the runtime's Delivery into the service's own (a type
	// embedding it), e.g. decoding the body.
	Wrap func(*Delivery) D
	// Backoff is the NAK delay of a transient failure on its first
	// delivery, doubling per delivery up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// MaxHandle bounds one handling. A message already received finishes
	// even while shutting down (its context does not end with Run's).
	MaxHandle time.Duration
	// Gate, if set, holds the pulls while it is shut (an app paused by its
	// circuit): nothing more is fetched, and a fetch still waiting for
	// messages ends at once.
	Gate Gate
	Log  zerolog.Logger
}

// Gate holds a pipeline's pulls while it is shut.
type Gate interface {
	// Wait blocks while the gate is shut and returns a context that ends
	// when it shuts again (with its cancel), or ctx's error.
	Wait(ctx context.Context) (context.Context, context.CancelFunc, error)
}

// open waits for p's gate; without one, ctx is always open.
func (p Pipeline[D]) open(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if p.Gate == nil {
		return ctx, func() {}, ctx.Err()
	}
	return p.Gate.Wait(ctx)
}

// Run consumes every durable until ctx is done, then lets in-flight
// messages finish.
func (p Pipeline[D]) Run(ctx context.Context, durables ...Durable) {
	var wg sync.WaitGroup
	for _, d := range durables {
		wg.Go(func() { p.consume(ctx, d) })
	}
	wg.Wait()
}

// consume handles up to d.Slots messages of one durable at once, setting
// its pull up again if the client ends it (e.g. a consumer not yet
// recovered after a server restart).
//
// A message is pulled only for a free handler (each fetch asks for as
// many as there are free slots), never into a buffer: a buffered
// message's AckWait runs with nobody renewing it, and behind a slow or
// rate-limited dependency it would be redelivered while it waited.
func (p Pipeline[D]) consume(ctx context.Context, d Durable) {
	expiry := d.Expiry
	if expiry <= 0 {
		expiry = 30 * time.Second
	}
	log := p.Log.With().Str("consumer", d.Name).Logger()
	slots := make(chan struct{}, max(d.Slots, 1))
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := d.Open(cctx)
		cancel()
		if err != nil {
			log.Warn().Err(err).Msg("consumer: will retry")
			sleep(ctx, time.Second)
			continue
		}
		for ctx.Err() == nil {
			gctx, closeGate, err := p.open(ctx)
			if err != nil {
				break
			}
			n := reserve(gctx, slots, fetchBatch)
			if n == 0 {
				closeGate()
				continue
			}
			// The fetch ends with ctx or the gate: messages it already
			// received are still handed out, the rest stay with the
			// server.
			if gctx.Err() != nil { // shut while waiting for a slot
				release(slots, n)
				closeGate()
				continue
			}
			fctx, cancelFetch := context.WithTimeout(gctx, expiry)
			cancel := func() { cancelFetch(); closeGate() }
			batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
			if err != nil {
				cancel()
				release(slots, n)
				log.Warn().Err(err).Msg("fetch: will retry")
				sleep(ctx, time.Second)
				break
			}
			inflight.Go(func() {
				defer cancel()
				got := 0
				for msg := range batch.Messages() {
					got++
					inflight.Go(func() {
						defer release(slots, 1)
						p.handle(ctx, msg)
					})
				}
				release(slots, n-got)
				if err := batch.Error(); err != nil && gctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
					log.Warn().Err(err).Msg("fetch")
				}
			})
		}
	}
}

// fetchBatch caps one fetch, so free handlers are shared between several
// outstanding pulls rather than all promised to one.
const fetchBatch = 16

// reserve blocks for one free slot (0 once ctx is done), then takes up to
// limit-1 more that are free now.
func reserve(ctx context.Context, slots chan struct{}, limit int) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < limit {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func release(slots chan struct{}, n int) {
	for range n {
		<-slots
	}
}

// handle runs the chain on one message and settles it. Its context
// outlives ctx: a delivery's ledger, audit and dead-letter writes must not
// see the shutdown, or the message would wait out its AckWait.
func (p Pipeline[D]) handle(ctx context.Context, msg jetstream.Msg) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.MaxHandle)
	defer cancel()
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Nak()
		return
	}
	base := &Delivery{Msg: msg, Meta: meta, Log: p.Log.With().Str("subject", msg.Subject()).
		Uint64("stream_seq", meta.Sequence.Stream).Uint64("delivery", meta.NumDelivered).Logger()}
	p.settle(base, p.Handler(hctx, p.Wrap(base)))
}

// settle acks success and NAKs a transient failure with a growing delay
// (or the error's Retry-After), unless a middleware already settled it.
func (p Pipeline[D]) settle(d *Delivery, err error) {
	if d.settled {
		return
	}
	if err == nil {
		_ = d.Msg.Ack()
		return
	}
	_ = d.Msg.NakWithDelay(p.delay(d.Meta.NumDelivered, err))
}

// delay is Backoff doubled per earlier delivery, capped at MaxBackoff,
// and never shorter than a Retry-After the error asks for.
func (p Pipeline[D]) delay(delivered uint64, err error) time.Duration {
	d := min(p.Backoff<<min(max(delivered, 1)-1, 20), p.MaxBackoff)
	if hint, ok := fault.RetryAfterHint(err); ok && hint > d {
		d = hint
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
