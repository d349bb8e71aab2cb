package discord

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// Defaults of Config.
const (
	DefaultBaseURL = "https://discord.com/api/v10/"
	DefaultTimeout = 30 * time.Second
	// DefaultInviteMaxAge is how long an invite works: Discord's most,
	// 7 days (the API's default is 24 hours).
	DefaultInviteMaxAge = 7 * 24 * time.Hour
	// MaxInviteMaxAge is the most Discord allows (604800 seconds).
	MaxInviteMaxAge = 7 * 24 * time.Hour
	// RolesTTL is how long the guild's roles and the bot's place among
	// them are trusted before they are read again.
	RolesTTL = time.Minute
	// InviteURL is where an invite code opens.
	InviteURL = "https://discord.gg/"
	// membersPage is the most List Guild Members returns at once.
	membersPage = 1000
	maxPages    = 100000
)

// AttrState is the attribute that says what Discord holds for an account:
// one of the State values. Plans never compare it.
const AttrState = "discord_state"

// States of an account (AttrState).
const (
	StateMember  = "member"      // in the guild, linked by the user id HR holds
	StatePending = "pending"     // a member who has not passed the guild's membership screening yet
	StateInvited = "invited"     // an invite is out and unused
	StateJoined  = "invite_used" // the invite was used; HR holds no user id yet, so Keycard cannot tell who
)

// ErrNotJoined is the partial outcome of a role grant for a person who has
// not joined the guild, or whose Discord user id HR does not hold yet: the
// roles follow when HR's field holds it (the person's next HR update, or
// the scheduled reconcile).
var ErrNotJoined = errors.New("discord: waiting for the person to join with their invite and for HR to hold their Discord user id")

// ErrJoinedUnlinked is the error of a leaver who joined with Keycard's
// invite while HR held no Discord user id for them: Keycard cannot tell
// which member they are, so it cannot remove them. It is permanent (the
// event is dead-lettered, for an operator): kick them by hand, or fill in
// the user id field and replay.
var ErrJoinedUnlinked = errors.New("discord: the person joined with Keycard's invite, but HR holds no Discord user id for them")

// Config is one guild's connector configuration.
type Config struct {
	GuildID   string
	ChannelID string // the channel invites open on
	// UserIDField is the HR custom field (Person.Custom) holding the
	// person's Discord user id; "" when HR holds none.
	UserIDField  string
	InviteMaxAge time.Duration // default DefaultInviteMaxAge
	Deliver      Deliverer     // how invitations reach people; required
	Note         string        // added to every invitation
	BaseURL      string        // default DefaultBaseURL
	Token        string        // the bot token, without "Bot "
	HTTPClient   *http.Client
	Timeout      time.Duration // per request; default DefaultTimeout
	// Pace is waited on before each page List reads.
	Pace func(context.Context) error
	// Observe is told how Discord answered each write and paced read,
	// and every rate limit of the bot's.
	Observe func(context.Context, ratelimit.Outcome)
	Now     func() time.Time
	Log     zerolog.Logger
}

// Connector manages one guild's membership and roles (see the package
// documentation).
type Connector struct {
	api         *rest
	guild       string
	channel     string
	userIDField string
	maxAge      time.Duration
	deliver     Deliverer
	note        string
	token       string
	pace        func(context.Context) error
	now         func() time.Time
	log         zerolog.Logger

	mu    sync.Mutex
	bot   string // the bot's user id, read once
	roles *guildRoles
}

// guildRoles is the guild's roles as last read.
type guildRoles struct {
	at       time.Time
	byID     map[string]discordgo.Role
	byName   map[string][]discordgo.Role
	botTop   int      // the bot's highest role position: it manages roles below it
	botRoles []string // the bot's role ids
}

