package google

import (
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/google/googletest"
)

// newTestApp is a connector on a fresh fake tenant holding the groups
// eng@, all@ and sales@ (Keycard makes no groups), with the key's
// token_uri at the fake so every test runs the JWT flow. edit, if not
// nil, changes the configuration first.
func newTestApp(t *testing.T, edit func(*Config), opts ...googletest.Option) (*Connector, *googletest.Server) {
	t.Helper()
	srv := googletest.New(append([]googletest.Option{googletest.WithRateScale(1000)}, opts...)...)
	t.Cleanup(srv.Close)
	for _, g := range []string{"eng", "all", "sales"} {
		srv.AddGroup(g+"@"+srv.Domain(), g)
	}
	cfg := Config{
		Domain: srv.Domain(), AdminEmail: srv.AdminEmail(), Key: srv.Key(),
		BaseURL: srv.URL(), HTTPClient: srv.Client(), Timeout: 5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestConnectorContract(t *testing.T) {
	t.Parallel()
	features := connectortest.Features{Kinds: []connector.Kind{connector.Group}, FindsByEmployeeID: true, FindsByEmail: true, Counts: true}
	connectortest.Run(t, features, func(t *testing.T) connectortest.App {
		c, srv := newTestApp(t, nil)
		return connectortest.App{Connector: c, Fail: func(f connectortest.Failure) {
			srv.FailNext(1, googletest.Failure{Status: f.Status, RetryAfter: f.RetryAfter})
		}}
	})
}
