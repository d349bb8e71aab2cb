// Package circuit pauses an app whose failures are not the events' fault:
// the app refuses Keycard's credential (auth), the vendor is down
// (outage), or Keycard's own shared store is unreachable (store). Without
// it every event would fail on its own, burn its deliveries and be
// dead-lettered one by one, and on-call would replay hundreds of letters
// once the token is rotated.
//
// After Trip consecutive failures of one reason the circuit opens: the
// app's consumers stop pulling (the Breaker is their consume.Gate), the
// events in flight go back to the stream undamaged, and a probe — a read
// that writes nothing — runs every ProbeEvery, doubling up to ProbeMax,
// until one succeeds and the circuit closes by itself. An operator closes
// it at once with `provctl apps resume APP`. Other apps carry on.
//
// The state is shared: it lives in the KV bucket Bucket under the app's
// name, so every replica of the app pauses when one trips, any replica's
// successful probe resumes them all, and provctl reads and resumes it.
package circuit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/streams"
)

// Reason is why a circuit opened.
type Reason string

const (
	Auth   Reason = "auth"   // the app refused the credential (401, a tenant-wide 403)
	Outage Reason = "outage" // the app failed transiently (5xx, timeouts) without naming a wait
	Store  Reason = "store"  // Keycard's ledger or pacer store (Redis) is unreachable
)

// Reasons lists every reason, for metrics and docs.
var Reasons = []Reason{Auth, Outage, Store}

// Bucket is the KV bucket holding each app's circuit under its name.
const Bucket = "circuits"

// maxCause bounds the failing request's error kept in the state.
const maxCause = 300

// State is an app's circuit as stored, and as provctl shows it.
type State struct {
	App  string `json:"app"`
	Open bool   `json:"open"`
	// Reason and Cause say why it opened: Cause is the first failing
	// request's error of the run that tripped it (connectors keep tokens
	// and personal data out of their errors).
	Reason Reason    `json:"reason,omitempty"`
	Cause  string    `json:"cause,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	By     string    `json:"by,omitempty"` // the instance that opened it
	// Probes counts the failed probes since it opened; ProbeError is the
	// last one's.
	Probes     int       `json:"probes,omitempty"`
	LastProbe  time.Time `json:"last_probe,omitzero"`
	ProbeError string    `json:"probe_error,omitempty"`
	// ClosedBy is "probe" or "operator" once it closed again.
	ClosedBy string    `json:"closed_by,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
}

// String is the state in one line, for logs and provctl.
func (s State) String() string {
	if !s.Open {
		if s.ClosedBy == "" {
			return "closed"
		}
		return fmt.Sprintf("closed by %s at %s (was open for %s: %s)", s.ClosedBy, s.ClosedAt.UTC().Format(time.RFC3339),
			s.ClosedAt.Sub(s.Since).Round(time.Second), s.Reason)
	}
	line := fmt.Sprintf("paused (%s) since %s: %s", s.Reason, s.Since.UTC().Format(time.RFC3339), s.Cause)
	if s.Probes > 0 {
		line += fmt.Sprintf("; %d probes failed, last: %s", s.Probes, s.ProbeError)
	}
	return line
}

// OpenBucket creates or opens the bucket with replicas copies.
func OpenBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "Each app's circuit: paused on auth failures, outages or an unreachable store",
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1), History: 5,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Read returns app's circuit; a closed zero State when none was stored.
func Read(ctx context.Context, kv jetstream.KeyValue, app string) (State, error) {
	st, _, err := read(ctx, kv, app)
	return st, err
}

// ErrNotOpen is Resume's answer for a circuit that is not open.
var ErrNotOpen = errors.New("the app is not paused")

// Resume closes app's circuit for an operator (provctl apps resume): every
// replica starts pulling again. The next failures trip it anew.
func Resume(ctx context.Context, kv jetstream.KeyValue, app string, now time.Time) (State, error) {
	var out State
	err := update(ctx, kv, app, func(st *State) (bool, error) {
		if !st.Open {
			return false, ErrNotOpen
		}
		st.Open, st.ClosedBy, st.ClosedAt = false, "operator", now.UTC()
		out = *st
		return true, nil
	})
	return out, err
}

func read(ctx context.Context, kv jetstream.KeyValue, app string) (State, uint64, error) {
	e, err := kv.Get(ctx, app)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{App: app}, 0, nil
	}
	if err != nil {
		return State{}, 0, fmt.Errorf("circuit %s: %w", app, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{}, 0, fmt.Errorf("circuit %s: %w", app, err)
	}
	return st, e.Revision(), nil
}

