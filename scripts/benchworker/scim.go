package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/ledger"
	"keycard/pkg/ratelimit"
	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// ---------------------------------------------------------------- scim

// scimResult is what `benchworker scim` prints. The 429 counts are the
// server's, split by cause: its rate limit ("rate limited") or Slack's
// per-resource write lock ("resource_locked").
type scimResult struct {
	Profile     string  `json:"profile"`
	Events      int     `json:"events"`
	Concurrency int     `json:"concurrency"`
	Limited     bool    `json:"limited"`
	RateScale   float64 `json:"rate_scale"`
	// The server's single write bucket; the worker's pacer has the same
	// rate and (unless -pacer-margin) the same burst.
	WritePerMin int `json:"write_limit_per_min"`
	WriteBurst  int `json:"write_burst"`
	PacerBurst  int `json:"pacer_burst"`

	Groups   int  `json:"groups"`   // groups every hire joins
	Coalesce bool `json:"coalesce"` // group additions share PATCHes

	FillSeconds float64 `json:"fill_seconds"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"hires_per_s"`

	// writes_needed = a create and one group add per group per hire, as
	// sent without coalescing; min_writes = what coalescing needs at best
	// (a create per hire, each group's additions in full batches);
	// min_seconds is the least time the server's bucket allows min_writes:
	// (min_writes − burst) / (R/60), and efficiency that over the actual
	// time.
	WritesNeeded  int     `json:"writes_needed"`
	MinWrites     int     `json:"min_writes"`
	WritesPerHire float64 `json:"writes_per_hire"`
	WritesOK      int64   `json:"writes_ok"`
	WriteAttempts int64   `json:"write_attempts"`
	Reads         int64   `json:"reads"`
	MinSeconds    float64 `json:"min_seconds"`
	Efficiency    float64 `json:"efficiency"`

	// "After warm-up": served once warmup_writes writes had succeeded.
	WarmupWrites           int     `json:"warmup_writes"`
	Total429               int64   `json:"s429_total"`
	After429               int64   `json:"s429_after_warmup"`
	Limited429             int64   `json:"s429_rate_limited"`
	LimitedAfter429        int64   `json:"s429_rate_limited_after_warmup"`
	Locked429              int64   `json:"s429_resource_locked"`
	LockedAfter429         int64   `json:"s429_resource_locked_after_warmup"`
	ReadLimited429         int64   `json:"s429_reads"`
	First429AfterWarmupS   float64 `json:"first_429_after_warmup_s"`
	Last429S               float64 `json:"last_429_s"`
	ServerRateLimitedTotal int     `json:"server_rate_limited_total"`

	AuditRecords uint64         `json:"audit_records"`
	DeadLetters  uint64         `json:"dead_letters"`
	Users        int            `json:"users"`
	GroupMembers int            `json:"group_members"`
	ByRoute      map[string]int `json:"by_route"`
}

// served counts what the SCIM server answered, in front of it.
type served struct {
	warmup   int64 // successful writes before a 429 counts as after warm-up
	start    atomic.Int64
	writesOK atomic.Int64
	attempts atomic.Int64
	reads    atomic.Int64

	mu sync.Mutex
	c  counts429
}

// counts429 are the 429s served, by cause and time.
type counts429 struct {
	total, after         int64
	limited, limitedLate int64
	locked, lockedLate   int64
	readLimited          int64
	firstLate, last      time.Duration
}

