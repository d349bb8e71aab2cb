package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EachValue calls fn with every current entry of bucket whose key matches
// filter (">" for all), in one watch rather than a read per key, for a
// whole-company pass. A bucket that does not exist yet holds nothing.
func EachValue(ctx context.Context, js jetstream.JetStream, bucket, filter string, fn func(jetstream.KeyValueEntry) error) error {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("key-value bucket %s: %w", bucket, err)
	}
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("read %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read %s: %w", bucket, ctx.Err())
		case entry := <-w.Updates():
			if entry == nil { // every current value has been delivered
				return nil
			}
			if err := fn(entry); err != nil {
				return err
			}
		}
	}
}

// AwaitLeader runs read until it answers or ctx ends, again while the
// server says nobody answers (a stream or bucket just created on a
// cluster, before its leader is elected): start-up reads wait the
// election out instead of failing the process.
func AwaitLeader(ctx context.Context, read func() error) error {
	for {
		err := read()
		if !errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
