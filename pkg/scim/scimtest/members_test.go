package scimtest

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func memberList(ids ...string) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, map[string]any{"value": id})
	}
	return out
}

func removeMember(id string) map[string]any {
	return op("remove", `members[value eq "`+id+`"]`, nil)
}

// answerMembers returns the member ids of a group answer, nil without
// members.
func answerMembers(t *testing.T, body map[string]any) []string {
	t.Helper()
	list, has := body["members"].([]any)
	if _, present := body["members"]; present && !has {
		t.Fatalf("members = %#v, want a list", body["members"])
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}

// userGroups returns the ids in a user's computed groups.
func userGroups(t *testing.T, c client, uid string) []string {
	t.Helper()
	r := c.do(http.MethodGet, "/Users/"+uid, nil).want(t, http.StatusOK)
	var ids []string
	list, _ := r.body["groups"].([]any)
	for _, g := range list {
		ids = append(ids, g.(map[string]any)["value"].(string))
	}
	return ids
}

// TestMemberOps checks which requests take the member fast path.
func TestMemberOps(t *testing.T) {
	t.Parallel()
	add := func(path string, v any) patchOp { return patchOp{op: "add", path: path, value: v, hasValue: v != nil} }
	remove := func(path string, v any) patchOp {
		return patchOp{op: "remove", path: path, value: v, hasValue: v != nil}
	}
	tests := []struct {
		name string
		ops  []patchOp
		fast bool
	}{
		{"add", []patchOp{add("members", memberList("a", "b"))}, true},
		{"add one value", []patchOp{add("members", map[string]any{"value": "a"})}, true},
		{"add with schema", []patchOp{add(groupSchema+":Members", memberList("a"))}, true},
		{"remove by filter", []patchOp{remove(`members[value eq "a"]`, nil)}, true},
		{"remove by value", []patchOp{remove("members", memberList("a"))}, true},
		{"add and remove", []patchOp{add("members", memberList("a")), remove(`MEMBERS[Value eq "b"]`, nil)}, true},
		{"no path", []patchOp{add("", map[string]any{"members": memberList("a")})}, false},
		{"replace", []patchOp{{op: "replace", path: "members", value: memberList("a"), hasValue: true}}, false},
		{"remove all", []patchOp{remove("members", nil)}, false},
		{"empty add", []patchOp{add("members", []any{})}, false},
		{"value without id", []patchOp{add("members", []any{map[string]any{"display": "x"}})}, false},
		{"primary value", []patchOp{add("members", []any{map[string]any{"value": "a", "primary": true}})}, false},
		{"other filter", []patchOp{remove(`members[value ne "a"]`, nil)}, false},
		{"add through filter", []patchOp{add(`members[value eq "a"]`, map[string]any{"display": "x"})}, false},
		{"sub-attribute", []patchOp{remove("members.display", nil)}, false},
		{"displayName too", []patchOp{add("members", memberList("a")), add("displayName", "x")}, false},
		{"bad path", []patchOp{add("members[", memberList("a"))}, false},
	}
	for _, tt := range tests {
		if _, fast := memberOps(tt.ops); fast != tt.fast {
			t.Errorf("%s: fast = %v, want %v", tt.name, fast, tt.fast)
		}
	}
}

// TestMemberPatchMatchesGeneralPath sends each request to two servers, the
// second time with a no-op displayName replace appended, which sends it
// through the general path, and wants the same answer.
func TestMemberPatchMatchesGeneralPath(t *testing.T) {
	t.Parallel()
	type doc = map[string]any
	// a and b are members of Eng; c is a user, d a group, neither a member.
	tests := []struct {
		name string
		ops  func(a, b, c, d string) []doc
	}{
		{"add", func(a, b, c, d string) []doc { return []doc{op("add", "members", memberList(c, d))} }},
		{"add existing", func(a, b, c, d string) []doc { return []doc{op("add", "members", memberList(a))} }},
		{"add twice in one value", func(a, b, c, d string) []doc { return []doc{op("add", "members", memberList(c, a, c))} }},
		{"add keeps the value's attributes", func(a, b, c, d string) []doc {
			return []doc{op("add", "members", []any{doc{"value": c, "display": "C", "type": "User"}})}
		}},
		{"add unknown", func(a, b, c, d string) []doc { return []doc{op("add", "members", memberList(c, "nobody"))} }},
		{"add unknown in a later op", func(a, b, c, d string) []doc {
			return []doc{removeMember(a), op("add", "members", memberList("nobody"))}
		}},
		{"add unknown then remove it", func(a, b, c, d string) []doc {
			return []doc{op("add", "members", memberList("nobody")), removeMember("nobody")}
		}},
		{"remove by filter", func(a, b, c, d string) []doc { return []doc{removeMember(a)} }},
		{"remove absent", func(a, b, c, d string) []doc { return []doc{removeMember(c)} }},
		{"remove by values", func(a, b, c, d string) []doc { return []doc{op("remove", "members", memberList(a, c))} }},
		{"remove everyone", func(a, b, c, d string) []doc { return []doc{removeMember(a), removeMember(b)} }},
		{"remove then add again", func(a, b, c, d string) []doc {
			return []doc{removeMember(a), op("add", "members", memberList(a))}
		}},
		{"add then remove", func(a, b, c, d string) []doc {
			return []doc{op("add", "members", memberList(c)), removeMember(c)}
		}},
		{"value without id", func(a, b, c, d string) []doc {
			return []doc{op("add", "members", []any{doc{"display": "x"}})}
		}},
		{"value not an object", func(a, b, c, d string) []doc { return []doc{op("add", "members", []any{c})} }},
		{"bad op", func(a, b, c, d string) []doc {
			return []doc{op("add", "members", memberList(c)), op("move", "members", nil)}
		}},
	}
	run := func(t *testing.T, ops func(a, b, c, d string) []doc, general bool) response {
		s, cl := start(t)
		a, b, c := cl.createUser("a", nil), cl.createUser("b", nil), cl.createUser("c", nil)
		d := cl.createGroup("Ops")
		gid := cl.createGroup("Eng", a, b)
		body := ops(a, b, c, d)
		if general {
			body = append(body, op("replace", "displayName", "Eng"))
		}
		r := cl.do(http.MethodPatch, "/Groups/"+gid, patchBody(body...))
		if r.status == http.StatusOK {
			if got, want := answerMembers(t, r.body), s.Groups()[1].Members; !reflect.DeepEqual(got, want) {
				t.Errorf("answer lists %v, store %v", got, want)
			}
			for _, uid := range []string{a, b, c} {
				inGroup := slices.Contains(s.Groups()[1].Members, uid)
				if got := userGroups(t, cl, uid); inGroup != slices.Contains(got, gid) {
					t.Errorf("user %s: groups %v, group members %v", uid, got, s.Groups()[1].Members)
				}
			}
		}
		return r
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fast, general := run(t, tt.ops, false), run(t, tt.ops, true)
			if fast.status != general.status {
				t.Fatalf("status %d, general path %d; body %s", fast.status, general.status, fast.raw)
			}
			if fast.status != http.StatusOK {
				for _, key := range []string{"scimType", "detail"} {
					if fast.body[key] != general.body[key] {
						t.Errorf("%s = %v, general path %v", key, fast.body[key], general.body[key])
					}
				}
				return
			}
			if !reflect.DeepEqual(fast.body["members"], general.body["members"]) {
				t.Errorf("members %v, general path %v", fast.body["members"], general.body["members"])
			}
		})
	}
}

