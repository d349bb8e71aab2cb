package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshots reads every person's last snapshot, for a whole-company pass
// (a reconcile, a policy change, provctl plan). It watches the bucket
// rather than reading key by key: one subscription delivers every current
// value, so 10,000 people are one pass, not 10,000 round trips. A bucket
// that does not exist yet holds nobody.
func Snapshots(ctx context.Context, js jetstream.JetStream) ([]Snapshot, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Bucket, err)
	}
	defer func() { _ = w.Stop() }()
	var out []Snapshot
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", Bucket, ctx.Err())
		case entry := <-w.Updates():
			if entry == nil { // every current value has been delivered
				return out, nil
			}
			var s Snapshot
			if err := json.Unmarshal(entry.Value(), &s); err != nil {
				return nil, fmt.Errorf("decode snapshot %s: %w", entry.Key(), err)
			}
			out = append(out, s)
		}
	}
}
