// Package workers builds and runs the per-application workers a
// configuration names: the access policy, the idempotency ledger (Redis
// when REDIS_URL is set, JetStream KV otherwise), the pacer, and one
// connector per app. The standalone worker and the single binary both use
// it. It lives outside internal/ for the single binary.
package workers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/circuit"
	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/connectors"
	"keycard/pkg/event"
	"keycard/pkg/ledger"
	"keycard/pkg/policy"
	"keycard/pkg/ratelimit"
	"keycard/pkg/reconcile"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// Settings are the workers' environment variables.
type Settings struct {
	// ConfigFile is the YAML apps-and-policy file.
	ConfigFile string `envconfig:"KEYCARD_CONFIG"`
	// RedisURL shares the ledger and the pacers between replicas; without
	// it they live in JetStream KV and in process.
	RedisURL string `envconfig:"REDIS_URL"`
	// Apps limits this process to some of the configured apps (a worker
	// deployment per app); empty runs them all.
	Apps              []string      `envconfig:"KEYCARD_WORKER_APPS"`
	WorkerConcurrency int           `envconfig:"KEYCARD_WORKER_CONCURRENCY" default:"64"`
	WorkerMaxDeliver  int           `envconfig:"KEYCARD_WORKER_MAX_DELIVER" default:"12"`
	LedgerTTL         time.Duration `envconfig:"KEYCARD_LEDGER_TTL" default:"2880h"` // 120 days: longer than any replay
	// Lease is the event and per-person lease, renewed every third of it
	// while an event is applied: a dead process's leases lapse this soon.
	Lease time.Duration `envconfig:"KEYCARD_WORKER_LEASE" default:"5s"`
	// AckWait is the consumers' (≥ 2 × Lease): how soon a dead process's
	// unacknowledged events are handed out again.
	AckWait time.Duration `envconfig:"KEYCARD_WORKER_ACK_WAIT" default:"10s"`
	// InstanceID names this process in its leases and must stay the same
	// across its restarts and differ between live processes: a restart
	// takes over what its previous run left at once. Empty: the host name
	// (a pod's name); the single binary with its embedded NATS keeps a
	// generated one in its data directory.
	InstanceID string `envconfig:"KEYCARD_INSTANCE_ID"`
	// An app pauses after this many consecutive failures of one kind: the
	// app refusing the credential, the app failing (5xx, timeouts), the
	// ledger or pacer store unreachable (pkg/circuit). While paused it
	// probes every CircuitProbeEvery, doubling up to CircuitProbeMax, and
	// resumes on the first success.
	CircuitAuthTrip   int           `envconfig:"KEYCARD_CIRCUIT_AUTH_TRIP" default:"3"`
	CircuitOutageTrip int           `envconfig:"KEYCARD_CIRCUIT_OUTAGE_TRIP" default:"10"`
	CircuitStoreTrip  int           `envconfig:"KEYCARD_CIRCUIT_STORE_TRIP" default:"3"`
	CircuitProbeEvery time.Duration `envconfig:"KEYCARD_CIRCUIT_PROBE_EVERY" default:"15s"`
	CircuitProbeMax   time.Duration `envconfig:"KEYCARD_CIRCUIT_PROBE_MAX" default:"5m"`
}

