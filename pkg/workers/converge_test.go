package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/normalize"
	"keycard/pkg/reconcile"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// swapConfig is a Slack app whose engineers get the group tool; the rest
// only everyone. reconcile is the app's reconcile block.
func swapConfig(srv *scimtest.Server, tool, reconcileBlock string, maxDeactivations int) string {
	return fmt.Sprintf(`apps:
  - name: slack
    type: scim
    profile: slack
    token_env: TEST_SLACK_TOKEN
    base_url: %s
    rate_limit: {writes_per_minute: 60000, burst: 100}
    guard: {max_deactivations: %d, max_share: 1}
    reconcile: %s
policy:
  birthright:
    slack: {groups: [everyone]}
  rules:
    - name: engineering
      when: 'employee.department == "Engineering"'
      grant:
        slack: {groups: [%s]}
`, srv.URL(), maxDeactivations, reconcileBlock, tool)
}

// restartable is Serve on one NATS, stopped and started again with
// another file, as an operator's restart after a config change.
type restartable struct {
	t    *testing.T
	js   jetstream.JetStream
	stop func()
}

// newRestartable is a Slack test server and a Serve to start against it,
// both closed when the test ends.
func newRestartable(t *testing.T) (*scimtest.Server, *restartable) {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	t.Setenv("TEST_SLACK_TOKEN", srv.Token())
	_, js := natstest.WithStreams(t)
	r := &restartable{t: t, js: js}
	t.Cleanup(func() {
		r.halt()
		srv.Close()
	})
	return srv, r
}

func (r *restartable) start(yaml string) {
	t := r.t
	t.Helper()
	r.halt()
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{ConfigFile: file, WorkerConcurrency: 4, WorkerMaxDeliver: 5, LedgerTTL: time.Hour, Lease: 5 * time.Second, AckWait: 10 * time.Second, InstanceID: "test"}
	pol, err := LoadPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, r.js, pol, s, 1, zerolog.Nop(), prometheus.NewRegistry()) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

// recorded: the running policy is recorded for slack (the first start's
// convergence has run).
func (r *restartable) recorded() bool {
	store, err := reconcile.FindStore(context.Background(), r.js)
	if err != nil || store == nil {
		return false
	}
	_, rev, err := store.Policy(context.Background(), "slack")
	return err == nil && rev > 0
}

func (r *restartable) halt() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// people are hired through HR_EVENTS, with their snapshots in the
// employees bucket as the normalizer leaves them.
func hireKnown(t *testing.T, js jetstream.JetStream, people []event.Employee) {
	t.Helper()
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: normalize.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	r := &running{js: js}
	for _, e := range people {
		e.FirstName, e.LastName, e.Status, e.HireDate, e.TimeZone = "P", e.ID, event.StatusActive, "2024-01-01", "UTC"
		e.WorkEmail = "p" + e.ID + "@example.com"
		putSnapshot(t, kv, e, 1)
		r.hire(t, e)
	}
}

func putSnapshot(t *testing.T, kv jetstream.KeyValue, e event.Employee, seq uint64) {
	t.Helper()
	data, _ := json.Marshal(normalize.Snapshot{Sequence: seq, Employee: e, State: e.StateOn(time.Now().Format(time.DateOnly))})
	if _, err := kv.Put(context.Background(), event.EmployeeKey(e.ID), data); err != nil {
		t.Fatal(err)
	}
}

// groupMembers is who is in each group at the vendor, by userName.
func groupMembers(srv *scimtest.Server) map[string][]string {
	names := map[string]string{}
	for _, u := range srv.Users() {
		names[u.ID] = u.UserName
	}
	out := map[string][]string{}
	for _, g := range srv.Groups() {
		for _, m := range g.Members {
			out[g.DisplayName] = append(out[g.DisplayName], names[m])
		}
		slices.Sort(out[g.DisplayName])
	}
	return out
}

// audits are the app's audit records with reason.
func audits(t *testing.T, js jetstream.JetStream, reason string) []worker.Record {
	var out []worker.Record
	for _, m := range natstest.Messages(t, js, streams.Audit) {
		var r worker.Record
		if json.Unmarshal(m.Data, &r) == nil && r.Reason == reason {
			out = append(out, r)
		}
	}
	return out
}

// pass is the audit records of the policy re-evaluation published at
// revision rev of the app's policy record (the event id's last part).
func pass(t *testing.T, js jetstream.JetStream, rev int) []worker.Record {
	return slices.DeleteFunc(audits(t, js, reconcile.ReasonPolicy), func(r worker.Record) bool {
		return !strings.HasSuffix(r.EventID, fmt.Sprintf("-%d", rev))
	})
}

