package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/ledger"
	"keycard/pkg/ratelimit"
	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/worker"
	"keycard/scripts/benchkit"
)

// ---------------------------------------------------------------- adaptive

// adaptiveRound is one run of the same hires at a vendor without a
// published limit: at the fixed starting pace, or adapting from it.
type adaptiveRound struct {
	Adaptive    bool    `json:"adaptive"`
	Seconds     float64 `json:"seconds"`
	Writes      int     `json:"writes"`
	WritesPerS  float64 `json:"writes_per_s"`
	FinalPace   int     `json:"final_pace_per_min"`
	Throttled   int     `json:"s429"`
	DeadLetters uint64  `json:"dead_letters"`
}

// adaptiveResult is what `benchworker adaptive` prints.
type adaptiveResult struct {
	Profile     string        `json:"profile"`
	Hires       int           `json:"hires"`
	StartPace   int           `json:"start_pace_per_min"`
	ServerLimit int           `json:"server_limit_per_min"`
	Fixed       adaptiveRound `json:"fixed"`
	Adapted     adaptiveRound `json:"adapted"`
	// Speedup is the fixed round's time over the adaptive one's;
	// LimitShare the adaptive round's writes/min over the vendor's limit.
	Speedup    float64 `json:"speedup"`
	LimitShare float64 `json:"limit_share"`
}

func runAdaptive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("adaptive", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("hires", 400, "hires per round (one group each, coalesced)")
	start := fs.Int("start", 1200, "the starting pace, writes/min (Keycard's default for such vendors is 60; scaled up so a round takes seconds)")
	limit := fs.Int("server-limit", 6000, "the vendor's real, unpublished write limit, writes/min (burst 20)")
	conc := fs.Int("concurrency", 64, "worker concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *start <= 0 || *limit <= 0 || *conc <= 0 {
		return errors.New("every flag must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, log, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	res := adaptiveResult{Profile: scim.Notion().Name, Hires: *n, StartPace: *start, ServerLimit: *limit}
	for _, adaptive := range []bool{false, true} {
		if adaptive { // setup reset the server for the first round
			if err := benchkit.Reset(ctx, js); err != nil {
				return err
			}
		}
		r, err := adaptiveRun(ctx, js, log, *n, *start, *limit, *conc, adaptive)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "adaptive=%v: %d hires in %.2fs, %d writes, pace %d/min at the end, %d 429s\n",
			adaptive, *n, r.Seconds, r.Writes, r.FinalPace, r.Throttled)
		if adaptive {
			res.Adapted = r
		} else {
			res.Fixed = r
		}
	}
	res.Speedup = round(res.Fixed.Seconds/res.Adapted.Seconds, 3)
	res.LimitShare = round(res.Adapted.WritesPerS*60/float64(*limit), 3)
	if err := emit(stdout, res); err != nil {
		return err
	}
	if d := res.Fixed.DeadLetters + res.Adapted.DeadLetters; d > 0 {
		return fmt.Errorf("%d events dead-lettered (see the log)", d)
	}
	return nil
}

func adaptiveRun(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, n, start, limit, conc int, adaptive bool) (adaptiveRound, error) {
	r := adaptiveRound{Adaptive: adaptive}
	srv := scimtest.New(scimtest.Notion())
	defer srv.Close()
	srv.RateLimit(limit, 20)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{app: {PerMinute: start, Burst: 1, Adaptive: adaptive}})
	client, err := scim.New(scim.Config{BaseURL: hs.URL, Token: srv.Token(), Profile: scim.Notion(),
		Observe: func(ctx context.Context, o ratelimit.Outcome) { lim.Observe(ctx, app, o) }})
	if err != nil {
		return r, err
	}
	target := scim.NewConnector(client, scim.Coalesce(func(ctx context.Context) error { return lim.Wait(ctx, app) }))
	kv, err := ledger.NewKV(ctx, js, ledgerBucket, 1, ledgerTTL)
	if err != nil {
		return r, err
	}
	if err := fillEvents(ctx, js, n); err != nil {
		return r, err
	}
	w, err := worker.New(ctx, js, worker.Config{
		App: app, Connector: target, Evaluate: evaluate, Ledger: kv, Versions: kv, Limiter: lim, Concurrency: conc,
	}, log.With().Str("component", "worker").Logger(), worker.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		return r, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- w.Run(runCtx) }()
	if err := awaitAudited(ctx, js, uint64(n), io.Discard, ""); err != nil {
		return r, err
	}
	elapsed := time.Since(began)
	stop()
	if err := <-done; err != nil {
		return r, err
	}
	st := srv.Requests()
	for route, k := range st.ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			r.Writes += k
		}
	}
	r.Seconds = round(elapsed.Seconds(), 3)
	r.WritesPerS = round(float64(r.Writes)/elapsed.Seconds(), 1)
	r.FinalPace, r.Throttled = lim.Pace(app), st.RateLimited
	r.DeadLetters = deadLetters(ctx, js)
	return r, nil
}
