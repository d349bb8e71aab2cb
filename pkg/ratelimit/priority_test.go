package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keycard/pkg/ratelimit"
)

// A High waiter arriving behind a queue of Normal ones takes the next
// token: under first-come order it would be served last.
func TestLocalHighPriorityGoesFirst(t *testing.T) {
	t.Parallel()
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{"okta": {PerMinute: 600, Burst: 1}})
	if err := lim.Wait(t.Context(), "okta"); err != nil { // spend the burst
		t.Fatal(err)
	}
	const normals = 10
	var served atomic.Int32
	var wg sync.WaitGroup
	for range normals {
		wg.Go(func() {
			if err := lim.Wait(t.Context(), "okta"); err != nil {
				t.Error(err)
			}
			served.Add(1)
		})
	}
	time.Sleep(50 * time.Millisecond) // let the normals queue
	if err := lim.Wait(ratelimit.WithPriority(t.Context(), ratelimit.High), "okta"); err != nil {
		t.Fatal(err)
	}
	if n := served.Load(); n > 1 {
		t.Fatalf("%d normal waiters were served before the high-priority one; want at most 1", n)
	}
	wg.Wait()
}
