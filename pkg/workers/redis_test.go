package workers

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/redistest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// pausedFor reports the reason app is paused for in r's metrics, "" when
// it is not.
func (r *running) pausedFor(t *testing.T, app string) string {
	t.Helper()
	families, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "keycard_worker_app_paused" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["app"] == app && m.GetGauge().GetValue() == 1 {
				return labels["reason"]
			}
		}
	}
	return ""
}

// Issue 12: Redis, holding the ledger and the pacer, is killed mid-flood
// and started again empty. The workers stop writing (the app pauses for
// its store, nothing is dead-lettered), and resume when Redis answers:
// every person converges, no create is sent twice (the vendor never
// answers 409), and no event has two "applied" audit records.
func TestRedisOutagePausesAndResumes(t *testing.T) {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	srv.Delay(20 * time.Millisecond) // people are mid-apply at the kill
	t.Setenv("TEST_SLACK_TOKEN", srv.Token())
	redis := redistest.StartServer(t)
	r := serve(t, slackConfig(srv, "TEST_SLACK_TOKEN", 600000, 100), func(s *Settings) {
		s.RedisURL, s.WorkerConcurrency, s.WorkerMaxDeliver = redis.URL, 4, 3
		s.Lease, s.AckWait, s.InstanceID = time.Second, 3*time.Second, "test"
		s.CircuitProbeEvery, s.CircuitProbeMax = 100*time.Millisecond, 200*time.Millisecond
	})
	const people = 60
	for i := range people {
		r.hire(t, event.Employee{ID: fmt.Sprint(500 + i), WorkEmail: fmt.Sprintf("p%d@example.com", 500+i)})
	}
	waitFor(t, 20*time.Second, func() bool { return len(srv.Users()) >= 10 })
	redis.Stop()
	down := time.Now()
	waitFor(t, 10*time.Second, func() bool { return r.pausedFor(t, "slack") == "store" })
	if got := r.pausedFor(t, "slack"); got != "store" {
		t.Fatalf("paused for %q after Redis went down, want store", got)
	}
	t.Logf("paused for the store %v after Redis was killed, %d of %d people created", time.Since(down).Round(time.Millisecond), len(srv.Users()), people)
	// What was in flight stops within a lease (its renewals fail); then
	// nothing more is written.
	time.Sleep(1500 * time.Millisecond)
	writes := srv.Requests().Total
	time.Sleep(time.Second)
	if n := srv.Requests().Total - writes; n != 0 {
		t.Fatalf("%d requests to the app while the store was down", n)
	}
	if len(srv.Users()) == people {
		t.Fatal("everyone was created before the kill: the test shows nothing")
	}

	redis.Restart(t)
	back := time.Now()
	converged := func() bool {
		users := srv.Users()
		groups := srv.Groups()
		return len(users) == people && len(groups) == 1 && len(groups[0].Members) == people
	}
	waitFor(t, 30*time.Second, converged)
	if !converged() {
		t.Fatalf("%d of %d people created 30s after Redis came back", len(srv.Users()), people)
	}
	t.Logf("every person converged %v after Redis came back (probe every 100ms)", time.Since(back).Round(time.Millisecond))
	if r.pausedFor(t, "slack") != "" {
		t.Error("still shown paused")
	}
	if n := srv.Requests().ByStatus[409]; n != 0 {
		t.Errorf("the vendor answered 409 %d times: a create was sent twice", n)
	}
	if n := len(natstest.Messages(t, r.js, streams.DLQ)); n != 0 {
		t.Errorf("%d dead letters for a store outage", n)
	}
	applied := map[string]int{}
	for _, m := range natstest.Messages(t, r.js, streams.Audit) {
		var rec worker.Record
		if json.Unmarshal(m.Data, &rec) == nil && rec.Outcome == "applied" {
			applied[rec.EventID]++
		}
	}
	for id, n := range applied {
		if n > 1 {
			t.Errorf("event %s has %d applied audit records", id, n)
		}
	}
}
