package workers

import (
	"context"
	"encoding/json"
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
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
