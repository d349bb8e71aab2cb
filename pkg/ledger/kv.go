package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KV is the single-binary backend: a JetStream KV bucket (History 1, bucket
// TTL = doneTTL) for the ledger and a second bucket, <bucket>_versions
// (no TTL), for Versions.
//
// A lease is Create(processing) with KeyTTL(lease); Renew and a takeover
// rewrite it against its revision with a fresh per-message TTL (a publish
// with Nats-Expected-Last-Subject-Sequence and Nats-TTL, because KV Update
// would drop the TTL); Done and Dead are Update(revision), which drops the
// per-key TTL so the bucket TTL (doneTTL) applies; Release and Reopen are
// Delete(LastRevision). The server alone decides when a lease has
// expired, so worker clocks never matter for correctness; they only shape
// Claim.Retry.
//
// Caveats: the server keeps per-message TTLs in whole seconds, so a lease
// is rounded up to a whole second (at least 1 s) and may outlive its TTL by
// the server's expiry-timer lag (a fraction of a second): renew well
// before the lease ends (the worker renews every lease/3). The bucket TTL
// also bounds a lease, so keep lease < doneTTL. Every renewal is a stored
// (and, with sync always, fsynced) message. Claim, Renew, Done, Dead and
// Release are one JetStream round trip when uncontended (the lease token
// carries the entry's revision); Claim on a taken key and Advance add a
// read.
type KV struct {
	js       jetstream.JetStream
	subject  string // "$KV.<bucket>.": where the bucket's entries are published
	kv       jetstream.KeyValue
	versions jetstream.KeyValue
	now      func() time.Time
}

var _ interface {
	Ledger
	Versions
} = (*KV)(nil)

// limitMarkerTTL is how long the bucket keeps the marker left when a lease
// or a done entry expires. KeyTTL needs it; nothing here reads markers, so
// the minimum the server accepts is enough.
const limitMarkerTTL = time.Second

// NewKV creates or updates the buckets bucket and bucket+"_versions" with
// replicas replicas (1 on a single node) and returns the ledger stored in
// them. done and dead entries are kept for doneTTL (the bucket's TTL),
// which must outlast every redelivery and replay; doneTTL ≤ 0 keeps them
// forever.
func NewKV(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, doneTTL time.Duration) (*KV, error) {
	replicas = max(replicas, 1)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         bucket,
		Description:    "Keycard idempotency ledger",
		History:        1,
		TTL:            max(doneTTL, 0),
		LimitMarkerTTL: limitMarkerTTL,
		Replicas:       replicas,
		Storage:        jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create ledger bucket %s: %w", bucket, err)
	}
	vb := bucket + "_versions"
	versions, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      vb,
		Description: "Keycard applied sequence per person and app",
		History:     1,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create versions bucket %s: %w", vb, err)
	}
	return &KV{js: js, subject: "$KV." + bucket + ".", kv: kv, versions: versions, now: time.Now}, nil
}

func (l *KV) fail(op, key string, err error) error {
	return &StoreError{Backend: "kv", Op: op, Key: key, Err: err}
}

// maxAttempts bounds the read-then-CAS loops: each retry means another
// writer changed the key in between, which settles within a few rounds.
const maxAttempts = 16

var errContended = errors.New("key kept changing under compare-and-set")

// conflict reports whether err is a failed compare-and-set: Create on an
// existing key, or Update/Delete against a stale revision (10071, or 10164
// on replicated streams). Create's retry over a delete marker returns the
// raw API error, so the codes are checked too.
func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// get returns the entry for an encoded key, nil when absent.
func get(ctx context.Context, kv jetstream.KeyValue, k string) (jetstream.KeyValueEntry, error) {
	e, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	return e, err
}

// A processing value is "processing:<lease ms>:<holder token>"; the lease
// lets another worker compute Claim.Retry, the holder token (see
// holderToken) names who holds it.
func processingValue(lease time.Duration, holderTok string) string {
	return processingPrefix + strconv.FormatInt(lease.Milliseconds(), 10) + ":" + holderTok
}

func parseProcessing(rest string) (time.Duration, string, error) {
	l, token, ok := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(l, 10, 64)
	if !ok || err != nil || token == "" {
		return 0, "", fmt.Errorf("unexpected lease %q", rest)
	}
	return time.Duration(n) * time.Millisecond, token, nil
}

// wholeSeconds rounds a lease up to the server's TTL unit.
func wholeSeconds(lease time.Duration) time.Duration {
	return (lease + time.Second - 1).Truncate(time.Second)
}

