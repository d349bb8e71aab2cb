package github

import (
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/github/githubtest"
)

// loginField is the HR custom field the tests keep GitHub logins in.
const loginField = "githubLogin"

// newFake starts a fake organisation with the teams the suites grant.
func newFake(t *testing.T, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	srv := githubtest.New(append([]githubtest.Option{githubtest.WithRateScale(1000)}, opts...)...)
	t.Cleanup(srv.Close)
	srv.AddTeam("all", "eng", "sales")
	return srv
}

func newConnector(t *testing.T, srv *githubtest.Server, mod ...func(*Config)) *Connector {
	t.Helper()
	cfg := Config{Org: srv.Org(), LoginField: loginField, BaseURL: srv.URL(), Token: srv.Token(), HTTPClient: srv.Client(), Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The connector keeps the contract against the fake organisation, people
// found by the login HR holds: an org membership has teams only, stores
// none of HR's attributes, and a leaver is removed from the org, so Find
// then returns nil and a re-hire is invited again.
func TestConnectorContract(t *testing.T) {
	t.Parallel()
	features := connectortest.Features{
		Kinds:             []connector.Kind{connector.Team},
		LoginField:        loginField,
		KeepsNoAttributes: true,
		DeactivateRemoves: true,
		Counts:            true,
	}
	connectortest.Run(t, features, func(t *testing.T) connectortest.App {
		srv := newFake(t)
		return connectortest.App{Connector: newConnector(t, srv), Fail: func(f connectortest.Failure) {
			srv.FailNext(f.Status, f.RetryAfter)
		}}
	})
}
