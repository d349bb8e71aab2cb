package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	t.Parallel()
	const base = `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"id": "u1", "userName": "ada", "active": true,
		"name": {"givenName": "Ada", "familyName": "Byron"},
		"emails": [{"value": "ada@work.example", "type": "work", "primary": true}, {"value": "ada@home.example", "type": "home"}],
		"urn:vendor:custom": {"seat": "full"},
		"members": [{"value": "a"}, {"value": "b\"q"}, {"value": "c"}]
	}`
	tests := []struct {
		name    string
		ops     []PatchOp
		want    string // JSON of the fields to compare, merged over base
		wantErr bool
	}{
		{
			name: "replace simple",
			ops:  []PatchOp{Replace("active", false)},
			want: `{"active": false}`,
		},
		{
			name: "case-insensitive attribute keeps spelling",
			ops:  []PatchOp{Replace("USERNAME", "lovelace")},
			want: `{"userName": "lovelace"}`,
		},
		{
			name: "replace sub-attribute",
			ops:  []PatchOp{Replace("name.familyName", "Lovelace")},
			want: `{"name": {"givenName": "Ada", "familyName": "Lovelace"}}`,
		},
		{
			name: "remove sub-attribute",
			ops:  []PatchOp{Remove("name.givenName")},
			want: `{"name": {"familyName": "Byron"}}`,
		},
		{
			name: "no path merges",
			ops:  []PatchOp{Replace("", map[string]any{"title": "Countess", "name": map[string]any{"formatted": "Ada L."}})},
			want: `{"title": "Countess", "name": {"givenName": "Ada", "familyName": "Byron", "formatted": "Ada L."}}`,
		},
		{
			name: "filtered sub-attribute",
			ops:  []PatchOp{Replace(`emails[type eq "work"].value`, "ada@new.example")},
			want: `{"emails": [{"value": "ada@new.example", "type": "work", "primary": true}, {"value": "ada@home.example", "type": "home"}]}`,
		},
		{
			name:    "filter matching nothing is noTarget",
			ops:     []PatchOp{Replace(`emails[type eq "other"].value`, "x")},
			wantErr: true,
		},
		{
			name: "add to multi-valued skips present",
			ops:  []PatchOp{Add("members", []map[string]string{{"value": "a"}, {"value": "d"}})},
			want: `{"members": [{"value": "a"}, {"value": "b\"q"}, {"value": "c"}, {"value": "d"}]}`,
		},
		{
			name: "add member present with other sub-attributes",
			ops:  []PatchOp{Add("members", []Member{{Value: "c", Display: "Cy"}})},
			want: `{}`,
		},
		{
			name: "remove member by quoted filter",
			ops:  []PatchOp{Remove(MemberPath(`b"q`)), Remove(MemberPath("c"))},
			want: `{"members": [{"value": "a"}]}`,
		},
		{
			name: "remove absent member is a no-op",
			ops:  []PatchOp{Remove(MemberPath("zz"))},
			want: `{}`,
		},
		{
			name: "enterprise extension created and listed in schemas",
			ops:  []PatchOp{Replace(EnterpriseUserSchema+":department", "Ops"), Replace(EnterpriseUserSchema+":manager", Manager{Value: "m1"})},
			want: `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "m1"}}}`,
		},
		{
			name: "unknown extension untouched",
			ops:  []PatchOp{Replace("title", "x")},
			want: `{"title": "x", "urn:vendor:custom": {"seat": "full"}}`,
		},
		{
			name:    "remove without path",
			ops:     []PatchOp{{Op: "remove"}},
			wantErr: true,
		},
		{
			name:    "unknown op",
			ops:     []PatchOp{{Op: "move", Path: "title"}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := mustGeneric(t, base).(map[string]any)
			err := applyPatch(doc, tt.ops)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %v", doc)
				}
				return
			}
			if err != nil {
				t.Fatalf("applyPatch: %v", err)
			}
			want := mustGeneric(t, base).(map[string]any)
			for k, v := range mustGeneric(t, tt.want).(map[string]any) {
				want[k] = v
			}
			if !reflect.DeepEqual(doc, want) {
				g, _ := json.Marshal(doc)
				w, _ := json.Marshal(want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestApplyPatchNoTargetType(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"emails": []any{}}
	err := applyPatch(doc, []PatchOp{Replace(`emails[type eq "work"].value`, "x")})
	var nt errNoTarget
	if !errors.As(err, &nt) {
		t.Errorf("err = %v, want errNoTarget", err)
	}
}

func TestParsePatchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		want    patchPath // filter compared for presence only
		filter  bool
		wantErr bool
	}{
		{path: "title", want: patchPath{attr: "title"}},
		{path: "name.givenName", want: patchPath{attr: "name", sub: "givenName"}},
		{path: `emails[type eq "work"].value`, want: patchPath{attr: "emails", sub: "value"}, filter: true},
		{path: `members[value eq "a]b"]`, want: patchPath{attr: "members"}, filter: true},
		{path: EnterpriseUserSchema + ":manager.value", want: patchPath{urn: EnterpriseUserSchema, attr: "manager", sub: "value"}},
		{path: EnterpriseUserSchema, want: patchPath{urn: EnterpriseUserSchema}},
		{path: "emails[type eq]", wantErr: true},
		{path: "name.a.b", wantErr: true},
		{path: `emails[type eq "x"]value`, wantErr: true},
		{path: "title; DROP", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePatchPath(tt.path, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.path, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if (got.filter != nil) != tt.filter {
			t.Errorf("%s: filter = %v", tt.path, got.filter)
		}
		got.filter = nil
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func mustGeneric(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeGeneric([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}
