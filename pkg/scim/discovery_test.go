package scim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
)

// The generic profile sends only what the server declares: without the
// enterprise extension no department, title… stays; with it, everything.
func TestDiscoverUser(t *testing.T) {
	t.Parallel()
	core := scim.AttrUserName | scim.AttrEmails | scim.AttrName | scim.AttrDisplayName | scim.AttrTitle | scim.AttrExternalID
	const userType = `{"Resources":[{"id":"User","endpoint":"/Users","schema":"urn:ietf:params:scim:schemas:core:2.0:User"%s}]}`
	const ext = `,"schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}]`
	tests := []struct {
		name    string
		quirks  *scimtest.Quirks // a scimtest server; nil: the stub below
		types   string           // the stub's /ResourceTypes ("": 404)
		schemas string           // the stub's /Schemas ("": 404)
		want    scim.Attr
		wantErr bool
	}{
		{name: "scimtest, enterprise declared", quirks: &scimtest.Quirks{}, want: scim.AttrAll},
		{name: "scimtest, no enterprise extension", quirks: &scimtest.Quirks{NoEnterpriseUser: true}, want: core},
		{name: "no /Schemas, extension listed", types: fmt.Sprintf(userType, ext), want: scim.AttrAll},
		{name: "no /Schemas, no extension", types: fmt.Sprintf(userType, ""), want: core},
		{name: "schemas narrow the core", types: fmt.Sprintf(userType, ext),
			schemas: `{"Resources":[{"id":"urn:ietf:params:scim:schemas:core:2.0:User","attributes":[{"name":"userName"},{"name":"Emails"}]},
				{"id":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","attributes":[{"name":"department"}]}]}`,
			want: scim.AttrUserName | scim.AttrEmails | scim.AttrExternalID | scim.AttrDepartment},
		{name: "an extension the type does not list is not used", types: fmt.Sprintf(userType, ""),
			schemas: `{"Resources":[{"id":"urn:ietf:params:scim:schemas:core:2.0:User","attributes":[{"name":"userName"}]},
				{"id":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","attributes":[{"name":"department"}]}]}`,
			want: scim.AttrUserName | scim.AttrExternalID},
		{name: "no /ResourceTypes", wantErr: true},
		{name: "no User type", types: `{"Resources":[{"id":"Group","endpoint":"/Groups"}]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c *scim.Client
			if tt.quirks != nil {
				srv := scimtest.New(*tt.quirks)
				t.Cleanup(srv.Close)
				var err error
				if c, err = scim.New(scim.Config{BaseURL: srv.URL(), Token: srv.Token(), HTTPClient: srv.Client()}); err != nil {
					t.Fatal(err)
				}
			} else {
				s := newStub(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
					body := map[string]string{"/scim/v2/ResourceTypes": tt.types, "/scim/v2/Schemas": tt.schemas}[r.URL.Path]
					if body == "" {
						scimError(w, http.StatusNotFound, "", "no such endpoint")
						return
					}
					_, _ = io.WriteString(w, body)
				})
				c = newClient(t, s, scim.Generic())
			}
			du, err := c.DiscoverUser(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("DiscoverUser: %+v, %v", du, err)
			}
			if tt.wantErr {
				return
			}
			if du.Attributes != tt.want {
				t.Errorf("attributes %s, want %s", du.Attributes, tt.want)
			}
			p := scim.Generic().WithDeclaredUser(du)
			if p.Accepts != tt.want&scim.AttrAll {
				t.Errorf("generic accepts %s after discovery, want %s", p.Accepts, tt.want)
			}
			if slack := scim.Slack().WithDeclaredUser(du); slack.Accepts&^scim.Slack().Accepts != 0 {
				t.Errorf("discovery widened Slack to %s", slack.Accepts)
			}
		})
	}
}
