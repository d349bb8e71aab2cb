// Command benchworker measures the app workers for `make bench`
// (scripts/bench.sh). It prints one JSON object (indented, one key per line)
// on stdout and progress on stderr.
//
//	benchworker worker   -nats U [-ledger kv|redis -redis U] [-events 5000] [-concurrency 16]
//	benchworker pipeline -nats U [-rate 200] [-duration 10s]
//	benchworker scim     -nats U [-events 2000] [-concurrency 16] [-rate-scale 0]
//
// worker: fills HR_EVENTS with N canonical hired events (distinct
// employees) and times ONE worker (app "bench", in-memory app, no rate
// limit, everyone gets one group) until its durable consumer has nothing
// pending or unacknowledged and N audit records exist. Reports events/s.
//
// pipeline: the whole pipeline in this process, wired as the single binary
// wires it: the ingest handler on a loopback HTTP listener, the normalizer
// against a fake BambooHR holding every employee, and one worker (in-memory
// app, KV ledger). Signed employee.created webhooks, one per employee, are
// sent open loop at -rate for -duration, each due at an intended send time
// that is also its payload timestamp. An event's latency is its audit
// record's At minus that intended send time (matched by employee id), so a
// stall anywhere, the sender included, shows. Reports p50/p90/p99/max.
//
// scim (scim.go): like worker, but the app is Slack through the real SCIM
// connector (scim.NewConnector, scim.Slack() profile) against an in-process
// scimtest server with Slack's quirks, applying for real (not dry). Without
// -rate-scale the server has no rate limits and the worker no pacer;
// with -rate-scale f the server enforces Slack's documented write budget
// times f as one bucket for every write and the pacer gets the same budget.
// Reports hires/s, the least time the bucket allows, efficiency, and the
// 429s the server served, split by cause and by warm-up.
//
// reconcile (reconcile.go): one reconcile of -people Slack accounts (SCIM
// test server, Slack's page of 1,000) against as many people in the
// employees bucket, optionally paced at -reads-per-min. Reports the time,
// the requests the app answered and their ratio to the fewest the page
// size allows.
//
// native (native.go): hires through the Google Workspace or GitHub
// connector, built by its registry Factory, against its fake: unlimited,
// or at the vendor's documented limits and Keycard's pace for them, both
// scaled by -rate-scale. Needs no NATS.
//
// Every mode deletes Keycard's streams and KV buckets on the server first
// (and flushes the Redis database given): point them at throwaway servers.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/ingest"
	"keycard/pkg/ledger"
	"keycard/pkg/logging"
	"keycard/pkg/normalize"
	"keycard/pkg/opshttp"
	"keycard/pkg/ratelimit"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
	"keycard/scripts/benchkit"
)

// app is the benchmarked app's name; its durable is "worker-" + app.
const app = "bench"

