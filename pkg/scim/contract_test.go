package scim

import (
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/scim/scimtest"
)

// Every profile keeps the connector contract against the test server with
// its vendor's quirks, with and without coalesced group writes. The
// features are written out, not derived from the profile, so a profile
// change that alters what the app does shows up here.
func TestConnectorContract(t *testing.T) {
	t.Parallel()
	groups := []connector.Kind{connector.Group}
	vendors := []struct {
		profile  Profile
		quirks   scimtest.Quirks
		features connectortest.Features
	}{
		{Generic(), scimtest.Quirks{}, connectortest.Features{Kinds: groups, FindsByEmployeeID: true, FindsByEmail: true}},
		{Slack(), scimtest.Slack(), connectortest.Features{Kinds: groups, FindsByEmail: true}},
		{Atlassian(), scimtest.Atlassian(), connectortest.Features{Kinds: groups, FindsByEmployeeID: true, HidesInactive: true}},
		{GitHubEMU(), scimtest.GitHubEMU(), connectortest.Features{Kinds: groups, FindsByEmployeeID: true}},
		{GitLab(), scimtest.GitLab(), connectortest.Features{FindsByEmployeeID: true}},
		{Notion(), scimtest.Notion(), connectortest.Features{Kinds: groups, FindsByEmail: true, DeactivateRemoves: true}},
		{Figma(), scimtest.Figma(), connectortest.Features{Kinds: groups, FindsByEmail: true}},
		{Miro(), scimtest.Miro(), connectortest.Features{Kinds: groups}},
		{Asana(), scimtest.Asana(), connectortest.Features{Kinds: groups, FindsByEmail: true}},
	}
	for _, v := range vendors {
		v.features.Counts = true
		for _, mode := range []struct {
			name string
			opts []Option
		}{{"", nil}, {"coalesced", []Option{Coalesce(nil)}}} {
			name := v.profile.Name
			if mode.name != "" {
				name += "/" + mode.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				connectortest.Run(t, v.features, func(t *testing.T) connectortest.App {
					srv := scimtest.New(v.quirks, scimtest.WithRateScale(1000))
					t.Cleanup(srv.Close)
					c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: v.profile, HTTPClient: srv.Client(), Timeout: 5 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					return connectortest.App{Connector: NewConnector(c, mode.opts...), Fail: func(f connectortest.Failure) {
						srv.FailNextRetryAfter(1, f.Status, f.RetryAfter, "injected by the contract suite")
					}}
				})
			})
		}
	}
}
