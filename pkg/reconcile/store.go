package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/connector"
)

// Bucket holds, per app, the last reconcile report ("report.<app>"), the
// schedule of the next run ("schedule.<app>") and the policy the app's
// people were last re-evaluated under ("policy.<app>").
const Bucket = "reconcile"

// maxStoredItems bounds a stored report (a KV value is at most 1 MiB): the
// counts stay whole, the items beyond are counted in ItemsOmitted.
const maxStoredItems = 2000

// Store reads and writes the bucket.
type Store struct {
	kv jetstream.KeyValue
}

// OpenStore creates the bucket if needed.
func OpenStore(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "Reconcile reports, schedules and applied policy per app",
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// FindStore opens the bucket for reading; nil when it does not exist yet.
func FindStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// SaveReport stores rep as the app's last report.
func (s *Store) SaveReport(ctx context.Context, rep Report) error {
	if n := len(rep.Items); n > maxStoredItems {
		rep.Items, rep.ItemsOmitted = rep.Items[:maxStoredItems], rep.ItemsOmitted+n-maxStoredItems
	}
	_, err := s.put(ctx, "report."+rep.App, rep, 0, false)
	return err
}

// Report is the app's last report; ok false when it has none.
func (s *Store) Report(ctx context.Context, app string) (rep Report, ok bool, err error) {
	_, ok, err = s.get(ctx, "report."+app, &rep)
	return rep, ok, err
}

// PolicyState is the policy an app's people were last re-evaluated under.
type PolicyState struct {
	Fingerprint string    `json:"fingerprint"` // policy.Config.Fingerprint of the app
	File        string    `json:"file"`
	At          time.Time `json:"at"`
	Published   int       `json:"published"` // re-evaluations published
	// Managed is every membership a policy applied to the app has
	// granted, this one's and those a change retired: they stay
	// Keycard's to remove (a tool swap's old group), so people who had
	// them lose them.
	Managed map[connector.Kind][]string `json:"managed,omitempty"`
}

// Policy is the app's PolicyState and its revision (0: none yet).
func (s *Store) Policy(ctx context.Context, app string) (PolicyState, uint64, error) {
	var st PolicyState
	rev, _, err := s.get(ctx, "policy."+app, &st)
	return st, rev, err
}

// SetPolicy records st if the key is still at rev (0: absent): of two
// replicas starting on one new policy, one records it.
func (s *Store) SetPolicy(ctx context.Context, app string, st PolicyState, rev uint64) error {
	_, err := s.put(ctx, "policy."+app, st, rev, true)
	return err
}

// Schedule is when an app's next scheduled reconcile is due, and who runs
// the current one.
type Schedule struct {
	Next time.Time `json:"next"`
	// RunningUntil is when a run that has not finished is given up as dead
	// (its process was killed), so another replica may start one.
	RunningUntil time.Time `json:"running_until"`
	Holder       string    `json:"holder,omitempty"`
}

// Claim takes the app's scheduled run when it is due (now ≥ Next) and no
// live run holds it, for at most hold. Only one replica's claim succeeds.
func (s *Store) Claim(ctx context.Context, app, holder string, now time.Time, hold time.Duration) (bool, error) {
	var sch Schedule
	rev, _, err := s.get(ctx, "schedule."+app, &sch)
	if err != nil {
		return false, err
	}
	if now.Before(sch.Next) || now.Before(sch.RunningUntil) {
		return false, nil
	}
	sch.RunningUntil, sch.Holder = now.Add(hold), holder
	if _, err := s.put(ctx, "schedule."+app, sch, rev, true); errors.Is(err, ErrRaced) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// Done ends a claimed run and schedules the next one at next.
func (s *Store) Done(ctx context.Context, app string, next time.Time) error {
	_, err := s.put(ctx, "schedule."+app, Schedule{Next: next}, 0, false)
	return err
}

// NextRun is when the app's next scheduled run is due (zero: now).
func (s *Store) NextRun(ctx context.Context, app string) (time.Time, error) {
	var sch Schedule
	_, _, err := s.get(ctx, "schedule."+app, &sch)
	return sch.Next, err
}

// Apps lists the apps the bucket holds anything for, sorted.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Bucket, err)
	}
	var out []string
	for k := range keys.Keys() {
		if _, app, ok := strings.Cut(k, "."); ok && !slices.Contains(out, app) {
			out = append(out, app)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ErrRaced is SetPolicy's answer when the record changed since it was
// read (another replica wrote it).
var ErrRaced = errors.New("changed concurrently")

func (s *Store) get(ctx context.Context, key string, v any) (uint64, bool, error) {
	entry, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s %s: %w", Bucket, key, err)
	}
	if err := json.Unmarshal(entry.Value(), v); err != nil {
		return 0, false, fmt.Errorf("decode %s %s: %w", Bucket, key, err)
	}
	return entry.Revision(), true, nil
}

// put writes v; with cas, only if the key is at rev (0: absent).
func (s *Store) put(ctx context.Context, key string, v any, rev uint64, cas bool) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	switch {
	case !cas:
		rev, err = s.kv.Put(ctx, key, data)
	case rev == 0:
		rev, err = s.kv.Create(ctx, key, data)
	default:
		rev, err = s.kv.Update(ctx, key, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, ErrRaced
	}
	if err != nil {
		return 0, fmt.Errorf("write %s %s: %w", Bucket, key, err)
	}
	return rev, nil
}