// New checks cfg and returns a connector.
func New(cfg Config) (*Connector, error) {
	if !validSnowflake(cfg.GuildID) {
		return nil, fmt.Errorf("discord config: guild_id %q is not a Discord id", cfg.GuildID)
	}
	if !validSnowflake(cfg.ChannelID) {
		return nil, fmt.Errorf("discord config: channel_id %q is not a Discord id", cfg.ChannelID)
	}
	if cfg.Token == "" || strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("discord config: the bot token is empty or holds white space (give the token without \"Bot \")")
	}
	if cfg.Deliver == nil {
		return nil, errors.New("discord config: no way to deliver invitations (invite_delivery)")
	}
	maxAge := cmp.Or(cfg.InviteMaxAge, DefaultInviteMaxAge)
	if maxAge < time.Minute || maxAge > MaxInviteMaxAge {
		return nil, fmt.Errorf("discord config: invite_max_age %s: want 1m to %s", maxAge, MaxInviteMaxAge)
	}
	raw := cmp.Or(cfg.BaseURL, DefaultBaseURL)
	if msg := registry.CheckBaseURL(raw); msg != "" {
		return nil, fmt.Errorf("discord config: base_url: %s", msg)
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, _ := url.Parse(raw)
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		hc = &http.Client{Transport: t}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Connector{
		api:   newREST(hc, base, cfg.Token, cmp.Or(cfg.Timeout, DefaultTimeout), now, cfg.Observe),
		guild: cfg.GuildID, channel: cfg.ChannelID, userIDField: cfg.UserIDField, maxAge: maxAge.Truncate(time.Second),
		deliver: cfg.Deliver, note: cfg.Note, token: cfg.Token, pace: cfg.Pace, now: now, log: cfg.Log,
	}, nil
}

// ---- identity -----------------------------------------------------------------

// userIDOf is the person's Discord user id: HR's field when it holds one
// (it wins over a stored id: HR corrects a mistake), else the stored
// account id when that is a user id.
func (k *Connector) userIDOf(p connector.Person) (string, error) {
	if k.userIDField != "" {
		if v := strings.TrimSpace(p.Custom[k.userIDField]); v != "" {
			v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(v, "<@"), "!"), ">") // a pasted mention <@id>
			if !validSnowflake(v) {
				return "", fault.Permanent(fmt.Errorf("discord: HR field %s of employee %s holds %q, which is not a Discord user id (a number like 80351110224678912)",
					k.userIDField, p.EmployeeID, v))
			}
			return v, nil
		}
	}
	if validSnowflake(p.AccountID) {
		return p.AccountID, nil
	}
	return "", nil
}

// Find returns the person's account: by user id (HR's field, else the
// stored id) their guild membership with their roles; else the invite
// Keycard sent them (the stored id), while it is unused, or, once used
// before it expired, the joined-but-unlinked account. An invite that
// expired unused, or was used by someone while HR names a user who is not
// a member, is no account: the plan invites again.
func (k *Connector) Find(ctx context.Context, p connector.Person) (*connector.Account, error) {
	uid, err := k.userIDOf(p)
	if err != nil {
		return nil, err
	}
	if uid != "" {
		a, err := k.findMember(ctx, uid, p)
		if a != nil || err != nil {
			return a, err
		}
	}
	ref, ok := parseInviteRef(p.AccountID)
	if !ok {
		return nil, nil
	}
	if !ref.joined {
		inv, err := k.pendingInvite(ctx, ref)
		if err != nil {
			return nil, err
		}
		switch {
		case inv != nil:
			return k.inviteAccount(ref, StateInvited, p), nil
		case ref.expired(k.now()):
			return nil, nil // expired unused (or used too late to tell): invite again
		}
		ref.joined = true // gone before it expired: used
	}
	if uid != "" {
		// HR names the person, and that user is not a member: whoever
		// used the invite, they need one.
		return nil, nil
	}
	return k.inviteAccount(ref, StateJoined, p), nil
}

