package google

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector/connectortest"
	"keycard/pkg/connector/registry"
	"keycard/pkg/google/googletest"
	"keycard/pkg/ratelimit"
)

func TestFactoryValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		badKeys  []string
	}{
		{"complete", map[string]string{"domain": "example.com", "admin_email": "admin@example.com", "customer": "C01234567", "sso": "true",
			"license_product": "Google-Apps", "license_skus": "1010020027, 1010020028", "base_url": "https://proxy.example.com/"}, nil},
		{"nothing yet: simulated until set", map[string]string{}, nil},
		{"loopback http", map[string]string{"base_url": "http://127.0.0.1:8089"}, nil},
		{"bad values", map[string]string{"domain": "https://example.com", "admin_email": "Admin <admin@example.com>", "sso": "yes",
			"customer": "my customer", "license_skus": "1010020027,,x", "base_url": "http://google.example.com"},
			[]string{"domain", "admin_email", "sso", "customer", "license_skus", "base_url"}},
		{"upper-case domain", map[string]string{"domain": "Example.com"}, []string{"domain"}},
	}
	cases := make([]connectortest.SettingsCase, len(tests))
	for i, tt := range tests {
		cases[i] = connectortest.SettingsCase{Name: tt.name, Settings: tt.settings, Bad: tt.badKeys}
	}
	connectortest.CheckSettings(t, Factory{}, "google", cases)
}

func TestFactoryDescribesItself(t *testing.T) {
	t.Parallel()
	f := Factory{}
	if f.Type() != "google" {
		t.Errorf("Type %q", f.Type())
	}
	for _, key := range []string{"domain", "admin_email", "customer", "sso", "license_product", "license_skus", "base_url"} {
		if !strings.Contains(strings.Join(f.Settings(), " "), key) {
			t.Errorf("Settings %v lacks %s", f.Settings(), key)
		}
	}
	if !registry.Assigns(f, registry.GrantOrgUnit) || !registry.Assigns(f, registry.GrantLicense) {
		t.Error("the connector applies org units and licences: Assigns must say so")
	}
	// Google's documented 2,400 queries/min, a fixed ceiling.
	if got := f.Pace(registry.App{}); got != (ratelimit.Limit{PerMinute: 2400, Burst: 40}) {
		t.Errorf("Pace = %+v; want 2400/min, burst 40, not adaptive", got)
	}
}

// New needs the domain and the admin, and a service account's key; no
// error quotes the key.
func TestFactoryNew(t *testing.T) {
	t.Parallel()
	srv := googletest.New()
	t.Cleanup(srv.Close)
	key := string(srv.Key())
	full := map[string]string{"domain": "example.com", "admin_email": "admin@example.com"}
	tests := []struct {
		name     string
		settings map[string]string
		key      string
		want     string
	}{
		{"no domain", map[string]string{"admin_email": "admin@example.com"}, key, "domain is required"},
		{"no admin", map[string]string{"domain": "example.com"}, key, "admin_email is required"},
		{"not JSON", full, "-----BEGIN PRIVATE KEY-----\nMIIEvQ", "not JSON"},
		{"user credentials", full, `{"type":"authorized_user","client_secret":"s3cr3t-value"}`, `"authorized_user" key`},
		{"key without its private key", full, `{"type":"service_account","client_email":"x@y.iam.gserviceaccount.com"}`, "lacks client_email or private_key"},
		{"good", full, key, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Factory{}.New(t.Context(), registry.App{Name: "google", Settings: tt.settings}, registry.Deps{Credential: tt.key, Log: zerolog.Nop()})
			if tt.want == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want %q", err, tt.want)
			}
			for _, secret := range []string{"MIIE", "s3cr3t"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes the credential", err)
				}
			}
		})
	}
}

// Probe reads (a token, one user) and writes nothing; a delegation
// without Keycard's scopes is reported as Google words it.
func TestFactoryProbe(t *testing.T) {
	t.Parallel()
	ok := googletest.New()
	t.Cleanup(ok.Close)
	bare := googletest.New(googletest.WithDelegatedScopes(googletest.ScopeUserReadonly))
	t.Cleanup(bare.Close)
	app := func(srv *googletest.Server) registry.App {
		return registry.App{Name: "google", Settings: map[string]string{"domain": srv.Domain(), "admin_email": srv.AdminEmail(), "base_url": srv.URL()}}
	}
	r := Factory{}.Probe(t.Context(), app(ok), string(ok.Key()), 5*time.Second)
	if r.Err != nil || r.Label != "google" || r.Simulated != "" || len(r.Notes) == 0 {
		t.Fatalf("Probe = %+v; want a clean probe labelled google with notes", r)
	}
	if st := ok.Requests(); st.ByRoute["users.list"] != 1 || st.Total != 1 {
		t.Errorf("Probe made %v; want one users.list", st.ByRoute)
	}
	r = Factory{}.Probe(t.Context(), app(bare), string(bare.Key()), 5*time.Second)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "unauthorized_client") {
		t.Errorf("Probe without the delegated scopes = %+v; want unauthorized_client", r.Err)
	}
	if r := (Factory{}).Probe(t.Context(), app(ok), "", time.Second); r.Err != nil {
		t.Errorf("Probe without a credential checks settings only: %v", r.Err)
	}
}
