package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/discord/discordtest"
	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
	"keycard/pkg/testclock"
)

func person(n int, withID bool) connector.Person {
	p := connector.Person{EmployeeID: fmt.Sprintf("e%d", 1000+n), Email: fmt.Sprintf("person%d@example.com", n),
		GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", n), DisplayName: fmt.Sprintf("Given Family%d", n)}
	if withID {
		p.Custom = map[string]string{userIDField: userID(n)}
	}
	return p
}

func mustCreate(t *testing.T, c *Connector, p connector.Person) connector.Account {
	t.Helper()
	a, err := c.Create(t.Context(), p)
	if err != nil {
		t.Fatalf("Create(%s): %v", p.EmployeeID, err)
	}
	return a
}

func mustFind(t *testing.T, c *Connector, p connector.Person) *connector.Account {
	t.Helper()
	a, err := c.Find(t.Context(), p)
	if err != nil {
		t.Fatalf("Find(%s): %v", p.EmployeeID, err)
	}
	return a
}

// A joiner gets one single-use, unique invite of the app's max age,
// delivered once; the account id names it without its code, and a retry
// with the id stored neither invites nor delivers again.
func TestInviteDeliveredOnce(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	box := &outbox{}
	c := newConnector(t, srv, box, func(cfg *Config) { cfg.InviteMaxAge = 72 * time.Hour; cfg.Note = "Tell HR your id." })
	p := person(1, false)
	a := mustCreate(t, c, p)
	invs := srv.Invites()
	if len(invs) != 1 {
		t.Fatalf("%d invites; want 1", len(invs))
	}
	inv := invs[0]
	if inv.MaxUses != 1 || inv.MaxAge != 72*3600 || inv.InviterID != srv.BotID() {
		t.Fatalf("invite %+v; want max_uses 1, max_age 259200, by the bot", inv)
	}
	sent := box.invitations()
	if len(sent) != 1 || sent[0].URL != "https://discord.gg/"+inv.Code || sent[0].Email != p.Email || sent[0].Guild != "Acme" ||
		sent[0].Note != "Tell HR your id." || sent[0].Expires.Sub(inv.Created.Add(72*time.Hour)).Abs() > time.Second {
		t.Fatalf("delivered %+v; want the invite's URL to %s", sent, p.Email)
	}
	if strings.Contains(a.ID, inv.Code) || !strings.HasPrefix(a.ID, invitePrefix) || a.Attributes[AttrState] != StateInvited {
		t.Fatalf("account %+v; want an invite id without the code", a)
	}
	p.AccountID = a.ID
	if again := mustCreate(t, c, p); again.ID != a.ID {
		t.Fatalf("Create with the id stored = %s; want %s", again.ID, a.ID)
	}
	if got := mustFind(t, c, p); got == nil || got.ID != a.ID {
		t.Fatalf("Find = %+v", got)
	}
	if n := len(srv.Invites()); n != 1 || len(box.invitations()) != 1 {
		t.Fatalf("%d invites, %d deliveries after the retry; want 1 and 1", n, len(box.invitations()))
	}
	if st := srv.Requests(); st.ByRoute["POST /channels/{channel.id}/invites"] != 1 {
		t.Fatalf("invites made: %d", st.ByRoute["POST /channels/{channel.id}/invites"])
	}
}

// An invite that could not be delivered is revoked, so no link is out
// that nobody was told of; the error keeps the delivery's class and never
// shows the code.
func TestUndeliveredInviteRevoked(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	box := &outbox{fail: errors.New("relay unreachable")}
	c := newConnector(t, srv, box)
	_, err := c.Create(t.Context(), person(1, false))
	if err == nil || fault.IsPermanent(err) {
		t.Fatalf("Create with delivery failing = %v; want a transient error", err)
	}
	if n := len(srv.Invites()); n != 0 {
		t.Fatalf("%d invites left after a failed delivery; want it revoked", n)
	}
	box.fail = fault.Permanent(errors.New("550 no such mailbox"))
	if _, err := c.Create(t.Context(), person(1, false)); !fault.IsPermanent(err) {
		t.Fatalf("Create with a permanent delivery failure = %v", err)
	}
	if st := srv.Requests(); st.ByRoute["DELETE /invites/{invite.code}"] != 2 {
		t.Fatalf("revocations %d; want 2", st.ByRoute["DELETE /invites/{invite.code}"])
	}
}

// An invite that expired unused is no account: the plan invites again. A
// used one (gone before it expired) is the joined account, which the
// worker stores, so it stays joined after the expiry too; a leaver in that
// state cannot be removed and says so, permanently.
func TestInviteExpiryAndUse(t *testing.T) {
	t.Parallel()
	clock := testclock.Running(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	srv := newFake(t, discordtest.WithClock(clock.Now))
	box := &outbox{}
	c := newConnector(t, srv, box, func(cfg *Config) { cfg.Now = clock.Now; cfg.InviteMaxAge = 24 * time.Hour })

	p := person(1, false)
	p.AccountID = mustCreate(t, c, p).ID
	clock.Advance(25 * time.Hour)
	if got := mustFind(t, c, p); got != nil {
		t.Fatalf("Find after the invite expired = %+v; want nil (invite again)", got)
	}
	second := mustCreate(t, c, p)
	if second.ID == p.AccountID || len(box.invitations()) != 2 {
		t.Fatalf("re-invite %s (%d deliveries); want a new invite", second.ID, len(box.invitations()))
	}

	q := person(2, false)
	q.AccountID = mustCreate(t, c, q).ID
	if err := join(srv, srv.Token(), withUser(q, "80351110224678999"), connector.Account{ID: q.AccountID}); err != nil {
		t.Fatal(err)
	}
	joined := mustFind(t, c, q)
	if joined == nil || !strings.HasPrefix(joined.ID, joinedPrefix) || !joined.Active || joined.Attributes[AttrState] != StateJoined {
		t.Fatalf("Find after the invite was used = %+v; want the joined account", joined)
	}
	if err := c.AddMembership(t.Context(), *joined, connector.Role, "eng"); !fault.IsPartial(err) || !errors.Is(err, ErrNotJoined) {
		t.Fatalf("AddMembership while unlinked = %v; want Partial ErrNotJoined", err)
	}
	q.AccountID = joined.ID // the worker stores the id Find returned
	clock.Advance(48 * time.Hour)
	if got := mustFind(t, c, q); got == nil || got.ID != joined.ID {
		t.Fatalf("Find after the used invite's expiry = %+v; want still joined", got)
	}
	err := c.SetActive(t.Context(), *joined, false)
	if !fault.IsPermanent(err) || !errors.Is(err, ErrJoinedUnlinked) || !strings.Contains(err.Error(), userIDField) {
		t.Fatalf("SetActive(false) of a joined, unlinked person = %v; want permanent ErrJoinedUnlinked naming the HR field", err)
	}
	// HR gets the id: the member is found and linked.
	linked := mustFind(t, c, withUser(q, "80351110224678999"))
	if linked == nil || linked.ID != "80351110224678999" || linked.Attributes[AttrState] != StateMember {
		t.Fatalf("Find with HR's user id = %+v; want the member", linked)
	}
}

func withUser(p connector.Person, id string) connector.Person {
	p.Custom = map[string]string{userIDField: id}
	return p
}

// A leaver whose invite is still unused has it revoked, so it cannot be
// used after they left; a leaver who is a member is kicked.
func TestLeavers(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, &outbox{})
	p := person(1, false)
	inv := mustCreate(t, c, p)
	plan := connector.Plan(mustFind(t, c, withID(p, inv.ID)), connector.Want{}, p)
	if _, _, err := connector.Apply(t.Context(), c, &inv, p, plan, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("leaver with an unused invite: %v", err)
	}
	if n := len(srv.Invites()); n != 0 {
		t.Fatalf("%d invites after the leaver; want the invite revoked", n)
	}

	q := person(2, true)
	srv.AddMember(userID(2), false, "eng", "all")
	srv.AddRoleAbove("Admins")
	cur := mustFind(t, c, q)
	if cur == nil || !slices.Equal(cur.Memberships[connector.Role], []string{"all", "eng"}) {
		t.Fatalf("Find = %+v", cur)
	}
	plan = connector.Plan(cur, connector.Want{Managed: map[connector.Kind][]string{connector.Role: {"eng"}}}, q)
	want := []connector.Action{{Op: connector.OpRemove, Kind: connector.Role, Name: "all"}, {Op: connector.OpRemove, Kind: connector.Role, Name: "eng"}, {Op: connector.OpDeactivate}}
	if !slices.Equal(plan, want) {
		t.Fatalf("leaver plan %v; want %v", plan, want)
	}
	if _, _, err := connector.Apply(t.Context(), c, cur, q, plan, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Member(userID(2)); ok {
		t.Fatal("the leaver is still a member")
	}
	if got := mustFind(t, c, q); got != nil {
		t.Fatalf("Find after the kick = %+v; want nil", got)
	}
}

// Roles follow Discord's hierarchy: what the bot cannot grant (above its
// own role, an integration's) is refused here, permanently, without a
// request Discord would refuse (403s count towards its IP ban), and a
// member's such roles are not reported, so no plan removes them. A name
// two roles share, or none, is a permanent error too.
func TestRoleHierarchy(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, &outbox{})
	srv.AddRoleAbove("Admins")
	srv.AddManagedRole("Server Booster")
	srv.AddRole("twin", "twin")
	srv.AddMember(userID(1), false, "eng", "Admins", "Server Booster")
	p := person(1, true)
	a := mustFind(t, c, p)
	if got := a.Memberships[connector.Role]; !slices.Equal(got, []string{"eng"}) {
		t.Fatalf("reported roles %v; want only eng (the bot manages no other)", got)
	}
	before := srv.Requests()
	for _, name := range []string{"Admins", "Server Booster", "twin", "nope"} {
		err := c.AddMembership(t.Context(), *a, connector.Role, name)
		if !fault.IsPermanent(err) || fault.IsPartial(err) {
			t.Errorf("AddMembership(%s) = %v; want permanent", name, err)
		}
	}
	after := srv.Requests()
	if n := after.ByRoute["PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}"] - before.ByRoute["PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}"]; n != 0 {
		t.Errorf("%d role grants sent that Discord would refuse", n)
	}
	if after.ByStatus[403] != 0 {
		t.Errorf("Discord answered 403 %d times", after.ByStatus[403])
	}
	// A role deleted after it was read: Discord's 404 Unknown Role.
	mustOK(t, c.AddMembership(t.Context(), *a, connector.Role, "sales"))
	srv.RemoveRole("all")
	if err := c.AddMembership(t.Context(), *a, connector.Role, "all"); !fault.IsPermanent(err) {
		t.Errorf("AddMembership of a deleted role = %v", err)
	}
	if m, _ := srv.Member(userID(1)); !slices.Equal(m.Roles, []string{"Admins", "Server Booster", "eng", "sales"}) {
		t.Errorf("member roles %v", m.Roles)
	}
	// A malformed id in HR is the person's data, not a retry.
	bad := withUser(p, "ada#1234")
	if _, err := c.Find(t.Context(), bad); !fault.IsPermanent(err) || !strings.Contains(err.Error(), userIDField) {
		t.Errorf("Find with a malformed user id = %v", err)
	}
	if got := mustFind(t, c, withUser(p, "<@"+userID(1)+">")); got == nil || got.ID != userID(1) {
		t.Errorf("Find with a pasted mention = %+v", got)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Discord's 429s come back as the worker's fault.RetryAfter with the
// body's float wait, the pacer is told; a global 429 holds every request
// for its wait, here, without another request; a bucket Discord says is
// spent is waited for inline when the wait is short and refused without
// sending when long, so Discord serves no 429 for it.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("route 429", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		var mu sync.Mutex
		var outcomes []ratelimit.Outcome
		c := newConnector(t, srv, &outbox{}, func(cfg *Config) {
			cfg.Observe = func(_ context.Context, o ratelimit.Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
		})
		srv.AddMember(userID(1), false)
		a := mustFind(t, c, person(1, true))
		srv.FailNextOn("PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}", 1, 429, 1234*time.Millisecond)
		err := c.AddMembership(t.Context(), *a, connector.Role, "eng")
		hint, _ := fault.RetryAfterHint(err)
		if hint != 1234*time.Millisecond || fault.IsPermanent(err) {
			t.Fatalf("AddMembership after a 429 = %v (hint %v); want transient, 1.234s", err, hint)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(outcomes, ratelimit.Outcome{Throttled: true, RetryAfter: 1234 * time.Millisecond}) {
			t.Fatalf("pacer told %v; want the 429", outcomes)
		}
	})
	t.Run("global 429", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		c := newConnector(t, srv, &outbox{})
		srv.FailNextGlobal(1, 5*time.Second)
		_, err := c.Find(t.Context(), person(1, true))
		if hint, _ := fault.RetryAfterHint(err); hint != 5*time.Second {
			t.Fatalf("Find under a global 429 = %v; want a 5s hint", err)
		}
		before := srv.Requests().Total
		_, err = c.Find(t.Context(), person(2, true))
		e, ok := errors.AsType[*Error](err)
		if !ok || !e.Local || e.Scope != ScopeGlobal || e.RetryAfter <= 4*time.Second {
			t.Fatalf("Find during the global wait = %v; want refused here", err)
		}
		if srv.Requests().Total != before {
			t.Fatal("a request went out during the global wait")
		}
	})
	t.Run("spent bucket, short", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, discordtest.WithRateScale(10)) // GET member: 10 per 100ms
		c := newConnector(t, srv, &outbox{})
		for n := range 35 {
			if _, err := c.Find(t.Context(), person(n, true)); err != nil {
				t.Fatalf("Find %d: %v", n, err)
			}
		}
		if st := srv.Requests(); st.RateLimited != 0 {
			t.Fatalf("Discord answered %d 429s; the client should have waited for the bucket", st.RateLimited)
		}
	})
	t.Run("spent bucket, long", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, discordtest.WithRateScale(1)) // kicks: 5 per 5 s
		c := newConnector(t, srv, &outbox{})
		var err error
		for n := range 6 {
			if err = c.SetActive(t.Context(), connector.Account{ID: userID(n)}, false); err != nil {
				break
			}
		}
		e, ok := errors.AsType[*Error](err)
		if !ok || !e.Local || e.RetryAfter <= maxInlineWait || e.RetryAfter > 5*time.Second || fault.IsPermanent(err) {
			t.Fatalf("sixth kick = %v; want refused here with the bucket's wait", err)
		}
		if st := srv.Requests(); st.RateLimited != 0 || st.ByRoute["DELETE /guilds/{guild.id}/members/{user.id}"] != 5 {
			t.Fatalf("served %v; want 5 kicks and no 429", st.ByRoute)
		}
	})
}

