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

	"keycard/pkg/connector"
	"keycard/pkg/connectors"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/policy"
	"keycard/pkg/redistest"
	"keycard/pkg/scim"
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

// running is Serve on a real embedded NATS for one test.
type running struct {
	js  jetstream.JetStream
	reg *prometheus.Registry
}

// serve writes yaml to a config file and runs Serve until the test ends.
func serve(t *testing.T, yaml string, edit func(*Settings)) *running {
	t.Helper()
	_, js := natstest.WithStreams(t)
	ctx, cancel := context.WithCancel(context.Background())
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{ConfigFile: file, WorkerConcurrency: 2, WorkerMaxDeliver: 5, LedgerTTL: time.Hour}
	if edit != nil {
		edit(&s)
	}
	pol, err := LoadPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, js, pol, s, 1, zerolog.Nop(), reg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &running{js: js, reg: reg}
}

// hire publishes a canonical hired event (sequence 1) for e, asynchronously.
func (r *running) hire(t *testing.T, e event.Employee) {
	t.Helper()
	if e.Status == "" {
		e.FirstName, e.LastName, e.Status, e.HireDate, e.TimeZone = "P", e.ID, event.StatusActive, "2024-01-01", "UTC"
	}
	ev := event.Event{ID: event.ID("bamboohr", e.ID, 1), Kind: event.Hired, Sequence: 1, Source: "bamboohr",
		OccurredAt: time.Now(), EffectiveAt: time.Now(), Employee: e}
	data, _ := json.Marshal(ev)
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	if _, err := r.js.PublishMsgAsync(msg); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && !cond(); time.Sleep(20 * time.Millisecond) {
	}
}

