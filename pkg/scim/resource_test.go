package scim_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"keycard/pkg/scim"
)

func TestUserJSON(t *testing.T) {
	t.Parallel()
	const in = `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:vendor:x"],
		"ID": "u1", "externalid": "E1", "userName": "ada", "ACTIVE": "true",
		"name": {"givenName": "Ada", "familyName": "Lovelace"},
		"emails": [{"value": "ada@example.com", "primary": true, "type": "work"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "m1", "displayName": "Babbage"}},
		"groups": [{"value": "g1", "display": "eng"}],
		"meta": {"resourceType": "User", "version": "W/\"1\""},
		"nickName": "countess",
		"urn:vendor:x": {"seat": "full"}
	}`
	var u scim.User
	if err := json.Unmarshal([]byte(in), &u); err != nil {
		t.Fatal(err)
	}
	if u.ID != "u1" || u.ExternalID != "E1" || !u.Active || u.PrimaryEmail() != "ada@example.com" ||
		u.Enterprise.Department != "Ops" || u.Enterprise.Manager.Value != "m1" || len(u.Groups) != 1 || u.Meta.Version != `W/"1"` {
		t.Errorf("decoded %+v", u)
	}
	if len(u.Extra) != 2 || string(u.Extra["nickName"]) != `"countess"` {
		t.Errorf("Extra = %v", u.Extra)
	}

	out, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(out, &got)
	var want map[string]any
	_ = json.Unmarshal([]byte(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:vendor:x"],
		"id": "u1", "externalId": "E1", "userName": "ada", "active": true,
		"name": {"givenName": "Ada", "familyName": "Lovelace"},
		"emails": [{"value": "ada@example.com", "primary": true, "type": "work"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "m1", "displayName": "Babbage"}},
		"nickName": "countess",
		"urn:vendor:x": {"seat": "full"}
	}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("re-encoded\n got %s", out)
	}
}

func TestUserJSONEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in   string
		wantActive bool
		wantErr    bool
	}{
		{"active absent reads false", `{"id":"u"}`, false, false},
		{"active null", `{"active":null}`, false, false},
		{"active bool", `{"active":true}`, true, false},
		{"active string False", `{"active":"False"}`, false, false},
		{"active number", `{"active":1}`, false, true},
		{"numeric id", `{"id":12345,"active":true}`, true, false},
		{"not an object", `[]`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var u scim.User
			err := json.Unmarshal([]byte(tt.in), &u)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && u.Active != tt.wantActive {
				t.Errorf("Active = %v", u.Active)
			}
		})
	}
	// A field wins over an Extra entry of the same name.
	out, _ := json.Marshal(scim.User{UserName: "real", Extra: map[string]json.RawMessage{"USERNAME": json.RawMessage(`"shadow"`)}})
	if want := `{"active":false,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"real"}`; string(out) != want {
		t.Errorf("got %s", out)
	}
}
