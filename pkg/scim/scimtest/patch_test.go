package scimtest

import (
	"net/http"
	"reflect"
	"testing"
)

func TestPatchUser(t *testing.T) {
	t.Parallel()
	type doc = map[string]any
	emailOf := func(b doc, typ string) doc {
		for _, e := range b["emails"].([]any) {
			if m := e.(doc); m["type"] == typ {
				return m
			}
		}
		return nil
	}
	tests := []struct {
		name     string
		ops      []doc
		status   int
		scimType string
		check    func(t *testing.T, b doc)
	}{
		{name: "replace active with path", ops: []doc{op("replace", "active", false)},
			check: func(t *testing.T, b doc) { wantAttr(t, b, "active", false) }},
		{name: "replace without path", ops: []doc{op("replace", "", doc{"active": false, "displayName": "Babs"})},
			check: func(t *testing.T, b doc) { wantAttr(t, b, "active", false); wantAttr(t, b, "displayName", "Babs") }},
		{name: "op name case-insensitive", ops: []doc{op("Replace", "Active", false)},
			check: func(t *testing.T, b doc) { wantAttr(t, b, "active", false) }},
		{name: "add on single-valued replaces", ops: []doc{op("add", "displayName", "New")},
			check: func(t *testing.T, b doc) { wantAttr(t, b, "displayName", "New") }},
		{name: "add emails", ops: []doc{op("add", "emails", []any{doc{"value": "o@x", "type": "other"}})},
			check: func(t *testing.T, b doc) { wantLen(t, b, "emails", 3) }},
		{name: "add one email as object", ops: []doc{op("add", "emails", doc{"value": "o@x", "type": "other"})},
			check: func(t *testing.T, b doc) { wantLen(t, b, "emails", 3) }},
		{name: "add existing email is a no-op", ops: []doc{op("add", "emails", []any{doc{"value": "h@x", "type": "home"}})},
			check: func(t *testing.T, b doc) { wantLen(t, b, "emails", 2) }},
		{name: "replace through filter and sub-attribute", ops: []doc{op("replace", `emails[type eq "work"].value`, "new@x")},
			check: func(t *testing.T, b doc) {
				if emailOf(b, "work")["value"] != "new@x" || emailOf(b, "home")["value"] != "h@x" {
					t.Errorf("emails = %v", b["emails"])
				}
			}},
		{name: "replace filtered value whole", ops: []doc{op("replace", `emails[type eq "work"]`, doc{"value": "w2@x", "type": "work"})},
			check: func(t *testing.T, b doc) {
				if m := emailOf(b, "work"); m["value"] != "w2@x" || m["primary"] != nil {
					t.Errorf("work email = %v", m)
				}
			}},
		{name: "remove through filter", ops: []doc{op("remove", `emails[type eq "home"]`, nil)},
			check: func(t *testing.T, b doc) { wantLen(t, b, "emails", 1) }},
		{name: "remove sub-attribute through filter", ops: []doc{op("remove", `emails[type eq "work"].primary`, nil)},
			check: func(t *testing.T, b doc) {
				if _, ok := emailOf(b, "work")["primary"]; ok {
					t.Errorf("primary kept: %v", b["emails"])
				}
			}},
		{name: "add through filter that matches nothing", ops: []doc{op("add", `emails[type eq "other"].value`, "o@x")},
			check: func(t *testing.T, b doc) {
				if emailOf(b, "other")["value"] != "o@x" {
					t.Errorf("emails = %v", b["emails"])
				}
			}},
		{name: "replace through filter that matches nothing", ops: []doc{op("replace", `emails[type eq "fax"].value`, "f@x")},
			status: http.StatusBadRequest, scimType: typeNoTarget},
		{name: "new primary clears the old", ops: []doc{op("replace", `emails[type eq "home"].primary`, true)},
			check: func(t *testing.T, b doc) {
				if emailOf(b, "home")["primary"] != true || emailOf(b, "work")["primary"] != false {
					t.Errorf("emails = %v", b["emails"])
				}
			}},
		{name: "sub-attribute of complex", ops: []doc{op("replace", "name.givenName", "Babs")},
			check: func(t *testing.T, b doc) {
				if n := b["name"].(doc); n["givenName"] != "Babs" || n["familyName"] != "Jensen" {
					t.Errorf("name = %v", n)
				}
			}},
		{name: "replace complex merges", ops: []doc{op("replace", "name", doc{"givenName": "B"})},
			check: func(t *testing.T, b doc) {
				if n := b["name"].(doc); n["givenName"] != "B" || n["familyName"] != "Jensen" {
					t.Errorf("name = %v", n)
				}
			}},
		{name: "dotted key without path", ops: []doc{op("replace", "", doc{"name.familyName": "J"})},
			check: func(t *testing.T, b doc) { wantAttr(t, b["name"].(doc), "familyName", "J") }},
		{name: "remove attribute", ops: []doc{op("remove", "displayName", nil)},
			check: func(t *testing.T, b doc) { wantAttr(t, b, "displayName", nil) }},
		{name: "extension attribute path", ops: []doc{op("replace", enterpriseSchema+":department", "Eng")},
			check: func(t *testing.T, b doc) { wantAttr(t, b[enterpriseSchema].(doc), "department", "Eng") }},
		{name: "extension object without path", ops: []doc{op("add", "", doc{enterpriseSchema: doc{"department": "Sales"}})},
			check: func(t *testing.T, b doc) {
				ext := b[enterpriseSchema].(doc)
				wantAttr(t, ext, "department", "Sales")
				wantAttr(t, ext, "costCenter", "42")
			}},
		{name: "extension-qualified key without path", ops: []doc{op("replace", "", doc{enterpriseSchema + ":manager": doc{"value": "m1"}})},
			check: func(t *testing.T, b doc) { wantAttr(t, b[enterpriseSchema].(doc)["manager"].(doc), "value", "m1") }},
		{name: "several operations", ops: []doc{op("replace", "active", false), op("add", "title", "CTO"), op("remove", "externalId", nil)},
			check: func(t *testing.T, b doc) {
				wantAttr(t, b, "active", false)
				wantAttr(t, b, "title", "CTO")
				wantAttr(t, b, "externalId", nil)
			}},

		{name: "remove without path", ops: []doc{op("remove", "", nil)}, status: http.StatusBadRequest, scimType: typeNoTarget},
		{name: "invalid path", ops: []doc{op("replace", `emails[type eq`, "x")}, status: http.StatusBadRequest, scimType: typeInvalidPath},
		{name: "read-only id", ops: []doc{op("replace", "id", "x")}, status: http.StatusBadRequest, scimType: typeMutability},
		{name: "read-only meta", ops: []doc{op("replace", "meta.created", "x")}, status: http.StatusBadRequest, scimType: typeMutability},
		{name: "read-only groups", ops: []doc{op("add", "groups", []any{doc{"value": "g"}})}, status: http.StatusBadRequest, scimType: typeMutability},
		{name: "unknown op", ops: []doc{op("move", "active", false)}, status: http.StatusBadRequest, scimType: typeInvalidSyntax},
		{name: "value missing", ops: []doc{op("replace", "active", nil)}, status: http.StatusBadRequest, scimType: typeInvalidValue},
		{name: "active as a string", ops: []doc{op("replace", "active", "False")}, status: http.StatusBadRequest, scimType: typeInvalidValue},
		{name: "remove required userName", ops: []doc{op("remove", "userName", nil)}, status: http.StatusBadRequest, scimType: typeInvalidValue},
		{name: "value not an object without path", ops: []doc{op("replace", "", "x")}, status: http.StatusBadRequest, scimType: typeInvalidValue},
		{name: "failed request changes nothing", ops: []doc{op("replace", "displayName", "Changed"), op("remove", "", nil)},
			status: http.StatusBadRequest, scimType: typeNoTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t)
			id := c.createUser("bjensen", map[string]any{
				"externalId":  "E1",
				"displayName": "Barbara",
				"name":        doc{"givenName": "Barbara", "familyName": "Jensen"},
				"emails": []any{
					doc{"value": "w@x", "type": "work", "primary": true},
					doc{"value": "h@x", "type": "home"},
				},
				"schemas":        []string{userSchema, enterpriseSchema},
				enterpriseSchema: doc{"department": "Ops", "costCenter": "42"},
			})
			before := c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
			want := tt.status
			if want == 0 {
				want = http.StatusOK
			}
			r := c.do(http.MethodPatch, "/Users/"+id, patchBody(tt.ops...))
			if want != http.StatusOK {
				r.wantError(t, want, tt.scimType)
				after := c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
				if !reflect.DeepEqual(before.body, after.body) {
					t.Errorf("failed PATCH changed the user:\n%s\n%s", before.raw, after.raw)
				}
				return
			}
			r.want(t, http.StatusOK)
			tt.check(t, r.body)
			got := c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
			tt.check(t, got.body)
		})
	}
}

