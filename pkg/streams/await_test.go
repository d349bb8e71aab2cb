package streams

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A start-up read waits out a leader election (no responders) and no
// other failure, and gives up when its context does.
func TestAwaitLeader(t *testing.T) {
	t.Parallel()
	calls := 0
	err := AwaitLeader(t.Context(), func() error {
		if calls++; calls < 3 {
			return nats.ErrNoResponders
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("AwaitLeader = %v after %d reads, want nil after 3", err, calls)
	}
	boom := errors.New("bucket gone")
	calls = 0
	if err := AwaitLeader(t.Context(), func() error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("AwaitLeader = %v after %d reads, want the error at once", err, calls)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
	defer cancel()
	if err := AwaitLeader(ctx, func() error { return nats.ErrNoResponders }); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("AwaitLeader = %v, want no responders once the context ends", err)
	}
}
