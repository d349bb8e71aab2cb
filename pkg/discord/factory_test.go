package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	email := map[string]string{"guild_id": "80351110224678912", "channel_id": "80351110224678913", "smtp_addr": "smtp.example.com:587", "smtp_from": "it@example.com"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range email {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name     string
		settings map[string]string
		bad      []string
	}{
		{"e-mail", email, nil},
		{"everything", with("user_id_field", "customDiscordId", "invite_max_age", "3d", "invite_note", "Reply to hr@example.com.",
			"smtp_username", "keycard", "smtp_password_env", "SMTP_PASSWORD", "smtp_tls", "tls", "base_url", "https://discord.com/api/v10/"), nil},
		{"slack", map[string]string{"invite_delivery": "slack", "slack_webhook_env": "DISCORD_INVITE_WEBHOOK"}, nil},
		{"guild later", with("guild_id", "", "channel_id", ""), nil},
		{"port defaulted", with("smtp_addr", "smtp.example.com"), nil},
		{"bad ids", with("guild_id", "acme", "channel_id", "-1"), []string{"guild_id", "channel_id"}},
		{"max age too long", with("invite_max_age", "8d"), []string{"invite_max_age"}},
		{"max age never", with("invite_max_age", "0s"), []string{"invite_max_age"}},
		{"max age garbage", with("invite_max_age", "a week"), []string{"invite_max_age"}},
		{"no relay", with("smtp_addr", "", "smtp_from", ""), []string{"smtp_addr", "smtp_from"}},
		{"password without user", with("smtp_password_env", "SMTP_PASSWORD"), []string{"smtp_username"}},
		{"secret instead of its variable", with("smtp_username", "k", "smtp_password_env", "hunter2!"), []string{"smtp_password_env"}},
		{"bad tls", with("smtp_tls", "ssl"), []string{"smtp_tls"}},
		{"slack without webhook", map[string]string{"invite_delivery": "slack"}, []string{"slack_webhook_env"}},
		{"slack with smtp", map[string]string{"invite_delivery": "slack", "slack_webhook_env": "HOOK", "smtp_addr": "x:25"}, []string{"smtp_addr"}},
		{"unknown delivery", map[string]string{"invite_delivery": "sms"}, []string{"invite_delivery"}},
		{"plain http", with("base_url", "http://discord.example.com/api/v10/"), []string{"base_url"}},
	}
	cases := make([]connectortest.SettingsCase, len(tests))
	for i, tt := range tests {
		cases[i] = connectortest.SettingsCase{Name: tt.name, Settings: tt.settings, Bad: tt.bad}
	}
	connectortest.CheckSettings(t, Factory{}, "discord", cases)
}

// Discord documents only its global limit: the pace adapts, and never
// climbs past half of it.
func TestPace(t *testing.T) {
	t.Parallel()
	l := Factory{}.Pace(registry.App{})
	if !l.Adaptive || l.MaxPerMinute > GlobalPerSecond*60/2 || l.PerMinute > l.MaxPerMinute {
		t.Fatalf("pace %+v; want adaptive, at most half of %d/s", l, GlobalPerSecond)
	}
}

// New builds a working connector from the settings, the worker's
// dependencies and the secret the settings name; it refuses one whose
// delivery secret is missing.
func TestNewFromSettings(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	r := startRelay(t, false)
	var paced, observed int
	env := map[string]string{"RELAY_PASSWORD": relayPassword}
	deps := registry.Deps{Credential: srv.Token(), Log: zerolog.Nop(), Getenv: func(k string) string { return env[k] },
		Pace:    func(context.Context) error { paced++; return nil },
		Observe: func(context.Context, ratelimit.Outcome) { observed++ }}
	app := registry.App{Name: "discord", Settings: map[string]string{"guild_id": srv.GuildID(), "channel_id": srv.ChannelID(),
		"base_url": srv.URL(), "user_id_field": userIDField, "smtp_addr": r.addr, "smtp_from": "keycard@example.com",
		"smtp_username": relayUser, "smtp_password_env": "RELAY_PASSWORD", "smtp_tls": "none", "invite_max_age": "2d"}}
	if err := (Factory{}).Validate(app); err != nil {
		t.Fatal(err)
	}
	c, err := Factory{}.New(t.Context(), app, deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(t.Context(), person(1, false))
	if err != nil || !strings.HasPrefix(a.ID, invitePrefix) {
		t.Fatalf("Create = %+v, %v", a, err)
	}
	if got := r.received(); len(got) != 1 || got[0].to != "person1@example.com" {
		t.Fatalf("relay got %+v; want one message to person1@example.com", got)
	}
	if inv := srv.Invites(); len(inv) != 1 || inv[0].MaxAge != 2*86400 {
		t.Fatalf("invites %+v; want one of 2 days", inv)
	}
	if err := c.List(t.Context(), func(connector.Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if paced == 0 || observed == 0 {
		t.Errorf("paced %d, observed %d; want List paced and the write observed", paced, observed)
	}
	delete(env, "RELAY_PASSWORD")
	if _, err := (Factory{}).New(t.Context(), app, deps); err == nil || !strings.Contains(err.Error(), "RELAY_PASSWORD is not set") {
		t.Errorf("New without the relay password = %v", err)
	}
	delete(app.Settings, "guild_id")
	if _, err := (Factory{}).New(t.Context(), app, deps); err == nil || !strings.Contains(err.Error(), "guild_id") {
		t.Errorf("New without guild_id = %v", err)
	}
}

// Probe only reads, counts the guild's members and says what the bot
// lacks.
func TestProbe(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddMember(userID(1), false)
	app := registry.App{Name: "discord", Settings: map[string]string{"guild_id": srv.GuildID(), "channel_id": srv.ChannelID(), "base_url": srv.URL(),
		"invite_delivery": "slack", "slack_webhook_env": "HOOK"}}
	p := Factory{}.Probe(t.Context(), app, srv.Token(), 5*time.Second)
	if p.Err != nil || p.Label != "discord" || p.Users == nil || *p.Users != 2 {
		t.Fatalf("Probe = %+v; want 2 members (the bot and one)", p)
	}
	notes := strings.Join(p.Notes, "; ")
	for _, want := range []string{`guild "Acme"`, "no user_id_field", "Slack"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	if strings.Contains(notes, "roles lack") {
		t.Errorf("notes %q say a permission is missing", notes)
	}
	for route := range srv.Requests().ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("Probe wrote: %s", route)
		}
	}
	if p := (Factory{}).Probe(t.Context(), app, "MTA.wrong-token-0123456789", 5*time.Second); p.Err == nil || !strings.Contains(p.Err.Error(), "401") {
		t.Errorf("Probe with a wrong token = %+v", p)
	}
	before := srv.Requests().Total
	if p := (Factory{}).Probe(t.Context(), app, "", time.Second); p.Err != nil || p.Users != nil || srv.Requests().Total != before {
		t.Errorf("Probe without a token = %+v; want settings checked only", p)
	}
}
