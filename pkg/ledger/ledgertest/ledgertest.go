// Package ledgertest is the contract every ledger backend must satisfy:
// each backend's tests call Run with a constructor for a fresh instance.
package ledgertest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"keycard/pkg/ledger"
)

// DoneTTL is the doneTTL the constructor passed to Run must use; the suite
// checks that done and dead keys live that long and no longer.
const DoneTTL = 3 * time.Second

// lease is long enough that no test sees it expire unless it waits for
// that on purpose, and shorter than DoneTTL (the KV backend's bucket TTL
// also bounds a lease).
const lease = 2 * time.Second

// shortLease is for the expiry tests: KeyTTL has one-second granularity.
const shortLease = time.Second

// Run runs the contract against ledgers built by newLedger, which must
// return a fresh, empty ledger and version guard built with DoneTTL and
// clean them up with t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, newLedger func(t *testing.T) (ledger.Ledger, ledger.Versions)) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, l ledger.Ledger, v ledger.Versions)
	}{
		{"ClaimDoneClaimSeesDone", testClaimDone},
		{"ConcurrentClaims", testConcurrentClaims},
		{"LeaseExpiry", testLeaseExpiry},
		{"StaleToken", testStaleToken},
		{"ReleaseLetsRetryClaim", testRelease},
		{"DeadReopenClaim", testDeadReopen},
		{"ReopenNotDead", testReopenNotDead},
		{"InvalidLease", testInvalidLease},
		{"RenewKeepsLease", testRenewKeepsLease},
		{"RenewLost", testRenewLost},
		{"Takeover", testTakeover},
		{"ConcurrentTakeover", testConcurrentTakeover},
		{"DoneTTL", testDoneTTL},
		{"VersionsSequence", testVersionsSequence},
		{"VersionsConcurrent", testVersionsConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, v := newLedger(t)
			tt.run(t, l, v)
		})
	}
}

// keys exercise key encoding: each must be distinct from the others.
var keys = []string{
	"okta:evt-1",
	"okta_3Aevt-1", // the escaped form of the key above, for an escaping encoder
	"okta.evt-1",
	"okta/evt-1",
	"google:a b*c>d",
	"slack:ünïcode:😀",
	"",
	"_",
}

func testClaimDone(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	tokens := make(map[string]string)
	for _, k := range keys {
		c := claim(t, l, k, lease)
		if !c.Acquired() || c.Token == "" || c.Retry != 0 {
			t.Fatalf("Claim(%q) = %+v; want acquired with a token", k, c)
		}
		wantState(t, l, k, ledger.StateProcessing)
		tokens[k] = c.Token
	}
	for _, k := range keys {
		if err := l.Done(ctx, k, tokens[k]); err != nil {
			t.Fatalf("Done(%q): %v", k, err)
		}
		wantState(t, l, k, ledger.StateDone)
		if c := claim(t, l, k, lease); c != (ledger.Claim{State: ledger.StateDone}) {
			t.Fatalf("Claim(%q) after Done = %+v; want {State: done}", k, c)
		}
	}
}

func testConcurrentClaims(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	tests := []struct {
		name    string
		key     string
		prepare func(t *testing.T, key string)
	}{
		{"fresh", "app:fresh", func(*testing.T, string) {}},
		{"after release", "app:released", func(t *testing.T, key string) {
			c := claim(t, l, key, lease)
			if err := l.Release(ctx, key, c.Token); err != nil {
				t.Fatalf("Release: %v", err)
			}
		}},
		{"after reopen", "app:reopened", func(t *testing.T, key string) {
			c := claim(t, l, key, lease)
			if err := l.Dead(ctx, key, c.Token); err != nil {
				t.Fatalf("Dead: %v", err)
			}
			if err := l.Reopen(ctx, key); err != nil {
				t.Fatalf("Reopen: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.prepare(t, tt.key)
			const n = 50
			claims := make([]ledger.Claim, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					claims[i], errs[i] = l.Claim(ctx, tt.key, lease, ledger.NewHolder(""))
				})
			}
			close(start)
			wg.Wait()
			acquired := 0
			for i, c := range claims {
				if errs[i] != nil {
					t.Fatalf("Claim %d: %v", i, errs[i])
				}
				switch {
				case c.Acquired():
					acquired++
				case c.State != ledger.StateProcessing || c.Token != "" || c.Retry <= 0 || c.Retry > lease:
					t.Errorf("Claim %d = %+v; want processing by another, 0 < Retry ≤ %v", i, c, lease)
				}
			}
			if acquired != 1 {
				t.Fatalf("%d of %d concurrent claims acquired; want exactly 1", acquired, n)
			}
		})
	}
}

