package gitlab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/connector/registry"
	"keycard/pkg/gitlab/gitlabtest"
	"keycard/pkg/ratelimit"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		bad      []string // keys with a problem
	}{
		{"minimal", map[string]string{"base_url": "https://gitlab.example.com"}, nil},
		{"base_url later", map[string]string{"org": "acme"}, nil}, // simulated until base_url and token are set
		{"everything", map[string]string{"base_url": "https://gitlab.example.com/api/v4", "org": "acme", "access_level": "reporter",
			"group_access_levels": "acme/leads=maintainer, acme/ops=40", "identity_provider": "saml", "extern_uid_field": "email", "username_field": "gitlabUser"}, nil},
		{"loopback http", map[string]string{"base_url": "http://127.0.0.1:9"}, nil},
		{"plain http", map[string]string{"base_url": "http://gitlab.example.com"}, []string{"base_url"}},
		{"bad org", map[string]string{"org": "acme corp"}, []string{"org"}},
		{"bad level", map[string]string{"access_level": "admin"}, []string{"access_level"}},
		{"bad group level", map[string]string{"group_access_levels": "acme/leads=boss"}, []string{"group_access_levels"}},
		{"group level without path", map[string]string{"group_access_levels": "maintainer"}, []string{"group_access_levels"}},
		{"group level outside org", map[string]string{"org": "acme", "group_access_levels": "other/x=owner"}, []string{"group_access_levels"}},
		{"extern_uid without provider", map[string]string{"extern_uid_field": "email"}, []string{"extern_uid_field"}},
		{"bad provider", map[string]string{"identity_provider": "saml main"}, []string{"identity_provider"}},
	}
	cases := make([]connectortest.SettingsCase, len(tests))
	for i, tt := range tests {
		cases[i] = connectortest.SettingsCase{Name: tt.name, Settings: tt.settings, Bad: tt.bad}
	}
	connectortest.CheckSettings(t, Factory{}, "gitlab", cases)
}

// The default pace leaves room under GitLab's documented default throttle
// (7,200 requests an hour, reads included) for the reads of each write.
func TestPaceUnderThrottle(t *testing.T) {
	t.Parallel()
	l := Factory{}.Pace(registry.App{})
	perMinute := gitlabtest.DefaultRequestsPerPeriod / int(gitlabtest.DefaultPeriod/time.Minute)
	if l.Adaptive || l.PerMinute+l.Burst > perMinute/2 {
		t.Errorf("pace %+v: want a fixed ceiling of at most half the throttle's %d a minute", l, perMinute)
	}
}

// New builds a working connector from the settings and the worker's
// dependencies, and refuses one without a base URL.
func TestNewFromSettings(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	var paced, observed int
	deps := registry.Deps{Credential: srv.Token(), Log: zerolog.Nop(),
		Pace:    func(context.Context) error { paced++; return nil },
		Observe: func(context.Context, ratelimit.Outcome) { observed++ }}
	app := registry.App{Name: "gitlab", Settings: map[string]string{"base_url": srv.URL(), "org": "acme", "access_level": "maintainer", "identity_provider": provider}}
	c, err := Factory{}.New(t.Context(), app, deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(t.Context(), ada())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddMembership(t.Context(), a, connector.Group, "acme/sales"); err != nil {
		t.Fatal(err)
	}
	id, _ := accountID(a)
	if u, _ := srv.User(id); u.Groups["acme/sales"] != gitlabtest.Maintainer || u.Identities[provider] != "e1" {
		t.Fatalf("user %+v; want maintainer of acme/sales, linked to saml:e1", u)
	}
	if err := c.List(t.Context(), func(connector.Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if paced == 0 || observed == 0 {
		t.Errorf("paced %d, observed %d; want List paced and the writes observed", paced, observed)
	}
	if _, ok := c.(connector.Counter); !ok {
		t.Error("the connector does not count accounts (the guard needs it)")
	}
	delete(app.Settings, "base_url")
	if _, err := (Factory{}).New(t.Context(), app, deps); err == nil || !strings.Contains(err.Error(), "base_url is required") {
		t.Errorf("New without base_url = %v", err)
	}
}

// Probe only reads: the token's user, the org group, one page of users;
// it counts seats, and refuses a token that is not an administrator's.
func TestProbe(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddUser("ada", "ada@example.com", "Ada")
	blocked := srv.AddUser("bob", "bob@example.com", "Bob")
	srv.SetState(blocked, gitlabtest.StateBlocked)
	app := registry.App{Name: "gitlab", Settings: map[string]string{"base_url": srv.URL(), "org": "acme"}}
	p := Factory{}.Probe(t.Context(), app, srv.Token(), 5*time.Second)
	if p.Err != nil || p.Label != "gitlab" || p.Users == nil || *p.Users != 1 {
		t.Fatalf("Probe = %+v; want 1 seat (bob is blocked)", p)
	}
	if notes := strings.Join(p.Notes, "; "); !strings.Contains(notes, "blocked users do not") || !strings.Contains(notes, "developer") {
		t.Errorf("notes %q", notes)
	}
	st := srv.Requests()
	for route := range st.ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("Probe wrote: %s", route)
		}
	}
	if p := (Factory{}).Probe(t.Context(), app, srv.UserToken(), 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "not an administrator") {
		t.Errorf("Probe with a regular user's token = %+v", p)
	}
	if p := (Factory{}).Probe(t.Context(), app, "glpat-wrong", 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "401") {
		t.Errorf("Probe with a wrong token = %+v", p)
	}
	missing := registry.App{Name: "gitlab", Settings: map[string]string{"base_url": srv.URL(), "org": "nope"}}
	if p := (Factory{}).Probe(t.Context(), missing, srv.Token(), 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "nope") {
		t.Errorf("Probe with a missing org = %+v", p)
	}
	before := srv.Requests().Total
	if p := (Factory{}).Probe(t.Context(), app, "", time.Second); p.Err != nil || p.Users != nil || srv.Requests().Total != before {
		t.Errorf("Probe without a token = %+v; want settings checked only", p)
	}
}