// writeLease stores a processing value with a fresh TTL over revision rev
// of the entry (compare-and-set) and returns the new revision.
func (l *KV) writeLease(ctx context.Context, k string, val []byte, rev uint64, lease time.Duration) (uint64, error) {
	msg := &nats.Msg{Subject: l.subject + k, Data: val}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(lease))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// Claim implements Ledger. The lease is rounded up to whole seconds.
func (l *KV) Claim(ctx context.Context, key string, lease time.Duration, h Holder) (Claim, error) {
	if err := checkLease("claim", key, lease); err != nil {
		return Claim{}, err
	}
	if err := h.check(key); err != nil {
		return Claim{}, err
	}
	lease = wholeSeconds(lease)
	k := encodeKey(key)
	holderTok := holderToken(h)
	val := []byte(processingValue(lease, holderTok))
	for range maxAttempts {
		rev, err := l.kv.Create(ctx, k, val, jetstream.KeyTTL(lease))
		if err == nil {
			return Claim{State: StateProcessing, Token: leaseToken(holderTok, rev)}, nil
		}
		if !conflict(err) {
			return Claim{}, l.fail("claim", key, err)
		}
		e, err := get(ctx, l.kv, k)
		if err != nil {
			return Claim{}, l.fail("claim", key, err)
		}
		if e == nil {
			continue // released or expired in between: try again
		}
		st, rest, err := parseState(string(e.Value()))
		if err != nil {
			return Claim{}, l.fail("claim", key, err)
		}
		c := Claim{State: st}
		if st == StateProcessing {
			theirs, theirTok, err := parseProcessing(rest)
			if err != nil {
				return Claim{}, l.fail("claim", key, err)
			}
			if holder, ok := parseHolder(theirTok); ok && h.takesOver(holder) {
				rev, err := l.writeLease(ctx, k, val, e.Revision(), lease)
				if err == nil {
					return Claim{State: StateProcessing, Token: leaseToken(holderTok, rev), TookOver: true}, nil
				}
				if !conflict(err) {
					return Claim{}, l.fail("claim", key, err)
				}
				continue // renewed, released or taken meanwhile: look again
			}
			// Past the lease but not yet removed: the server's expiry is
			// due any moment, so ask for a short wait. Created is the last
			// write, so a renewed lease counts from its renewal.
			c.Retry = max(e.Created().Add(theirs).Sub(l.now()), 100*time.Millisecond)
		}
		return c, nil
	}
	return Claim{}, l.fail("claim", key, errContended)
}

// A KV lease token is the holder token written into the entry, "@", and
// the revision the last write gave the entry. Renew, Done, Dead and
// Release write against that revision (compare-and-set) without reading
// the entry first: while the revision is unchanged the entry is our lease;
// once it expired or was replaced, the write fails and the lease is lost.
func leaseToken(holderTok string, rev uint64) string {
	return holderTok + "@" + strconv.FormatUint(rev, 10)
}

// parseLeaseToken splits a lease token; ok is false for a token this
// ledger did not issue. The revision follows the last '@' (an instance id
// may hold one).
func parseLeaseToken(token string) (holderTok string, rev uint64, ok bool) {
	i := strings.LastIndexByte(token, '@')
	if i <= 0 {
		return "", 0, false
	}
	rev, err := strconv.ParseUint(token[i+1:], 10, 64)
	return token[:i], rev, err == nil && rev > 0
}

// leaseRevision is the revision in a lease token.
func leaseRevision(token string) (uint64, bool) {
	_, rev, ok := parseLeaseToken(token)
	return rev, ok
}

// Renew implements Ledger: it rewrites the entry over its revision with a
// fresh TTL (rounded up to whole seconds), so the token changes.
func (l *KV) Renew(ctx context.Context, key, token string, lease time.Duration) (string, error) {
	if err := checkLease("renew", key, lease); err != nil {
		return "", err
	}
	holderTok, rev, ok := parseLeaseToken(token)
	if !ok {
		return "", leaseLost("renew", key)
	}
	lease = wholeSeconds(lease)
	newRev, err := l.writeLease(ctx, encodeKey(key), []byte(processingValue(lease, holderTok)), rev, lease)
	if err != nil {
		if conflict(err) {
			return "", leaseLost("renew", key) // expired (marker), finished or taken meanwhile
		}
		return "", l.fail("renew", key, err)
	}
	return leaseToken(holderTok, newRev), nil
}

