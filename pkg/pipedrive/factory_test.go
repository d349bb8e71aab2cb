package pipedrive

import (
	"strings"
	"testing"
	"time"

	"keycard/pkg/connector/connectortest"
	"keycard/pkg/connector/registry"
	"keycard/pkg/pipedrive/pipedrivetest"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		bad      []string // keys with a problem
	}{
		{"none", map[string]string{}, nil},
		{"domain", map[string]string{"company_domain": "acme-sales"}, nil},
		{"everything", map[string]string{"company_domain": "acme", "base_url": "https://acme.pipedrive.com/api/v1/", "permission_set": "Sales manager"}, nil},
		{"loopback http", map[string]string{"base_url": "http://127.0.0.1:9/api/v1/"}, nil},
		{"full host", map[string]string{"company_domain": "acme.pipedrive.com"}, []string{"company_domain"}},
		{"plain http", map[string]string{"base_url": "http://acme.pipedrive.com/api/v1/"}, []string{"base_url"}},
		{"several", map[string]string{"company_domain": "-acme", "base_url": "https://x:y@acme.pipedrive.com/"}, []string{"company_domain", "base_url"}},
	}
	cases := make([]connectortest.SettingsCase, len(tests))
	for i, tt := range tests {
		cases[i] = connectortest.SettingsCase{Name: tt.name, Settings: tt.settings, Bad: tt.bad}
	}
	connectortest.CheckSettings(t, Factory{}, "pipedrive", cases)
}

// The default pace keeps the requests of any 2-second window under
// Pipedrive's lowest burst limit, with room for the token user's own use.
func TestPaceUnderBurstLimit(t *testing.T) {
	t.Parallel()
	l := Factory{}.Pace(registry.App{})
	if l.Adaptive {
		t.Fatal("Pipedrive documents its limit: the pace must be a fixed ceiling")
	}
	worst := l.Burst + l.PerMinute*int(pipedrivetest.BurstWindow/time.Second)/60
	if worst > pipedrivetest.BurstPerWindow*4/5 {
		t.Errorf("up to %d requests in a window of %d: no room left for the token user's own", worst, pipedrivetest.BurstPerWindow)
	}
	if !registry.Assigns(Factory{}, registry.GrantLicense) || !registry.Assigns(Factory{}, registry.GrantOrgUnit) {
		t.Error("the factory does not say it applies license and org_unit")
	}
}

// Probe only reads: the token's user, the users; it counts the seats,
// deactivated ones included, and checks the permission set named.
func TestProbe(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddUser("ada@example.com", "Ada", true)
	srv.AddUser("bob@example.com", "Bob", false)
	app := registry.App{Name: "pipedrive", Settings: map[string]string{"base_url": srv.URL()}}
	p := Factory{}.Probe(t.Context(), app, srv.Token(), 5*time.Second)
	if p.Err != nil || p.Label != "pipedrive" || p.Users == nil || *p.Users != 2 {
		t.Fatalf("Probe = %+v; want 2 users", p)
	}
	if notes := strings.Join(p.Notes, "; "); !strings.Contains(notes, "2 active and 1 deactivated users: 3 seats billed") {
		t.Errorf("notes %q", notes)
	}
	for route := range srv.Requests().ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("Probe wrote: %s", route)
		}
	}
	if p := (Factory{}).Probe(t.Context(), app, "0000000000000000000000000000000000000000", 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "401") {
		t.Errorf("Probe with a wrong token = %+v", p)
	}
	app.Settings["permission_set"] = "Viewer"
	if p := (Factory{}).Probe(t.Context(), app, srv.Token(), 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "Viewer") {
		t.Errorf("Probe with an unknown permission set = %+v", p)
	}
	before := srv.Requests().Total
	if p := (Factory{}).Probe(t.Context(), app, "", time.Second); p.Err != nil || p.Users != nil || srv.Requests().Total != before {
		t.Errorf("Probe without a token = %+v; want settings checked only", p)
	}
}
