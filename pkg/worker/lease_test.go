package worker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/ledger"
	"keycard/pkg/natstest"
	"keycard/pkg/redistest"
	"keycard/pkg/streams"
)

// slowApp is an app whose creates take delay (or, with block set, never
// return until the call's context ends); it counts every write.
type slowApp struct {
	*connector.Memory
	delay   time.Duration
	block   bool
	creates atomic.Int32
	adds    atomic.Int32
	started chan string // employee id of each create begun, if not nil
}

func (s *slowApp) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	s.creates.Add(1)
	if s.started != nil {
		s.started <- p.EmployeeID
	}
	if s.block {
		<-ctx.Done() // a dead process's call: it never writes
		return connector.Account{}, ctx.Err()
	}
	time.Sleep(s.delay) // the vendor is slow but the write lands
	return s.Memory.Create(ctx, p)
}

func (s *slowApp) AddMembership(ctx context.Context, a connector.Account, k connector.Kind, name string) error {
	s.adds.Add(1)
	return s.Memory.AddMembership(ctx, a, k, name)
}

// node is one worker process on a shared server: its own connection,
// ledger client and holder.
type node struct {
	nc   *nats.Conn
	w    *Worker
	stop func()
}

func startNode(t *testing.T, ns *natstest.Server, conn connector.Connector, led func(js jetstream.JetStream) (ledger.Ledger, ledger.Versions), edit func(*Config)) *node {
	t.Helper()
	nc, js := ns.Connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatal(err)
	}
	l, v := led(js)
	cfg := Config{App: app, Connector: conn, Evaluate: evaluate, Ledger: l, Versions: v,
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, InProcess: 300 * time.Millisecond, MaxDeliver: 20}
	edit(&cfg)
	w, err := New(ctx, js, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	n := &node{nc: nc, w: w}
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(n.stop)
	return n
}

func kvLedger(t *testing.T) func(jetstream.JetStream) (ledger.Ledger, ledger.Versions) {
	return func(js jetstream.JetStream) (ledger.Ledger, ledger.Versions) {
		l, err := ledger.NewKV(context.Background(), js, "idem", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return l, l
	}
}

func redisLedger(t *testing.T) func(jetstream.JetStream) (ledger.Ledger, ledger.Versions) {
	opts, err := redis.ParseURL(redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return func(jetstream.JetStream) (ledger.Ledger, ledger.Versions) {
		l := ledger.NewRedis(rdb, "keycard:", time.Hour)
		return l, l
	}
}

func publishTo(t *testing.T, js jetstream.JetStream, e event.Event, msgID string) {
	t.Helper()
	h := &harness{js: js}
	h.publish(t, e, msgID)
}

// A process dies mid-apply (no release, no heartbeat, no ack) and comes
// back: with the same instance id it takes its own leases over at once
// and converges everyone long before the 10s leases could lapse; as
// another instance it waits for the (short) leases to lapse, and no more.
func TestRestartConvergesInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		instance  string // of the restarted process
		lease     time.Duration
		within    time.Duration // every in-flight person applied this soon after the restart
		notBefore time.Duration // and not sooner (the lease had to lapse)
	}{
		{"same instance takes over", "node-1", 10 * time.Second, 3 * time.Second, 0},
		{"other instance after expiry", "node-2", 3 * time.Second, 10 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := natstest.Start(t)
			mem := connector.NewMemory()
			dead := &slowApp{Memory: mem, block: true, started: make(chan string, 16)}
			first := startNode(t, ns, dead, kvLedger(t), func(c *Config) {
				c.Lease, c.AckWait, c.Holder = tt.lease, 3*tt.lease, ledger.Holder{Instance: "node-1", Boot: "first"}
			})
			_, js := ns.Connect(t)
			ids := []string{"500", "501", "502"}
			for _, id := range ids {
				publishTo(t, js, ev(event.Hired, 1, employee(id, "Engineering")), "h"+id)
			}
			// Some are mid-apply holding leases, the rest wait unacked in a
			// client buffer behind them.
			select {
			case <-dead.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the first process never started applying")
			}
			time.Sleep(200 * time.Millisecond)
			// SIGKILL, as far as the outside can tell: the connection
			// drops (no release, no renewal, no ack) and the embedded
			// server restarts with the process on the same store.
			first.nc.Close()
			ns.Restart(t)
			_, js = ns.Connect(t)
			restarted := time.Now()
			startNode(t, ns, mem, kvLedger(t), func(c *Config) {
				c.Lease, c.AckWait, c.Holder = tt.lease, 3*tt.lease, ledger.NewHolder(tt.instance)
			})
			// A SIGKILLed embedded server may lose its record of the
			// deliveries and hand the messages out again at once, while
			// the dead process's leases are still live (issue 15); the
			// rest come back after AckWait. Copies stand for the former.
			for _, id := range ids {
				publishTo(t, js, ev(event.Hired, 1, employee(id, "Engineering")), "again"+id)
			}
			for deadline := time.Now().Add(tt.within); ; time.Sleep(20 * time.Millisecond) {
				n := 0
				for _, a := range mem.Accounts() {
					if a.Active {
						n++
					}
				}
				if n == len(ids) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d in-flight people applied %v after the restart", n, len(ids), tt.within)
				}
			}
			took := time.Since(restarted)
			t.Logf("%s: every in-flight person applied %v after the restart (lease %v)", tt.name, took.Round(time.Millisecond), tt.lease)
			if took < tt.notBefore {
				t.Fatalf("applied %v after the restart: another instance took a live-looking lease", took)
			}
			if n := len(mem.Accounts()); n != len(ids) {
				t.Fatalf("%d accounts, want %d", n, len(ids))
			}
			first.stop()
		})
	}
}

