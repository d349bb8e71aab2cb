package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/policy"
	"keycard/pkg/ratelimit"
	"keycard/pkg/reconcile"
	"keycard/pkg/redact"
	"keycard/pkg/streams"
	"keycard/pkg/workers"
)

// appList is a repeatable --app flag.
type appList []string

func (a *appList) String() string { return strings.Join(*a, ",") }
func (a *appList) Set(s string) error {
	if err := checkApp(s); err != nil {
		return err
	}
	*a = append(*a, s)
	return nil
}

// selectApps returns the apps of cfg that only names, all when empty,
// critical first (the order every report lists them in).
func selectApps(cfg *policy.Config, only appList) ([]policy.App, error) {
	if len(only) == 0 {
		return policy.ByTier(cfg.Apps), nil
	}
	var out []policy.App
	for _, name := range only {
		a, ok := cfg.App(name)
		if !ok {
			return nil, usageErrorf("--app %s: no such app in %s", name, cfg.File)
		}
		out = append(out, a)
	}
	return policy.ByTier(out), nil
}

// reconcileRun lists each selected app and compares it with the policy
// for everyone HR knows; with --fix it hands what drifted to the app's
// worker, which converges it like an HR event (guarded, paced, audited
// with reason reconcile). Reads are paced at the app's rate, shared with
// the workers through Redis when REDIS_URL is set.
func (c *cli) reconcileRun(ctx context.Context, g globals, args []string) error {
	var (
		configPath           string
		apps                 appList
		fix, details, asJSON bool
	)
	fs := c.newFlagSet("reconcile", "reconcile [--config FILE] [--app A]... [--fix] [--details] [--json]", &g)
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file naming the apps (env KEYCARD_CONFIG)")
	fs.Var(&apps, "app", "reconcile only this app (repeatable)")
	fs.BoolVar(&fix, "fix", false, "converge the drift through the workers (unmanaged accounts are never touched; orphans only where reconcile.orphans is deactivate)")
	fs.BoolVar(&details, "details", false, "list every item, not only the counts")
	fs.BoolVar(&asJSON, "json", false, "print one JSON report per app")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("reconcile: unexpected argument %q", pos[0])
	}
	if configPath == "" {
		return usageErrorf("reconcile: no configuration: pass --config FILE or set %s", envConfig)
	}
	cfg, err := c.loadPolicy(configPath)
	if err != nil {
		return err
	}
	selected, err := selectApps(cfg, apps)
	if err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	store, err := reconcile.FindStore(ctx, s.js)
	if err != nil {
		return err
	}
	pace, closePace, err := c.readPace(cfg)
	if err != nil {
		return err
	}
	defer closePace()

	var reports []reconcile.Report
	failed := 0
	for _, a := range selected {
		rep, skipped, err := c.reconcileApp(ctx, s.js, store, cfg, a, pace, fix)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(c.stderr, "%s: %v\n", a.Name, err)
		case skipped != "":
			fmt.Fprintf(c.stderr, "%s: skipped: %s\n", a.Name, skipped)
		default:
			reports = append(reports, rep)
		}
	}
	if asJSON {
		if err := jsonLines(c.stdout, reports); err != nil {
			return err
		}
	} else if err := c.printReports(reports, details); err != nil {
		return err
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

// readPace is the limiter reconcile's reads wait on: each app's rate,
// shared with the running workers through Redis when REDIS_URL is set.
func (c *cli) readPace(cfg *policy.Config) (func(ctx context.Context, app string) error, func(), error) {
	limits := map[string]ratelimit.Limit{}
	for _, a := range cfg.Apps {
		rl := a.RateLimit
		limits[a.Name] = ratelimit.Limit{PerMinute: rl.WritesPerMinute, Burst: rl.Burst, Adaptive: rl.Adaptive, MaxPerMinute: rl.MaxWritesPerMinute}
	}
	if url := c.getenv("REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, errors.New("REDIS_URL is not a valid redis:// URL") // it may hold a password: do not echo it
		}
		rdb := redis.NewClient(opts)
		return ratelimit.NewRedis(rdb, limits).Wait, func() { _ = rdb.Close() }, nil
	}
	return ratelimit.NewLocal(limits).Wait, func() {}, nil
}

