package worker

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"keycard/pkg/event"
	"keycard/pkg/ratelimit"
	"keycard/pkg/redistest"
	"keycard/pkg/streams"
)

// Issue 9: a termination queued behind a backlog of joiners at a paced app
// is applied while most joiners still wait (first in first out, it came
// after all of them). It has a durable of its own, so it is pulled at
// once, and its writes take the app's next tokens, with the in-process
// pacer and with the one replicas share in Redis.
func TestLeaverJumpsJoinerBacklog(t *testing.T) {
	limits := map[string]ratelimit.Limit{app: {PerMinute: 6000, Burst: 1}} // 100 writes/s
	for _, tt := range []struct {
		name    string
		limiter func(t *testing.T) Limiter
	}{
		{"Local", func(*testing.T) Limiter { return ratelimit.NewLocal(limits) }},
		{"Redis", func(t *testing.T) Limiter {
			opts, err := redis.ParseURL(redistest.Start(t))
			if err != nil {
				t.Fatal(err)
			}
			rdb := redis.NewClient(opts)
			t.Cleanup(func() { _ = rdb.Close() })
			return ratelimit.NewRedis(rdb, limits)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Limiter = tt.limiter(t); c.AckWait = 30 * c.Lease })
			h.publish(t, ev(event.Hired, 1, employee("900", "Engineering")), "hire900")
			// Its hire done and its person lease released: a leaver whose own
			// earlier event is still being applied waits for it (the person
			// lease), and that one's writes are not High.
			waitFor(t, "the future leaver's hire", func() bool {
				return slices.ContainsFunc(h.audits(t), func(r Record) bool { return r.EventID == event.ID("bamboohr", "900", 1) })
			})

			const joiners = 100 // 3 writes each: about 3 s of backlog at 100 writes/s
			for i := range joiners {
				id := fmt.Sprint(1000 + i)
				h.publish(t, ev(event.Hired, 1, employee(id, "Engineering")), "hire"+id)
			}
			h.publish(t, ev(event.Terminated, 2, leaver("900")), "leave900")
			waitFor(t, "the leaver deactivated", func() bool { a := h.account(t, "900"); return a != nil && !a.Active })
			created := len(h.app.Accounts()) - 1
			t.Logf("leaver deactivated with %d of %d joiners created", created, joiners)
			if created >= joiners/2 {
				t.Fatalf("the leaver was applied after %d of %d joiners queued ahead of it: it did not jump the queue", created, joiners)
			}
			waitFor(t, "the backlog", func() bool { return len(h.app.Accounts()) == joiners+1 })
		})
	}
}

// A deployment from before the leavers' durable had terminations in the
// app's one durable. The new durable starts where that one's
// acknowledgements end: what it had not acknowledged is not skipped, and
// what it had is not handled again.
func TestLeaversDurableStartsAtTheOldAckFloor(t *testing.T) {
	js := newStreams(t)
	old, err := js.CreateConsumer(t.Context(), streams.Events, jetstream.ConsumerConfig{
		Durable: "worker-" + app, FilterSubject: event.SubjectAll, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	publishTo(t, js, ev(event.Terminated, 1, leaver("699")), "leave699") // stream seq 1, handled before the upgrade
	batch, err := old.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		if err := msg.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	publishTo(t, js, ev(event.Hired, 1, employee("701", "Engineering")), "hire701") // seq 2
	publishTo(t, js, ev(event.Terminated, 2, leaver("701")), "leave701")            // seq 3

	h := startHarness(t, js, nil)
	// Handled, not necessarily deactivated: the hire and the termination
	// are on two durables, and when the termination wins the person lease
	// the hire after it is stale.
	waitFor(t, "the pending leaver handled", func() bool {
		return slices.ContainsFunc(h.audits(t), func(r Record) bool { return r.EventID == event.ID("bamboohr", "701", 2) })
	})
	cons, err := js.Consumer(t.Context(), streams.Events, "worker-"+app+"-leavers")
	if err != nil {
		t.Fatal(err)
	}
	if c := cons.CachedInfo().Config; c.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || c.OptStartSeq != 2 {
		t.Fatalf("leavers' durable starts with %v at %d; want by start sequence at 2 (after the old ack floor)", c.DeliverPolicy, c.OptStartSeq)
	}
	waitFor(t, "settled", func() bool { return h.settled(t) })
	for _, r := range h.audits(t) {
		if r.EmployeeID == "699" {
			t.Fatalf("the termination acknowledged before the upgrade was handled again: %+v", r)
		}
	}
}