// A vendor call slower than the lease: the heartbeat keeps the leases, so
// a second worker handed a copy of the same event (or the same person)
// meanwhile waits instead of creating the account twice. Both ledgers.
func TestSlowVendorKeepsLease(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"kv", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			led := kvLedger(t)
			if backend == "redis" {
				led = redisLedger(t)
			}
			ns := natstest.Start(t)
			app := &slowApp{Memory: connector.NewMemory(), delay: 2500 * time.Millisecond, started: make(chan string, 4)}
			cfg := func(inst string) func(*Config) {
				return func(c *Config) {
					c.Lease, c.AckWait, c.Holder = time.Second, 5*time.Second, ledger.NewHolder(inst)
				}
			}
			startNode(t, ns, app, led, cfg("node-a"))
			startNode(t, ns, app, led, cfg("node-b"))
			_, js := ns.Connect(t)
			hire := ev(event.Hired, 1, employee("600", "Engineering"))
			publishTo(t, js, hire, "first")
			<-app.started
			time.Sleep(1500 * time.Millisecond) // past the lease
			publishTo(t, js, hire, "copy")      // same event id, stored twice
			waitFor(t, "hire applied", func() bool { return len(app.Accounts()) == 1 && app.adds.Load() == 2 })
			time.Sleep(1500 * time.Millisecond) // let the copy be handled
			if n := app.creates.Load(); n != 1 {
				t.Fatalf("%d creates for one hire: the lease lapsed under a live holder", n)
			}
			if n := len(app.Accounts()); n != 1 {
				t.Fatalf("%d accounts", n)
			}
		})
	}
}

// lossyLedger loses the leases of an event's first attempt on renewal,
// as if another worker had taken them, and counts the event's claims.
type lossyLedger struct {
	ledger.Ledger
	claims atomic.Int32 // of event keys (not person keys)
}

func (l *lossyLedger) Claim(ctx context.Context, key string, lease time.Duration, h ledger.Holder) (ledger.Claim, error) {
	if !strings.Contains(key, ":person:") {
		l.claims.Add(1)
	}
	return l.Ledger.Claim(ctx, key, lease, h)
}

func (l *lossyLedger) Renew(ctx context.Context, key, token string, lease time.Duration) (string, error) {
	if l.claims.Load() == 1 {
		return "", fmt.Errorf("ledger renew %q: %w", key, ledger.ErrLeaseLost)
	}
	return l.Ledger.Renew(ctx, key, token, lease)
}

// addsDuring records, for every group add, which claim of the event it
// belongs to.
type addsDuring struct {
	*slowApp
	claims *atomic.Int32
	mu     sync.Mutex
	during []int32
}

func (a *addsDuring) AddMembership(ctx context.Context, acct connector.Account, k connector.Kind, name string) error {
	a.mu.Lock()
	a.during = append(a.during, a.claims.Load())
	a.mu.Unlock()
	return a.slowApp.AddMembership(ctx, acct, k, name)
}

// A lost lease stops the apply before its next write: the create in
// flight lands, the group adds behind it wait for the retry's own claim.
func TestLostLeaseStopsApply(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	lossy := &lossyLedger{}
	app := &addsDuring{slowApp: &slowApp{Memory: connector.NewMemory(), delay: 700 * time.Millisecond}, claims: &lossy.claims}
	n := startNode(t, ns, app, func(js jetstream.JetStream) (ledger.Ledger, ledger.Versions) {
		l, v := kvLedger(t)(js)
		lossy.Ledger = l
		return lossy, v
	}, func(c *Config) { c.Lease, c.AckWait, c.Concurrency = time.Second, 3*time.Second, 1 })
	_, js := ns.Connect(t)
	publishTo(t, js, ev(event.Hired, 1, employee("700", "Engineering")), "h700")
	waitFor(t, "the hire converged on a retry", func() bool { return app.adds.Load() == 2 })
	if got := testutil.ToFloat64(n.w.metrics.leasesLost); got != 1 {
		t.Fatalf("leases lost = %v; want 1 (the first attempt)", got)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	for _, c := range app.during {
		if c < 2 {
			t.Fatalf("a group add ran in the attempt whose lease was lost (adds by claim: %v)", app.during)
		}
	}
	if got := app.creates.Load(); got != 1 {
		t.Fatalf("%d creates; want 1 (the retry adopts the account)", got)
	}
}