// LoadPolicy loads and checks KEYCARD_CONFIG; call it before anything
// starts so a bad file stops start-up with file, line and field.
func LoadPolicy(s Settings) (*policy.Config, error) {
	if s.ConfigFile == "" {
		return nil, errors.New("KEYCARD_CONFIG is not set: point it at the apps-and-policy YAML (example: deployments/keycard.example.yaml)")
	}
	cfg, err := policy.Load(s.ConfigFile, connectors.Registry())
	if err != nil {
		return nil, err
	}
	if _, err := selectApps(cfg, s.Apps); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Serve runs every selected app's worker until ctx is done.
func Serve(ctx context.Context, js jetstream.JetStream, cfg *policy.Config, s Settings, replicas int, log zerolog.Logger, reg prometheus.Registerer) error {
	// Setting up the buckets gets as long as the streams do (service.Setup):
	// on a cluster, creating a replicated bucket can outlast a call's
	// default 5 s while the nodes elect its leader.
	setup, cancelSetup := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSetup()
	apps, err := selectApps(cfg, s.Apps)
	if err != nil {
		return err
	}
	var (
		led     ledger.Ledger
		vers    ledger.Versions
		limiter interface {
			worker.Limiter
			worker.Pacer
		}
	)
	limits := map[string]ratelimit.Limit{}
	for _, a := range apps {
		rl := a.RateLimit
		limits[a.Name] = ratelimit.Limit{PerMinute: rl.WritesPerMinute, Burst: rl.Burst, Adaptive: rl.Adaptive, MaxPerMinute: rl.MaxWritesPerMinute}
	}
	if s.RedisURL != "" {
		opts, err := redis.ParseURL(s.RedisURL)
		if err != nil {
			return errors.New("REDIS_URL is not a valid redis:// URL") // the URL may hold a password: do not echo it
		}
		// A lease is renewed every third of KEYCARD_WORKER_LEASE: a Redis
		// call must fail well within that, not after go-redis's 5 s dial
		// and 3 s read defaults, so an outage pauses the apps quickly.
		if opts.DialTimeout == 0 {
			opts.DialTimeout = time.Second
		}
		if opts.ReadTimeout == 0 {
			opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second
		}
		quietRedis.Do(func() { redis.SetLogger(redisLog{log.With().Str("component", "redis").Logger()}) })
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		r := ledger.NewRedis(rdb, "keycard:", s.LedgerTTL)
		led, vers, limiter = r, r, ratelimit.NewRedis(rdb, limits)
		log.Info().Msg("ledger and pacing in Redis")
	} else {
		kv, err := ledger.NewKV(setup, js, "idem", replicas, s.LedgerTTL)
		if err != nil {
			return err
		}
		led, vers, limiter = kv, kv, ratelimit.NewLocal(limits)
		log.Info().Msg("ledger in JetStream KV, pacing in process (set REDIS_URL to share them between replicas)")
	}

	instance := s.InstanceID
	if instance == "" {
		if instance, err = os.Hostname(); err != nil {
			return fmt.Errorf("KEYCARD_INSTANCE_ID is not set and the host name is unknown: %w", err)
		}
	}
	// One boot id for the whole process: every app's worker is this run.
	holder := ledger.NewHolder(instance)
	log.Info().Str("instance", instance).Dur("lease", s.Lease).Dur("ack_wait", s.AckWait).Msg("ledger leases")

	types := connectors.Registry()
	metrics := worker.NewMetrics(reg)
	store, err := reconcile.OpenStore(setup, js, replicas)
	if err != nil {
		return err
	}
	converged := reconcile.NewMetrics(reg)
	circuits, err := circuit.OpenBucket(setup, js, replicas)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range apps {
		// Reads, where a vendor counts them, come out of the app's budget
		// too (dry-run reads the real vendor as well), and so do the
		// group writes a connector coalesces. Every answer the vendor
		// gives feeds the pace back.
		app := a.Name
		appPace := func(ctx context.Context) error { return limiter.Wait(ctx, app) }
		f, ok := types.Lookup(a.Type)
		if !ok { // LoadPolicy checked the file against the same registry
			return fmt.Errorf("app %s: no connector type %q", a.Name, a.Type)
		}
		conn, dryRun, err := connectorFor(ctx, f, a, os.Getenv, appPace, metrics.Feedback(app, limiter), log)
		if err != nil {
			return err
		}
		var pace worker.Limiter = limiter
		if dryRun {
			pace = nil // nothing outside is written, so there is no vendor limit to respect
		}
		// Memberships an earlier policy granted stay Keycard's to remove
		// (a tool swap's old group), so the evaluator manages them too.
		var (
			applied reconcile.PolicyState
			rev     uint64
		)
		err = streams.AwaitLeader(setup, func() (err error) { applied, rev, err = store.Policy(setup, a.Name); return err })
		if err != nil {
			return err
		}
		evaluate := Evaluator(cfg, a.Name, f, applied.Managed)
		breaker, err := circuit.New(setup, circuits, circuit.Config{App: a.Name, Instance: instance,
			Trip:       map[circuit.Reason]int{circuit.Auth: s.CircuitAuthTrip, circuit.Outage: s.CircuitOutageTrip, circuit.Store: s.CircuitStoreTrip},
			ProbeEvery: s.CircuitProbeEvery, ProbeMax: s.CircuitProbeMax, Probe: prober(f, a, led),
			Changed: metrics.CircuitChanged(a.Name), Log: log.With().Str("app", a.Name).Logger()})
		if err != nil {
			return err
		}
		g.Go(func() error { breaker.Run(gctx); return nil })
		w, err := worker.New(setup, js, worker.Config{
			App: a.Name, DryRun: dryRun, Connector: conn, Evaluate: evaluate,
			Ledger: led, Versions: vers, Limiter: pace,
			Guard:       worker.GuardLimits{MaxDeactivations: a.Guard.MaxDeactivations, MaxShare: a.Guard.MaxShare, Window: a.Guard.Window},
			Concurrency: s.WorkerConcurrency, MaxDeliver: s.WorkerMaxDeliver,
			Lease: s.Lease, AckWait: s.AckWait, Holder: holder, Circuit: breaker, Replicas: replicas,
		}, log, metrics)
		if err != nil {
			return fmt.Errorf("worker %s: %w", a.Name, err)
		}
		log.Info().Str("app", a.Name).Str("type", a.Type).Bool("dry_run", dryRun).Msg("worker ready")
		g.Go(func() error { return w.Run(gctx) })
		_, simulated := conn.(*connector.Memory)
		c := &convergence{js: js, store: store, metrics: converged, cfg: cfg, app: a, conn: conn, evaluate: evaluate,
			applied: applied, rev: rev, listable: !simulated, holder: instance, log: log.With().Str("app", a.Name).Logger(), now: time.Now}
		g.Go(func() error { c.run(gctx); return nil })
	}
	return g.Wait()
}

// quietRedis sets go-redis's logger once per process (it is global): its
// pool's dial failures, a line per attempt while Redis is down, go to the
// debug log; the circuit and the worker logs say what matters.
var quietRedis sync.Once

type redisLog struct{ log zerolog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Msgf(format, v...)
}

// prober is app's circuit probe: the store's with a ledger read, the
// app's with its factory's read-only probe (provctl apps check's), which
// for an app without a credential checks only its settings.
func prober(f registry.Factory, a policy.App, led ledger.Ledger) func(context.Context, circuit.Reason) error {
	return func(ctx context.Context, r circuit.Reason) error {
		if r == circuit.Store {
			_, _, err := led.Get(ctx, "circuit-probe")
			return err
		}
		token := ""
		if a.Credential() != "" {
			token = os.Getenv(a.Credential())
		}
		deadline, _ := ctx.Deadline()
		return f.Probe(ctx, a.Connector(), token, time.Until(deadline)).Err
	}
}

// selectApps is the apps this process runs, critical first: they are
// set up and started first, so after a restart the apps whose leavers
// must lose access first consume again first.
func selectApps(cfg *policy.Config, only []string) ([]policy.App, error) {
	if len(only) == 0 {
		return policy.ByTier(cfg.Apps), nil
	}
	var out []policy.App
	for _, name := range only {
		i := slices.IndexFunc(cfg.Apps, func(a policy.App) bool { return a.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("KEYCARD_WORKER_APPS: %s: no such app in %s", name, cfg.File)
		}
		out = append(out, cfg.Apps[i])
	}
	return policy.ByTier(out), nil
}

// connectorFor returns the app's connector, built by f, and whether it
// runs dry.
//   - An app whose credential variable is set talks to the vendor: in
//     apply mode it writes, in dry-run mode it reads the real accounts and
//     only plans (connector.NewDryRun, which keeps what the real connector
//     can do, so the guard counts the same accounts).
//   - An app without its credential, or of a type with no connector yet
//     (registry.ErrNoConnector), is simulated in memory and runs dry: the
//     plan and the audit trail are real, nothing outside is touched.
func connectorFor(ctx context.Context, f registry.Factory, a policy.App, getenv func(string) string, pace func(context.Context) error,
	observe func(context.Context, ratelimit.Outcome), log zerolog.Logger) (connector.Connector, bool, error) {
	token := ""
	if a.Credential() != "" {
		token = getenv(a.Credential())
	}
	if token == "" {
		return connector.NewMemory(), true, nil
	}
	conn, err := f.New(ctx, a.Connector(), registry.Deps{Credential: token, Pace: pace, Observe: observe, Log: log.With().Str("app", a.Name).Logger(), Getenv: getenv})
	switch {
	case errors.Is(err, registry.ErrNoConnector):
		return connector.NewMemory(), true, nil
	case err != nil:
		return nil, false, fmt.Errorf("app %s: %w", a.Name, err)
	case a.Mode == policy.ModeDryRun:
		return connector.NewDryRun(conn), true, nil
	}
	return conn, false, nil
}

// Evaluator adapts the policy to the worker for one app (provctl's
// reconcile evaluates with it too). Keycard manages every membership the
// policy grants in the app, and retired: those an earlier policy granted
// (reconcile.PolicyState.Managed).
func Evaluator(cfg *policy.Config, app string, f registry.Factory, retired map[connector.Kind][]string) worker.Evaluate {
	return EvaluatorAt(cfg, app, f, retired, time.Now)
}

// EvaluatorAt is Evaluator on the clock now: a simulation evaluates
// everyone on one chosen day.
func EvaluatorAt(cfg *policy.Config, app string, f registry.Factory, retired map[connector.Kind][]string, now func() time.Time) worker.Evaluate {
	managed := Managed(cfg, app, retired)
	orgUnits, licenses := registry.Assigns(f, registry.GrantOrgUnit), registry.Assigns(f, registry.GrantLicense)
	zones := &event.Zones{}
	return func(e event.Employee) (connector.Want, []string, []string) {
		res := cfg.Evaluate(e, zones.Today(e, now()))
		d := res.Apps[app]
		want := connector.Want{Account: d.Account, Managed: managed, Memberships: map[connector.Kind][]string{
			connector.Group: d.Groups, connector.Team: d.Teams, connector.Channel: d.Channels, connector.Role: d.Roles,
		}}
		if orgUnits {
			want.OrgUnit = d.OrgUnit
		}
		if licenses {
			want.License = d.License
		}
		return want, d.Matched, d.Warnings
	}
}

// Managed are all the memberships any grant gives in app, and retired:
// Keycard removes only those from people who no longer qualify. Each
// list is sorted and unique.
func Managed(cfg *policy.Config, app string, retired map[connector.Kind][]string) map[connector.Kind][]string {
	out := map[connector.Kind][]string{}
	for k, names := range retired {
		out[k] = slices.Clone(names)
	}
	add := func(g policy.Grant) {
		out[connector.Group] = append(out[connector.Group], g.Groups...)
		out[connector.Team] = append(out[connector.Team], g.Teams...)
		out[connector.Channel] = append(out[connector.Channel], g.Channels...)
		out[connector.Role] = append(out[connector.Role], g.Roles...)
	}
	if g, ok := cfg.Policy.Birthright[app]; ok {
		add(g)
	}
	for _, r := range cfg.Policy.Rules {
		if g, ok := r.Grant[app]; ok {
			add(g)
		}
	}
	for k, names := range out {
		slices.Sort(names)
		out[k] = slices.Compact(names)
	}
	return out
}
