package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keycard/pkg/ratelimit"
)

// A High waiter arriving behind a queue of Normal ones takes the next
// token: under first-come order it would be served last. With Redis the
// High waiter is on another replica than the Normal ones.
func TestHighPriorityGoesFirst(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			open := b.open(t)
			limits := map[string]ratelimit.Limit{"okta": {PerMinute: 600, Burst: 1}}
			normal, high := open(limits), open(limits)
			if !b.shared {
				high = normal
			}
			if err := normal.Wait(t.Context(), "okta"); err != nil { // spend the burst
				t.Fatal(err)
			}
			const normals = 10
			var served atomic.Int32
			var wg sync.WaitGroup
			for range normals {
				wg.Go(func() {
					if err := normal.Wait(t.Context(), "okta"); err != nil {
						t.Error(err)
					}
					served.Add(1)
				})
			}
			time.Sleep(50 * time.Millisecond) // let the normals queue
			if err := high.Wait(ratelimit.WithPriority(t.Context(), ratelimit.High), "okta"); err != nil {
				t.Fatal(err)
			}
			// One Normal waiter may already hold a request in flight as the
			// High one arrives.
			if n := served.Load(); n > 1 {
				t.Fatalf("%d normal waiters were served before the high-priority one; want at most 1", n)
			}
			wg.Wait()
		})
	}
}

// A stream of High waiters does not stop Normal ones for good: each
// Normal waiter stands aside a bounded number of times.
func TestHighPriorityCannotStarveNormal(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			open := b.open(t)
			limits := map[string]ratelimit.Limit{"okta": {PerMinute: 6000, Burst: 1}}
			lim := open(limits)
			hctx := ratelimit.WithPriority(t.Context(), ratelimit.High)
			stop := make(chan struct{})
			var highs atomic.Int32
			var wg sync.WaitGroup
			for range 4 { // always a High waiter queued
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if err := lim.Wait(hctx, "okta"); err != nil {
							return
						}
						highs.Add(1)
					}
				})
			}
			time.Sleep(20 * time.Millisecond)
			if err := lim.Wait(t.Context(), "okta"); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			// Streak cap 8 per Normal waiter; generous for a busy machine.
			if n := highs.Load(); n > 200 {
				t.Fatalf("the Normal waiter was served after %d High ones", n)
			}
		})
	}
}
