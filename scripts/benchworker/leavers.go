package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/ledger"
	"keycard/pkg/ratelimit"
	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// ---------------------------------------------------------------- leavers

// leaversResult is what `benchworker leavers` prints: how long a
// termination takes to be applied while a joiner backlog drains at the
// app's pace (issue 9: 57 s first in first out), next to the joiners' own
// time to be applied in the same run.
type leaversResult struct {
	Joiners     int     `json:"joiners"`
	Leavers     int     `json:"leavers"`
	RatePerMin  int     `json:"writes_per_min"`
	Burst       int     `json:"burst"`
	Concurrency int     `json:"concurrency"`
	EveryS      float64 `json:"every_s"`

	// Stored on HR_EVENTS → audit record stored, per termination.
	LeaverP50Ms float64 `json:"leaver_p50_ms"`
	LeaverP99Ms float64 `json:"leaver_p99_ms"`
	LeaverMaxMs float64 `json:"leaver_max_ms"`
	// The same for the joiners queued ahead.
	JoinerP50Ms float64 `json:"joiner_p50_ms"`
	JoinerMaxMs float64 `json:"joiner_max_ms"`
	// Joiners still waiting when a termination was applied (the fewest
	// over the terminations): a backlog really was in the way.
	BacklogMin  int     `json:"backlog_at_leaver_min"`
	Seconds     float64 `json:"seconds"`
	DeadLetters uint64  `json:"dead_letters"`
	Deactivated int     `json:"deactivated"`
}

func runLeavers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("leavers", flag.ContinueOnError)
	var c common
	c.register(fs)
	joiners := fs.Int("joiners", 300, "hires queued before the terminations")
	leavers := fs.Int("leavers", 20, "terminations, one every -every while the joiners drain")
	rate := fs.Int("rate", 600, "the app's pace, writes a minute (the SCIM test server itself is unlimited)")
	burst := fs.Int("burst", 10, "the pacer's burst")
	every := fs.Duration("every", time.Second, "spacing of the terminations")
	conc := fs.Int("concurrency", 64, "worker concurrency (Keycard's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *joiners <= 0 || *leavers <= 0 || *rate <= 0 || *burst <= 0 || *conc <= 0 || *every <= 0 {
		return errors.New("every flag must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, log, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()

	srv := scimtest.New(scimtest.Slack())
	defer srv.Close()
	srv.SetLimits() // Slack's quirks; the pacer is the limit
	hs := httptest.NewServer(srv)
	defer hs.Close()
	client, err := scim.New(scim.Config{BaseURL: hs.URL, Token: srv.Token(), Profile: scim.Slack()})
	if err != nil {
		return err
	}
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{app: {PerMinute: *rate, Burst: *burst}})
	target := scim.NewConnector(client, scim.Coalesce(func(ctx context.Context) error { return lim.Wait(ctx, app) }))
	kv, err := ledger.NewKV(ctx, js, ledgerBucket, 1, ledgerTTL)
	if err != nil {
		return err
	}
	groups := map[connector.Kind][]string{connector.Group: {"everyone"}}
	w, err := worker.New(ctx, js, worker.Config{
		App: app, Connector: target, Ledger: kv, Versions: kv, Limiter: lim, Concurrency: *conc,
		Evaluate: func(e event.Employee) (connector.Want, []string, []string) {
			if e.Status != event.StatusActive {
				return connector.Want{Managed: groups}, nil, nil
			}
			return connector.Want{Account: true, Memberships: groups, Managed: groups}, []string{"bench"}, nil
		},
	}, log.With().Str("component", "worker").Logger(), worker.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	res := leaversResult{Joiners: *joiners, Leavers: *leavers, RatePerMin: *rate, Burst: *burst, Concurrency: *conc, EveryS: every.Seconds()}
	leaverID := func(i int) string { return employeeID(200000, i) }
	var hires []event.Event
	for i := range *leavers {
		hires = append(hires, benchEvent(event.Hired, 1, leaverID(i), event.StatusActive))
	}
	fmt.Fprintf(stderr, "hiring the %d future leavers at %d writes/min\n", *leavers, *rate)
	if err := publishEvents(ctx, js, hires); err != nil {
		return err
	}
	if err := awaitAudited(ctx, js, uint64(*leavers), stderr, "future leavers"); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "queueing %d joiners, then a termination every %v\n", *joiners, *every)
	start := time.Now()
	if err := fillEvents(ctx, js, *joiners); err != nil {
		return err
	}
	for i := range *leavers {
		time.Sleep(*every)
		if err := publishEvents(ctx, js, []event.Event{benchEvent(event.Terminated, 2, leaverID(i), event.StatusInactive)}); err != nil {
			return err
		}
	}
	if err := awaitAudited(ctx, js, uint64(2**leavers+*joiners), stderr, "backlog"); err != nil {
		return err
	}
	res.Seconds = round(time.Since(start).Seconds(), 3)
	stop()
	if err := <-done; err != nil {
		return err
	}

	byEventID := func(m jetstream.Msg) string {
		var v struct {
			ID      string `json:"id"`
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(m.Data(), &v)
		return v.ID + v.EventID
	}
	stored, err := stamps(ctx, js, streams.Events, byEventID)
	if err != nil {
		return err
	}
	applied, err := stamps(ctx, js, streams.Audit, byEventID)
	if err != nil {
		return err
	}
	var leaverLat, joinerLat []time.Duration
	var joinersDone []time.Time
	for i := range *joiners {
		id := event.ID(event.SourceBambooHR, employeeID(100000, i), 1)
		joinerLat = append(joinerLat, applied[id].Sub(stored[id]))
		joinersDone = append(joinersDone, applied[id])
	}
	res.BacklogMin = *joiners
	for i := range *leavers {
		id := event.ID(event.SourceBambooHR, leaverID(i), 2)
		leaverLat = append(leaverLat, applied[id].Sub(stored[id]))
		waiting := 0
		for _, t := range joinersDone {
			if t.After(applied[id]) {
				waiting++
			}
		}
		res.BacklogMin = min(res.BacklogMin, waiting)
	}
	slices.Sort(leaverLat)
	slices.Sort(joinerLat)
	res.LeaverP50Ms, res.LeaverP99Ms, res.LeaverMaxMs = ms(pct(leaverLat, 50)), ms(pct(leaverLat, 99)), ms(leaverLat[len(leaverLat)-1])
	res.JoinerP50Ms, res.JoinerMaxMs = ms(pct(joinerLat, 50)), ms(joinerLat[len(joinerLat)-1])
	res.DeadLetters = deadLetters(ctx, js)
	for _, u := range srv.Users() {
		if !u.Active {
			res.Deactivated++
		}
	}
	if err := emit(stdout, res); err != nil {
		return err
	}
	switch {
	case res.DeadLetters > 0:
		return fmt.Errorf("%d events dead-lettered (see the log)", res.DeadLetters)
	case res.Deactivated != *leavers:
		return fmt.Errorf("%d accounts deactivated for %d leavers", res.Deactivated, *leavers)
	}
	return nil
}
