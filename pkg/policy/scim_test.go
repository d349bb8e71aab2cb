package policy

import (
	"strings"
	"testing"
)

func TestAppSCIMConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		app         App
		wantProfile string
		wantErr     string
	}{
		{name: "profile default generic", app: App{Name: "tool", Type: TypeSCIM, BaseURL: "https://tool.example.com/scim/v2"}, wantProfile: "generic"},
		{name: "vendor profile", app: App{Name: "slack", Type: TypeSCIM, Profile: "slack", BaseURL: "https://api.slack.com/scim/v2"}, wantProfile: "slack"},
		{name: "profile case-insensitive", app: App{Name: "gh", Type: TypeSCIM, Profile: "GitHub-EMU", BaseURL: "https://api.github.com/scim/v2/enterprises/acme"}, wantProfile: "github-emu"},
		{name: "loopback http", app: App{Name: "local", Type: TypeSCIM, BaseURL: "http://127.0.0.1:8080/scim/v2"}, wantProfile: "generic"},
		{name: "no base_url, vendor", app: App{Name: "atl", Type: TypeSCIM, Profile: "atlassian"},
			wantErr: "app atl: base_url is required (the atlassian SCIM root, e.g. https://api.atlassian.com/scim/directory/{directoryId})"},
		{name: "no base_url, generic", app: App{Name: "tool", Type: TypeSCIM},
			wantErr: "app tool: base_url is required (the generic SCIM root)"},
		{name: "unknown profile", app: App{Name: "x", Type: TypeSCIM, Profile: "nope", BaseURL: "https://x.example.com"},
			wantErr: `app x: unknown SCIM profile "nope"`},
		{name: "not scim", app: App{Name: "gh", Type: TypeGitHub, Org: "acme"}, wantErr: "app gh: type github is not scim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := tt.app.SCIMConfig("tok-secret")
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
			if cfg.BaseURL != tt.app.BaseURL || cfg.Token != "tok-secret" || cfg.Profile.Name != tt.wantProfile {
				t.Errorf("config = base %q, token %q, profile %q; want %q, tok-secret, %q",
					cfg.BaseURL, cfg.Token, cfg.Profile.Name, tt.app.BaseURL, tt.wantProfile)
			}
			if cfg.Pace != nil || cfg.HTTPClient != nil || cfg.Timeout != 0 {
				t.Errorf("caller's fields set: %+v", cfg)
			}
		})
	}
}
