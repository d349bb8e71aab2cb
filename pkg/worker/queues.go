package worker

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/streams"
)

// queueInterval is how often the queue gauges are refreshed.
const queueInterval = 15 * time.Second

// observeQueues keeps the lag, dead-letter and held gauges current, so a
// dashboard shows a backlog even when nothing is being handled.
func (w *Worker) observeQueues(ctx context.Context) {
	t := time.NewTicker(queueInterval)
	defer t.Stop()
	for {
		w.refreshQueues(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) refreshQueues(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var lag, replay uint64
	for _, c := range w.consumers() {
		cons, err := w.js.Consumer(ctx, c.stream, c.cfg.Durable)
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		if c.stream == streams.Events {
			lag += info.NumPending
		} else {
			replay += info.NumPending + uint64(info.NumAckPending)
		}
	}
	w.metrics.lag.Set(float64(lag))
	w.metrics.replay.Set(float64(replay))
	w.metrics.deadLetters.Set(float64(w.count(ctx, streams.DLQ, "dlq."+w.cfg.App+".>")))
	w.metrics.heldNow.Set(float64(w.count(ctx, streams.Held, streams.HeldSubject(w.cfg.App, ">"))))
}

// count is the number of messages on subjects matching filter.
func (w *Worker) count(ctx context.Context, stream, filter string) uint64 {
	s, err := w.js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}
