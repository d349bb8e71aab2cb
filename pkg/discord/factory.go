package discord

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/ratelimit"
)

// Type is the app type of a Discord guild.
const Type = "discord"

// Settings of a Discord app.
const (
	SettingGuildID       = "guild_id"       // the guild (server) id; required to connect
	SettingChannelID     = "channel_id"     // the channel invites open on; required to connect
	SettingUserIDField   = "user_id_field"  // the HR custom field holding each person's Discord user id
	SettingInviteMaxAge  = "invite_max_age" // how long an invite works: 1m to 7d (Go duration, or days as "7d"); default 7d
	SettingDelivery      = "invite_delivery"
	SettingNote          = "invite_note"       // a line added to every invitation (how to send HR the user id)
	SettingSMTPAddr      = "smtp_addr"         // host:port of the relay
	SettingSMTPFrom      = "smtp_from"         // the sender address
	SettingSMTPUsername  = "smtp_username"     // "" sends without AUTH
	SettingSMTPPassword  = "smtp_password_env" // the variable holding the relay password
	SettingSMTPTLS       = "smtp_tls"          // starttls (default), tls, none (loopback relay only)
	SettingSlackWebhook  = "slack_webhook_env" // the variable holding the Slack incoming-webhook URL
	SettingBaseURL       = "base_url"          // the REST root; default https://discord.com/api/v10/
	DeliveryEmail        = "email"             // invite_delivery: e-mail to the work address (default)
	DeliverySlack        = "slack"             // invite_delivery: a Slack channel's incoming webhook
	defaultSMTPPort      = "587"
	envNamePattern       = "an environment variable's name (A-Z, 0-9, _)"
	maxNoteRunes         = 500
	deliveryTimeoutShare = 2 // delivery gets the request timeout twice over: a relay may greylist slowly
)

// The default pace of writes. Discord documents one number, the bot's
// global 50 requests a second, and says per-route limits must be read
// from the headers, not hard-coded. So the pace is adaptive: it starts
// at 2 writes a second, climbs while Discord accepts them, halves at a
// 429, and never passes 25 a second, half the global limit, leaving the
// rest for the reads each write needs.
const (
	PacePerMinute    = 120
	PaceBurst        = 5
	PaceMaxPerMinute = 25 * 60
)

// Factory builds Discord guild connectors for the connector registry.
type Factory struct{}

func (Factory) Type() string { return Type }

// DeactivatedSeat (registry.Billing): a Discord guild is free: no member costs a seat.
func (Factory) DeactivatedSeat(registry.App) registry.Seat { return registry.SeatFreed }
func (Factory) Settings() []string {
	return []string{SettingGuildID, SettingChannelID, SettingUserIDField, SettingInviteMaxAge, SettingDelivery, SettingNote,
		SettingSMTPAddr, SettingSMTPFrom, SettingSMTPUsername, SettingSMTPPassword, SettingSMTPTLS, SettingSlackWebhook, SettingBaseURL}
}

// Validate checks the settings as the file is loaded. A missing guild or
// channel waits for New (the app runs simulated until both and the token
// are set), but what is set must be right, and the delivery it names
// must be complete: a worker that could invite nobody must not start.
func (Factory) Validate(app registry.App) error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &registry.SettingError{Key: key, Msg: msg}) }
	s := app.Settings
	for _, key := range []string{SettingGuildID, SettingChannelID} {
		if v := s[key]; v != "" && !validSnowflake(v) {
			bad(key, fmt.Sprintf("%q is not a Discord id (a number like 80351110224678912; Developer Mode > Copy ID)", v))
		}
	}
	if v := s[SettingInviteMaxAge]; v != "" {
		if _, err := parseMaxAge(v); err != nil {
			bad(SettingInviteMaxAge, err.Error())
		}
	}
	if raw := s[SettingBaseURL]; raw != "" {
		if msg := registry.CheckBaseURL(raw); msg != "" {
			bad(SettingBaseURL, msg)
		}
	}
	if n := len([]rune(s[SettingNote])); n > maxNoteRunes {
		bad(SettingNote, fmt.Sprintf("%d characters; at most %d", n, maxNoteRunes))
	}
	for _, key := range []string{SettingSMTPPassword, SettingSlackWebhook} {
		if v := s[key]; v != "" && !validEnvName(v) {
			bad(key, fmt.Sprintf("%q: want %s, not the secret itself", v, envNamePattern))
		}
	}
	switch d := s[SettingDelivery]; d {
	case "", DeliveryEmail:
		if s[SettingSlackWebhook] != "" {
			bad(SettingSlackWebhook, "set with invite_delivery email: say invite_delivery: slack, or drop it")
		}
		if s[SettingSMTPAddr] == "" {
			bad(SettingSMTPAddr, "required for invite_delivery email: the relay's host:port")
		} else if _, err := smtpAddr(s[SettingSMTPAddr]); err != nil {
			bad(SettingSMTPAddr, err.Error())
		}
		if s[SettingSMTPFrom] == "" {
			bad(SettingSMTPFrom, "required for invite_delivery email: the sender address")
		}
		if (s[SettingSMTPUsername] == "") != (s[SettingSMTPPassword] == "") {
			bad(SettingSMTPUsername, "smtp_username and smtp_password_env go together")
		}
		if t := s[SettingSMTPTLS]; t != "" && t != SMTPStartTLS && t != SMTPTLS && t != SMTPNone {
			bad(SettingSMTPTLS, fmt.Sprintf("%q: want %s, %s or %s", t, SMTPStartTLS, SMTPTLS, SMTPNone))
		}
	case DeliverySlack:
		if s[SettingSlackWebhook] == "" {
			bad(SettingSlackWebhook, "required for invite_delivery slack: the variable holding the webhook URL")
		}
		for _, key := range []string{SettingSMTPAddr, SettingSMTPFrom, SettingSMTPUsername, SettingSMTPPassword, SettingSMTPTLS} {
			if s[key] != "" {
				bad(key, "set with invite_delivery slack: drop it")
			}
		}
	default:
		bad(SettingDelivery, fmt.Sprintf("%q: want %s or %s", d, DeliveryEmail, DeliverySlack))
	}
	return errors.Join(errs...)
}