// The tool swap: Trello out, Jira in for Engineering, as one config change
// and a restart. Every engineer moves from trello to jira through the
// worker (audited with reason policy); the others are re-evaluated and
// left as they are; a second restart on the same file publishes nothing.
func TestPolicySwapReachesEveryoneItShould(t *testing.T) {
	srv, r := newRestartable(t)
	js := r.js

	// The first start records its policy; the swap's start re-evaluates
	// everyone under the second (at the record's revision 1).
	r.start(swapConfig(srv, "trello", "{every: 0s}", 10))
	hireKnown(t, js, []event.Employee{{ID: "1", Department: "Engineering"}, {ID: "2", Department: "Engineering"}, {ID: "3", Department: "Sales"}})
	waitFor(t, 15*time.Second, func() bool { return len(groupMembers(srv)["trello"]) == 2 && r.recorded() })
	if got := groupMembers(srv)["trello"]; !slices.Equal(got, []string{"p1@example.com", "p2@example.com"}) {
		t.Fatalf("trello = %v before the swap", got)
	}

	r.start(swapConfig(srv, "jira", "{every: 0s}", 10))
	var recs []worker.Record
	waitFor(t, 15*time.Second, func() bool { recs = pass(t, js, 1); return len(recs) == 3 })
	got := groupMembers(srv)
	if len(got["trello"]) != 0 || !slices.Equal(got["jira"], []string{"p1@example.com", "p2@example.com"}) || len(got["everyone"]) != 3 {
		t.Fatalf("after the swap: %v, want trello empty, jira = the engineers, everyone = all three", got)
	}
	outcomes := map[string]string{}
	for _, rec := range recs {
		outcomes[rec.EmployeeID] = rec.Outcome
	}
	if outcomes["1"] != "applied" || outcomes["2"] != "applied" || outcomes["3"] != "noop" {
		t.Errorf("outcomes %v: want the engineers applied, sales a no-op", outcomes)
	}
	store, err := reconcile.FindStore(context.Background(), js)
	if err != nil || store == nil {
		t.Fatal(store, err)
	}
	if st, _, _ := store.Policy(context.Background(), "slack"); st.Published != 3 {
		t.Errorf("policy state %+v: want 3 published", st)
	}

	r.start(swapConfig(srv, "jira", "{every: 0s}", 10)) // the same file again
	time.Sleep(500 * time.Millisecond)
	if n := len(audits(t, js, reconcile.ReasonPolicy)); n != 3 {
		t.Errorf("%d policy records after a restart on the same file, want still 3", n)
	}
}

// A policy change that would take the app away from most people is held
// by the blast-radius guard, as a wave of HR leavers would be.
func TestPolicyChangeDeactivatingManyIsHeld(t *testing.T) {
	srv, r := newRestartable(t)
	js := r.js

	var staff []event.Employee
	for i := range 6 {
		staff = append(staff, event.Employee{ID: fmt.Sprint(10 + i), Department: "Sales"})
	}
	r.start(swapConfig(srv, "eng", "{every: 0s}", 2))
	hireKnown(t, js, staff)
	waitFor(t, 15*time.Second, func() bool { return len(groupMembers(srv)["everyone"]) == 6 && r.recorded() })

	// Slack now for engineers only: every salesperson would lose it.
	r.start(strings.Replace(swapConfig(srv, "eng", "{every: 0s}", 2), "  birthright:\n    slack: {groups: [everyone]}\n", "", 1))
	var held []worker.Record
	waitFor(t, 15*time.Second, func() bool {
		held = slices.DeleteFunc(pass(t, js, 1), func(r worker.Record) bool { return r.Outcome != "held" })
		return len(held) == 4
	})
	active := 0
	for _, u := range srv.Users() {
		if u.Active {
			active++
		}
	}
	if len(held) != 4 || active != 4 {
		t.Fatalf("%d held, %d still active: want the guard to let 2 deactivations through and hold 4: %+v", len(held), active, held)
	}
}