func testLeaseExpiry(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const key = "app:expiring"
	start := time.Now()
	first := claim(t, l, key, shortLease)
	if !first.Acquired() {
		t.Fatalf("first Claim = %+v; want acquired", first)
	}
	if c := claim(t, l, key, lease); c.Acquired() || c.State != ledger.StateProcessing || c.Retry <= 0 || c.Retry > shortLease {
		t.Fatalf("Claim during the lease = %+v; want processing, 0 < Retry ≤ %v", c, shortLease)
	}
	second := eventually(t, 3*time.Second, func() (ledger.Claim, bool) {
		c := claim(t, l, key, lease)
		return c, c.Acquired()
	})
	if elapsed := time.Since(start); elapsed < shortLease {
		t.Fatalf("claimed again after %v; the lease was %v", elapsed, shortLease)
	}
	if second.Token == first.Token {
		t.Fatalf("new lease reuses token %q", first.Token)
	}
	if err := l.Done(ctx, key, first.Token); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Fatalf("Done with the expired token = %v; want ErrLeaseLost", err)
	}
	wantState(t, l, key, ledger.StateProcessing)
	if err := l.Done(ctx, key, second.Token); err != nil {
		t.Fatalf("Done with the new token: %v", err)
	}
}

func testStaleToken(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	ops := []struct {
		name string
		op   func(ctx context.Context, key, token string) error
	}{
		{"Done", l.Done},
		{"Dead", l.Dead},
		{"Release", l.Release},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			key := "app:stale-" + o.name
			if err := o.op(ctx, key, "no-such-token"); !errors.Is(err, ledger.ErrLeaseLost) {
				t.Fatalf("%s on an absent key = %v; want ErrLeaseLost", o.name, err)
			}
			c := claim(t, l, key, lease)
			if err := o.op(ctx, key, "no-such-token"); !errors.Is(err, ledger.ErrLeaseLost) {
				t.Fatalf("%s with another token = %v; want ErrLeaseLost", o.name, err)
			}
			wantState(t, l, key, ledger.StateProcessing)
			if err := o.op(ctx, key, c.Token); err != nil {
				t.Fatalf("%s with our token: %v", o.name, err)
			}
			if err := o.op(ctx, key, c.Token); !errors.Is(err, ledger.ErrLeaseLost) {
				t.Fatalf("second %s with the same token = %v; want ErrLeaseLost", o.name, err)
			}
		})
	}
}

func testRelease(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const key = "app:released"
	first := claim(t, l, key, lease)
	if err := l.Release(ctx, key, first.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantAbsent(t, l, key)
	retry := claim(t, l, key, lease)
	if !retry.Acquired() || retry.Token == first.Token {
		t.Fatalf("Claim after Release = %+v; want acquired with a new token", retry)
	}
	if err := l.Release(ctx, key, first.Token); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Fatalf("Release with the old token = %v; want ErrLeaseLost", err)
	}
	if err := l.Done(ctx, key, retry.Token); err != nil {
		t.Fatalf("Done: %v", err)
	}
}

func testDeadReopen(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const key = "app:dead"
	if err := l.Reopen(ctx, key); err != nil {
		t.Fatalf("Reopen on an absent key: %v", err)
	}
	c := claim(t, l, key, lease)
	if err := l.Dead(ctx, key, c.Token); err != nil {
		t.Fatalf("Dead: %v", err)
	}
	wantState(t, l, key, ledger.StateDead)
	if got := claim(t, l, key, lease); got != (ledger.Claim{State: ledger.StateDead}) {
		t.Fatalf("Claim on a dead key = %+v; want {State: dead}", got)
	}
	if err := l.Reopen(ctx, key); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	wantAbsent(t, l, key)
	if got := claim(t, l, key, lease); !got.Acquired() {
		t.Fatalf("Claim after Reopen = %+v; want acquired", got)
	}
}

func testReopenNotDead(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	tests := []struct {
		name   string
		key    string
		finish bool
		want   ledger.State
	}{
		{"done", "app:reopen-done", true, ledger.StateDone},
		{"processing", "app:reopen-processing", false, ledger.StateProcessing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := claim(t, l, tt.key, lease)
			if tt.finish {
				if err := l.Done(ctx, tt.key, c.Token); err != nil {
					t.Fatalf("Done: %v", err)
				}
			}
			if err := l.Reopen(ctx, tt.key); !errors.Is(err, ledger.ErrNotDead) {
				t.Fatalf("Reopen = %v; want ErrNotDead", err)
			}
			wantState(t, l, tt.key, tt.want)
		})
	}
}