func TestMemberPatch(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	a, b, u := c.createUser("a", nil), c.createUser("b", nil), c.createUser("u", nil)
	gid := c.createGroup("everyone", a, b)
	patch := func(ops ...map[string]any) response {
		t.Helper()
		return c.do(http.MethodPatch, "/Groups/"+gid, patchBody(ops...))
	}
	stored := func() Group {
		t.Helper()
		return s.Groups()[0]
	}
	lastModified := func() any { return stored().Attributes["meta"].(map[string]any)["lastModified"] }

	t.Run("add is idempotent", func(t *testing.T) {
		patch(op("add", "members", memberList(u))).want(t, http.StatusOK)
		patch(op("add", "members", memberList(u, a))).want(t, http.StatusOK)
		if got, want := stored().Members, []string{a, b, u}; !reflect.DeepEqual(got, want) {
			t.Errorf("members = %v, want %v", got, want)
		}
		if got := userGroups(t, c, u); !reflect.DeepEqual(got, []string{gid}) {
			t.Errorf("groups of the added user = %v", got)
		}
	})
	t.Run("unknown id changes nothing", func(t *testing.T) {
		before, modified := stored().Members, lastModified()
		v := patch(op("remove", `members[value eq "`+a+`"]`, nil), op("add", "members", memberList("nobody")))
		v.wantError(t, http.StatusBadRequest, typeInvalidValue)
		if got := stored().Members; !reflect.DeepEqual(got, before) {
			t.Errorf("members = %v, want %v", got, before)
		}
		if lastModified() != modified {
			t.Error("lastModified moved")
		}
		if got := userGroups(t, c, a); !reflect.DeepEqual(got, []string{gid}) {
			t.Errorf("groups of a = %v", got)
		}
	})
	t.Run("remove by filter removes only that member", func(t *testing.T) {
		modified := lastModified()
		r := patch(op("remove", `members[value eq "`+b+`"]`, nil)).want(t, http.StatusOK)
		if got, want := stored().Members, []string{a, u}; !reflect.DeepEqual(got, want) {
			t.Errorf("members = %v, want %v", got, want)
		}
		if got := answerMembers(t, r.body); !reflect.DeepEqual(got, []string{a, u}) {
			t.Errorf("answer lists %v", got)
		}
		if lastModified() == modified {
			t.Error("lastModified did not move")
		}
		if got := userGroups(t, c, b); got != nil {
			t.Errorf("groups of the removed user = %v", got)
		}
		if got := userGroups(t, c, a); !reflect.DeepEqual(got, []string{gid}) {
			t.Errorf("groups of a = %v", got)
		}
	})
	t.Run("members and displayName in one request", func(t *testing.T) {
		r := patch(op("add", "members", memberList(b)), op("remove", `members[value eq "`+u+`"]`, nil),
			op("replace", "displayName", "all")).want(t, http.StatusOK)
		if r.str("displayName") != "all" {
			t.Errorf("displayName = %q", r.str("displayName"))
		}
		if g := stored(); g.DisplayName != "all" || !reflect.DeepEqual(g.Members, []string{a, b}) {
			t.Errorf("stored %+v", g)
		}
		if got := userGroups(t, c, b); !reflect.DeepEqual(got, []string{gid}) {
			t.Errorf("groups of b = %v", got)
		}
		if got := userGroups(t, c, u); got != nil {
			t.Errorf("groups of u = %v", got)
		}
	})
	t.Run("answer projected", func(t *testing.T) {
		r := c.do(http.MethodPatch, "/Groups/"+gid+"?excludedAttributes=members",
			patchBody(op("add", "members", memberList(u)))).want(t, http.StatusOK)
		if _, has := r.body["members"]; has || r.str("id") != gid {
			t.Errorf("answer %s, want the group without members", r.raw)
		}
	})
}

