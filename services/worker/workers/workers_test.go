package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/redistest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

const config = `
apps:
  - name: slack
    type: scim
    profile: slack
  - name: github
    type: github
policy:
  birthright:
    slack: {groups: [everyone]}
  rules:
    - name: engineering
      when: 'employee.department == "Engineering"'
      grant:
        slack: {groups: [eng]}
        github: {teams: [engineering]}
`

// Each backend (KV in the single binary, Redis when REDIS_URL is set) runs
// the configured apps end to end: an engineer's hire reaches both apps'
// audit trails with the plan the policy implies, in dry-run.
func TestServe(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"kv", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ns := natstest.Start(t)
			_, js := ns.Connect(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "keycard.yaml")
			if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			s := Settings{ConfigFile: file, WorkerConcurrency: 2, WorkerMaxDeliver: 5, LedgerTTL: time.Hour}
			if backend == "redis" {
				s.RedisURL = redistest.Start(t)
			}
			pol, err := LoadPolicy(s)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, js, pol, s, 1, zerolog.Nop(), prometheus.NewRegistry()) }()

			e := event.Employee{ID: "7", FirstName: "Grace", LastName: "Hopper", WorkEmail: "grace@example.com",
				Status: event.StatusActive, Department: "Engineering", HireDate: "2024-01-01", TimeZone: "UTC"}
			ev := event.Event{ID: event.ID("bamboohr", "7", 1), Kind: event.Hired, Sequence: 1, Source: "bamboohr",
				OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
			data, _ := json.Marshal(ev)
			msg := nats.NewMsg(ev.Subject())
			msg.Data = data
			msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
			var recs []worker.Record
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(recs) < 2; time.Sleep(20 * time.Millisecond) {
				recs = recs[:0]
				for _, m := range natstest.Messages(t, js, streams.Audit) {
					var r worker.Record
					if err := json.Unmarshal(m.Data, &r); err != nil {
						t.Fatal(err)
					}
					recs = append(recs, r)
				}
			}
			slices.SortFunc(recs, func(a, b worker.Record) int { return strings.Compare(a.App, b.App) })
			if len(recs) != 2 {
				t.Fatalf("%d audit records, want one per app", len(recs))
			}
			plans := map[string][]string{}
			for _, r := range recs {
				if r.Mode != "dry-run" || r.Outcome != "applied" {
					t.Errorf("%s: mode %s outcome %s, want a dry-run applied", r.App, r.Mode, r.Outcome)
				}
				for _, a := range r.Actions {
					plans[r.App] = append(plans[r.App], a.String())
				}
			}
			want := map[string][]string{
				"github": {"create", "add team engineering"},
				"slack":  {"create", "add group eng", "add group everyone"},
			}
			for app, p := range want {
				if !slices.Equal(plans[app], p) {
					t.Errorf("%s plan = %v, want %v", app, plans[app], p)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Serve: %v", err)
			}
		})
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	t.Parallel()
	if _, err := LoadPolicy(Settings{}); err == nil {
		t.Fatal("no KEYCARD_CONFIG must be an error")
	}
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(Settings{ConfigFile: file, Apps: []string{"notion"}}); err == nil {
		t.Fatal("an app that is not configured must be an error")
	}
}

