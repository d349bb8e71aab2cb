package discordtest

import (
	"errors"
	"slices"
	"strconv"
	"time"
)

// Permission bits (docs/topics/permissions).
const (
	permCreateInvite   int64 = 1 << 0
	permKickMembers    int64 = 1 << 1
	permAdministrator  int64 = 1 << 3
	permManageChannels int64 = 1 << 4
	permManageRoles    int64 = 1 << 28
)

type user struct {
	id       string
	username string
	bot      bool
}

type member struct {
	userID string
	roles  map[string]bool
	joined time.Time
}

type role struct {
	id          string
	name        string
	position    int
	managed     bool
	permissions int64
}

type invite struct {
	code      string
	channelID string
	inviterID string
	maxAge    int // seconds; 0 never expires
	maxUses   int // 0 unlimited
	uses      int
	temporary bool
	created   time.Time
}

func (inv *invite) expired(now time.Time) bool {
	return inv.maxAge > 0 && !now.Before(inv.created.Add(time.Duration(inv.maxAge)*time.Second))
}

// Member is what the fake holds for one member, as tests read it.
type Member struct {
	UserID string
	Roles  []string // role names, sorted
}

// Invite is a live invite, as tests read it.
type Invite struct {
	Code      string
	InviterID string
	MaxAge    int
	MaxUses   int
	Uses      int
	Created   time.Time
}

// AddRole creates roles by name, each below the bot's role and above the
// ones made before, and returns their ids. A name may be used twice, as
// Discord allows.
func (s *Server) AddRole(names ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, name := range names {
		r := &role{id: s.nextID(), name: name, position: 1 + len(s.roles)}
		s.roles[r.id] = r
		ids = append(ids, r.id)
	}
	return ids
}

// AddRoleAbove creates a role above the bot's own (an admin's role the
// bot may not grant) and returns its id.
func (s *Server) AddRoleAbove(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &role{id: s.nextID(), name: name, position: 1000 + len(s.roles), permissions: permAdministrator}
	s.roles[r.id] = r
	return r.id
}

// AddManagedRole creates a role an integration manages (a booster or
// another bot's role): no one may grant or remove it.
func (s *Server) AddManagedRole(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &role{id: s.nextID(), name: name, position: 1 + len(s.roles), managed: true}
	s.roles[r.id] = r
	return r.id
}

// RemoveRole deletes a role, as an admin would.
func (s *Server) RemoveRole(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.roles {
		if r.name == name && id != s.guildID {
			delete(s.roles, id)
			for _, m := range s.members {
				delete(m.roles, id)
			}
		}
	}
}

// AddMember makes userID a member with the named roles, as if they had
// joined by another invite; bot marks another bot.
func (s *Server) AddMember(userID string, bot bool, roleNames ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		s.users[userID] = &user{id: userID, username: "user" + userID, bot: bot}
	}
	m := &member{userID: userID, roles: map[string]bool{}, joined: s.now()}
	for _, name := range roleNames {
		for id, r := range s.roles {
			if r.name == name {
				m.roles[id] = true
			}
		}
	}
	s.members[userID] = m
}

// ErrInvalidInvite is Accept's error for an invite that does not exist,
// was revoked, is used up or expired.
var ErrInvalidInvite = errors.New("discordtest: invite invalid or expired")

// Accept is the Discord user userID opening the invite code: they join
// the guild (if not a member already), and the invite counts a use and
// disappears when used up.
func (s *Server) Accept(code, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invites[code]
	if !ok || inv.expired(s.now()) {
		delete(s.invites, code)
		return ErrInvalidInvite
	}
	if _, err := strconv.ParseUint(userID, 10, 64); err != nil {
		return errors.New("discordtest: a user id is a snowflake")
	}
	if _, ok := s.users[userID]; !ok {
		s.users[userID] = &user{id: userID, username: "user" + userID}
	}
	if _, ok := s.members[userID]; !ok {
		s.members[userID] = &member{userID: userID, roles: map[string]bool{}, joined: s.now()}
	}
	inv.uses++
	if inv.maxUses > 0 && inv.uses >= inv.maxUses {
		delete(s.invites, code)
	}
	return nil
}

// Leave is userID leaving the guild on their own.
func (s *Server) Leave(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members, userID)
}

// Member returns userID's membership, or false when they are not a member.
func (s *Server) Member(userID string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[userID]
	if !ok {
		return Member{}, false
	}
	out := Member{UserID: userID}
	for id := range m.roles {
		out.Roles = append(out.Roles, s.roles[id].name)
	}
	slices.Sort(out.Roles)
	return out, true
}

// Members lists the ids of the guild's members that are not bots, sorted.
func (s *Server) Members() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.members {
		if !s.users[id].bot {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Invites lists the live invites, oldest first.
func (s *Server) Invites() []Invite {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Invite
	for _, inv := range s.liveInvites() {
		out = append(out, Invite{Code: inv.code, InviterID: inv.inviterID, MaxAge: inv.maxAge, MaxUses: inv.maxUses, Uses: inv.uses, Created: inv.created})
	}
	return out
}

// liveInvites drops expired invites and returns the rest, oldest first.
func (s *Server) liveInvites() []*invite {
	now := s.now()
	var out []*invite
	for code, inv := range s.invites {
		if inv.expired(now) {
			delete(s.invites, code)
			continue
		}
		out = append(out, inv)
	}
	slices.SortFunc(out, func(a, b *invite) int { return a.created.Compare(b.created) })
	return out
}

// CreateInvite makes an invite as a person would in Discord's UI (the
// inviter is not the bot).
func (s *Server) CreateInvite(inviterID string, maxAge, maxUses int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := &invite{code: inviteCode(), channelID: s.channelID, inviterID: inviterID, maxAge: maxAge, maxUses: maxUses, created: s.now()}
	s.invites[inv.code] = inv
	return inv.code
}

// topPosition is the highest role position of a member.
func (s *Server) topPosition(m *member) int {
	top := 0
	for id := range m.roles {
		if r, ok := s.roles[id]; ok {
			top = max(top, r.position)
		}
	}
	return top
}