// ledgerBucket and ledgerTTL are what the single binary uses
// (pkg/workers: bucket "idem", KEYCARD_LEDGER_TTL 2880h).
const (
	ledgerBucket = "idem"
	ledgerTTL    = 2880 * time.Hour
	redisPrefix  = "keycard:"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "worker":
		err = runWorker(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "pipeline":
		err = runPipeline(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "scim":
		err = runSCIM(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "adaptive":
		err = runAdaptive(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "leavers":
		err = runLeavers(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "reconcile":
		err = runReconcile(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "native":
		err = runNative(ctx, os.Args[2:], os.Stdout, os.Stderr)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchworker:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchworker worker|pipeline|scim|leavers|adaptive|reconcile|native -nats URL [flags]")
	os.Exit(2)
}

// common are the flags both modes share.
type common struct {
	url      string
	timeout  time.Duration
	logFile  string
	logLevel string
	profile  string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", "", "NATS URL of a throwaway JetStream server: Keycard's streams and buckets there are deleted first (required)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "give up after this long")
	fs.StringVar(&c.logFile, "log", "", "write the services' JSON log here (default: formatted, then discarded)")
	fs.StringVar(&c.logLevel, "log-level", "info", "the services' log level (info, as deployed)")
	fs.StringVar(&c.profile, "cpuprofile", "", "write a CPU profile of the measured phase to this file")
}

// setup connects, resets Keycard's state on the server and opens the log.
func (c *common) setup(ctx context.Context) (*nats.Conn, jetstream.JetStream, zerolog.Logger, func(), error) {
	nop := zerolog.Nop()
	if c.url == "" {
		return nil, nil, nop, nil, errors.New("-nats is required")
	}
	var out io.Writer = io.Discard
	var f *os.File
	if c.logFile != "" {
		var err error
		if f, err = os.Create(c.logFile); err != nil {
			return nil, nil, nop, nil, err
		}
		out = f
	}
	log, err := logging.New(out, c.logLevel, "json")
	if err != nil {
		return nil, nil, nop, nil, err
	}
	nc, err := nats.Connect(c.url, nats.Name("benchworker"))
	if err != nil {
		return nil, nil, nop, nil, err
	}
	closeAll := func() {
		nc.Close()
		if f != nil {
			_ = f.Close()
		}
	}
	js, err := jetstream.New(nc)
	if err == nil {
		err = benchkit.Reset(ctx, js)
	}
	if err != nil {
		closeAll()
		return nil, nil, nop, nil, err
	}
	return nc, js, log, closeAll, nil
}

// startProfile starts the CPU profile, if asked for; call the returned
// function to stop it.
func (c *common) startProfile() (func(), error) {
	if c.profile == "" {
		return func() {}, nil
	}
	f, err := os.Create(c.profile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// evaluateGroups is a policy giving everyone an account and these groups.
func evaluateGroups(names []string) func(event.Employee) (connector.Want, []string, []string) {
	groups := map[connector.Kind][]string{connector.Group: names}
	return func(event.Employee) (connector.Want, []string, []string) {
		return connector.Want{Account: true, Memberships: groups, Managed: groups}, []string{"bench"}, nil
	}
}

// evaluate is the benchmark's policy: everyone gets an account and the
// one group.
var evaluate = evaluateGroups([]string{"everyone"})

// newWorker builds the one worker as pkg/workers does for an
// app without credentials: run dry, unpaced.
func newWorker(ctx context.Context, js jetstream.JetStream, conn connector.Connector, led ledger.Ledger, vers ledger.Versions,
	lim worker.Limiter, conc int, log zerolog.Logger) (*worker.Worker, error) {
	return worker.New(ctx, js, worker.Config{
		App: app, DryRun: true, Connector: conn, Evaluate: evaluate,
		Ledger: led, Versions: vers, Limiter: lim, Concurrency: conc,
	}, log.With().Str("component", "worker").Logger(), worker.NewMetrics(prometheus.NewRegistry()))
}

func employeeID(base, i int) string { return strconv.Itoa(base + i) }

func emit(stdout io.Writer, v any) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ") // one key per line, as bench.sh reads it
	return enc.Encode(v)
}

func round(v float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(v*f) / f
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// ---------------------------------------------------------------- worker

type workerResult struct {
	App          string  `json:"app"`
	Ledger       string  `json:"ledger"`
	Events       int     `json:"events"`
	Concurrency  int     `json:"concurrency"`
	FillSeconds  float64 `json:"fill_seconds"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"events_per_s"`
	AuditRecords uint64  `json:"audit_records"`
	Accounts     int     `json:"accounts"`
	Writes       int     `json:"writes"`
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var c common
	c.register(fs)
	kind := fs.String("ledger", "kv", "idempotency ledger: kv (JetStream KV, the single binary's) or redis")
	redisURL := fs.String("redis", "", "redis:// URL of a throwaway Redis for -ledger redis: its database is flushed first")
	n := fs.Int("events", 5000, "hired events to apply")
	conc := fs.Int("concurrency", 16, "worker concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *conc <= 0 {
		return errors.New("-events and -concurrency must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, log, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()

	var (
		led  ledger.Ledger
		vers ledger.Versions
		lim  worker.Limiter
	)
	switch *kind {
	case "kv":
		kv, err := ledger.NewKV(ctx, js, ledgerBucket, 1, ledgerTTL)
		if err != nil {
			return err
		}
		led, vers, lim = kv, kv, ratelimit.NewLocal(nil)
	case "redis":
		rdb, err := openRedis(ctx, *redisURL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		r := ledger.NewRedis(rdb, redisPrefix, ledgerTTL)
		led, vers, lim = r, r, ratelimit.NewRedis(rdb, nil)
	default:
		return fmt.Errorf("-ledger %q: want kv or redis", *kind)
	}

	fillStart := time.Now()
	if err := fillEvents(ctx, js, *n); err != nil {
		return err
	}
	fillSeconds := time.Since(fillStart).Seconds()
	fmt.Fprintf(stderr, "filled HR_EVENTS with %d hired events in %.2fs\n", *n, fillSeconds)

	// The app is connector.Memory, what the single binary runs for an app
	// without credentials.
	target := connector.NewMemory()
	w, err := newWorker(ctx, js, target, led, vers, lim, *conc, log)
	if err != nil {
		return err
	}
	audit, err := js.Stream(ctx, streams.Audit)
	if err != nil {
		return err
	}
	stopProfile, err := c.startProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(runCtx) }()
	var records uint64
	for last := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if ctx.Err() != nil {
			return fmt.Errorf("gave up after %s: %d/%d audit records", c.timeout, records, *n)
		}
		finished, got, err := workerDone(ctx, js, audit, uint64(*n))
		if err != nil {
			return err
		}
		records = got
		if finished {
			break
		}
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(stderr, "audited %d/%d\n", got, *n)
			last = time.Now()
		}
	}
	elapsed := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return err
	}
	accounts, writes := len(target.Accounts()), target.Writes()
	if accounts != *n {
		return fmt.Errorf("the app holds %d accounts, want %d", accounts, *n)
	}
	return emit(stdout, workerResult{
		App: "memory", Ledger: *kind, Events: *n, Concurrency: *conc, FillSeconds: round(fillSeconds, 3), Seconds: round(elapsed.Seconds(), 3),
		PerSecond: round(float64(*n)/elapsed.Seconds(), 1), AuditRecords: records, Accounts: accounts, Writes: writes,
	})
}

// workerDone: the worker's durable has nothing pending or unacknowledged,
// and (unless audit is nil) at least n audit records exist.
func workerDone(ctx context.Context, js jetstream.JetStream, audit jetstream.Stream, n uint64) (bool, uint64, error) {
	var got uint64
	if audit != nil {
		info, err := audit.Info(ctx)
		if err != nil {
			return false, 0, err
		}
		if got = info.State.Msgs; got < n {
			return false, got, nil
		}
	}
	cons, err := js.Consumer(ctx, streams.Events, "worker-"+app)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false, got, nil
	}
	if err != nil {
		return false, got, err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return false, got, err
	}
	return ci.NumPending == 0 && ci.NumAckPending == 0, got, nil
}

func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	if url == "" {
		return nil, errors.New("-ledger redis needs -redis")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	// The server may still be starting.
	for i := 0; ; i++ {
		err = rdb.Ping(ctx).Err()
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		err = rdb.FlushDB(ctx).Err()
	}
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}

// awaitAudited waits until the audit stream holds n records and the
// worker's durable is drained, printing progress every 5 s.
func awaitAudited(ctx context.Context, js jetstream.JetStream, n uint64, stderr io.Writer, what string) error {
	audit, err := js.Stream(ctx, streams.Audit)
	if err != nil {
		return err
	}
	for last := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		finished, got, err := workerDone(ctx, js, audit, n)
		if err != nil || finished {
			return err
		}
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(stderr, "%s: %d/%d audit records\n", what, got, n)
			last = time.Now()
		}
	}
}

// deadLetters is how many messages HR_DLQ holds (0 if it cannot tell).
func deadLetters(ctx context.Context, js jetstream.JetStream) uint64 {
	if dlq, err := js.Stream(ctx, streams.DLQ); err == nil {
		if info, err := dlq.Info(ctx); err == nil {
			return info.State.Msgs
		}
	}
	return 0
}

// fillEvents publishes n canonical hired events for distinct employees,
// as the normalizer stores them.
func fillEvents(ctx context.Context, js jetstream.JetStream, n int) error {
	evs := make([]event.Event, n)
	for i := range n {
		evs[i] = benchEvent(event.Hired, 1, employeeID(100000, i), event.StatusActive)
	}
	return publishEvents(ctx, js, evs)
}

// benchEvent is one canonical event about employee id.
func benchEvent(kind event.Kind, seq uint64, id, status string) event.Event {
	at := time.Now().UTC()
	return event.Event{
		ID: event.ID(event.SourceBambooHR, id, seq), Kind: kind, OccurredAt: at, EffectiveAt: at,
		Source: event.SourceBambooHR, Sequence: seq,
		Employee: event.Employee{ID: id, FirstName: "Bench", LastName: id, WorkEmail: "bench" + id + "@example.com",
			Status: status, EmploymentStatus: "Full-Time", EmploymentType: event.EmploymentTypeEmployee,
			Department: "Engineering", JobTitle: "Engineer", Location: "Remote", HireDate: "2024-01-01"},
	}
}

// publishEvents stores evs on HR_EVENTS as the normalizer does.
func publishEvents(ctx context.Context, js jetstream.JetStream, evs []event.Event) error {
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(ev.Subject())
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
		msg.Header.Set(event.HeaderEventID, ev.ID)
		msg.Header.Set(event.HeaderKind, string(ev.Kind))
		msg.Header.Set(event.HeaderOccurredAt, ev.OccurredAt.Format(time.RFC3339Nano))
		f, err := js.PublishMsgAsync(msg, jetstream.WithExpectStream(streams.Events))
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	return benchkit.Await(ctx, js, futures)
}

// ---------------------------------------------------------------- pipeline

type pipelineResult struct {
	App               string         `json:"app"`
	TargetRate        float64        `json:"target_rate"`
	DurationS         float64        `json:"duration_s"`
	Warmup            int            `json:"warmup"`
	WorkerConcurrency int            `json:"worker_concurrency"`
	Sent              int            `json:"sent"`
	Accepted          int            `json:"accepted"`
	HTTPErrors        int            `json:"http_errors"`
	ErrorClasses      map[string]int `json:"error_classes"`
	Applied           int            `json:"applied"`
	Missing           int            `json:"missing"`
	Outcomes          map[string]int `json:"outcomes"`
	SendWindowS       float64        `json:"send_window_s"`
	AchievedRate      float64        `json:"achieved_rate"`
	MaxSendLagMs      float64        `json:"max_send_lag_ms"`
	HTTPP99Ms         float64        `json:"http_p99_ms"`
	P50Ms             float64        `json:"p50_ms"`
	P90Ms             float64        `json:"p90_ms"`
	P99Ms             float64        `json:"p99_ms"`
	MaxMs             float64        `json:"max_ms"`
	// Where the time goes, per event (p50 / p99 ms): intended send →
	// stored in HR_INBOX, → event stored in HR_EVENTS, → audit record.
	StageInboxP50Ms  float64 `json:"stage_inbox_p50_ms"`
	StageInboxP99Ms  float64 `json:"stage_inbox_p99_ms"`
	StageEventsP50Ms float64 `json:"stage_normalize_p50_ms"`
	StageEventsP99Ms float64 `json:"stage_normalize_p99_ms"`
	StageWorkerP50Ms float64 `json:"stage_worker_p50_ms"`
	StageWorkerP99Ms float64 `json:"stage_worker_p99_ms"`
}

// auditLog collects the first audit record of each employee.
type auditLog struct {
	mu      sync.Mutex
	first   map[string]worker.Record
	changed chan struct{} // signalled (non-blocking) on every new record
}

func (a *auditLog) add(r worker.Record) {
	a.mu.Lock()
	if _, ok := a.first[r.EmployeeID]; !ok {
		a.first[r.EmployeeID] = r
	}
	a.mu.Unlock()
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

func (a *auditLog) get(id string) (worker.Record, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.first[id]
	return r, ok
}

// waitFor waits until every id has a record or ctx ends; it returns how
// many have one.
func (a *auditLog) waitFor(ctx context.Context, ids []string) int {
	for {
		n := 0
		for _, id := range ids {
			if _, ok := a.get(id); ok {
				n++
			}
		}
		if n == len(ids) {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-a.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// webhookReq is one signed delivery, due at its intended send time.
type webhookReq struct {
	id   string
	due  time.Time
	body []byte
	ts   string
	sig  string
}

func signed(key []byte, id string, due time.Time) webhookReq {
	body := fmt.Appendf(nil, `{"type":"employee.created","timestamp":%q,"data":{"companyId":"1","employeeId":%q}}`,
		due.UTC().Format(time.RFC3339Nano), id)
	ts := strconv.FormatInt(due.Unix(), 10)
	return webhookReq{id: id, due: due, body: body, ts: ts, sig: webhook.Sign(key, body, ts)}
}

// send posts one delivery and returns "" when it was accepted, else an
// error class.
func send(ctx context.Context, c *http.Client, url string, r webhookReq) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		return "request"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, r.ts)
	req.Header.Set(webhook.HeaderSignature, r.sig)
	resp, err := c.Do(req)
	if err != nil {
		return "transport"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "status_" + strconv.Itoa(resp.StatusCode)
	}
	var a struct {
		Status    string `json:"status"`
		Duplicate bool   `json:"duplicate"`
	}
	if json.Unmarshal(body, &a) != nil || a.Status != "accepted" || a.Duplicate {
		return "bad_answer"
	}
	return ""
}

func runPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	var c common
	c.register(fs)
	rate := fs.Float64("rate", 200, "webhooks per second, open loop")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	warmup := fs.Int("warmup", 50, "webhooks sent one by one and applied before timing starts")
	conc := fs.Int("worker-concurrency", 64, "worker concurrency (the single binary's KEYCARD_WORKER_CONCURRENCY default)")
	normConc := fs.Int("normalizer-concurrency", 16, "normalizer concurrency (KEYCARD_NORMALIZER_CONCURRENCY default)")
	senders := fs.Int("senders", 64, "HTTP senders (an upper bound on webhooks in flight)")
	drain := fs.Duration("drain", 30*time.Second, "after the last send, wait this long for the rest to be applied")
	if err := fs.Parse(args); err != nil {
		return err
	}
	total := int(*rate * dur.Seconds())
	if total <= 0 || *senders <= 0 || *conc <= 0 || *warmup < 0 {
		return errors.New("-rate, -duration, -senders and -worker-concurrency must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, log, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()

	// BambooHR: every employee a webhook will name, ready at once.
	fake := bamboohrtest.New()
	defer fake.Close()
	warmIDs := make([]string, *warmup)
	timedIDs := make([]string, total)
	for i := range warmIDs {
		warmIDs[i] = employeeID(200000, i)
	}
	for i := range timedIDs {
		timedIDs[i] = employeeID(300000, i)
	}
	for _, id := range slices.Concat(warmIDs, timedIDs) {
		fake.Put(bamboohrtest.Employee{ID: id, FirstName: "Bench", LastName: id, WorkEmail: "bench" + id + "@example.com",
			Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer",
			Location: "Remote", HireDate: "2024-01-01"})
	}
	api, err := bamboohr.New(fake.Config())
	if err != nil {
		return err
	}

	// The three parts, as services/keycard wires them (the poller aside:
	// it only rechecks on its interval, minutes apart).
	reg := prometheus.NewRegistry()
	key := "bench-webhook-key"
	settings := ingest.Settings{WebhookKey: key, MaxBodyBytes: 1 << 20, MaxAge: 3 * time.Hour, MaxFuture: 5 * time.Minute,
		PublishTimeout: 2 * time.Second, MaxInFlight: 256, RetryAfter: 30 * time.Second}
	mux := http.NewServeMux()
	mux.Handle(ingest.Path, ingest.New(settings, js, log.With().Str("component", "ingester").Logger(), reg, time.Now))
	ln, srv, err := opshttp.Listen("127.0.0.1:0", mux, opshttp.Timeouts{})
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + ingest.Path
	zone := time.UTC
	norm, err := normalize.New(ctx, js, api, normalize.Options{
		Replicas: 1, DefaultZone: zone, ContractorStatuses: []string{"Contractor", "Contract", "Freelance"},
		JoinerTime: "00:00", LeaverTime: "18:00", Concurrency: *normConc, MaxDeliver: 20,
	}, log.With().Str("component", "normalizer").Logger(), reg)
	if err != nil {
		return err
	}
	kv, err := ledger.NewKV(ctx, js, ledgerBucket, 1, ledgerTTL)
	if err != nil {
		return err
	}
	target := connector.NewMemory()
	w, err := newWorker(ctx, js, target, kv, kv, ratelimit.NewLocal(nil), *conc, log)
	if err != nil {
		return err
	}

	// Every audit record, from the start of the stream.
	audits := &auditLog{first: map[string]worker.Record{}, changed: make(chan struct{}, 1)}
	var badAudit atomic.Int64
	cons, err := js.OrderedConsumer(ctx, streams.Audit, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"audit." + app + ".>"}})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var r worker.Record
		if json.Unmarshal(m.Data(), &r) != nil {
			badAudit.Add(1)
			return
		}
		audits.add(r)
	})
	if err != nil {
		return err
	}
	defer cc.Stop()

	stopProfile, err := c.startProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() { errs <- opshttp.Serve(runCtx, srv, ln, settings.PublishTimeout+time.Second) })
	wg.Go(func() { errs <- norm.Run(runCtx) })
	wg.Go(func() { errs <- w.Run(runCtx) })
	shutdown := func() error {
		stop()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
		return nil
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: *senders * 2, MaxIdleConnsPerHost: *senders * 2, MaxConnsPerHost: *senders,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, DisableCompression: true,
	}}

	// Warm up: connections, consumers, first-use paths, one at a time.
	if *warmup > 0 {
		fmt.Fprintf(stderr, "warm-up: %d webhooks one by one\n", *warmup)
		for _, id := range warmIDs {
			if class := send(ctx, client, url, signed([]byte(key), id, time.Now())); class != "" {
				return fmt.Errorf("warm-up webhook for %s: %s", id, class)
			}
		}
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		got := audits.waitFor(wctx, warmIDs)
		wcancel()
		if got != len(warmIDs) {
			return fmt.Errorf("warm-up: only %d/%d applied within 30s", got, len(warmIDs))
		}
	}

	// The timed run: request i is due at start + i/rate, signed with that
	// time, and its latency runs from then, however late it is sent.
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now().Add(200 * time.Millisecond)
	reqs := make([]webhookReq, total)
	for i, id := range timedIDs {
		reqs[i] = signed([]byte(key), id, start.Add(time.Duration(i)*interval))
	}
	fmt.Fprintf(stderr, "sending %d webhooks at %.0f/s for %s\n", total, *rate, *dur)
	jobs := make(chan int, total)
	httpLat := make([]time.Duration, total)
	var mu sync.Mutex
	classes := map[string]int{}
	var senderWG sync.WaitGroup
	for range *senders {
		senderWG.Go(func() {
			for i := range jobs {
				class := send(ctx, client, url, reqs[i])
				httpLat[i] = time.Since(reqs[i].due)
				if class != "" {
					mu.Lock()
					classes[class]++
					mu.Unlock()
				}
			}
		})
	}
	var maxLag time.Duration
	for i := range reqs {
		if d := time.Until(reqs[i].due); d > 0 {
			time.Sleep(d)
		} else if -d > maxLag {
			maxLag = -d
		}
		jobs <- i
	}
	close(jobs)
	senderWG.Wait()
	sendWindow := time.Since(start)

	dctx, dcancel := context.WithTimeout(ctx, *drain)
	applied := audits.waitFor(dctx, timedIDs)
	dcancel()
	fmt.Fprintf(stderr, "applied %d/%d\n", applied, total)
	// An audit record precedes the ledger's done mark and the ack: let the
	// last events settle before stopping, so none is cut off mid-way.
	settle := time.Now().Add(5 * time.Second)
	for time.Now().Before(settle) {
		if done, _, err := workerDone(ctx, js, nil, 0); err != nil || done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := shutdown(); err != nil {
		return err
	}
	if n := badAudit.Load(); n > 0 {
		fmt.Fprintf(stderr, "warning: %d undecodable audit records\n", n)
	}

	res := pipelineResult{App: "memory", TargetRate: *rate, DurationS: dur.Seconds(), Warmup: *warmup, WorkerConcurrency: *conc,
		Sent: total, ErrorClasses: classes, Outcomes: map[string]int{}, SendWindowS: round(sendWindow.Seconds(), 3),
		AchievedRate: round(float64(total)/sendWindow.Seconds(), 1), MaxSendLagMs: ms(maxLag)}
	for _, n := range classes {
		res.HTTPErrors += n
	}
	res.Accepted = total - res.HTTPErrors
	slices.Sort(httpLat)
	res.HTTPP99Ms = ms(pct(httpLat, 99))
	lat := make([]time.Duration, 0, total)
	for _, r := range reqs {
		rec, ok := audits.get(r.id)
		if !ok {
			continue
		}
		res.Outcomes[rec.Outcome]++
		lat = append(lat, rec.At.Sub(r.due))
	}
	if err := stages(ctx, js, reqs, audits, &res); err != nil {
		fmt.Fprintf(stderr, "warning: no stage breakdown: %v\n", err)
	}
	res.Applied = len(lat)
	res.Missing = total - res.Applied
	slices.Sort(lat)
	res.P50Ms = ms(pct(lat, 50))
	res.P90Ms = ms(pct(lat, 90))
	res.P99Ms = ms(pct(lat, 99))
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	if res.Missing > 0 {
		// A lost event must not make the tail look better: count it as
		// taking at least the whole drain.
		fmt.Fprintf(stderr, "warning: %d events never applied; p99/max count them as the drain (%s)\n", res.Missing, *drain)
		for range res.Missing {
			lat = append(lat, sendWindow+*drain)
		}
		slices.Sort(lat)
		res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1])
	}
	return emit(stdout, res)
}

