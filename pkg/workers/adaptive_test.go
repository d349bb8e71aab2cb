package workers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/redistest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
)

// startPace is where the adaptive pace starts in these tests: 20 writes a
// second, so they take seconds; the server's limits are set around it.
const startPace = 1200

// notionApp is a Notion app (no published limit: adaptive by default)
// starting at startPace.
func notionApp(srv *scimtest.Server) string {
	return fmt.Sprintf("apps:\n  - name: notion\n    type: scim\n    profile: notion\n    token_env: TEST_SCIM_TOKEN\n    base_url: %s\n"+
		"    rate_limit: {writes_per_minute: %d}\npolicy:\n  birthright:\n    notion: {groups: [everyone]}\n", srv.URL(), startPace)
}

// A vendor whose real limit (24,000/min) is far above the start: the
// pace climbs, as the metric shows, and the joiners' writes go faster
// than the start allows, with no 429.
func TestAdaptivePaceClimbs(t *testing.T) {
	srv := scimtest.New(scimtest.Notion())
	defer srv.Close()
	srv.RateLimit(20*startPace, 20)
	t.Setenv("TEST_SCIM_TOKEN", srv.Token())
	r := serve(t, notionApp(srv), func(s *Settings) { s.WorkerConcurrency = 16 })

	const n = 200
	start := time.Now()
	hireAll(t, r, n)
	waitFor(t, 60*time.Second, func() bool { return members(srv) == n })
	elapsed := time.Since(start)
	r.mustApply(t, srv, n)
	writes := 0
	for route, k := range srv.Requests().ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			writes += k
		}
	}
	pace := metric(t, r.reg, "keycard_app_pace_writes_per_minute", "notion")
	t.Logf("%d joiners, %d writes in %v (%.0f/min; the start allows %d/min); pace now %.0f/min",
		n, writes, elapsed, float64(writes)/elapsed.Minutes(), startPace, pace)
	if pace <= startPace {
		t.Fatalf("pace after %d accepted writes = %.0f/min; want above the start, %d/min", writes, pace, startPace)
	}
	// At the start's pace the writes need this long; the climb makes it a
	// fraction (about a third), so even a slow machine finishes sooner.
	if least := time.Duration(writes-1) * time.Minute / startPace; elapsed >= least {
		t.Fatalf("%d writes took %v; want less than the %v the starting pace needs", writes, elapsed, least)
	}
	if got := srv.Requests().RateLimited; got != 0 {
		t.Fatalf("the server answered 429 %d times; the ceiling (10 × start) is below its limit", got)
	}
}

// A vendor whose real limit (400/min) is below the start, with replicas'
// pace in Redis: 429s cut the pace, every joiner lands, nobody is
// dead-lettered.
func TestAdaptivePaceBacksOff(t *testing.T) {
	srv := scimtest.New(scimtest.Notion())
	defer srv.Close()
	srv.RateLimit(startPace/3, 5)
	t.Setenv("TEST_SCIM_TOKEN", srv.Token())
	r := serve(t, notionApp(srv), func(s *Settings) {
		s.WorkerConcurrency, s.WorkerMaxDeliver = 16, 12 // the production default
		s.RedisURL = redistest.Start(t)
	})

	const n = 40
	waitFor(t, 10*time.Second, func() bool { // the worker is up
		_, ok := lookupMetric(t, r.reg, "keycard_app_pace_writes_per_minute", "notion")
		return ok
	})
	hireAll(t, r, n)
	lowest := float64(startPace)
	waitFor(t, 60*time.Second, func() bool {
		lowest = min(lowest, metric(t, r.reg, "keycard_app_pace_writes_per_minute", "notion"))
		return members(srv) == n
	})
	r.mustApply(t, srv, n)
	throttled := metric(t, r.reg, "keycard_worker_throttled_total", "notion")
	t.Logf("%d joiners; %d 429s (%0.f seen); lowest pace %.0f/min", n, srv.Requests().RateLimited, throttled, lowest)
	if throttled == 0 || throttled != float64(srv.Requests().RateLimited) {
		t.Fatalf("keycard_worker_throttled_total = %.0f; want every one of the server's %d 429s", throttled, srv.Requests().RateLimited)
	}
	if lowest >= startPace {
		t.Fatalf("the pace never fell below the start (%d/min) despite %.0f 429s", startPace, throttled)
	}
}

// hireAll publishes n hires and waits for the acks.
func hireAll(t *testing.T, r *running, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprint(10000 + i)
		r.hire(t, event.Employee{ID: id, WorkEmail: "p" + id + "@example.com"})
	}
	<-r.js.PublishAsyncComplete()
}

func members(srv *scimtest.Server) int {
	for _, g := range srv.Groups() {
		return len(g.Members)
	}
	return 0
}

// mustApply fails unless all n joiners are in the app and its group and
// nothing was dead-lettered.
func (r *running) mustApply(t *testing.T, srv *scimtest.Server, n int) {
	t.Helper()
	dlq := natstest.Messages(t, r.js, streams.DLQ)
	if got := members(srv); got != n || len(srv.Users()) != n || len(dlq) > 0 {
		var dead []string
		for _, m := range dlq {
			dead = append(dead, m.Header.Get(deadletter.HeaderError))
		}
		t.Fatalf("%d users, %d in the group; want %d of each and no dead letters (dead letters: %q)", len(srv.Users()), got, n, dead)
	}
}

// metric is the value of the gauge or counter name for app.
func metric(t *testing.T, reg *prometheus.Registry, name, app string) float64 {
	t.Helper()
	v, ok := lookupMetric(t, reg, name, app)
	if !ok {
		t.Fatalf("no %s{app=%q}", name, app)
	}
	return v
}

// lookupMetric is the value of name{app}, if it is registered yet.
func lookupMetric(t *testing.T, reg *prometheus.Registry, name, app string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app" && l.GetValue() == app {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue(), true
					}
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}
