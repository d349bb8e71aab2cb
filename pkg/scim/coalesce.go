package scim

import (
	"context"
	"slices"
	"sync"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
)

// Coalescing group writes: the write budget, not CPU, bounds onboarding.
// Without it a joiner costs a create plus one PATCH per group; with it,
// every joiner waiting to enter the same group rides on one PATCH.
//
// One flusher per group at a time. It first takes the app's write token
// (Option Pace): members that arrive while it waits join the batch, so
// the slower the pace, the larger the batch, and an unpaced app still
// batches whatever arrives while the previous PATCH is in flight (group
// commit). There is no fixed linger: where the budget is the bottleneck
// the token wait gathers the batch anyway, and where it is not, a linger
// would only add its length to every joiner's time to access. Each caller gets its own
// member's result, so the worker keeps its per-person ledger, audit and
// error class. When the vendor refuses a batch outright (a permanent 4xx:
// one bad member id fails the whole PATCH), the flusher writes each member
// alone so only the refused one fails.
//
// Only additions are coalesced. Removals are a leaver's or a mover's, and
// a leaver's must not wait behind a batch of joiners: they are written at
// once, paced with the caller's context (and so its priority).

// Option configures NewConnector.
type Option func(*Connector)

// Coalesce makes the connector batch group additions, taking one token of
// pace (the app's write pacer) per PATCH it sends, per removal and per
// group it creates. The worker then leaves the pacing of those steps to
// the connector (see Coalesces).
func Coalesce(pace func(context.Context) error) Option {
	// Defaulted here, not in the option: one Option may build many
	// connectors at once.
	if pace == nil {
		pace = func(context.Context) error { return nil }
	}
	return func(k *Connector) {
		k.coalesce = &coalescer{pace: pace, batches: map[string]*batch{}}
	}
}

type coalescer struct {
	pace func(context.Context) error

	mu      sync.Mutex
	batches map[string]*batch // group id → members waiting for its flusher
}

// batch is the members waiting to be added to one group.
type batch struct {
	pending []addition
	running bool // a flusher is working on this group
}

type addition struct {
	id   string
	done chan error // buffered: the flusher never blocks on a caller that gave up
}

// flushTimeout bounds one flush (its pace wait and write): the flusher
// runs for many callers, so no one caller's context may end it.
const flushTimeout = 2 * time.Minute

// Coalesces implements connector.Coalescer: group additions, and (so one
// app's writes all come from one place) removals, are paced here.
func (k *Connector) Coalesces(a connector.Action) bool {
	return k.coalesce != nil && a.Kind == connector.Group && (a.Op == connector.OpAdd || a.Op == connector.OpRemove)
}

// addCoalesced queues id for group gid and waits for its batch's result.
func (k *Connector) addCoalesced(ctx context.Context, gid, id string) error {
	c := k.coalesce
	done := make(chan error, 1)
	c.mu.Lock()
	b := c.batches[gid]
	if b == nil {
		b = &batch{}
		c.batches[gid] = b
	}
	b.pending = append(b.pending, addition{id: id, done: done})
	start := !b.running
	b.running = true
	c.mu.Unlock()
	if start {
		go k.flush(gid, b)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The member may still be added: an addition is idempotent, and
		// the retry finds it there.
		return ctx.Err()
	}
}

// flush sends gid's pending additions, batch after batch, until none wait.
func (k *Connector) flush(gid string, b *batch) {
	c := k.coalesce
	limit := orDefault(k.c.Profile().MaxMembersPerPatch, DefaultMaxMembersPerPatch)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		err := c.pace(ctx)
		c.mu.Lock()
		n := min(len(b.pending), limit)
		take := slices.Clone(b.pending[:n])
		b.pending = slices.Delete(b.pending, 0, n)
		c.mu.Unlock()
		if err == nil {
			k.write(ctx, gid, take)
		} else {
			deliver(take, err)
		}
		cancel()

		c.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			delete(c.batches, gid)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// write adds the batch in one PATCH (its token already taken). A batch
// refused as a whole for a reason other than the group itself is written
// member by member, each paced, so one bad member fails alone.
func (k *Connector) write(ctx context.Context, gid string, take []addition) {
	ids := make([]string, 0, len(take))
	for _, a := range take {
		if !slices.Contains(ids, a.id) {
			ids = append(ids, a.id)
		}
	}
	err := k.locked(gid, func() error { return k.c.PatchGroupMembers(ctx, gid, ids, nil) })
	if len(ids) == 1 || !fault.IsPermanent(err) || IsNotFound(err) {
		deliver(take, err)
		return
	}
	for _, id := range ids {
		err := k.coalesce.pace(ctx)
		if err == nil {
			err = k.locked(gid, func() error { return k.c.PatchGroupMembers(ctx, gid, []string{id}, nil) })
		}
		for _, a := range take {
			if a.id == id {
				a.done <- err
			}
		}
	}
}

func deliver(take []addition, err error) {
	for _, a := range take {
		a.done <- err
	}
}
