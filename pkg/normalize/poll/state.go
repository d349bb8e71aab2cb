package poll

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errConflict means another writer changed the key since it was read.
var errConflict = errors.New("state changed concurrently")

// state keeps times in the KV bucket. The bucket is opened on first use
// and the handle kept, so a NATS outage at start-up is one failed tick,
// not a crash.
type state struct {
	js       JetStream
	bucket   string
	replicas int

	mu sync.Mutex
	kv jetstream.KeyValue
}

func (s *state) open(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.bucket,
		Description: "Normalizer state: changed-since cursor, last sweep",
		History:     5, // the recent cursors, for an operator reading the history
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		// Someone (another replica, the normalizer) created it with other
		// settings: use it as it is rather than fight over its config.
		kv, err = s.js.KeyValue(ctx, s.bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", s.bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// get returns the time stored under key and its revision; revision 0 means
// there is none.
func (s *state) get(ctx context.Context, key string) (time.Time, uint64, error) {
	kv, err := s.open(ctx)
	if err != nil {
		return time.Time{}, 0, err
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read %s/%s: %w", s.bucket, key, err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		// Refuse rather than guess: a guessed cursor could skip changes.
		return time.Time{}, 0, fmt.Errorf("read %s/%s: value %.40q is not an RFC 3339 time; fix or delete the key", s.bucket, key, e.Value())
	}
	return t, e.Revision(), nil
}

// put stores t under key if the key is still at revision rev (0: absent).
// It returns errConflict when another writer got there first.
func (s *state) put(ctx context.Context, key string, t time.Time, rev uint64) error {
	kv, err := s.open(ctx)
	if err != nil {
		return err
	}
	v := []byte(t.UTC().Format(time.RFC3339Nano))
	if rev == 0 {
		_, err = kv.Create(ctx, key, v)
	} else {
		_, err = kv.Update(ctx, key, v, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("write %s/%s: %w", s.bucket, key, errConflict)
	case err != nil:
		return fmt.Errorf("write %s/%s: %w", s.bucket, key, err)
	}
	return nil
}
