// Package ledger is Keycard's idempotency ledger and stale-sequence guard
// (DESIGN.md §2). A worker claims `<app>:<event id>` before it converges an
// app, marks it done (or dead) afterwards, and releases it on a transient
// failure so a redelivery can claim it again; a second worker that sees a
// live lease waits for Claim.Retry instead of doing the work twice.
//
// Two backends satisfy one contract (see package ledgertest): Redis, for
// production with many replicas, and a JetStream KV bucket, for the
// single-binary mode.
//
// Lifecycle of one key:
//
//	(absent) --Claim--> processing --Done--> done  --(DoneTTL)--> (absent)
//	                  | ^ |   |   \--Dead--> dead  --(DoneTTL)--> (absent)
//	            Renew \-/ |   |                \----Reopen------> (absent)
//	                      |   \--Release / lease expiry--> (absent)
//	                      \--Claim by the holder's next incarnation--> processing (taken over)
//
// Leases are short (seconds) and renewed by their holder while it works,
// so a dead holder's lease lapses within seconds rather than minutes. A
// lease records its Holder: a process that restarts under the same
// instance id (a new boot id) takes over the leases its previous
// incarnation left behind at once instead of waiting for them to lapse.
package ledger

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is a key's state in the ledger.
type State string

// The states a key can be in. An absent key has no state.
const (
	StateProcessing State = "processing" // a worker holds the lease
	StateDone       State = "done"       // applied; skip redeliveries
	StateDead       State = "dead"       // dead-lettered; Reopen before a replay
)

// Claim is the result of Ledger.Claim.
type Claim struct {
	// State is StateProcessing with Token set when we took the lease;
	// otherwise the state the key is already in.
	State State
	// Token is our lease token when we took the lease; pass it to Done,
	// Dead or Release.
	Token string
	// Retry is, when another worker holds the lease, the time left on it:
	// how long to wait (e.g. NakWithDelay) before trying again.
	Retry time.Duration
	// TookOver is set when the lease we took was still held by an earlier
	// incarnation of our own instance (same Instance, another Boot).
	TookOver bool
}

// Holder identifies who holds a lease.
//
// Instance is stable across restarts of one deployment slot: the single
// binary's data directory, a pod's name. Two live processes must never
// share it. Boot is new at every process start (NewHolder). A Claim whose
// Instance matches the lease's holder and whose Boot differs comes from a
// restarted process: the holder it finds is dead, so it takes the lease at
// once. With the same Boot it is another goroutine of the same live
// process and must wait like anyone else: the per-person lease exists to
// serialise two events of one person inside one process. An empty
// Instance never takes over.
type Holder struct {
	Instance string
	Boot     string // no ':'
}

// NewHolder returns instance's holder for this process start (a random
// boot id).
func NewHolder(instance string) Holder { return Holder{Instance: instance, Boot: rand.Text()} }

func (h Holder) check(key string) error {
	if h.Boot == "" || strings.Contains(h.Boot, ":") {
		return fmt.Errorf("ledger claim %q: boot id %q is empty or holds ':'", key, h.Boot)
	}
	return nil
}

// takesOver reports whether h may take a lease held by theirs: it is h's
// own instance in an earlier process.
func (h Holder) takesOver(theirs Holder) bool {
	return h.Instance != "" && h.Instance == theirs.Instance && h.Boot != theirs.Boot
}

// holderToken is the part of a lease's stored value after the state
// prefix (KV: after the lease duration): "<random>:<boot>:<instance>". The
// instance goes last so it may hold any character.
func holderToken(h Holder) string { return newToken() + ":" + h.Boot + ":" + h.Instance }

// parseHolder reads the holder out of a holderToken; ok is false for a
// value an older release wrote ("<random>" alone), which is then nobody's
// to take over.
func parseHolder(tok string) (h Holder, ok bool) {
	_, rest, ok1 := strings.Cut(tok, ":")
	boot, inst, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || boot == "" {
		return Holder{}, false
	}
	return Holder{Instance: inst, Boot: boot}, true
}

