// Package benchkit holds what the bench drivers share: emptying a
// throwaway server of Keycard's state and waiting for async publishes.
package benchkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/streams"
)

// buckets are the KV buckets Keycard's services create.
var buckets = []string{"employees", "normalizer_state", "idem", "idem_versions", "accounts", "guard", "reconcile"}

// Reset deletes Keycard's streams and buckets on a throwaway server (an
// earlier bench section may have filled them) and creates empty streams.
func Reset(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range streams.Configs(streams.Options{}) {
		if err := js.DeleteStream(ctx, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reset %s: %w", cfg.Name, err)
		}
	}
	for _, b := range buckets {
		if err := js.DeleteKeyValue(ctx, b); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("reset bucket %s: %w", b, err)
		}
	}
	return streams.Ensure(ctx, js, streams.Options{})
}

// Await waits until every async publish is acknowledged.
func Await(ctx context.Context, js jetstream.JetStream, futures []jetstream.PubAckFuture) error {
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		}
	}
	return nil
}