// parseMaxAge reads invite_max_age: a Go duration ("72h") or whole days
// ("7d"), 1m to 7d, in whole seconds.
func parseMaxAge(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 72h or 7d", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 72h or 7d", v)
		}
	}
	if d < time.Minute || d > MaxInviteMaxAge {
		return 0, fmt.Errorf("%q: Discord takes 1m to 7d (a never-expiring invite is not offered)", v)
	}
	return d.Truncate(time.Second), nil
}

// smtpAddr is the relay's address, with port 587 when none is given.
func smtpAddr(v string) (string, error) {
	if !strings.Contains(v, ":") {
		v += ":" + defaultSMTPPort
	}
	if _, err := strconv.Atoi(v[strings.LastIndex(v, ":")+1:]); err != nil || strings.HasPrefix(v, ":") {
		return "", fmt.Errorf("%q: want host:port", v)
	}
	return v, nil
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// Pace is the adaptive write pace (see PacePerMinute).
func (Factory) Pace(registry.App) ratelimit.Limit {
	return ratelimit.Limit{PerMinute: PacePerMinute, Burst: PaceBurst, Adaptive: true, MaxPerMinute: PaceMaxPerMinute}
}

// config is app's connector configuration without its deliverer; it
// fails without a guild or channel.
func config(app registry.App, token string) (Config, error) {
	s := app.Settings
	if s[SettingGuildID] == "" || s[SettingChannelID] == "" {
		return Config{}, errors.New("guild_id and channel_id are required: the server's id and the id of the channel invites open on")
	}
	cfg := Config{GuildID: s[SettingGuildID], ChannelID: s[SettingChannelID], UserIDField: s[SettingUserIDField],
		Note: s[SettingNote], BaseURL: s[SettingBaseURL], Token: token}
	if v := s[SettingInviteMaxAge]; v != "" {
		d, err := parseMaxAge(v)
		if err != nil {
			return Config{}, fmt.Errorf("invite_max_age: %w", err)
		}
		cfg.InviteMaxAge = d
	}
	return cfg, nil
}

// deliverer builds the app's invitation delivery, reading its secret
// from the environment variable its settings name.
func deliverer(app registry.App, getenv func(string) string, timeout time.Duration) (Deliverer, error) {
	s := app.Settings
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if s[SettingDelivery] == DeliverySlack {
		env := s[SettingSlackWebhook]
		hook := getenv(env)
		if hook == "" {
			return nil, fmt.Errorf("invite_delivery slack: %s is not set (it holds the incoming-webhook URL)", env)
		}
		return NewSlack(hook, nil, timeout)
	}
	addr, err := smtpAddr(s[SettingSMTPAddr])
	if err != nil {
		return nil, fmt.Errorf("smtp_addr: %w", err)
	}
	cfg := SMTPConfig{Addr: addr, From: s[SettingSMTPFrom], Username: s[SettingSMTPUsername], TLS: s[SettingSMTPTLS], Timeout: timeout}
	if env := s[SettingSMTPPassword]; env != "" {
		if cfg.Password = getenv(env); cfg.Password == "" {
			return nil, fmt.Errorf("smtp_password_env: %s is not set", env)
		}
	}
	return NewSMTP(cfg)
}

// New builds the guild's connector.
func (Factory) New(_ context.Context, app registry.App, deps registry.Deps) (connector.Connector, error) {
	cfg, err := config(app, deps.Credential)
	if err != nil {
		return nil, err
	}
	if cfg.Deliver, err = deliverer(app, deps.Getenv, deliveryTimeoutShare*DefaultTimeout); err != nil {
		return nil, err
	}
	cfg.Pace, cfg.Observe, cfg.Log = deps.Pace, deps.Observe, deps.Log
	return New(cfg)
}

// Probe reads the guild as the worker would, and only reads: the bot
// (GET /users/@me), the guild with its member count, its roles and the
// bot's membership (to check the permissions Keycard needs), the invite
// channel's invites, and one member (the GUILD_MEMBERS intent).
func (Factory) Probe(ctx context.Context, app registry.App, token string, timeout time.Duration) registry.Probe {
	r := registry.Probe{Label: Type}
	cfg, err := config(app, token)
	if err == nil {
		err = Factory{}.Validate(app)
	}
	if err != nil || token == "" {
		r.Err = err
		return r
	}
	cfg.Timeout = timeout
	cfg.Deliver = probeDeliverer{}
	k, err := New(cfg)
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel, late := registry.ProbeDeadline(ctx, timeout)
	defer cancel()
	var g discordgo.Guild
	if err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}", major: k.guild, path: "guilds/" + k.guild,
		query: map[string][]string{"with_counts": {"true"}}, out: &g}); err != nil {
		r.Err = late(fmt.Errorf("guild %s: %w", k.guild, err))
		return r
	}
	r.Users = &g.ApproximateMemberCount
	r.Notes = append(r.Notes, fmt.Sprintf("guild %q, about %d members (bots and people Keycard does not manage included)", g.Name, g.ApproximateMemberCount))
	gr, err := k.guildRoles(ctx, true)
	if err != nil {
		r.Err = late(err)
		return r
	}
	r.Notes = append(r.Notes, k.permissionNotes(gr)...)
	if _, err := k.channelInvites(ctx, false); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("invites of channel %s not read (Manage Channels there is needed to find and revoke invites): %v", k.channel, err))
	}
	var one []discordgo.Member
	if err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}/members", major: k.guild, path: "guilds/" + k.guild + "/members",
		query: map[string][]string{"limit": {"1"}}, out: &one}); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("members not listed (reconcile needs the Server Members privileged intent): %v", err))
	}
	if cfg.UserIDField == "" {
		r.Notes = append(r.Notes, "no user_id_field: joiners are invited, but never linked, so they get no roles and leavers cannot be removed")
	}
	r.Notes = append(r.Notes, "invitations: "+describeDelivery(app.Settings))
	return r
}