// reconcileApp runs one app's reconcile; skipped says why an app was not
// listed (it runs simulated: there is nothing real to compare).
func (c *cli) reconcileApp(ctx context.Context, js jetstream.JetStream, store *reconcile.Store, cfg *policy.Config, a policy.App,
	pace func(context.Context, string) error, fix bool) (rep reconcile.Report, skipped string, err error) {
	f, conn, token, skipped, err := c.openApp(ctx, a, pace)
	if conn == nil {
		return rep, skipped, err
	}
	var retired map[connector.Kind][]string
	if store != nil {
		st, _, err := store.Policy(ctx, a.Name)
		if err != nil {
			return rep, "", err
		}
		retired = st.Managed
	}
	rep, err = reconcile.Run{JS: js, Store: store, App: a.Name, Connector: listing{conn, c.listProgress(a.Name, conn.List)}, Evaluate: workers.Evaluator(cfg, a.Name, f, retired),
		Fix: fix, DeactivateOrphans: a.Reconcile.Orphans == policy.OrphansDeactivate, Now: c.now}.Run(ctx)
	if err != nil {
		return rep, "", errors.New(redact.Secret(err.Error(), token)) // a vendor may echo it
	}
	if fix {
		fmt.Fprintf(c.stderr, "%s: %s handed to the worker (reason %s); follow them with provctl reconcile status\n",
			a.Name, plural(rep.Fixed, "re-evaluation"), reconcile.ReasonReconcile)
	}
	return rep, "", nil
}

// openApp builds a's connector with its credential from the environment,
// its reads waiting on pace. Without a connector, skipped says why (no
// credential: the worker simulates the app in memory; no connector for
// the type yet) or err what failed.
func (c *cli) openApp(ctx context.Context, a policy.App, pace func(context.Context, string) error) (
	f registry.Factory, conn connector.Connector, token, skipped string, err error) {
	f, ok := c.types.Lookup(a.Type)
	if !ok { // loadPolicy checked the file against the same registry
		return nil, nil, "", "", fmt.Errorf("no connector type %q", a.Type)
	}
	if a.Credential() != "" {
		token = c.getenv(a.Credential())
	}
	if token == "" {
		return f, nil, "", "no credential set: the worker simulates it in memory", nil
	}
	conn, err = f.New(ctx, a.Connector(), registry.Deps{Credential: token, Log: zerolog.Nop(),
		Pace: func(ctx context.Context) error { return pace(ctx, a.Name) }, Getenv: c.getenv})
	if errors.Is(err, registry.ErrNoConnector) {
		return f, nil, "", "no connector for this type yet", nil
	}
	if err != nil {
		return f, nil, "", "", err
	}
	return f, conn, token, "", nil
}

// listProgress is list reporting every 1,000 accounts on stderr.
func (c *cli) listProgress(app string, list func(context.Context, func(connector.Account) error) error) func(context.Context, func(connector.Account) error) error {
	return func(ctx context.Context, fn func(connector.Account) error) error {
		start, n := c.now(), 0
		return list(ctx, func(acc connector.Account) error {
			if n++; n%1000 == 0 {
				fmt.Fprintf(c.stderr, "%s: %d accounts listed (%s)\n", app, n, c.now().Sub(start).Round(time.Second))
			}
			return fn(acc)
		})
	}
}

// listing is a connector whose List shows progress.
type listing struct {
	connector.Connector
	list func(ctx context.Context, fn func(connector.Account) error) error
}

func (l listing) List(ctx context.Context, fn func(connector.Account) error) error {
	return l.list(ctx, fn)
}

// countHeader is the table's class columns, worst first.
func countHeader() []string {
	out := make([]string, len(reconcile.Classes))
	for i, cls := range reconcile.Classes {
		out[i] = strings.ToUpper(string(cls))
	}
	return out
}

