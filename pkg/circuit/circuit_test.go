package circuit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/natstest"
)

// replicas are two breakers of one app over one bucket, as two worker
// processes have; probeOK says whether the app answers probes now.
func replicas(t *testing.T) (a, b *Breaker, probeOK *atomic.Bool, probes *atomic.Int32) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	kv, err := OpenBucket(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	probeOK, probes = &atomic.Bool{}, &atomic.Int32{}
	cfg := func(instance string) Config {
		return Config{App: "slack", Instance: instance, ProbeEvery: 50 * time.Millisecond, ProbeMax: 200 * time.Millisecond,
			Probe: func(context.Context, Reason) error {
				probes.Add(1)
				if probeOK.Load() {
					return nil
				}
				return errors.New("scim: GET /Users: 401 Unauthorized (token rejected)")
			}, Log: zerolog.Nop()}
	}
	for i, p := range []**Breaker{&a, &b} {
		br, err := New(t.Context(), kv, cfg([]string{"a", "b"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		*p = br
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { br.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return a, b, probeOK, probes
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Three auth failures in a row pause the app on every replica, with the
// first failure as the cause; a success in between starts the count
// again; a probe that succeeds resumes every replica.
func TestTripSharedAndProbeResumes(t *testing.T) {
	a, b, probeOK, probes := replicas(t)
	ctx := t.Context()
	first := errors.New("scim: POST /Users: 401 Unauthorized (token rejected)")
	a.Failed(ctx, Auth, first)
	a.Failed(ctx, Auth, errors.New("second"))
	a.Succeeded()
	a.Failed(ctx, Auth, first)
	if a.Failed(ctx, Auth, errors.New("second")) || a.Shut() {
		t.Fatal("paused after 2 failures in a row: a success must start the count again")
	}
	gctx, cancel, err := a.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if !a.Failed(ctx, Auth, errors.New("third")) {
		t.Fatal("not paused after 3 auth failures in a row")
	}
	select {
	case <-gctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the pull context did not end at the trip")
	}
	st := a.State()
	if !st.Open || st.Reason != Auth || st.Cause != first.Error() || st.By != "a" {
		t.Fatalf("state = %+v, want open for auth with the first failure as cause", st)
	}
	eventually(t, "replica b pauses too", b.Shut)

	// Paused, Wait blocks until it resumes.
	waited := make(chan error, 1)
	go func() {
		_, c, err := b.Wait(ctx)
		if c != nil {
			c()
		}
		waited <- err
	}()
	eventually(t, "probes fail while the token is refused", func() bool { return probes.Load() >= 4 })
	select {
	case <-waited:
		t.Fatal("Wait returned while the app is paused")
	default:
	}
	if s := b.State(); s.Probes == 0 || s.ProbeError == "" {
		t.Errorf("failed probes not shared: %+v", s)
	}
	probeOK.Store(true)
	eventually(t, "a probe resumes both", func() bool { return !a.Shut() && !b.Shut() })
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if s := a.State(); s.ClosedBy != "probe" || s.Reason != Auth {
		t.Errorf("closed state = %+v, want closed by probe", s)
	}
}

// Outages trip after 10 (the default) and an operator's Resume closes the
// circuit whatever the probe says; resuming a closed one is refused.
func TestOperatorResume(t *testing.T) {
	a, b, _, _ := replicas(t)
	ctx := t.Context()
	for i := range 9 {
		if a.Failed(ctx, Outage, errors.New("scim: GET /Users: 502 Bad Gateway")) {
			t.Fatalf("paused after %d outage failures", i+1)
		}
	}
	a.Answered(Auth) // another reason's answer does not end an outage run
	if !a.Failed(ctx, Outage, errors.New("502")) {
		t.Fatal("not paused after 10 outage failures")
	}
	eventually(t, "b paused", b.Shut)
	st, err := Resume(ctx, a.kv, "slack", time.Now())
	if err != nil || st.ClosedBy != "operator" {
		t.Fatalf("Resume = %+v, %v", st, err)
	}
	eventually(t, "both resume", func() bool { return !a.Shut() && !b.Shut() })
	if _, err := Resume(ctx, a.kv, "slack", time.Now()); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Resume of a closed circuit = %v, want ErrNotOpen", err)
	}
	// A new breaker (a replica starting) reads the stored state.
	a.Failed(ctx, Store, errors.New("ledger claim: redis: connection refused"))
	a.Failed(ctx, Store, errors.New("x"))
	a.Failed(ctx, Store, errors.New("x"))
	c, err := New(ctx, a.kv, Config{App: "slack", Probe: func(context.Context, Reason) error { return nil }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.State(); !s.Open || s.Reason != Store {
		t.Fatalf("a replica starting while paused sees %+v", s)
	}
}