func (k *Connector) findMember(ctx context.Context, uid string, p connector.Person) (*connector.Account, error) {
	var m discordgo.Member
	err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}/members/{user.id}", major: k.guild,
		path: "guilds/" + k.guild + "/members/" + uid, out: &m})
	switch {
	case isNotFound(err, CodeUnknownMember):
		return nil, nil
	case isNotFound(err, CodeUnknownUser):
		return nil, fault.Permanent(fmt.Errorf("discord: employee %s: no Discord user has id %s (HR field %s): %w", p.EmployeeID, uid, k.userIDField, err))
	case err != nil:
		return nil, fmt.Errorf("member %s: %w", uid, err)
	}
	roles, err := k.memberRoles(ctx, m.Roles)
	if err != nil {
		return nil, err
	}
	state := StateMember
	if m.Pending {
		state = StatePending
	}
	attrs := p.Attributes()
	attrs[AttrState] = state
	name := ""
	if m.User != nil {
		name = m.User.Username
	}
	return &connector.Account{ID: uid, UserName: name, Email: strings.ToLower(p.Email), Active: true, Attributes: attrs,
		Memberships: map[connector.Kind][]string{connector.Role: roles}}, nil
}

// inviteAccount is an invite, or its use, as the worker plans against it.
// It holds no roles: they are granted once the person is linked.
func (k *Connector) inviteAccount(ref inviteRef, state string, p connector.Person) *connector.Account {
	attrs := p.Attributes()
	attrs[AttrState] = state
	return &connector.Account{ID: ref.id(), Email: strings.ToLower(p.Email), Active: true, Attributes: attrs,
		Memberships: map[connector.Kind][]string{connector.Role: nil}}
}

// pendingInvite finds ref's invite among the channel's: one request.
func (k *Connector) pendingInvite(ctx context.Context, ref inviteRef) (*discordgo.Invite, error) {
	invs, err := k.channelInvites(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		if inviteDigest(k.token, k.guild, inv.Code) == ref.digest {
			return inv, nil
		}
	}
	return nil, nil
}

func (k *Connector) channelInvites(ctx context.Context, paced bool) ([]*discordgo.Invite, error) {
	if paced && k.pace != nil {
		if err := k.pace(ctx); err != nil {
			return nil, err
		}
	}
	var invs []*discordgo.Invite
	err := k.api.do(ctx, call{method: http.MethodGet, route: "channels/{channel.id}/invites", major: k.channel,
		path: "channels/" + k.channel + "/invites", out: &invs, paced: paced})
	if err != nil {
		return nil, fmt.Errorf("invites of channel %s: %w", k.channel, err)
	}
	return invs, nil
}

// ---- roles --------------------------------------------------------------------

// botID is the bot's user id (GET /users/@me), read once.
func (k *Connector) botID(ctx context.Context) (string, error) {
	k.mu.Lock()
	id := k.bot
	k.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var me discordgo.User
	if err := k.api.do(ctx, call{method: http.MethodGet, route: "users/@me", path: "users/@me", out: &me}); err != nil {
		return "", fmt.Errorf("the bot's user: %w", err)
	}
	k.mu.Lock()
	k.bot = me.ID
	k.mu.Unlock()
	return me.ID, nil
}