// A SCIM app with its token set writes to the vendor: a hire creates an
// active user in the policy's groups at the (test) Slack server.
func TestServeSCIM(t *testing.T) {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	t.Setenv("TEST_SLACK_TOKEN", srv.Token())
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	cfg := "apps:\n  - name: slack\n    type: scim\n    profile: slack\n    token_env: TEST_SLACK_TOKEN\n    base_url: " + srv.URL() +
		"\n    rate_limit: {writes_per_minute: 6000, burst: 10}\npolicy:\n  birthright:\n    slack: {groups: [everyone]}\n"
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{ConfigFile: file, WorkerConcurrency: 2, WorkerMaxDeliver: 5, LedgerTTL: time.Hour}
	pol, err := LoadPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, js, pol, s, 1, zerolog.Nop(), prometheus.NewRegistry()) }()
	e := event.Employee{ID: "7", FirstName: "Grace", LastName: "Hopper", WorkEmail: "grace@example.com",
		Status: event.StatusActive, Department: "Engineering", HireDate: "2024-01-01", TimeZone: "UTC"}
	ev := event.Event{ID: event.ID("bamboohr", "7", 1), Kind: event.Hired, Sequence: 1, Source: "bamboohr",
		OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
	data, _ := json.Marshal(ev)
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	var users []scimtest.User
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(srv.Groups()) == 0; time.Sleep(20 * time.Millisecond) {
	}
	users = srv.Users()
	if len(users) != 1 || !users[0].Active || users[0].UserName != "grace@example.com" {
		t.Fatalf("users at the vendor = %+v, want Grace, active", users)
	}
	groups := srv.Groups()
	if len(groups) != 1 || groups[0].DisplayName != "everyone" || !slices.Contains(groups[0].Members, users[0].ID) {
		t.Fatalf("groups = %+v, want everyone with Grace", groups)
	}
	// A 5xx storm is retried until it passes; a 400 is dead-lettered with
	// the vendor's own detail.
	hire := func(id string) {
		t.Helper()
		e := event.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: "p" + id + "@example.com",
			Status: event.StatusActive, HireDate: "2024-01-01", TimeZone: "UTC"}
		ev := event.Event{ID: event.ID("bamboohr", id, 1), Kind: event.Hired, Sequence: 1, Source: "bamboohr",
			OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
		data, _ := json.Marshal(ev)
		msg := nats.NewMsg(ev.Subject())
		msg.Data = data
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	srv.FailNext(4, http.StatusServiceUnavailable, "try later")
	hire("8")
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && len(srv.Users()) < 2; time.Sleep(20 * time.Millisecond) {
	}
	if n := len(srv.Users()); n != 2 {
		t.Fatalf("%d users after a 5xx storm, want the hire applied", n)
	}
	srv.FailNext(1, http.StatusBadRequest, "invalid_email: the address is not allowed")
	hire("9")
	var dead []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && len(dead) == 0; time.Sleep(20 * time.Millisecond) {
		for _, m := range natstest.Messages(t, js, streams.DLQ) {
			dead = append(dead, m.Header.Get(deadletter.HeaderError))
		}
	}
	if len(dead) != 1 || !strings.Contains(dead[0], "invalid_email: the address is not allowed") {
		t.Fatalf("dead letters = %q, want one carrying the vendor's detail", dead)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// 500 hires against a server enforcing Slack's documented limits (scaled
// ×200 so the test takes seconds): paced at the tightest of them, they all
// land and the server never answers 429.
func TestSCIMBurstIsPaced(t *testing.T) {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(200))
	defer srv.Close()
	t.Setenv("TEST_SLACK_TOKEN_BURST", srv.Token())
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatal(err)
	}
	// Slack documents 600 writes/min for the org and 180/min for user
	// creates and updates; ×200, the pacer gets 90% of the tighter 36,000/min and
	// no burst of its own.
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	cfg := "apps:\n  - name: slack\n    type: scim\n    profile: slack\n    token_env: TEST_SLACK_TOKEN_BURST\n    base_url: " + srv.URL() +
		"\n    rate_limit: {writes_per_minute: 32400, burst: 1}\npolicy:\n  birthright:\n    slack: {groups: [everyone]}\n"
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{ConfigFile: file, WorkerConcurrency: 8, WorkerMaxDeliver: 5, LedgerTTL: time.Hour}
	pol, err := LoadPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, js, pol, s, 1, zerolog.Nop(), prometheus.NewRegistry()) }()
	const n = 500
	for i := range n {
		id := fmt.Sprint(10000 + i)
		e := event.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: "p" + id + "@example.com",
			Status: event.StatusActive, HireDate: "2024-01-01", TimeZone: "UTC"}
		ev := event.Event{ID: event.ID("bamboohr", id, 1), Kind: event.Hired, Sequence: 1, Source: "bamboohr",
			OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
		data, _ := json.Marshal(ev)
		msg := nats.NewMsg(ev.Subject())
		msg.Data = data
		if _, err := js.PublishMsgAsync(msg); err != nil {
			t.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	members := func() int {
		for _, g := range srv.Groups() {
			return len(g.Members)
		}
		return 0
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && members() < n; time.Sleep(50 * time.Millisecond) {
	}
	if got := members(); got != n || len(srv.Users()) != n {
		var dead []string
		for _, m := range natstest.Messages(t, js, streams.DLQ) {
			dead = append(dead, m.Header.Get(deadletter.HeaderError))
		}
		t.Fatalf("%d users, %d in the group; want %d of each (dead letters: %q)", len(srv.Users()), got, n, dead)
	}
	if got := srv.Requests().RateLimited; got != 0 {
		t.Fatalf("the server answered 429 %d times (%v); pacing should prevent every one", got, srv.Requests().ByRoute)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
