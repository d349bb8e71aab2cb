package normalize

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/streams"
)

// Snapshots reads every person's last snapshot, for a whole-company pass
// (a reconcile, a policy change, provctl plan): 10,000 people are one
// watch, not 10,000 round trips.
func Snapshots(ctx context.Context, js jetstream.JetStream) ([]Snapshot, error) {
	var out []Snapshot
	err := streams.EachValue(ctx, js, Bucket, ">", func(entry jetstream.KeyValueEntry) error {
		var s Snapshot
		if err := json.Unmarshal(entry.Value(), &s); err != nil {
			return fmt.Errorf("decode snapshot %s: %w", entry.Key(), err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}