// guildRoles returns the roles, read again when older than RolesTTL or
// when fresh is set: the roles (GET /guilds/{g}/roles) and the bot's own
// membership, whose highest role bounds what it may grant.
func (k *Connector) guildRoles(ctx context.Context, fresh bool) (*guildRoles, error) {
	k.mu.Lock()
	gr := k.roles
	k.mu.Unlock()
	if gr != nil && !fresh && k.now().Sub(gr.at) < RolesTTL {
		return gr, nil
	}
	bot, err := k.botID(ctx)
	if err != nil {
		return nil, err
	}
	var roles []discordgo.Role
	if err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}/roles", major: k.guild,
		path: "guilds/" + k.guild + "/roles", out: &roles}); err != nil {
		return nil, fmt.Errorf("roles of guild %s: %w", k.guild, err)
	}
	var me discordgo.Member
	if err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}/members/{user.id}", major: k.guild,
		path: "guilds/" + k.guild + "/members/" + bot, out: &me}); err != nil {
		return nil, fmt.Errorf("the bot's membership of guild %s: %w", k.guild, err)
	}
	gr = &guildRoles{at: k.now(), byID: map[string]discordgo.Role{}, byName: map[string][]discordgo.Role{}}
	for _, r := range roles {
		gr.byID[r.ID] = r
		gr.byName[r.Name] = append(gr.byName[r.Name], r)
	}
	gr.botRoles = me.Roles
	for _, id := range me.Roles {
		if r, ok := gr.byID[id]; ok {
			gr.botTop = max(gr.botTop, r.Position)
		}
	}
	k.mu.Lock()
	k.roles = gr
	k.mu.Unlock()
	return gr, nil
}

// manageable is a role the bot may grant and remove: not @everyone, not
// an integration's, and below the bot's highest role.
func (k *Connector) manageable(gr *guildRoles, r discordgo.Role) bool {
	return r.ID != k.guild && !r.Managed && r.Position < gr.botTop
}

