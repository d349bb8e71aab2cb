package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// GuardLimits bound how many deactivations one app may do in a window
// before the rest are held for an operator.
type GuardLimits struct {
	MaxDeactivations int // in any Window; 0 turns the count limit off
	// MaxShare of the app's accounts (0..1) in any Window: as the app
	// counts them where its connector can (connector.Counter), else those
	// Keycard has created or adopted. 0 turns the share limit off. It only
	// applies from minShareBase accounts up, or one leaver in a
	// five-person app would always be held.
	MaxShare float64
	Window   time.Duration // default 10m
}

// minShareBase is the smallest number of accounts the share limit applies
// to.
const minShareBase = 20

// guard counts an app's deactivations in a sliding window, shared by all
// replicas through a KV entry updated with compare-and-set.
type guard struct {
	kv     jetstream.KeyValue
	key    string
	limits GuardLimits
	now    func() time.Time
	// total counts the app's accounts, for the share limit.
	total func(ctx context.Context) (int, error)
}

const guardBucket = "guard"

func newGuard(ctx context.Context, js jetstream.JetStream, app string, replicas int, l GuardLimits, now func() time.Time, total func(context.Context) (int, error)) (*guard, error) {
	if l.Window <= 0 {
		l.Window = 10 * time.Minute
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: guardBucket, Description: "Recent deactivations per app (blast-radius guard)", Storage: jetstream.FileStorage,
		Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", guardBucket, err)
	}
	return &guard{kv: kv, key: app, limits: l, now: now, total: total}, nil
}

// allow reserves one deactivation in the window, or says no.
func (g *guard) allow(ctx context.Context) (bool, error) {
	if g.limits.MaxDeactivations <= 0 && g.limits.MaxShare <= 0 {
		return true, nil
	}
	shareCap := -1 // no share limit
	if g.limits.MaxShare > 0 {
		n, err := g.total(ctx)
		if err != nil {
			return false, fmt.Errorf("guard: %w", err)
		}
		if n >= minShareBase {
			shareCap = int(g.limits.MaxShare * float64(n))
		}
	}
	for range 10 {
		var times []time.Time
		var rev uint64
		entry, err := g.kv.Get(ctx, g.key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return false, fmt.Errorf("guard: %w", err)
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &times); err != nil {
				return false, fmt.Errorf("guard: %w", err)
			}
		}
		now := g.now()
		recent := times[:0]
		for _, t := range times {
			if now.Sub(t) < g.limits.Window {
				recent = append(recent, t)
			}
		}
		if (g.limits.MaxDeactivations > 0 && len(recent) >= g.limits.MaxDeactivations) || (shareCap >= 0 && len(recent) >= shareCap) {
			return false, nil
		}
		data, _ := json.Marshal(append(recent, now))
		if rev == 0 {
			_, err = g.kv.Create(ctx, g.key, data)
		} else {
			_, err = g.kv.Update(ctx, g.key, data, rev)
		}
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false, fmt.Errorf("guard: %w", err)
		}
	}
	return false, errors.New("guard: too much contention")
}

// hold parks the event in HR_HELD until an operator releases or rejects
// it (provctl held). The dedup id keeps a redelivery from holding twice.
func (w *Worker) hold(ctx context.Context, d *Delivery) error {
	msg := nats.NewMsg(streams.HeldSubject(w.cfg.App, keyOrUnknown(d.Event.Employee.ID)))
	msg.Data = d.Msg.Data()
	for k, v := range d.Msg.Headers() {
		if k != jetstream.MsgIDHeader {
			msg.Header[k] = v
		}
	}
	msg.Header.Set(jetstream.MsgIDHeader, "held:"+w.cfg.App+":"+d.Event.ID)
	msg.Header.Set(event.HeaderEventID, d.Event.ID)
	if _, err := w.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Held)); err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	w.metrics.held.Inc()
	d.Log.Warn().Msg("deactivation held by the blast-radius guard; release or reject it with provctl held")
	return nil
}