// List pages members 1000 at a time (after the highest id), paced, leaves
// out bots, and adds the unused invites the bot made, as the ids Create
// gave them.
func TestList(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	box := &outbox{}
	paced := 0
	c := newConnector(t, srv, box, func(cfg *Config) { cfg.Pace = func(context.Context) error { paced++; return nil } })
	for n := range 2345 {
		srv.AddMember(fmt.Sprintf("9%017d", n), false, "eng")
	}
	srv.AddMember("80000000000000001", true) // another bot
	srv.CreateInvite(userID(7), 3600, 1)     // a person's invite
	inv := mustCreate(t, c, person(1, false))
	var ids []string
	roles := 0
	err := c.List(t.Context(), func(a connector.Account) error {
		ids = append(ids, a.ID)
		if slices.Equal(a.Memberships[connector.Role], []string{"eng"}) {
			roles++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2346 || roles != 2345 || ids[len(ids)-1] != inv.ID || slices.Contains(ids, srv.BotID()) || slices.Contains(ids, "80000000000000001") {
		t.Fatalf("List gave %d accounts (%d with eng), last %s; want 2345 members and the invite %s", len(ids), roles, ids[len(ids)-1], inv.ID)
	}
	if st := srv.Requests(); st.ByRoute["GET /guilds/{guild.id}/members"] != 3 || paced != 4 {
		t.Fatalf("%d member pages, %d paced; want 3 and 4", st.ByRoute["GET /guilds/{guild.id}/members"], paced)
	}
	noIntent := newFake(t, discordtest.WithoutMembersIntent())
	err = newConnector(t, noIntent, box).List(t.Context(), func(connector.Account) error { return nil })
	if !fault.IsAuth(err) || !strings.Contains(err.Error(), "GUILD_MEMBERS") {
		t.Fatalf("List without the members intent = %v; want an auth error naming the intent", err)
	}
}

// Neither the bot token nor an invite code reaches a log line or an
// error, whatever happens.
func TestNoSecretsOut(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	var logs bytes.Buffer
	box := &outbox{}
	c := newConnector(t, srv, box, func(cfg *Config) { cfg.Log = zerolog.New(&logs) })
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	p := person(1, false)
	a, err := c.Create(t.Context(), p)
	record(err)
	srv.FailNextOn("DELETE /invites/{invite.code}", 1, 500, 0)
	record(c.SetActive(t.Context(), a, false))
	record(c.SetActive(t.Context(), a, false))
	box.fail = errors.New("relay down")
	srv.FailNextOn("DELETE /invites/{invite.code}", 1, 503, 0)
	_, err = c.Create(t.Context(), person(2, false))
	record(err)
	bad := newConnector(t, srv, box, func(cfg *Config) { cfg.Token = "MTA.wrong-token-abcdefghijkl"; cfg.Log = zerolog.New(&logs) })
	_, err = bad.Find(t.Context(), person(3, true))
	record(err)
	if !fault.IsAuth(err) {
		t.Fatalf("Find with a wrong token = %v; want an auth error", err)
	}
	out := logs.String() + strings.Join(errs, "\n")
	secrets := []string{srv.Token(), "MTA.wrong-token-abcdefghijkl"}
	for _, d := range box.invitations() {
		secrets = append(secrets, strings.TrimPrefix(d.URL, InviteURL))
	}
	for _, inv := range srv.Invites() {
		secrets = append(secrets, inv.Code)
	}
	if len(secrets) < 3 {
		t.Fatalf("no invite was made: %v", errs)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("a secret (%.6s…) is in the logs or errors:\n%s", s, out)
		}
	}
}

// A member who has not passed the guild's membership screening is a
// member all the same; Update never writes.
func TestUpdateWritesNothing(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv, &outbox{})
	srv.AddMember(userID(1), false)
	a := mustFind(t, c, person(1, true))
	before := srv.Requests().Total
	mustOK(t, c.Update(t.Context(), *a, person(1, true)))
	if srv.Requests().Total != before {
		t.Fatal("Update sent a request")
	}
}

func withID(p connector.Person, id string) connector.Person {
	p.AccountID = id
	return p
}