// The scheduled reconcile with fix: a leaver re-activated by hand at the
// vendor is found and deactivated again (audited with reason reconcile);
// an account made outside Keycard for a current employee and one for
// nobody in HR are reported and left alone.
func TestScheduledReconcileFixesALeaverWithAccess(t *testing.T) {
	srv, r := newRestartable(t)
	js := r.js
	ctx := context.Background()

	r.start(swapConfig(srv, "eng", "{every: 1s, fix: true}", 10))
	hireKnown(t, js, []event.Employee{{ID: "1", Department: "Engineering"}, {ID: "2", Department: "Sales"}})
	waitFor(t, 15*time.Second, func() bool { return len(groupMembers(srv)["everyone"]) == 2 })

	// Person 2 leaves; HR's snapshot says so; the vendor still has the
	// account active (an admin turned it back on).
	kv, _ := js.KeyValue(ctx, normalize.Bucket)
	leaver := event.Employee{ID: "2", FirstName: "P", LastName: "2", WorkEmail: "p2@example.com", Status: event.StatusInactive, HireDate: "2024-01-01", TimeZone: "UTC", Department: "Sales"}
	putSnapshot(t, kv, leaver, 2)
	// A current employee whose account someone made by hand, and an
	// account for nobody.
	putSnapshot(t, kv, event.Employee{ID: "3", WorkEmail: "p3@example.com", Status: event.StatusActive, HireDate: "2024-01-01"}, 1)
	srv.Seed(scimtest.User{UserName: "p3@example.com", Active: true, Emails: []scimtest.Email{{Value: "p3@example.com", Primary: true}}})
	srv.Seed(scimtest.User{UserName: "stranger@example.com", Active: true, Emails: []scimtest.Email{{Value: "stranger@example.com", Primary: true}}})

	var recs []worker.Record
	waitFor(t, 20*time.Second, func() bool {
		recs = audits(t, js, reconcile.ReasonReconcile)
		return len(recs) == 1 && recs[0].Outcome == "applied"
	})
	if len(recs) != 1 || recs[0].EmployeeID != "2" || recs[0].Outcome != "applied" {
		t.Fatalf("reconcile records %+v: want one, deactivating the leaver", recs)
	}
	for _, u := range srv.Users() {
		want := u.UserName != "p2@example.com"
		if u.Active != want {
			t.Errorf("%s active=%v, want %v", u.UserName, u.Active, want)
		}
	}
	store, _ := reconcile.FindStore(ctx, js)
	var rep reconcile.Report
	waitFor(t, 10*time.Second, func() bool {
		rep, _, _ = store.Report(ctx, "slack")
		return rep.Counts[reconcile.LeaverActive] == 0 && rep.At.After(time.Now().Add(-time.Second))
	})
	if rep.Counts[reconcile.LeaverActive] != 0 || rep.Counts[reconcile.Orphan] != 1 || rep.Counts[reconcile.Unmanaged] != 1 {
		t.Errorf("report after the fix: %+v, want no leaver, one orphan, one unmanaged", rep.Counts)
	}
}

// SIGHUP: a file that does not load leaves the running policy; the next
// good one restarts the workers on it, and its change reaches everyone as
// on a restart.
func TestReloadAppliesANewPolicy(t *testing.T) {
	srv, r := newRestartable(t)
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(swapConfig(srv, "trello", "{every: 0s}", 10))
	s := Settings{ConfigFile: file, WorkerConcurrency: 4, WorkerMaxDeliver: 5, LedgerTTL: time.Hour, Lease: 5 * time.Second, AckWait: 10 * time.Second, InstanceID: "test"}
	pol, err := LoadPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- ServeReloading(ctx, r.js, pol, s, 1, zerolog.Nop(), prometheus.NewRegistry(), reload) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeReloading: %v", err)
		}
	}()
	hireKnown(t, r.js, []event.Employee{{ID: "1", Department: "Engineering"}, {ID: "2", Department: "Sales"}})
	waitFor(t, 15*time.Second, func() bool { return len(groupMembers(srv)["trello"]) == 1 && r.recorded() })

	write("apps: [")
	reload <- syscall.SIGHUP
	time.Sleep(300 * time.Millisecond)
	if n := len(pass(t, r.js, 1)); n != 0 {
		t.Fatalf("a file that does not load re-evaluated %d people", n)
	}

	write(swapConfig(srv, "jira", "{every: 0s}", 10))
	reload <- syscall.SIGHUP
	waitFor(t, 15*time.Second, func() bool { return len(pass(t, r.js, 1)) == 2 && len(groupMembers(srv)["jira"]) == 1 })
	if got := groupMembers(srv); len(got["trello"]) != 0 || !slices.Equal(got["jira"], []string{"p1@example.com"}) {
		t.Fatalf("after the reload: %v, want the engineer moved from trello to jira", got)
	}
}