// statusRecorder keeps the status and, for a 429, the start of the body.
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status == http.StatusTooManyRequests && len(w.body) < 512 {
		w.body = append(w.body, b[:min(len(b), 512-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

func (s *served) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		write := r.Method != http.MethodGet
		if write {
			s.attempts.Add(1)
		} else {
			s.reads.Add(1)
		}
		switch {
		case rec.status/100 == 2 && write:
			s.writesOK.Add(1)
		case rec.status == http.StatusTooManyRequests:
			s.count429(write, strings.Contains(string(rec.body), "resource_locked"))
		}
	})
}

func (s *served) count429(write, locked bool) {
	at := time.Duration(time.Now().UnixNano() - s.start.Load())
	late := s.writesOK.Load() >= s.warmup
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.c
	c.total++
	c.last = at
	if late {
		if c.after == 0 {
			c.firstLate = at
		}
		c.after++
	}
	switch {
	case locked:
		c.locked++
		if late {
			c.lockedLate++
		}
	default:
		c.limited++
		if late {
			c.limitedLate++
		}
		if !write {
			c.readLimited++
		}
	}
}

func runSCIM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scim", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("events", 2000, "hired events to apply")
	conc := fs.Int("concurrency", 16, "worker concurrency")
	scale := fs.Float64("rate-scale", 0, "0: no rate limits (server and pacer off); f > 0: the server enforces Slack's documented "+
		"write budget (scim.Slack().RateLimit) times f as one write bucket, its read limit refilled f times faster, and the "+
		"worker's pacer is seeded with the same budget")
	burst := fs.Int("burst", 0, "write bucket size for -rate-scale, server and pacer (0: the documented burst times -rate-scale)")
	margin := fs.Int("pacer-margin", 1, "seed the pacer's burst this many tokens below the server's (1: as Keycard's default pace does)")
	warmupShare := fs.Float64("warmup", 0.10, "share of the writes after which a 429 counts as after warm-up")
	seedGroup := fs.Bool("seed-group", false, `create the policy's groups at the server before the run (default: the first hires create them, as in production)`)
	groups := fs.Int("groups", 1, `groups every hire joins ("everyone", then "g2", "g3", …)`)
	coalesce := fs.Bool("coalesce", true, "batch the group additions of many hires into one PATCH, as Keycard's workers do")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *conc <= 0 || *scale < 0 || *burst < 0 || *groups < 1 {
		return errors.New("-events, -concurrency and -groups must be positive, -rate-scale and -burst not negative")
	}
	names := []string{"everyone"}
	for i := 2; i <= *groups; i++ {
		names = append(names, fmt.Sprintf("g%d", i))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, log, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()

	prof := scim.Slack()
	res := scimResult{Profile: prof.Name, Events: *n, Concurrency: *conc, Limited: *scale > 0, RateScale: *scale,
		Groups: *groups, Coalesce: *coalesce, WritesNeeded: (1 + *groups) * *n, ByRoute: map[string]int{}}
	res.MinWrites = res.WritesNeeded
	if *coalesce {
		// Each group's additions in full batches: the fewest PATCHes the
		// vendor's batch limit allows, and one create per hire.
		perPatch := prof.MaxMembersPerPatch
		if perPatch == 0 {
			perPatch = scim.DefaultMaxMembersPerPatch
		}
		res.MinWrites = *n + *groups*((*n+perPatch-1)/perPatch)
	}
	opts := []scimtest.Option{scimtest.Slack()}
	if res.Limited {
		opts = append(opts, scimtest.WithRateScale(*scale))
	}
	srv := scimtest.New(opts...)
	defer srv.Close()
	limits := map[string]ratelimit.Limit{}
	if res.Limited {
		// RateLimit's bucket refills at the server's scale, so give it the
		// documented rate; the pacer gets the scaled one.
		res.WritePerMin = int(math.Round(float64(prof.RateLimit.PerMinute()) * *scale))
		res.WriteBurst = *burst
		if res.WriteBurst == 0 {
			res.WriteBurst = max(1, int(math.Round(float64(prof.RateLimit.Burst)**scale)))
		}
		srv.RateLimit(prof.RateLimit.PerMinute(), res.WriteBurst)
		res.PacerBurst = max(1, res.WriteBurst-*margin)
		limits[app] = ratelimit.Limit{PerMinute: res.WritePerMin, Burst: res.PacerBurst}
		res.MinSeconds = round(max(0, float64(res.MinWrites-res.WriteBurst))/(float64(res.WritePerMin)/60), 3)
	} else {
		srv.SetLimits() // Slack's quirks, no rate limits
	}
	if *seedGroup {
		for _, g := range names {
			srv.SeedGroup(scimtest.Group{DisplayName: g})
		}
	}
	res.WarmupWrites = int(math.Ceil(*warmupShare * float64(res.MinWrites)))
	front := &served{warmup: int64(res.WarmupWrites)}
	hs := httptest.NewServer(front.wrap(srv))
	defer hs.Close()

	client, err := scim.New(scim.Config{BaseURL: hs.URL, Token: srv.Token(), Profile: prof})
	if err != nil {
		return err
	}
	lim := ratelimit.NewLocal(limits)
	var copts []scim.Option
	if *coalesce {
		copts = append(copts, scim.Coalesce(func(ctx context.Context) error { return lim.Wait(ctx, app) }))
	}
	target := scim.NewConnector(client, copts...)

	kv, err := ledger.NewKV(ctx, js, ledgerBucket, 1, ledgerTTL)
	if err != nil {
		return err
	}
	fillStart := time.Now()
	if err := fillEvents(ctx, js, *n); err != nil {
		return err
	}
	res.FillSeconds = round(time.Since(fillStart).Seconds(), 3)
	fmt.Fprintf(stderr, "filled HR_EVENTS with %d hired events in %.2fs\n", *n, res.FillSeconds)

	w, err := worker.New(ctx, js, worker.Config{
		App: app, Connector: target, Evaluate: evaluateGroups(names), Ledger: kv, Versions: kv,
		Limiter: lim, Concurrency: *conc,
	}, log.With().Str("component", "worker").Logger(), worker.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		return err
	}
	audit, err := js.Stream(ctx, streams.Audit)
	if err != nil {
		return err
	}
	if res.Limited {
		fmt.Fprintf(stderr, "slack limits: %d writes/min, burst %d (server and pacer); minimum %.2fs for %d writes\n",
			res.WritePerMin, res.WriteBurst, res.MinSeconds, res.WritesNeeded)
	} else {
		fmt.Fprintln(stderr, "slack quirks, no rate limits, no pacer")
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
	front.start.Store(start.UnixNano())
	go func() { done <- w.Run(runCtx) }()
	for last := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if ctx.Err() != nil {
			return fmt.Errorf("gave up after %s: %d/%d audit records, %d writes", c.timeout, res.AuditRecords, *n, front.writesOK.Load())
		}
		finished, got, err := workerDone(ctx, js, audit, uint64(*n))
		if err != nil {
			return err
		}
		res.AuditRecords = got
		if finished {
			break
		}
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(stderr, "%.1fs: audited %d/%d, %d writes ok, %d 429s\n", time.Since(start).Seconds(), got, *n,
				front.writesOK.Load(), front.snapshot().total)
			last = time.Now()
		}
	}
	elapsed := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return err
	}
	stopProfile()

	res.Seconds = round(elapsed.Seconds(), 3)
	res.PerSecond = round(float64(*n)/elapsed.Seconds(), 1)
	if res.Limited {
		res.Efficiency = round(res.MinSeconds/elapsed.Seconds(), 3)
	}
	res.WritesOK, res.WriteAttempts, res.Reads = front.writesOK.Load(), front.attempts.Load(), front.reads.Load()
	res.WritesPerHire = round(float64(res.WritesOK)/float64(*n), 3)
	f := front.snapshot()
	res.Total429, res.After429 = f.total, f.after
	res.Limited429, res.LimitedAfter429 = f.limited, f.limitedLate
	res.Locked429, res.LockedAfter429 = f.locked, f.lockedLate
	res.ReadLimited429 = f.readLimited
	if f.after > 0 {
		res.First429AfterWarmupS = round(f.firstLate.Seconds(), 3)
	}
	res.Last429S = round(f.last.Seconds(), 3)
	st := srv.Requests()
	res.ServerRateLimitedTotal, res.ByRoute = st.RateLimited, st.ByRoute
	res.DeadLetters = deadLetters(ctx, js)
	res.Users = len(srv.Users())
	short := ""
	for _, g := range srv.Groups() {
		if g.DisplayName == "everyone" {
			res.GroupMembers += len(g.Members)
		}
		if len(g.Members) != *n {
			short += fmt.Sprintf(" %s has %d members;", g.DisplayName, len(g.Members))
		}
	}
	if err := emit(stdout, res); err != nil {
		return err
	}
	switch {
	case res.DeadLetters > 0:
		return fmt.Errorf("%d events dead-lettered (see the log)", res.DeadLetters)
	case res.Users != *n || short != "":
		return fmt.Errorf("the server holds %d users,%s want %d each", res.Users, short, *n)
	}
	return nil
}

func (s *served) snapshot() counts429 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}