func testInvalidLease(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	for _, d := range []time.Duration{0, -time.Second} {
		if c, err := l.Claim(t.Context(), "app:invalid", d, ledger.NewHolder("")); err == nil {
			t.Fatalf("Claim with lease %v = %+v; want an error", d, c)
		}
	}
	for _, h := range []ledger.Holder{{Instance: "i"}, {Instance: "i", Boot: "a:b"}} {
		if c, err := l.Claim(t.Context(), "app:invalid", lease, h); err == nil {
			t.Fatalf("Claim by %+v = %+v; want an error (boot id empty or with ':')", h, c)
		}
	}
	wantAbsent(t, l, "app:invalid")
}

// A lease renewed before it ends outlives its duration many times over
// and nobody else may take it meanwhile; once renewals stop it lapses
// within about a lease, and its last token is then lost.
func testRenewKeepsLease(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const key = "app:renewed"
	other := ledger.NewHolder("other-instance")
	c := claimAs(t, l, key, shortLease, ledger.NewHolder("holder"))
	token := c.Token
	start := time.Now()
	for time.Since(start) < 3*shortLease {
		time.Sleep(shortLease / 4)
		var err error
		if token, err = l.Renew(ctx, key, token, shortLease); err != nil {
			t.Fatalf("Renew after %v: %v", time.Since(start), err)
		}
		if got := claimAs(t, l, key, lease, other); got.Acquired() || got.State != ledger.StateProcessing || got.Retry <= 0 {
			t.Fatalf("Claim by another during a renewed lease (after %v) = %+v; want processing with a Retry", time.Since(start), got)
		}
	}
	stopped := time.Now()
	next := eventually(t, 3*time.Second, func() (ledger.Claim, bool) {
		c := claimAs(t, l, key, lease, other)
		return c, c.Acquired()
	})
	if lapse := time.Since(stopped); lapse > shortLease+1500*time.Millisecond {
		t.Fatalf("lease lapsed %v after the last renewal; want about %v", lapse, shortLease)
	}
	if _, err := l.Renew(ctx, key, token, shortLease); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Fatalf("Renew of the lapsed lease = %v; want ErrLeaseLost", err)
	}
	if err := l.Done(ctx, key, next.Token); err != nil {
		t.Fatalf("Done by the new holder: %v", err)
	}
}

func testRenewLost(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	tests := []struct {
		name  string
		after func(key, token string) string // returns the token to renew with
		want  ledger.State                   // state left afterwards; "" for absent
	}{
		{"another token", func(string, string) string { return "no-such-token" }, ledger.StateProcessing},
		{"released", func(key, tok string) string { mustOK(t, l.Release(ctx, key, tok)); return tok }, ""},
		{"done", func(key, tok string) string { mustOK(t, l.Done(ctx, key, tok)); return tok }, ledger.StateDone},
		{"dead", func(key, tok string) string { mustOK(t, l.Dead(ctx, key, tok)); return tok }, ledger.StateDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "app:renew-lost-" + tt.name
			c := claim(t, l, key, lease)
			tok := tt.after(key, c.Token)
			if _, err := l.Renew(ctx, key, tok, lease); !errors.Is(err, ledger.ErrLeaseLost) {
				t.Fatalf("Renew = %v; want ErrLeaseLost", err)
			}
			if tt.want == "" {
				wantAbsent(t, l, key)
			} else {
				wantState(t, l, key, tt.want)
			}
		})
	}
	if _, err := l.Renew(ctx, "app:renew-never-claimed", "no-such-token", lease); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Fatalf("Renew of a key never claimed = %v; want ErrLeaseLost", err)
	}
	c := claim(t, l, "app:renew-invalid", lease)
	if _, err := l.Renew(ctx, "app:renew-invalid", c.Token, 0); err == nil || errors.Is(err, ledger.ErrLeaseLost) {
		t.Fatalf("Renew with lease 0 = %v; want an invalid-argument error", err)
	}
}