// stages fills in the per-stage latencies from the server's timestamps of
// each employee's HR_INBOX delivery and HR_EVENTS event.
func stages(ctx context.Context, js jetstream.JetStream, reqs []webhookReq, audits *auditLog, res *pipelineResult) error {
	inbox, err := stamps(ctx, js, streams.Inbox, func(m jetstream.Msg) string {
		var b struct {
			Data struct {
				EmployeeID string `json:"employeeId"`
			} `json:"data"`
		}
		_ = json.Unmarshal(m.Data(), &b)
		return b.Data.EmployeeID
	})
	if err != nil {
		return err
	}
	events, err := stamps(ctx, js, streams.Events, func(m jetstream.Msg) string {
		var e event.Event
		_ = json.Unmarshal(m.Data(), &e)
		return e.Employee.ID
	})
	if err != nil {
		return err
	}
	var in, norm, work []time.Duration
	for _, r := range reqs {
		ti, ok1 := inbox[r.id]
		te, ok2 := events[r.id]
		rec, ok3 := audits.get(r.id)
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		in, norm, work = append(in, ti.Sub(r.due)), append(norm, te.Sub(ti)), append(work, rec.At.Sub(te))
	}
	for _, d := range [][]time.Duration{in, norm, work} {
		slices.Sort(d)
	}
	res.StageInboxP50Ms, res.StageInboxP99Ms = ms(pct(in, 50)), ms(pct(in, 99))
	res.StageEventsP50Ms, res.StageEventsP99Ms = ms(pct(norm, 50)), ms(pct(norm, 99))
	res.StageWorkerP50Ms, res.StageWorkerP99Ms = ms(pct(work, 50)), ms(pct(work, 99))
	return nil
}

// stamps reads a whole stream and returns, per employee (by idOf), the
// time the server stored the first message about them.
func stamps(ctx context.Context, js jetstream.JetStream, stream string, idOf func(jetstream.Msg) string) (map[string]time.Time, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	if info.State.Msgs == 0 {
		return out, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	for seen := uint64(0); seen < info.State.Msgs; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if id := idOf(m); id != "" {
				if _, ok := out[id]; !ok {
					out[id] = meta.Timestamp
				}
			}
			if meta.Sequence.Stream >= info.State.LastSeq {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no messages after %d", stream, seen)
		}
		seen += uint64(n)
	}
	return out, nil
}