// An unlinked user is no member candidate (Atlassian's DELETE).
func TestMemberPatchUnlinkedUser(t *testing.T) {
	t.Parallel()
	s, c := start(t, Atlassian())
	a, b := c.createUser("a", map[string]any{"externalId": "A"}), c.createUser("b", map[string]any{"externalId": "B"})
	gid := c.createGroup("Eng", a)
	c.do(http.MethodDelete, "/Users/"+b, nil).want(t, http.StatusNoContent)
	c.do(http.MethodPatch, "/Groups/"+gid, patchBody(op("add", "members", memberList(b)))).
		wantError(t, http.StatusBadRequest, typeInvalidValue)
	if got := s.Groups()[0].Members; !reflect.DeepEqual(got, []string{a}) {
		t.Errorf("members = %v", got)
	}
}

// Group answers are encoded after the lock is released while member
// PATCHes replace the members; the race detector checks they share nothing
// that changes.
func TestMemberPatchConcurrentReads(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	gid := c.createGroup("everyone")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			id := c.createUser(fmt.Sprintf("user%02d", i), nil)
			c.do(http.MethodPatch, "/Groups/"+gid, patchBody(op("add", "members", memberList(id)))).want(t, http.StatusOK)
			c.do(http.MethodGet, "/Groups/"+gid, nil).want(t, http.StatusOK)
			if i%2 == 0 {
				c.do(http.MethodPatch, "/Groups/"+gid, patchBody(removeMember(id))).want(t, http.StatusOK)
			}
		})
		wg.Go(func() { c.do(http.MethodGet, "/Groups", nil).want(t, http.StatusOK) })
	}
	wg.Wait()
	g := s.Groups()[0]
	if len(g.Members) != 8 {
		t.Errorf("members = %v, want the 8 odd users", g.Members)
	}
	for _, u := range s.Users() {
		if in := slices.Contains(g.Members, u.ID); in != (len(userGroups(t, c, u.ID)) == 1) {
			t.Errorf("user %s: member %v, groups %v", u.ID, in, userGroups(t, c, u.ID))
		}
	}
}