// update applies change to app's stored state with compare-and-set,
// reading again when another replica wrote first. change returns false to
// leave the state as it is.
func update(ctx context.Context, kv jetstream.KeyValue, app string, change func(*State) (bool, error)) error {
	for range 10 {
		st, rev, err := read(ctx, kv, app)
		if err != nil {
			return err
		}
		ok, err := change(&st)
		if err != nil || !ok {
			return err
		}
		data, _ := json.Marshal(st)
		if rev == 0 {
			_, err = kv.Create(ctx, app, data)
		} else {
			_, err = kv.Update(ctx, app, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
				return fmt.Errorf("circuit %s: %w", app, err)
			}
		}
	}
	return fmt.Errorf("circuit %s: too many concurrent writers", app)
}

// Config is one app's breaker.
type Config struct {
	App      string
	Instance string // this process, in State.By
	// Trip is how many consecutive failures of a reason open the circuit;
	// defaults: auth 3, outage 10, store 3.
	Trip map[Reason]int
	// ProbeEvery is the wait before the first probe once open, doubling
	// after each failed probe up to ProbeMax; defaults 15s and 5m.
	ProbeEvery, ProbeMax time.Duration
	// Probe checks the app (or the store) without writing, for the reason
	// the circuit opened.
	Probe func(ctx context.Context, r Reason) error
	// Changed is told every state this process takes (metrics).
	Changed func(State)
	Now     func() time.Time
	Log     zerolog.Logger
}

func (c *Config) defaults() {
	trip := map[Reason]int{Auth: 3, Outage: 10, Store: 3}
	for r, n := range c.Trip {
		if n > 0 {
			trip[r] = n
		}
	}
	c.Trip = trip
	if c.ProbeEvery <= 0 {
		c.ProbeEvery = 15 * time.Second
	}
	if c.ProbeMax < c.ProbeEvery {
		c.ProbeMax = max(5*time.Minute, c.ProbeEvery)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Changed == nil {
		c.Changed = func(State) {}
	}
}

// Breaker is one app's circuit in one process.
type Breaker struct {
	cfg Config
	kv  jetstream.KeyValue

	mu     sync.Mutex
	state  State
	fails  map[Reason]int
	first  map[Reason]string // the first error of each reason's current run
	shut   chan struct{}     // closed when the circuit opens
	opened chan struct{}     // closed when it closes again
}

// New returns app's breaker in the state stored in kv: a replica that
// starts while the app is paused starts paused.
func New(ctx context.Context, kv jetstream.KeyValue, cfg Config) (*Breaker, error) {
	cfg.defaults()
	var st State
	err := streams.AwaitLeader(ctx, func() (err error) { st, _, err = read(ctx, kv, cfg.App); return err })
	if err != nil {
		return nil, err
	}
	b := &Breaker{cfg: cfg, kv: kv, state: State{App: cfg.App}, fails: map[Reason]int{}, first: map[Reason]string{},
		shut: make(chan struct{}), opened: make(chan struct{})}
	close(b.opened) // closed: pulls go ahead
	b.apply(st)
	return b, nil
}

// State is the circuit as this process sees it.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Shut reports whether the app is paused.
func (b *Breaker) Shut() bool { return b.State().Open }

// Wait blocks while the app is paused and returns a context that ends
// when it pauses again: a pull made with it stops at the trip.
func (b *Breaker) Wait(ctx context.Context) (context.Context, context.CancelFunc, error) {
	for {
		b.mu.Lock()
		open, opened, shut := b.state.Open, b.opened, b.shut
		b.mu.Unlock()
		if !open {
			gctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-shut:
					cancel()
				case <-gctx.Done():
				}
			}()
			return gctx, cancel, nil
		}
		select {
		case <-opened:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Succeeded records a delivery the app (and the store) handled: every
// run of failures ends.
func (b *Breaker) Succeeded() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.fails)
	clear(b.first)
}

// Answered records an answer that rules r out (the app answered, so it is
// neither down nor refusing the credential): r's run ends.
func (b *Breaker) Answered(r Reason) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.fails, r)
	delete(b.first, r)
}

// Failed records a failure of reason r; the Trip-th in a row opens the
// circuit. It reports whether the app is paused now.
func (b *Breaker) Failed(ctx context.Context, r Reason, err error) bool {
	b.mu.Lock()
	if b.state.Open {
		b.mu.Unlock()
		return true
	}
	b.fails[r]++
	if b.fails[r] == 1 {
		b.first[r] = shorten(err.Error())
	}
	if b.fails[r] < b.cfg.Trip[r] {
		b.mu.Unlock()
		return false
	}
	st := State{App: b.cfg.App, Open: true, Reason: r, Cause: b.first[r], Since: b.cfg.Now().UTC(), By: b.cfg.Instance}
	clear(b.fails)
	clear(b.first)
	b.setLocked(st)
	b.mu.Unlock()
	b.cfg.Log.Error().Str("reason", string(r)).Str("cause", st.Cause).Int("failures", b.cfg.Trip[r]).
		Msg("app paused: its consumers stop pulling until a probe succeeds or an operator resumes it (provctl apps resume)")
	werr := update(ctx, b.kv, b.cfg.App, func(cur *State) (bool, error) {
		if cur.Open {
			return false, nil // another replica paused it first: keep its reason
		}
		*cur = st
		return true, nil
	})
	if werr != nil {
		b.cfg.Log.Warn().Err(werr).Msg("circuit: the pause is not shared with other replicas")
	}
	return true
}