// memberRoles names a member's roles the bot manages, sorted; roles it
// cannot touch (above it, an integration's) are not Keycard's and are
// left out, so no plan tries to remove them.
func (k *Connector) memberRoles(ctx context.Context, ids []string) ([]string, error) {
	gr, err := k.guildRoles(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		r, ok := gr.byID[id]
		if !ok {
			// A role made since the roles were read: read them again once.
			if gr, err = k.guildRoles(ctx, true); err != nil {
				return nil, err
			}
			if r, ok = gr.byID[id]; !ok {
				continue
			}
		}
		if k.manageable(gr, r) {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// errNoRole is a role name no role of the guild has.
var errNoRole = errors.New("no such role")

// role resolves a role name for a grant: exactly one role of the guild
// must have it, and the bot must manage it.
func (k *Connector) role(ctx context.Context, name string) (discordgo.Role, error) {
	gr, err := k.guildRoles(ctx, false)
	if err != nil {
		return discordgo.Role{}, err
	}
	if len(gr.byName[name]) == 0 && k.now().Sub(gr.at) > time.Second {
		if gr, err = k.guildRoles(ctx, true); err != nil {
			return discordgo.Role{}, err
		}
	}
	rs := gr.byName[name]
	switch {
	case len(rs) == 0:
		return discordgo.Role{}, fmt.Errorf("%w: guild %s has no role named %q (policy roles are Discord role names, exactly)", errNoRole, k.guild, name)
	case len(rs) > 1:
		return discordgo.Role{}, fault.Permanent(fmt.Errorf("discord: guild %s has %d roles named %q: rename all but one", k.guild, len(rs), name))
	case rs[0].Managed:
		return discordgo.Role{}, fault.Permanent(fmt.Errorf("discord: role %q is managed by an integration: no one can grant it", name))
	case !k.manageable(gr, rs[0]):
		return discordgo.Role{}, fault.Permanent(fmt.Errorf("discord: role %q is not below the bot's highest role: move the bot's role above it in Server Settings > Roles", name))
	}
	return rs[0], nil
}

// ---- writes -------------------------------------------------------------------

// Create gets the person into the guild as far as Keycard can: a member
// already (HR's user id) is adopted; an unused invite Keycard sent them
// (the stored id) is adopted; otherwise a single-use invite is made
// (POST /channels/{channel.id}/invites with max_uses 1, unique, the app's
// max age) and delivered. If delivery fails the invite is revoked, so no
// link is out that nobody was told of, and the step fails with the
// delivery's error; the retry makes a new one.
func (k *Connector) Create(ctx context.Context, p connector.Person) (connector.Account, error) {
	uid, err := k.userIDOf(p)
	if err != nil {
		return connector.Account{}, err
	}
	if uid != "" {
		a, err := k.findMember(ctx, uid, p)
		if err != nil {
			return connector.Account{}, err
		}
		if a != nil {
			return *a, nil
		}
	}
	if ref, ok := parseInviteRef(p.AccountID); ok && !ref.joined {
		inv, err := k.pendingInvite(ctx, ref)
		if err != nil {
			return connector.Account{}, err
		}
		if inv != nil {
			return *k.inviteAccount(ref, StateInvited, p), nil
		}
	}
	var inv discordgo.Invite
	body := map[string]any{"max_age": int(k.maxAge / time.Second), "max_uses": 1, "unique": true, "temporary": false}
	err = k.api.do(ctx, call{method: http.MethodPost, route: "channels/{channel.id}/invites", major: k.channel,
		path: "channels/" + k.channel + "/invites", body: body, out: &inv, paced: true,
		reason: "Keycard: invite for employee " + p.EmployeeID})
	if err != nil {
		return connector.Account{}, fmt.Errorf("invite employee %s: %w", p.EmployeeID, err)
	}
	if inv.Code == "" {
		return connector.Account{}, fault.Permanent(fmt.Errorf("invite employee %s: Discord answered without an invite code", p.EmployeeID))
	}
	ref := k.refOf(&inv)
	guild := k.guild
	if inv.Guild != nil && inv.Guild.Name != "" {
		guild = inv.Guild.Name
	}
	err = k.deliver.Deliver(ctx, Invitation{EmployeeID: p.EmployeeID, Name: firstNonEmpty(p.DisplayName, p.GivenName+" "+p.FamilyName),
		GivenName: p.GivenName, Email: p.Email, Guild: guild, URL: InviteURL + inv.Code, Expires: ref.expires, Note: k.note})
	if err != nil {
		k.revoke(context.WithoutCancel(ctx), inv.Code, "Keycard: the invite could not be delivered")
		return connector.Account{}, fmt.Errorf("deliver the invite of employee %s (revoked): %w", p.EmployeeID, err)
	}
	k.log.Info().Str("employee", p.EmployeeID).Time("expires", ref.expires).Msg("discord invite delivered")
	return *k.inviteAccount(ref, StateInvited, p), nil
}

// refOf is the account reference of an invite Discord returned: its
// digest, and its expiry as Discord states it (expires_at), else as
// created_at and max_age make it; Create and List make the same id of
// one invite.
func (k *Connector) refOf(inv *discordgo.Invite) inviteRef {
	ref := inviteRef{digest: inviteDigest(k.token, k.guild, inv.Code)}
	switch {
	case inv.ExpiresAt != nil && !inv.ExpiresAt.IsZero():
		ref.expires = *inv.ExpiresAt
	case inv.MaxAge > 0 && !inv.CreatedAt.IsZero():
		ref.expires = inv.CreatedAt.Add(time.Duration(inv.MaxAge) * time.Second)
	case inv.MaxAge > 0:
		ref.expires = k.now().Add(time.Duration(inv.MaxAge) * time.Second)
	}
	return ref
}

// revoke deletes an invite, best effort: its own short deadline, and an
// error only logged (the invite expires anyway).
func (k *Connector) revoke(ctx context.Context, code, reason string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := k.api.do(ctx, call{method: http.MethodDelete, route: "invites/{invite.code}", path: "invites/" + code, paced: true, reason: reason})
	if err != nil && !isNotFound(err, CodeUnknownInvite) {
		k.log.Warn().Err(err).Msg("revoke an undelivered discord invite; it expires on its own")
	}
}

// Update has nothing to do: Discord keeps none of HR's attributes for a
// member (accounts are the person's own).
func (k *Connector) Update(context.Context, connector.Account, connector.Person) error { return nil }

// SetActive(false) removes the person: a member is kicked (DELETE
// /guilds/{g}/members/{u}; not a member is done), an unused invite is
// revoked; a used invite with no user id in HR is ErrJoinedUnlinked.
// SetActive(true) has nothing to do: Find reports no inactive account.
func (k *Connector) SetActive(ctx context.Context, a connector.Account, active bool) error {
	if active {
		return nil
	}
	if validSnowflake(a.ID) {
		err := k.api.do(ctx, call{method: http.MethodDelete, route: "guilds/{guild.id}/members/{user.id}", major: k.guild,
			path: "guilds/" + k.guild + "/members/" + a.ID, paced: true, reason: "Keycard: the person left"})
		if err != nil && !isNotFound(err, CodeUnknownMember) {
			return fmt.Errorf("kick %s: %w", a.ID, err)
		}
		return nil
	}
	ref, ok := parseInviteRef(a.ID)
	if !ok {
		return fault.Permanent(fmt.Errorf("discord: account id %q is neither a user id nor an invite", a.ID))
	}
	if !ref.joined {
		inv, err := k.pendingInvite(ctx, ref)
		if err != nil {
			return err
		}
		if inv != nil {
			err := k.api.do(ctx, call{method: http.MethodDelete, route: "invites/{invite.code}", path: "invites/" + inv.Code,
				paced: true, reason: "Keycard: the person left before joining"})
			if err != nil && !isNotFound(err, CodeUnknownInvite) {
				return fmt.Errorf("revoke the invite: %w", err)
			}
			return nil
		}
		if ref.expired(k.now()) {
			return nil
		}
	}
	return fault.Permanent(fmt.Errorf("%w: kick them by hand in Discord, or %s and replay", ErrJoinedUnlinked, k.linkAdvice()))
}

func (k *Connector) linkAdvice() string {
	if k.userIDField == "" {
		return "set the app's user_id_field to the HR field holding Discord user ids and fill it in"
	}
	return "fill in their Discord user id in HR field " + k.userIDField
}

// AddMembership grants a role (PUT /guilds/{g}/members/{u}/roles/{r},
// 204; granting a held role is a no-op at Discord). Before the person is
// linked it is Partial, ErrNotJoined: nothing to grant to yet, and no
// reason to dead-letter the event.
func (k *Connector) AddMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	if err := checkRole(kind, name); err != nil {
		return err
	}
	if _, ok := parseInviteRef(a.ID); ok {
		return fault.Partial(fmt.Errorf("role %s: %w (%s)", name, ErrNotJoined, k.linkAdvice()))
	}
	if !validSnowflake(a.ID) {
		return fault.Permanent(fmt.Errorf("discord: account id %q is not a user id", a.ID))
	}
	r, err := k.role(ctx, name)
	if errors.Is(err, errNoRole) {
		return fault.Permanent(fmt.Errorf("discord: add role: %w", err))
	}
	if err != nil {
		return err
	}
	err = k.memberRole(ctx, http.MethodPut, a.ID, r.ID, "Keycard: granted by policy")
	switch {
	case isNotFound(err, CodeUnknownMember):
		return fault.Partial(fmt.Errorf("role %s: %s is not a member any more: %w", name, a.ID, ErrNotJoined))
	case isNotFound(err, CodeUnknownRole):
		k.forgetRoles()
		return fault.Permanent(fmt.Errorf("discord: role %q was deleted: %w", name, err))
	case err != nil:
		return fmt.Errorf("add role %s to %s: %w", name, a.ID, err)
	}
	return nil
}

// RemoveMembership removes a role (DELETE …/roles/{r}, 204); a role that
// does not exist, or a person who is not a member, is done.
func (k *Connector) RemoveMembership(ctx context.Context, a connector.Account, kind connector.Kind, name string) error {
	if err := checkRole(kind, name); err != nil {
		return err
	}
	if !validSnowflake(a.ID) {
		return nil // an invite holds no role
	}
	r, err := k.role(ctx, name)
	switch {
	case errors.Is(err, errNoRole):
		return nil
	case err != nil:
		return err
	}
	err = k.memberRole(ctx, http.MethodDelete, a.ID, r.ID, "Keycard: not granted by policy")
	switch {
	case isNotFound(err, CodeUnknownMember), isNotFound(err, CodeUnknownRole):
		return nil
	case err != nil:
		return fmt.Errorf("remove role %s from %s: %w", name, a.ID, err)
	}
	return nil
}

func (k *Connector) memberRole(ctx context.Context, method, uid, roleID, reason string) error {
	return k.api.do(ctx, call{method: method, route: "guilds/{guild.id}/members/{user.id}/roles/{role.id}", major: k.guild,
		path: "guilds/" + k.guild + "/members/" + uid + "/roles/" + roleID, paced: true, reason: reason})
}

func (k *Connector) forgetRoles() {
	k.mu.Lock()
	k.roles = nil
	k.mu.Unlock()
}

func checkRole(kind connector.Kind, name string) error {
	if kind != connector.Role {
		return fault.Permanent(fmt.Errorf("discord: %s memberships are not Discord's: grant roles", kind))
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return fault.Permanent(fmt.Errorf("discord: %q is not a role name", name))
	}
	return nil
}

// ---- listing ------------------------------------------------------------------

// List reports every member who is not a bot, with the roles the bot
// manages, then every unused invite the bot made (an invite account,
// Active). Every page is paced: ceil(M/1000) member pages and one of
// invites. It needs the GUILD_MEMBERS privileged intent.
func (k *Connector) List(ctx context.Context, fn func(connector.Account) error) error {
	gr, err := k.guildRoles(ctx, false)
	if err != nil {
		return err
	}
	after := "0"
	for range maxPages {
		if k.pace != nil {
			if err := k.pace(ctx); err != nil {
				return err
			}
		}
		var page []discordgo.Member
		err := k.api.do(ctx, call{method: http.MethodGet, route: "guilds/{guild.id}/members", major: k.guild,
			path: "guilds/" + k.guild + "/members", query: url.Values{"limit": {strconv.Itoa(membersPage)}, "after": {after}},
			out: &page, paced: true})
		if err != nil {
			return fmt.Errorf("members of guild %s: %w", k.guild, err)
		}
		for _, m := range page {
			if m.User == nil {
				continue
			}
			if later(m.User.ID, after) {
				after = m.User.ID
			}
			if m.User.Bot {
				continue
			}
			var roles []string
			for _, id := range m.Roles {
				if r, ok := gr.byID[id]; ok && k.manageable(gr, r) {
					roles = append(roles, r.Name)
				}
			}
			slices.Sort(roles)
			state := StateMember
			if m.Pending {
				state = StatePending
			}
			a := connector.Account{ID: m.User.ID, UserName: m.User.Username, Active: true, Attributes: map[string]string{AttrState: state},
				Memberships: map[connector.Kind][]string{connector.Role: slices.Compact(roles)}}
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < membersPage {
			return k.listInvites(ctx, fn)
		}
	}
	return fault.Permanent(fmt.Errorf("discord: a member listing longer than %d pages", maxPages))
}

func (k *Connector) listInvites(ctx context.Context, fn func(connector.Account) error) error {
	bot, err := k.botID(ctx)
	if err != nil {
		return err
	}
	invs, err := k.channelInvites(ctx, true)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if inv.Inviter == nil || inv.Inviter.ID != bot || inv.MaxUses != 1 {
			continue
		}
		a := connector.Account{ID: k.refOf(inv).id(), Active: true, Attributes: map[string]string{AttrState: StateInvited},
			Memberships: map[connector.Kind][]string{connector.Role: nil}}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// later reports whether snowflake a is above b.
func later(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x > y
}

// validSnowflake is a Discord id: a decimal uint64 (17 to 20 digits for
// real ids; ids go into request paths, so nothing else passes).
func validSnowflake(s string) bool {
	if len(s) < 1 || len(s) > 20 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil && s[0] != '0' && !strings.HasPrefix(s, "+")
}
