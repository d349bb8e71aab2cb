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
//	                      |   |   \--Dead--> dead  --(DoneTTL)--> (absent)
//	                      |   |                \----Reopen------> (absent)
//	                      |   \--Release / lease expiry--> (absent)
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
}

// Acquired reports whether this Claim took the lease.
func (c Claim) Acquired() bool { return c.State == StateProcessing && c.Token != "" }

// Ledger records, per key, whether an event is being applied, was applied,
// or was dead-lettered.
type Ledger interface {
	// Claim takes the processing lease on key unless it is done, dead, or
	// leased by someone else.
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)
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
	// ErrLeaseLost is returned by Done, Dead and Release when the lease
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
	Op      string // "claim", "done", "dead", "release", "reopen", "get", "applied", "advance"
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

func checkLease(key string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("ledger claim %q: lease %v is not positive", key, lease)
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
