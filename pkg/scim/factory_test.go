package scim

import (
	"strings"
	"testing"

	"keycard/pkg/connector/registry"
)

func TestFactoryConfig(t *testing.T) {
	t.Parallel()
	app := func(profile, base string) registry.App {
		return registry.App{Name: "tool", Settings: map[string]string{SettingProfile: profile, SettingBaseURL: base}}
	}
	tests := []struct {
		name        string
		app         registry.App
		wantProfile string
		wantErr     string
	}{
		{name: "profile default generic", app: app("", "https://tool.example.com/scim/v2"), wantProfile: "generic"},
		{name: "vendor profile", app: app("slack", "https://api.slack.com/scim/v2"), wantProfile: "slack"},
		{name: "profile case-insensitive", app: app("GitHub-EMU", "https://api.github.com/scim/v2/enterprises/acme"), wantProfile: "github-emu"},
		{name: "loopback http", app: app("", "http://127.0.0.1:8080/scim/v2"), wantProfile: "generic"},
		{name: "no base_url, vendor", app: app("atlassian", ""),
			wantErr: "base_url is required (the atlassian SCIM root, e.g. https://api.atlassian.com/scim/directory/{directoryId})"},
		{name: "no base_url, generic", app: app("", ""), wantErr: "base_url is required (the generic SCIM root)"},
		{name: "unknown profile", app: app("nope", "https://x.example.com"), wantErr: `unknown SCIM profile "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config(tt.app, "tok-secret")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "tok-secret") {
					t.Errorf("token in error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if base := tt.app.Settings[SettingBaseURL]; cfg.BaseURL != base || cfg.Token != "tok-secret" || cfg.Profile.Name != tt.wantProfile {
				t.Errorf("config = base %q, token %q, profile %q; want %q, tok-secret, %q",
					cfg.BaseURL, cfg.Token, cfg.Profile.Name, base, tt.wantProfile)
			}
			if cfg.Pace != nil || cfg.HTTPClient != nil || cfg.Timeout != 0 {
				t.Errorf("caller's fields set: %+v", cfg)
			}
		})
	}
}

// The default pace is the vendor's documented limit, fixed, one under its
// burst; a vendor without one adapts from the registry's default.
func TestFactoryPace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile          string
		perMinute, burst int
		adaptive         bool
	}{
		{"slack", 180, 19, false},
		{"", registry.DefaultWritesPerMinute, registry.DefaultBurst, true},
		{"atlassian", registry.DefaultWritesPerMinute, registry.DefaultBurst, true},
	}
	for _, tt := range tests {
		got := Factory{}.Pace(registry.App{Settings: map[string]string{SettingProfile: tt.profile}})
		if got.PerMinute != tt.perMinute || got.Burst != tt.burst || got.Adaptive != tt.adaptive || got.MaxPerMinute != 0 {
			t.Errorf("Pace(%q) = %+v, want %d/min, burst %d, adaptive %v", tt.profile, got, tt.perMinute, tt.burst, tt.adaptive)
		}
	}
}
