package gitlab

import (
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/gitlab/gitlabtest"
)

// provider is the identity provider the tests link people to.
const provider = "saml"

// newFake starts a fake instance with the groups the suites grant.
func newFake(t *testing.T, opts ...gitlabtest.Option) *gitlabtest.Server {
	t.Helper()
	srv := gitlabtest.New(append([]gitlabtest.Option{gitlabtest.WithRateScale(1000)}, opts...)...)
	t.Cleanup(srv.Close)
	srv.AddGroup("all", "eng", "sales", "acme/eng/backend", "acme/sales")
	return srv
}

func newConnector(t *testing.T, srv *gitlabtest.Server, mod ...func(*Config)) *Connector {
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

func withProvider(c *Config) { c.Provider = provider }

// The connector keeps the contract against the fake instance: people are
// found by e-mail (and, with an identity provider, by their HR id as
// extern_uid), a leaver is blocked and stays, inactive, and a re-hire is
// unblocked.
func TestConnectorContract(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		mod      []func(*Config)
		features connectortest.Features
	}{
		{"by e-mail", nil, connectortest.Features{Kinds: []connector.Kind{connector.Group}, FindsByEmail: true, Counts: true}},
		{"with a provider", []func(*Config){withProvider},
			connectortest.Features{Kinds: []connector.Kind{connector.Group}, FindsByEmail: true, FindsByEmployeeID: true, Counts: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			connectortest.Run(t, tt.features, func(t *testing.T) connectortest.App {
				srv := newFake(t)
				return connectortest.App{Connector: newConnector(t, srv, tt.mod...), Fail: func(f connectortest.Failure) {
					srv.FailNext(f.Status, f.RetryAfter)
				}}
			})
		})
	}
}