// Acquired reports whether this Claim took the lease.
func (c Claim) Acquired() bool { return c.State == StateProcessing && c.Token != "" }

// Ledger records, per key, whether an event is being applied, was applied,
// or was dead-lettered.
type Ledger interface {
	// Claim takes the processing lease on key for h unless it is done,
	// dead, or leased by someone else; a lease held by an earlier
	// incarnation of h's instance is taken over (Claim.TookOver).
	Claim(ctx context.Context, key string, lease time.Duration, h Holder) (Claim, error)
	// Renew extends our lease to lease from now and returns the token to
	// use from then on (the KV backend's token changes with every write).
	// ErrLeaseLost means the lease lapsed or was taken: stop working on
	// the key before the next outside write.
	Renew(ctx context.Context, key, token string, lease time.Duration) (string, error)
	// Done moves our lease to done, kept for the ledger's DoneTTL.
	Done(ctx context.Context, key, token string) error
	// Dead moves our lease to dead, kept for the ledger's DoneTTL.
	Dead(ctx context.Context, key, token string) error
	// Release drops our lease after a transient failure, so a retry may
	// claim the key.
	Release(ctx context.Context, key, token string) error
	// Reopen removes a dead key so a replay can claim it. It is a no-op
	// when the key is absent and fails with ErrNotDead when it is done or
	// processing.
	Reopen(ctx context.Context, key string) error
	// Get returns key's state, and false when the key is absent.
	Get(ctx context.Context, key string) (State, bool, error)
}

// Versions is the stale-sequence guard: per person and app, the newest
// per-employee sequence applied, so an older snapshot is ignored.
type Versions interface {
	// Applied returns the stored sequence for key, 0 if none.
	Applied(ctx context.Context, key string) (uint64, error)
	// Advance atomically sets key to seq iff seq is greater than the stored
	// sequence, and reports whether it moved.
	Advance(ctx context.Context, key string, seq uint64) (bool, error)
}

var (
	// ErrLeaseLost is returned by Renew, Done, Dead and Release when the lease
	// expired or belongs to another token. Another worker may have claimed
	// the key meanwhile; do not mark anything, let the redelivery decide.
	ErrLeaseLost = errors.New("ledger: lease lost")
	// ErrNotDead is returned by Reopen when the key is done or processing.
	ErrNotDead = errors.New("ledger: key is not dead")
)

// StoreError is a failure of the backing store (network, server, timeout,
// unexpected contents) while doing Op on Key. It wraps the backend's error
// and is transient: retry later.
type StoreError struct {
	Backend string // "redis" or "kv"
	Op      string // "claim", "renew", "done", "dead", "release", "reopen", "get", "applied", "advance"
	Key     string
	Err     error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("ledger %s %q: %s: %v", e.Op, e.Key, e.Backend, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// leaseLost wraps ErrLeaseLost with the operation and key.
func leaseLost(op, key string) error { return fmt.Errorf("ledger %s %q: %w", op, key, ErrLeaseLost) }

// notDead wraps ErrNotDead with the key and the state it is in.
func notDead(key string, s State) error {
	return fmt.Errorf("ledger reopen %q: %w (it is %s)", key, ErrNotDead, s)
}

func checkLease(op, key string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("ledger %s %q: lease %v is not positive", op, key, lease)
	}
	return nil
}

// newToken returns a random lease token (base32, no ':').
func newToken() string { return rand.Text() }

const processingPrefix = string(StateProcessing) + ":"

// parseState reads a stored value: "done", "dead", or "processing:<rest>"
// (rest is backend-specific and returned as is).
func parseState(v string) (State, string, error) {
	switch {
	case v == string(StateDone):
		return StateDone, "", nil
	case v == string(StateDead):
		return StateDead, "", nil
	case strings.HasPrefix(v, processingPrefix):
		return StateProcessing, v[len(processingPrefix):], nil
	}
	return "", "", fmt.Errorf("unexpected value %q", v)
}

// parseSeq reads a stored sequence.
func parseSeq(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected sequence %q: %w", v, err)
	}
	return n, nil
}