// describeDelivery says how invitations go, from the settings alone.
func describeDelivery(s map[string]string) string {
	if s[SettingDelivery] == DeliverySlack {
		return "Slack incoming webhook (" + s[SettingSlackWebhook] + ")"
	}
	addr, _ := smtpAddr(s[SettingSMTPAddr])
	return fmt.Sprintf("e-mail to the work address via %s (%s), from %s", addr, cmp.Or(s[SettingSMTPTLS], SMTPStartTLS), s[SettingSMTPFrom])
}

// permissionNotes says which of the permissions Keycard needs the bot's
// roles lack (channel overwrites not counted).
func (k *Connector) permissionNotes(gr *guildRoles) []string {
	var perms int64
	if everyone, ok := gr.byID[k.guild]; ok {
		perms |= everyone.Permissions
	}
	for _, id := range gr.botRoles {
		perms |= gr.byID[id].Permissions
	}
	if perms&discordgo.PermissionAdministrator != 0 {
		return []string{"the bot is an administrator (it needs only Kick Members, Manage Roles, Create Invite and Manage Channels)"}
	}
	var notes []string
	for _, p := range []struct {
		bit  int64
		name string
	}{{discordgo.PermissionKickMembers, "Kick Members (leavers)"}, {discordgo.PermissionManageRoles, "Manage Roles (roles)"},
		{discordgo.PermissionCreateInstantInvite, "Create Invite (joiners)"}, {discordgo.PermissionManageChannels, "Manage Channels (find and revoke invites)"}} {
		if perms&p.bit == 0 {
			notes = append(notes, "the bot's roles lack "+p.name)
		}
	}
	return notes
}

// probeDeliverer stands in for the real one in a probe, which sends
// nothing.
type probeDeliverer struct{}

func (probeDeliverer) Deliver(context.Context, Invitation) error {
	return errors.New("a probe delivers nothing")
}
func (probeDeliverer) Describe() string { return "none (probe)" }