// A restarted process (same instance, new boot) takes its previous
// incarnation's lease at once; the same process (same boot), another
// instance, or no instance at all must wait; a finished key stays
// finished.
func testTakeover(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const inst = "pod-0:/data@host%1" // ':' '@' '%' must not confuse the stored value
	tests := []struct {
		name     string
		holder   ledger.Holder
		by       ledger.Holder
		finish   bool
		takeOver bool
	}{
		{"restarted process", ledger.Holder{Instance: inst, Boot: "boot1"}, ledger.Holder{Instance: inst, Boot: "boot2"}, false, true},
		{"same process", ledger.Holder{Instance: inst, Boot: "boot1"}, ledger.Holder{Instance: inst, Boot: "boot1"}, false, false},
		{"another instance", ledger.Holder{Instance: inst, Boot: "boot1"}, ledger.Holder{Instance: inst + "x", Boot: "boot2"}, false, false},
		{"instance prefix", ledger.Holder{Instance: inst + "x", Boot: "boot1"}, ledger.Holder{Instance: inst, Boot: "boot2"}, false, false},
		{"no instance", ledger.Holder{Boot: "boot1"}, ledger.Holder{Boot: "boot2"}, false, false},
		{"done", ledger.Holder{Instance: inst, Boot: "boot1"}, ledger.Holder{Instance: inst, Boot: "boot2"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "app:takeover-" + tt.name
			first := claimAs(t, l, key, lease, tt.holder)
			if !first.Acquired() || first.TookOver {
				t.Fatalf("first Claim = %+v; want acquired, not taken over", first)
			}
			if tt.finish {
				mustOK(t, l.Done(ctx, key, first.Token))
			}
			got := claimAs(t, l, key, lease, tt.by)
			switch {
			case tt.takeOver:
				if !got.Acquired() || !got.TookOver || got.Token == first.Token {
					t.Fatalf("Claim by the restarted holder = %+v; want taken over with a new token", got)
				}
				if _, err := l.Renew(ctx, key, first.Token, lease); !errors.Is(err, ledger.ErrLeaseLost) {
					t.Fatalf("Renew by the old incarnation = %v; want ErrLeaseLost", err)
				}
				if err := l.Done(ctx, key, first.Token); !errors.Is(err, ledger.ErrLeaseLost) {
					t.Fatalf("Done by the old incarnation = %v; want ErrLeaseLost", err)
				}
				tok, err := l.Renew(ctx, key, got.Token, lease)
				if err != nil {
					t.Fatalf("Renew by the new holder: %v", err)
				}
				mustOK(t, l.Done(ctx, key, tok))
			case tt.finish:
				if got != (ledger.Claim{State: ledger.StateDone}) {
					t.Fatalf("Claim on a done key = %+v; want {State: done}", got)
				}
			default:
				if got.Acquired() || got.TookOver || got.State != ledger.StateProcessing || got.Retry <= 0 || got.Retry > lease {
					t.Fatalf("Claim = %+v; want processing by another, 0 < Retry ≤ %v", got, lease)
				}
				mustOK(t, l.Done(ctx, key, first.Token)) // the holder still has it
			}
		})
	}
}