// Each backend (KV in the single binary, Redis when REDIS_URL is set) runs
// the configured apps end to end: an engineer's hire reaches both apps'
// audit trails with the plan the policy implies, in dry-run.
func TestServe(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"kv", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r := serve(t, config, func(s *Settings) {
				if backend == "redis" {
					s.RedisURL = redistest.Start(t)
				}
			})
			r.hire(t, event.Employee{ID: "7", FirstName: "Grace", LastName: "Hopper", WorkEmail: "grace@example.com",
				Status: event.StatusActive, Department: "Engineering", HireDate: "2024-01-01", TimeZone: "UTC"})
			var recs []worker.Record
			waitFor(t, 10*time.Second, func() bool {
				recs = recs[:0]
				for _, m := range natstest.Messages(t, r.js, streams.Audit) {
					var rec worker.Record
					if err := json.Unmarshal(m.Data, &rec); err != nil {
						t.Fatal(err)
					}
					recs = append(recs, rec)
				}
				return len(recs) >= 2
			})
			slices.SortFunc(recs, func(a, b worker.Record) int { return strings.Compare(a.App, b.App) })
			if len(recs) != 2 {
				t.Fatalf("%d audit records, want one per app", len(recs))
			}
			plans := map[string][]string{}
			for _, rec := range recs {
				if rec.Mode != "dry-run" || rec.Outcome != "applied" {
					t.Errorf("%s: mode %s outcome %s, want a dry-run applied", rec.App, rec.Mode, rec.Outcome)
				}
				for _, a := range rec.Actions {
					plans[rec.App] = append(plans[rec.App], a.String())
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

// slackConfig is one Slack SCIM app at srv, paced at writesPerMinute.
func slackConfig(srv *scimtest.Server, tokenEnv string, writesPerMinute, burst int) string {
	return fmt.Sprintf("apps:\n  - name: slack\n    type: scim\n    profile: slack\n    token_env: %s\n    base_url: %s\n"+
		"    rate_limit: {writes_per_minute: %d, burst: %d}\npolicy:\n  birthright:\n    slack: {groups: [everyone]}\n",
		tokenEnv, srv.URL(), writesPerMinute, burst)
}

// A SCIM app with its token set writes to the vendor: a hire creates an
// active user in the policy's groups; a 5xx storm is retried until it
// passes; a 400 is dead-lettered with the vendor's own detail.
func TestServeSCIM(t *testing.T) {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	t.Setenv("TEST_SLACK_TOKEN", srv.Token())
	r := serve(t, slackConfig(srv, "TEST_SLACK_TOKEN", 6000, 10), nil)

	r.hire(t, event.Employee{ID: "7", FirstName: "Grace", LastName: "Hopper", WorkEmail: "grace@example.com",
		Status: event.StatusActive, Department: "Engineering", HireDate: "2024-01-01", TimeZone: "UTC"})
	waitFor(t, 10*time.Second, func() bool {
		groups := srv.Groups()
		return len(groups) == 1 && len(groups[0].Members) == 1
	})
	users := srv.Users()
	if len(users) != 1 || !users[0].Active || users[0].UserName != "grace@example.com" {
		t.Fatalf("users at the vendor = %+v, want Grace, active", users)
	}
	groups := srv.Groups()
	if len(groups) != 1 || groups[0].DisplayName != "everyone" || !slices.Contains(groups[0].Members, users[0].ID) {
		t.Fatalf("groups = %+v, want everyone with Grace", groups)
	}

	srv.FailNext(4, http.StatusServiceUnavailable, "try later")
	r.hire(t, event.Employee{ID: "8", WorkEmail: "p8@example.com"})
	waitFor(t, 15*time.Second, func() bool { return len(srv.Users()) == 2 })
	if n := len(srv.Users()); n != 2 {
		t.Fatalf("%d users after a 5xx storm, want the hire applied", n)
	}

	srv.FailNext(1, http.StatusBadRequest, "invalid_email: the address is not allowed")
	r.hire(t, event.Employee{ID: "9", WorkEmail: "p9@example.com"})
	var dead []string
	waitFor(t, 15*time.Second, func() bool {
		dead = dead[:0]
		for _, m := range natstest.Messages(t, r.js, streams.DLQ) {
			dead = append(dead, m.Header.Get(deadletter.HeaderError))
		}
		return len(dead) > 0
	})
	if len(dead) != 1 || !strings.Contains(dead[0], "invalid_email: the address is not allowed") {
		t.Fatalf("dead letters = %q, want one carrying the vendor's detail", dead)
	}
}

// 500 hires against a server enforcing each vendor's documented limits,
// with the pace Keycard takes for that vendor when the file sets none: all
// land and the server never answers 429. Server refill and pace are scaled
// alike so the test takes seconds.
func TestSCIMBurstIsPaced(t *testing.T) {
	tests := []struct {
		profile string
		quirks  scimtest.Quirks
		scale   float64
		limits  []scimtest.Limit // replaces the preset's, when set
	}{
		// Slack: user writes 180/min (burst 20) and org writes 600/min; the
		// default pace is 180/min, burst 19.
		{profile: "slack", quirks: scimtest.Slack(), scale: 200},
		// GitHub EMU: 1,000 user assignments an hour.
		{profile: "github-emu", quirks: scimtest.GitHubEMU(), scale: 1250},
		// Miro: per-30-s buckets per method and resource.
		{profile: "miro", quirks: scimtest.Miro(), scale: 100},
		// Asana counts every request, reads too, 1,500 a minute per token.
		// It publishes a count, not a bucket: a small bucket here means
		// only pacing reads as well as writes avoids a 429.
		{profile: "asana", quirks: scimtest.Asana(), scale: 20,
			limits: []scimtest.Limit{{Name: "per token", Requests: 1500, Per: time.Minute, Burst: 30}}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			srv := scimtest.New(tt.quirks, scimtest.WithRateScale(tt.scale))
			defer srv.Close()
			if tt.limits != nil {
				srv.SetLimits(tt.limits...)
			}
			t.Setenv("TEST_SCIM_TOKEN", srv.Token())
			pace := defaultPace(t, tt.profile)
			yaml := fmt.Sprintf("apps:\n  - name: app\n    type: scim\n    profile: %s\n    token_env: TEST_SCIM_TOKEN\n    base_url: %s\n"+
				"    rate_limit: {writes_per_minute: %d, burst: %d}\npolicy:\n  birthright:\n    app: {groups: [everyone]}\n",
				tt.profile, srv.URL(), int(float64(pace.WritesPerMinute)*tt.scale), pace.Burst)
			r := serve(t, yaml, func(s *Settings) { s.WorkerConcurrency = 8 })
			const n = 500
			for i := range n {
				id := fmt.Sprint(10000 + i)
				r.hire(t, event.Employee{ID: id, WorkEmail: "p" + id + "@example.com"})
			}
			<-r.js.PublishAsyncComplete()
			members := func() int {
				for _, g := range srv.Groups() {
					return len(g.Members)
				}
				return 0
			}
			waitFor(t, 60*time.Second, func() bool { return members() == n })
			if got := members(); got != n || len(srv.Users()) != n {
				var dead []string
				for _, m := range natstest.Messages(t, r.js, streams.DLQ) {
					dead = append(dead, m.Header.Get(deadletter.HeaderError))
				}
				t.Fatalf("%d users, %d in the group; want %d of each (dead letters: %q)", len(srv.Users()), got, n, dead)
			}
			if got := srv.Requests().RateLimited; got != 0 {
				t.Fatalf("the server answered 429 %d times (%v); pacing should prevent every one", got, srv.Requests().ByRoute)
			}
		})
	}
}

// defaultPace is the pace the policy gives a SCIM app of this profile
// whose file sets no rate_limit.
func defaultPace(t *testing.T, profile string) policy.RateLimit {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keycard.yaml")
	yaml := fmt.Sprintf("apps:\n  - name: app\n    type: scim\n    profile: %s\npolicy: {}\n", profile)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Load(file, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Apps[0].RateLimit
}

// scimApp is a SCIM app of profile at url whose token is in $T.
func scimApp(profile, url, mode string) policy.App {
	return policy.App{Name: "tool", Type: scim.Type, TokenEnv: "T", Mode: mode,
		Settings: map[string]string{scim.SettingProfile: profile, scim.SettingBaseURL: url}}
}

// A dry-run app's blast-radius guard counts the same accounts as in apply
// mode: the app's own count, every account it holds, not only the ones
// Keycard knows (a dry run once hid the count behind its wrapper, so the
// share limit it previewed was not the one apply mode would enforce).
func TestDryRunGuardCountsAsApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := scimtest.New(scimtest.Quirks{})
	defer srv.Close()
	getenv := func(string) string { return srv.Token() }
	counts := map[string]int{}
	for _, mode := range []string{policy.ModeApply, policy.ModeDryRun} {
		conn, dry, err := connectorFor(ctx, scim.Factory{}, scimApp("slack", srv.URL(), mode), getenv, nil, nil, zerolog.Nop())
		if err != nil || dry != (mode == policy.ModeDryRun) {
			t.Fatalf("%s: connectorFor: dry %v, %v", mode, dry, err)
		}
		if mode == policy.ModeApply {
			for _, id := range []string{"1", "2", "3"} { // made outside Keycard, as far as the guard knows
				email := "p" + id + "@example.com"
				if _, err := conn.Create(ctx, connector.Person{EmployeeID: id, UserName: email, Email: email, GivenName: "P", FamilyName: id}); err != nil {
					t.Fatal(err)
				}
			}
		}
		counter, ok := conn.(connector.Counter)
		if !ok {
			t.Fatalf("%s: the connector does not count its accounts: the guard would fall back to the accounts Keycard knows", mode)
		}
		if counts[mode], err = counter.Count(ctx); err != nil {
			t.Fatalf("%s: count: %v", mode, err)
		}
	}
	if counts[policy.ModeApply] != 3 || counts[policy.ModeDryRun] != counts[policy.ModeApply] {
		t.Fatalf("guard base: apply %d, dry-run %d; want 3 in both", counts[policy.ModeApply], counts[policy.ModeDryRun])
	}
}

// A generic SCIM app follows the server's ServiceProviderConfig: against
// a server without PATCH, an update is read and PUT back; a vendor
// profile keeps its documented PATCH.
func TestGenericProfileDiscovers(t *testing.T) {
	t.Parallel()
	srv := scimtest.New(scimtest.Quirks{NoPatch: true})
	defer srv.Close()
	getenv := func(string) string { return srv.Token() }
	p := connector.Person{EmployeeID: "1", UserName: "ada@example.com", Email: "ada@example.com", GivenName: "Ada", FamilyName: "L"}
	for _, tt := range []struct {
		profile   string
		updateErr bool
	}{{"generic", false}, {"slack", true}} {
		conn, dry, err := connectorFor(context.Background(), scim.Factory{}, scimApp(tt.profile, srv.URL(), policy.ModeApply), getenv, nil, nil, zerolog.Nop())
		if err != nil || dry {
			t.Fatalf("%s: connectorFor: dry %v, %v", tt.profile, dry, err)
		}
		acc, err := conn.Create(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: create: %v", tt.profile, err)
		}
		moved := p
		moved.FamilyName = "Lovelace"
		err = conn.Update(context.Background(), acc, moved)
		if (err != nil) != tt.updateErr {
			t.Fatalf("%s: update err = %v, want error %v", tt.profile, err, tt.updateErr)
		}
		p.EmployeeID, p.UserName, p.Email = "2", "bob@example.com", "bob@example.com"
	}
	var names []string
	for _, u := range srv.Users() {
		names = append(names, u.FamilyName)
	}
	if !slices.Equal(names, []string{"Lovelace", "L"}) {
		t.Fatalf("family names %v, want the generic app's update applied by PUT", names)
	}
}

// A generic SCIM app sends only the User attributes the server declares:
// a server without the enterprise extension gets a mover's title, never
// the department it would refuse, and no manager link is asked for.
func TestGenericProfileSendsDeclaredAttributes(t *testing.T) {
	t.Parallel()
	srv := scimtest.New(scimtest.Quirks{NoEnterpriseUser: true})
	defer srv.Close()
	conn, _, err := connectorFor(context.Background(), scim.Factory{}, scimApp("generic", srv.URL(), policy.ModeApply), func(string) string { return srv.Token() }, nil, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if connector.LinksManagers(conn) {
		t.Error("the server declares no manager attribute: the connector must not link managers")
	}
	p := connector.Person{EmployeeID: "1", UserName: "ada@example.com", Email: "ada@example.com", GivenName: "Ada", FamilyName: "L",
		Title: "Engineer", Department: "Engineering"}
	acc, err := conn.Create(context.Background(), p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	p.Title, p.Department = "Manager", "Sales"
	if err := conn.Update(context.Background(), acc, p); err != nil {
		t.Fatalf("update: %v", err)
	}
	users := srv.Users()
	if len(users) != 1 || users[0].Attributes["title"] != "Manager" {
		t.Fatalf("users %+v, want the new title", users)
	}
	if _, ok := users[0].Attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]; ok {
		t.Fatalf("enterprise extension stored: %v", users[0].Attributes)
	}
	if cur, err := conn.Find(context.Background(), p); err != nil || connector.Plan(cur, connector.Want{Account: true}, p) != nil {
		t.Fatalf("not converged: %+v, %v", cur, err)
	}
}

// An org unit and a licence reach only the connectors that apply them: a
// SCIM app given a licence would otherwise see it missing and update on
// every event.
func TestEvaluatorAssignsOnlyWhereTheTypeDoes(t *testing.T) {
	cfg, err := policy.Parse("", []byte(`
apps:
  - {name: google, type: google}
  - {name: zoom, type: scim}
policy:
  birthright:
    google: {org_unit: /Staff, license: Google-Apps/1010020027}
    zoom: {license: pro}
`), connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	types := connectors.Registry()
	for _, tc := range []struct{ app, orgUnit, license string }{
		{"google", "/Staff", "Google-Apps/1010020027"},
		{"zoom", "", ""},
	} {
		a, _ := cfg.App(tc.app)
		f, _ := types.Lookup(a.Type)
		want, _, _ := Evaluator(cfg, tc.app, f, nil)(event.Employee{ID: "1", Status: event.StatusActive, HireDate: "2020-01-01"})
		if !want.Account || want.OrgUnit != tc.orgUnit || want.License != tc.license {
			t.Errorf("%s: want = %+v, want org unit %q and licence %q", tc.app, want, tc.orgUnit, tc.license)
		}
	}
}
