package github

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/connector/registry"
	"keycard/pkg/github/githubtest"
	"keycard/pkg/ratelimit"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		bad      []string // keys with a problem
	}{
		{"minimal", map[string]string{"org": "acme"}, nil},
		{"org later", map[string]string{}, nil}, // simulated until org and token are set
		{"everything", map[string]string{"org": "acme-corp", "login_field": "customGitHub", "base_url": "https://ghe.example.com/api/v3/", "role": "admin"}, nil},
		{"loopback http", map[string]string{"org": "acme", "base_url": "http://127.0.0.1:9/"}, nil},
		{"bad org", map[string]string{"org": "acme/teams"}, []string{"org"}},
		{"plain http", map[string]string{"org": "acme", "base_url": "http://ghe.example.com/api/v3/"}, []string{"base_url"}},
		{"credentials in url", map[string]string{"org": "acme", "base_url": "https://x:y@api.github.com/"}, []string{"base_url"}},
		{"bad role", map[string]string{"org": "acme", "role": "owner"}, []string{"role"}},
		{"several", map[string]string{"org": "-acme", "role": "billing_manager"}, []string{"org", "role"}},
	}
	cases := make([]connectortest.SettingsCase, len(tests))
	for i, tt := range tests {
		cases[i] = connectortest.SettingsCase{Name: tt.name, Settings: tt.settings, Bad: tt.bad}
	}
	connectortest.CheckSettings(t, Factory{}, "github", cases)
}

// The default pace keeps both of GitHub's secondary limits in the worst
// minute and the worst hour a token bucket allows.
func TestPaceUnderSecondaryLimits(t *testing.T) {
	t.Parallel()
	l := Factory{}.Pace(registry.App{})
	if l.Adaptive {
		t.Fatal("GitHub documents its limit: the pace must be a fixed ceiling")
	}
	if worstMinute := l.Burst + l.PerMinute; worstMinute > githubtest.SecondaryPerMinute {
		t.Errorf("up to %d writes in a minute; GitHub allows %d", worstMinute, githubtest.SecondaryPerMinute)
	}
	if worstHour := l.Burst + 60*l.PerMinute; worstHour > githubtest.SecondaryPerHour {
		t.Errorf("up to %d writes in an hour; GitHub allows %d", worstHour, githubtest.SecondaryPerHour)
	}
}

// New builds a working connector from the settings and the worker's
// dependencies, and refuses one without an org.
func TestNewFromSettings(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	var paced, observed int
	deps := registry.Deps{Credential: srv.Token(), Log: zerolog.Nop(),
		Pace:    func(context.Context) error { paced++; return nil },
		Observe: func(context.Context, ratelimit.Outcome) { observed++ }}
	app := registry.App{Name: "github", Settings: map[string]string{"org": srv.Org(), "base_url": srv.URL(), "login_field": loginField}}
	c, err := Factory{}.New(t.Context(), app, deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(t.Context(), ada())
	if err != nil || a.ID != "ada" {
		t.Fatalf("Create = %+v, %v", a, err)
	}
	if err := c.List(t.Context(), func(connector.Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if paced == 0 || observed == 0 {
		t.Errorf("paced %d, observed %d; want List paced and the write observed", paced, observed)
	}
	if _, ok := c.(connector.Counter); !ok {
		t.Error("the connector does not count accounts (the guard needs it)")
	}
	delete(app.Settings, "org")
	if _, err := (Factory{}).New(t.Context(), app, deps); err == nil || !strings.Contains(err.Error(), "org is required") {
		t.Errorf("New without org = %v", err)
	}
}

// Probe only reads: the org, then one item of members, invitations and
// outside collaborators; it counts seats and says what it noticed.
func TestProbe(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddMember("ada", githubtest.RoleAdmin)
	srv.AddMember("grace", githubtest.RoleMember)
	srv.AddMember("linus", githubtest.RoleMember)
	srv.AddOutsideCollaborator("octo")
	app := registry.App{Name: "github", Settings: map[string]string{"org": srv.Org(), "base_url": srv.URL()}}
	p := Factory{}.Probe(t.Context(), app, srv.Token(), 5*time.Second)
	if p.Err != nil || p.Label != "github" || p.Users == nil || *p.Users != 3 {
		t.Fatalf("Probe = %+v; want 3 users", p)
	}
	notes := strings.Join(p.Notes, "; ")
	for _, want := range []string{"3 of 100 seats", "1 outside collaborators", "no login_field"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	st := srv.Requests()
	if st.Total != 4 {
		t.Errorf("Probe made %d requests (%v); want 4", st.Total, st.ByRoute)
	}
	for route := range st.ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("Probe wrote: %s", route)
		}
	}
	if p := (Factory{}).Probe(t.Context(), app, "github_pat_wrong0123456789", 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "401") {
		t.Errorf("Probe with a wrong token = %+v", p)
	}
	before := srv.Requests().Total
	if p := (Factory{}).Probe(t.Context(), app, "", time.Second); p.Err != nil || p.Users != nil || srv.Requests().Total != before {
		t.Errorf("Probe without a token = %+v; want settings checked only", p)
	}
	if p := (Factory{}).Probe(t.Context(), registry.App{Settings: map[string]string{}}, "tok", time.Second); p.Err == nil {
		t.Error("Probe without org: no error")
	}
}