// Run follows the shared state and probes while the app is paused, until
// ctx is done.
func (b *Breaker) Run(ctx context.Context) {
	updates := make(chan State, 1)
	go b.watch(ctx, updates)
	wait := b.cfg.ProbeEvery
	probe := time.NewTimer(wait)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-updates:
			if b.apply(st) && st.Open {
				wait = b.cfg.ProbeEvery
				probe.Reset(wait)
			}
			continue
		case <-probe.C:
		}
		st := b.State()
		if !st.Open {
			probe.Reset(b.cfg.ProbeEvery)
			continue
		}
		if b.probe(ctx, st) {
			wait = b.cfg.ProbeEvery
		} else {
			wait = min(2*wait, b.cfg.ProbeMax)
		}
		probe.Reset(wait)
	}
}

// probe runs one probe for the open state st and shares its result; it
// reports whether the circuit closed.
func (b *Breaker) probe(ctx context.Context, st State) bool {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := b.cfg.Probe(pctx, st.Reason)
	cancel()
	now := b.cfg.Now().UTC()
	mine := func(cur *State) bool { return cur.Open && cur.Since.Equal(st.Since) }
	if err != nil {
		b.cfg.Log.Warn().Err(err).Str("reason", string(st.Reason)).Msg("circuit: probe failed; the app stays paused")
		next := st
		next.Probes, next.LastProbe, next.ProbeError = st.Probes+1, now, shorten(err.Error())
		b.set(next)
		_ = update(ctx, b.kv, b.cfg.App, func(cur *State) (bool, error) {
			if !mine(cur) {
				return false, nil
			}
			cur.Probes, cur.LastProbe, cur.ProbeError = cur.Probes+1, now, next.ProbeError
			return true, nil
		})
		return false
	}
	closed := st
	closed.Open, closed.ClosedBy, closed.ClosedAt = false, "probe", now
	b.set(closed)
	b.cfg.Log.Info().Str("reason", string(st.Reason)).Dur("paused_for", now.Sub(st.Since)).Msg("circuit: probe succeeded; the app resumes")
	if err := update(ctx, b.kv, b.cfg.App, func(cur *State) (bool, error) {
		if !mine(cur) {
			return false, nil
		}
		*cur = closed
		return true, nil
	}); err != nil {
		b.cfg.Log.Warn().Err(err).Msg("circuit: the resume is not shared with other replicas")
	}
	return true
}

// watch sends every stored state of the app to updates, reconnecting
// until ctx is done.
func (b *Breaker) watch(ctx context.Context, updates chan<- State) {
	for ctx.Err() == nil {
		w, err := b.kv.Watch(ctx, b.cfg.App)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var st State
			if json.Unmarshal(e.Value(), &st) != nil {
				continue
			}
			select {
			case updates <- st:
			case <-ctx.Done():
			}
		}
		_ = w.Stop()
		sleep(ctx, time.Second)
	}
}

// apply takes a stored state; it reports whether this process's state
// changed between open and closed.
func (b *Breaker) apply(st State) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st.App == "" {
		st.App = b.cfg.App
	}
	if !st.Open && b.state.Open && st.ClosedAt.Before(b.state.Since) {
		return false // an older closing than this process's pause (its share was lost)
	}
	if st.Open == b.state.Open && (!st.Open || st.Since.Equal(b.state.Since)) {
		if st.Open {
			b.state.Probes, b.state.LastProbe, b.state.ProbeError = st.Probes, st.LastProbe, st.ProbeError
		}
		return false
	}
	changed := st.Open != b.state.Open
	b.setLocked(st)
	return changed
}

func (b *Breaker) set(st State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setLocked(st)
}

// setLocked takes st, opening or closing the gate on a change.
func (b *Breaker) setLocked(st State) {
	was := b.state.Open
	b.state = st
	switch {
	case st.Open && !was:
		close(b.shut)
		b.opened = make(chan struct{})
	case !st.Open && was:
		close(b.opened)
		b.shut = make(chan struct{})
		clear(b.fails)
		clear(b.first)
	}
	b.cfg.Changed(st)
}

func shorten(s string) string {
	r := []rune(s)
	if len(r) <= maxCause {
		return s
	}
	return string(r[:maxCause-1]) + "…"
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
