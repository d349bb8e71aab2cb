package pipedrive

import (
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/pipedrive/pipedrivetest"
)

// newFake starts a fake company with the teams the suites grant.
func newFake(t *testing.T, opts ...pipedrivetest.Option) *pipedrivetest.Server {
	t.Helper()
	srv := pipedrivetest.New(append([]pipedrivetest.Option{pipedrivetest.WithRateScale(1000)}, opts...)...)
	t.Cleanup(srv.Close)
	srv.AddTeam("all", "eng", "sales")
	return srv
}

func newConnector(t *testing.T, srv *pipedrivetest.Server, mod ...func(*Config)) *Connector {
	t.Helper()
	cfg := Config{BaseURL: srv.URL(), Token: srv.Token(), HTTPClient: srv.Client(), Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The connector keeps the contract against the fake company: users are
// found by e-mail, deactivated ones too, and a leaver stays in the
// company, inactive, until a re-hire switches the same user back on.
// Pipedrive keeps none of HR's attributes and its API changes no login
// address; teams are the only membership.
func TestConnectorContract(t *testing.T) {
	t.Parallel()
	features := connectortest.Features{
		Kinds:             []connector.Kind{connector.Team},
		FindsByEmail:      true,
		KeepsNoAttributes: true,
		FixedEmail:        true,
		Counts:            true,
	}
	connectortest.Run(t, features, func(t *testing.T) connectortest.App {
		// No burst limit here: the suite injects its own 429s, and a real
		// one landing between them would answer the wrong step (the limit
		// has tests of its own).
		srv := newFake(t, pipedrivetest.WithBurstLimit(1<<30))
		return connectortest.App{Connector: newConnector(t, srv), Fail: func(f connectortest.Failure) {
			srv.FailNext(f.Status, f.RetryAfter)
		}}
	})
}
