package discord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/discord/discordtest"
)

// userIDField is the HR custom field the tests keep Discord user ids in.
const userIDField = "discordUserId"

// userID is the Discord user id of test person n.
func userID(n int) string { return fmt.Sprintf("80351110224678%03d", n) }

// outbox records invitations as a deliverer, and can fail them.
type outbox struct {
	mu   sync.Mutex
	sent []Invitation
	fail error
}

func (o *outbox) Deliver(_ context.Context, inv Invitation) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, inv)
	return nil
}

func (o *outbox) Describe() string { return "test outbox" }

func (o *outbox) invitations() []Invitation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Invitation(nil), o.sent...)
}

// newFake starts a fake guild with the roles the suites grant.
func newFake(t *testing.T, opts ...discordtest.Option) *discordtest.Server {
	t.Helper()
	srv := discordtest.New(append([]discordtest.Option{discordtest.WithRateScale(1000)}, opts...)...)
	t.Cleanup(srv.Close)
	srv.AddRole("all", "eng", "sales")
	return srv
}

func newConnector(t *testing.T, srv *discordtest.Server, box *outbox, mod ...func(*Config)) *Connector {
	t.Helper()
	cfg := Config{GuildID: srv.GuildID(), ChannelID: srv.ChannelID(), UserIDField: userIDField, Deliver: box,
		BaseURL: srv.URL(), Token: srv.Token(), HTTPClient: srv.Client(), Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// join is the person p opening the invite of account a, as the user HR's
// field names: the code is found among the fake's invites by the digest
// the account id holds.
func join(srv *discordtest.Server, token string, p connector.Person, a connector.Account) error {
	ref, ok := parseInviteRef(a.ID)
	if !ok {
		return nil // a member already
	}
	for _, inv := range srv.Invites() {
		if inviteDigest(token, srv.GuildID(), inv.Code) == ref.digest {
			return srv.Accept(inv.Code, p.Custom[userIDField])
		}
	}
	return errors.New("no live invite has this account's digest")
}

// The connector keeps the contract against the fake guild: Create sends a
// single-use invite the person opens themselves (Features.Invites), after
// which they are found by the user id HR holds; a member has roles only
// and none of HR's attributes; a leaver is kicked, so Find then returns
// nil and a re-hire is invited again.
func TestConnectorContract(t *testing.T) {
	t.Parallel()
	features := connectortest.Features{
		Kinds:             []connector.Kind{connector.Role},
		LoginField:        userIDField,
		Login:             userID,
		KeepsNoAttributes: true,
		DeactivateRemoves: true,
		Invites:           true,
	}
	connectortest.Run(t, features, func(t *testing.T) connectortest.App {
		srv := newFake(t)
		box := &outbox{}
		return connectortest.App{
			Connector: newConnector(t, srv, box),
			Fail:      func(f connectortest.Failure) { srv.FailNext(f.Status, f.RetryAfter) },
			Join:      func(p connector.Person, a connector.Account) error { return join(srv, srv.Token(), p, a) },
		}
	})
}