// Many goroutines of one restarted process race to take over one lease:
// exactly one wins, the rest see it held by their own live process.
func testConcurrentTakeover(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	const key, n = "app:takeover-race", 50
	claimAs(t, l, key, lease, ledger.Holder{Instance: "i", Boot: "old"})
	restarted := ledger.Holder{Instance: "i", Boot: "new"}
	claims := make([]ledger.Claim, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			claims[i], errs[i] = l.Claim(ctx, key, lease, restarted)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, c := range claims {
		if errs[i] != nil {
			t.Fatalf("Claim %d: %v", i, errs[i])
		}
		if c.Acquired() {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent takeovers acquired; want exactly 1", won, n)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testDoneTTL(t *testing.T, l ledger.Ledger, _ ledger.Versions) {
	ctx := t.Context()
	tests := []struct {
		name   string
		finish func(ctx context.Context, key, token string) error
		want   ledger.State
	}{
		{"done", l.Done, ledger.StateDone},
		{"dead", l.Dead, ledger.StateDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "app:ttl-" + tt.name
			c := claim(t, l, key, shortLease)
			start := time.Now()
			if err := tt.finish(ctx, key, c.Token); err != nil {
				t.Fatalf("finish: %v", err)
			}
			// Outlives the lease it replaced (KV: Update drops the key TTL).
			time.Sleep(shortLease + 500*time.Millisecond)
			wantState(t, l, key, tt.want)
			eventually(t, DoneTTL+3*time.Second, func() (struct{}, bool) {
				_, ok, err := l.Get(ctx, key)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				return struct{}{}, !ok
			})
			if elapsed := time.Since(start); elapsed < DoneTTL {
				t.Fatalf("%s expired after %v; want at least DoneTTL %v", tt.name, elapsed, DoneTTL)
			}
			if got := claim(t, l, key, lease); !got.Acquired() {
				t.Fatalf("Claim after DoneTTL = %+v; want acquired", got)
			}
		})
	}
}

func testVersionsSequence(t *testing.T, _ ledger.Ledger, v ledger.Versions) {
	ctx := t.Context()
	const key = "okta:person/1"
	if got, err := v.Applied(ctx, key); err != nil || got != 0 {
		t.Fatalf("Applied on an absent key = %d, %v; want 0", got, err)
	}
	steps := []struct {
		seq       uint64
		wantMoved bool
		wantSeq   uint64
	}{
		{0, false, 0},
		{5, true, 5},
		{5, false, 5},
		{3, false, 5},
		{7, true, 7},
		{10, true, 10},
		{9, false, 10}, // a shorter decimal string
		{math.MaxUint64 - 1, true, math.MaxUint64 - 1},
		{math.MaxUint64, true, math.MaxUint64}, // beyond float64 precision
		{math.MaxUint64 - 1, false, math.MaxUint64},
	}
	for _, s := range steps {
		moved, err := v.Advance(ctx, key, s.seq)
		if err != nil || moved != s.wantMoved {
			t.Fatalf("Advance(%d) = %v, %v; want %v", s.seq, moved, err, s.wantMoved)
		}
		if got, err := v.Applied(ctx, key); err != nil || got != s.wantSeq {
			t.Fatalf("Applied after Advance(%d) = %d, %v; want %d", s.seq, got, err, s.wantSeq)
		}
	}
	if got, err := v.Applied(ctx, "okta:person/2"); err != nil || got != 0 {
		t.Fatalf("Applied on another key = %d, %v; want 0", got, err)
	}
}

func testVersionsConcurrent(t *testing.T, _ ledger.Ledger, v ledger.Versions) {
	ctx := t.Context()
	const key, n = "okta:person/concurrent", 50
	var (
		writers sync.WaitGroup
		reader  sync.WaitGroup
		mu      sync.Mutex
		moved   []uint64
	)
	done := make(chan struct{})
	reader.Go(func() { // the stored value never goes backwards
		var last uint64
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := v.Applied(ctx, key)
			if err != nil || got < last {
				t.Errorf("Applied = %d, %v after %d; want non-decreasing", got, err, last)
				return
			}
			last = got
		}
	})
	start := make(chan struct{})
	for i := range n {
		seq := uint64((i*37)%n + 1) // 1..n, shuffled
		writers.Go(func() {
			<-start
			ok, err := v.Advance(ctx, key, seq)
			if err != nil {
				t.Errorf("Advance(%d): %v", seq, err)
				return
			}
			if ok {
				mu.Lock()
				moved = append(moved, seq)
				mu.Unlock()
			}
		})
	}
	close(start)
	writers.Wait()
	close(done)
	reader.Wait()
	if got, err := v.Applied(ctx, key); err != nil || got != n {
		t.Fatalf("Applied = %d, %v; want %d", got, err, n)
	}
	seen := make(map[uint64]bool)
	for _, s := range moved {
		if seen[s] {
			t.Fatalf("Advance(%d) moved twice", s)
		}
		seen[s] = true
	}
	if !seen[n] {
		t.Fatalf("Advance(%d) did not report moving (moved: %v)", n, moved)
	}
}

// claim claims key for a holder of its own with no instance (it never
// takes anything over).
func claim(t *testing.T, l ledger.Ledger, key string, d time.Duration) ledger.Claim {
	t.Helper()
	return claimAs(t, l, key, d, ledger.NewHolder(""))
}

func claimAs(t *testing.T, l ledger.Ledger, key string, d time.Duration, h ledger.Holder) ledger.Claim {
	t.Helper()
	c, err := l.Claim(t.Context(), key, d, h)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	return c
}

func wantState(t *testing.T, l ledger.Ledger, key string, want ledger.State) {
	t.Helper()
	got, ok, err := l.Get(t.Context(), key)
	if err != nil || !ok || got != want {
		t.Fatalf("Get(%q) = %q, %v, %v; want %q", key, got, ok, err, want)
	}
}

func wantAbsent(t *testing.T, l ledger.Ledger, key string) {
	t.Helper()
	got, ok, err := l.Get(t.Context(), key)
	if err != nil || ok {
		t.Fatalf("Get(%q) = %q, %v, %v; want absent", key, got, ok, err)
	}
}

// eventually polls f every 50ms until it reports true, failing after within.
func eventually[T any](t *testing.T, within time.Duration, f func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