// Done implements Ledger.
func (l *KV) Done(ctx context.Context, key, token string) error {
	return l.finish(ctx, "done", key, token, StateDone)
}

// Dead implements Ledger.
func (l *KV) Dead(ctx context.Context, key, token string) error {
	return l.finish(ctx, "dead", key, token, StateDead)
}

func (l *KV) finish(ctx context.Context, op, key, token string, to State) error {
	rev, ok := leaseRevision(token)
	if !ok {
		return leaseLost(op, key)
	}
	// Update writes no Nats-TTL, so the entry now lives for the bucket TTL.
	if _, err := l.kv.Update(ctx, encodeKey(key), []byte(to), rev); err != nil {
		if conflict(err) {
			return leaseLost(op, key) // expired (marker) or replaced meanwhile
		}
		return l.fail(op, key, err)
	}
	return nil
}

// Release implements Ledger.
func (l *KV) Release(ctx context.Context, key, token string) error {
	rev, ok := leaseRevision(token)
	if !ok {
		return leaseLost("release", key)
	}
	if err := l.kv.Delete(ctx, encodeKey(key), jetstream.LastRevision(rev)); err != nil {
		if conflict(err) {
			return leaseLost("release", key)
		}
		return l.fail("release", key, err)
	}
	return nil
}

// Reopen implements Ledger.
func (l *KV) Reopen(ctx context.Context, key string) error {
	k := encodeKey(key)
	for range maxAttempts {
		e, err := get(ctx, l.kv, k)
		if err != nil {
			return l.fail("reopen", key, err)
		}
		if e == nil {
			return nil
		}
		st, _, err := parseState(string(e.Value()))
		if err != nil {
			return l.fail("reopen", key, err)
		}
		if st != StateDead {
			return notDead(key, st)
		}
		err = l.kv.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
		if err == nil {
			return nil
		}
		if !conflict(err) {
			return l.fail("reopen", key, err)
		}
	}
	return l.fail("reopen", key, errContended)
}

// Get implements Ledger.
func (l *KV) Get(ctx context.Context, key string) (State, bool, error) {
	e, err := get(ctx, l.kv, encodeKey(key))
	if err != nil {
		return "", false, l.fail("get", key, err)
	}
	if e == nil {
		return "", false, nil
	}
	st, _, err := parseState(string(e.Value()))
	if err != nil {
		return "", false, l.fail("get", key, err)
	}
	return st, true, nil
}

// Applied implements Versions.
func (l *KV) Applied(ctx context.Context, key string) (uint64, error) {
	e, err := get(ctx, l.versions, encodeKey(key))
	if err != nil {
		return 0, l.fail("applied", key, err)
	}
	if e == nil {
		return 0, nil
	}
	n, err := parseSeq(string(e.Value()))
	if err != nil {
		return 0, l.fail("applied", key, err)
	}
	return n, nil
}

// Advance implements Versions with a read-then-CAS loop.
func (l *KV) Advance(ctx context.Context, key string, seq uint64) (bool, error) {
	if seq == 0 {
		return false, nil // never greater than "none"
	}
	k := encodeKey(key)
	val := []byte(strconv.FormatUint(seq, 10))
	for range maxAttempts {
		e, err := get(ctx, l.versions, k)
		if err != nil {
			return false, l.fail("advance", key, err)
		}
		if e == nil {
			_, err = l.versions.Create(ctx, k, val)
		} else {
			cur, perr := parseSeq(string(e.Value()))
			if perr != nil {
				return false, l.fail("advance", key, perr)
			}
			if seq <= cur {
				return false, nil
			}
			_, err = l.versions.Update(ctx, k, val, e.Revision())
		}
		if err == nil {
			return true, nil
		}
		if !conflict(err) {
			return false, l.fail("advance", key, err)
		}
	}
	return false, l.fail("advance", key, errContended)
}

// encodeKey maps any string to a valid KV key ([-/_=.a-zA-Z0-9]+, no
// leading or trailing '.'), deterministically and injectively: ASCII
// letters, digits and '-' stay; every other byte, '_' included, becomes
// "_XX" (upper-case hex). Escapes are fixed-width and '_' never appears
// unescaped, so two keys never share an encoding; the empty key becomes a
// lone "_", which no escape produces. "okta:E-1" becomes "okta_3AE-1".
func encodeKey(s string) string {
	if s == "" {
		return "_"
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		}
	}
	return b.String()
}