func TestPatchRequestShape(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	id := c.createUser("a", nil)
	c.do(http.MethodPatch, "/Users/"+id, map[string]any{"Operations": []any{op("replace", "active", false)}}).
		wantError(t, http.StatusBadRequest, typeInvalidSyntax)
	c.do(http.MethodPatch, "/Users/"+id, patchBody()).wantError(t, http.StatusBadRequest, typeInvalidValue)
	c.do(http.MethodPatch, "/Users/"+id, `{"schemas":["`+patchSchema+`"],"Operations":[{"op":"add","path":"title","value":}]}`).
		wantError(t, http.StatusBadRequest, typeInvalidSyntax)
}

func TestPatchGroupMembers(t *testing.T) {
	t.Parallel()
	type doc = map[string]any
	member := func(ids ...string) []any {
		var out []any
		for _, id := range ids {
			out = append(out, doc{"value": id})
		}
		return out
	}
	tests := []struct {
		name     string
		ops      func(a, b, c string) []doc
		want     func(a, b, c string) []string
		status   int
		scimType string
	}{
		{name: "add members",
			ops:  func(a, b, c string) []doc { return []doc{op("add", "members", member(c))} },
			want: func(a, b, c string) []string { return []string{a, b, c} }},
		{name: "add existing member is a no-op",
			ops:  func(a, b, c string) []doc { return []doc{op("add", "members", member(a, c, c))} },
			want: func(a, b, c string) []string { return []string{a, b, c} }},
		{name: "add members without path",
			ops:  func(a, b, c string) []doc { return []doc{op("add", "", doc{"members": member(c)})} },
			want: func(a, b, c string) []string { return []string{a, b, c} }},
		{name: "remove one member by filter",
			ops:  func(a, b, c string) []doc { return []doc{op("remove", `members[value eq "`+a+`"]`, nil)} },
			want: func(a, b, c string) []string { return []string{b} }},
		{name: "remove absent member is a no-op",
			ops:  func(a, b, c string) []doc { return []doc{op("remove", `members[value eq "`+c+`"]`, nil)} },
			want: func(a, b, c string) []string { return []string{a, b} }},
		{name: "remove members by value list",
			ops:  func(a, b, c string) []doc { return []doc{op("remove", "members", member(b))} },
			want: func(a, b, c string) []string { return []string{a} }},
		{name: "remove all members",
			ops:  func(a, b, c string) []doc { return []doc{op("remove", "members", nil)} },
			want: func(a, b, c string) []string { return nil }},
		{name: "replace members",
			ops:  func(a, b, c string) []doc { return []doc{op("replace", "members", member(c))} },
			want: func(a, b, c string) []string { return []string{c} }},
		{name: "move: remove and add in one request",
			ops: func(a, b, c string) []doc {
				return []doc{op("remove", `members[value eq "`+b+`"]`, nil), op("add", "members", member(c))}
			},
			want: func(a, b, c string) []string { return []string{a, c} }},
		{name: "filter value is case-exact",
			ops:  func(a, b, c string) []doc { return []doc{op("remove", `members[VALUE eq "`+a+`X"]`, nil)} },
			want: func(a, b, c string) []string { return []string{a, b} }},
		{name: "unknown member id", status: http.StatusBadRequest, scimType: typeInvalidValue,
			ops: func(a, b, c string) []doc { return []doc{op("add", "members", member("nobody"))} }},
		{name: "member without value", status: http.StatusBadRequest, scimType: typeInvalidValue,
			ops: func(a, b, c string) []doc { return []doc{op("add", "members", []any{doc{"display": "x"}})} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, cl := start(t)
			a, b, c := cl.createUser("a", nil), cl.createUser("b", nil), cl.createUser("c", nil)
			gid := cl.createGroup("Eng", a, b)
			r := cl.do(http.MethodPatch, "/Groups/"+gid, patchBody(tt.ops(a, b, c)...))
			if tt.status != 0 {
				r.wantError(t, tt.status, tt.scimType)
				return
			}
			r.want(t, http.StatusOK)
			if got, want := s.Groups()[0].Members, tt.want(a, b, c); !reflect.DeepEqual(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}
		})
	}
}

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	a := c.createUser("a", nil)
	gid := c.createGroup("Eng", a)
	r := c.do(http.MethodGet, "/Groups/"+gid, nil).want(t, http.StatusOK)
	if r.str("displayName") != "Eng" || r.body["meta"].(map[string]any)["resourceType"] != "Group" {
		t.Errorf("GET group: %s", r.raw)
	}
	c.do(http.MethodPost, "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "eng"}).
		wantError(t, http.StatusConflict, typeUniqueness)
	c.do(http.MethodPost, "/Groups", map[string]any{"schemas": []string{groupSchema}}).
		wantError(t, http.StatusBadRequest, typeInvalidValue)
	c.do(http.MethodPut, "/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Engineering"}).
		want(t, http.StatusOK)
	if g := s.Groups()[0]; g.DisplayName != "Engineering" || g.Members != nil {
		t.Errorf("after PUT: %+v", g)
	}
	c.do(http.MethodDelete, "/Groups/"+gid, nil).want(t, http.StatusNoContent)
	c.do(http.MethodGet, "/Groups/"+gid, nil).wantError(t, http.StatusNotFound, "")
	if _, ok := s.User(a); !ok {
		t.Error("deleting a group deleted its member")
	}
}

func wantAttr(t *testing.T, b map[string]any, key string, want any) {
	t.Helper()
	if got := b[key]; !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", key, got, want)
	}
}

func wantLen(t *testing.T, b map[string]any, key string, n int) {
	t.Helper()
	if list, _ := b[key].([]any); len(list) != n {
		t.Errorf("%s has %d values, want %d: %v", key, len(list), n, b[key])
	}
}

// A member PATCH may ask for the group back without its members.
func TestPatchAnswerProjected(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	u1, u2 := s.Seed(User{UserName: "ada", Active: true}), s.Seed(User{UserName: "bob", Active: true})
	g := s.SeedGroup(Group{DisplayName: "everyone", Members: []string{u1.ID}})
	add := patchBody(op("add", "members", []any{map[string]any{"value": u2.ID}}))
	r := c.do(http.MethodPatch, "/Groups/"+g.ID+"?excludedAttributes=members", add)
	r.want(t, http.StatusOK)
	if _, has := r.body["members"]; has || r.body["displayName"] != "everyone" {
		t.Errorf("answer %s, want the group without members", r.raw)
	}
	if got := s.Groups()[0].Members; len(got) != 2 {
		t.Errorf("members %v, want u1 and u2", got)
	}
}