func countCells(rep reconcile.Report) []string {
	out := make([]string, len(reconcile.Classes))
	for i, cls := range reconcile.Classes {
		out[i] = strconv.Itoa(rep.Counts[cls])
	}
	return out
}

func (c *cli) printReports(reports []reconcile.Report, details bool) error {
	t := newTable(c.stdout, append(append([]string{"APP", "ACCOUNTS", "ACTIVE"}, countHeader()...), "FIXED", "TOOK")...)
	for _, r := range reports {
		t.row(append(append([]string{r.App, strconv.Itoa(r.Accounts), strconv.Itoa(r.Active)}, countCells(r)...),
			strconv.Itoa(r.Fixed), r.Took.Round(time.Millisecond).String())...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !details {
		return nil
	}
	fmt.Fprintln(c.stdout)
	t = newTable(c.stdout, "APP", "CLASS", "EMPLOYEE", "ACCOUNT", "EMAIL", "WOULD DO")
	for _, r := range reports {
		for _, it := range r.Items {
			t.row(r.App, string(it.Class), it.EmployeeID, it.AccountID, it.Email, strings.Join(it.Steps, ", "))
		}
	}
	return t.flush()
}

// appStatus is one app's line of reconcile status.
type appStatus struct {
	App    string                 `json:"app"`
	Report *reconcile.Report      `json:"last_report,omitempty"`
	Next   time.Time              `json:"next_run,omitzero"`
	Policy *reconcile.PolicyState `json:"policy,omitempty"`
	// ReplayPending is how many replays (reconcile fixes, a policy
	// change's re-evaluations, operator replays) the app's worker has not
	// finished: a policy change's progress.
	ReplayPending uint64 `json:"replay_pending"`
}

// reconcileStatus shows, per app, the last reconcile, when the next is
// due, the policy its people were last re-evaluated under and how many of
// those re-evaluations are still queued.
func (c *cli) reconcileStatus(ctx context.Context, g globals, args []string) error {
	var asJSON bool
	fs := c.newFlagSet("reconcile status", "reconcile status [--json]", &g)
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per app")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("reconcile status: unexpected argument %q", pos[0])
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	store, err := reconcile.FindStore(ctx, s.js)
	if err != nil {
		return err
	}
	if store == nil {
		return errors.New("no reconcile has run and no worker has started yet (no " + reconcile.Bucket + " bucket)")
	}
	names, err := store.Apps(ctx)
	if err != nil {
		return err
	}
	var out []appStatus
	for _, app := range names {
		st := appStatus{App: app}
		if rep, ok, err := store.Report(ctx, app); err != nil {
			return err
		} else if ok {
			rep.Items = nil
			st.Report = &rep
		}
		if st.Next, err = store.NextRun(ctx, app); err != nil {
			return err
		}
		if pol, rev, err := store.Policy(ctx, app); err != nil {
			return err
		} else if rev > 0 {
			pol.Managed = nil
			st.Policy = &pol
		}
		if cons, err := s.js.Consumer(ctx, streams.Replay, "worker-"+app+"-replay"); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				st.ReplayPending = info.NumPending + uint64(info.NumAckPending)
			}
		}
		out = append(out, st)
	}
	if asJSON {
		return jsonLines(c.stdout, out)
	}
	t := newTable(c.stdout, append(append([]string{"APP", "LAST RUN", "TOOK", "ACCOUNTS"}, countHeader()...), "NEXT RUN", "POLICY", "RE-EVALUATED", "QUEUED")...)
	for _, st := range out {
		row := []string{st.App, "-", "-", "-"}
		counts := make([]string, len(reconcile.Classes))
		if r := st.Report; r != nil {
			row = []string{st.App, when(r.At), r.Took.Round(time.Millisecond).String(), strconv.Itoa(r.Accounts)}
			counts = countCells(*r)
		}
		pol, published := "-", "-"
		if p := st.Policy; p != nil {
			pol, published = p.Fingerprint, fmt.Sprintf("%d at %s", p.Published, when(p.At))
		}
		t.row(append(append(row, counts...), when(st.Next), pol, published, strconv.FormatUint(st.ReplayPending, 10))...)
	}
	return t.flush()
}
