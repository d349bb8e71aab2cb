package scimtest

import (
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestDeleteModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        []Option
		wantGet     int  // GET by id after DELETE
		wantListed  bool // still in GET /Users
		wantMember  bool // still in its group
		wantStored  bool // still in Users()
		wantRecreat int  // POST with the same userName and externalId
	}{
		{"rfc removes", nil, http.StatusNotFound, false, false, false, http.StatusCreated},
		{"slack deactivates", []Option{Slack()}, http.StatusOK, true, true, true, http.StatusConflict},
		{"atlassian unlinks", []Option{Atlassian()}, http.StatusNotFound, false, false, true, http.StatusCreated},
		{"github emu hard-deprovisions", []Option{GitHubEMU()}, http.StatusNotFound, false, false, false, http.StatusCreated},
		{"gitlab deactivates the identity", []Option{GitLab()}, http.StatusOK, true, false, true, http.StatusPreconditionFailed},
		{"asana zombifies", []Option{Asana()}, http.StatusOK, true, true, true, http.StatusConflict},
		{"miro deletes", []Option{Miro()}, http.StatusNotFound, false, false, false, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, tt.opts...)
			body := userBody("jdoe@example.com", map[string]any{"externalId": "E1", "emails": emails("jdoe@example.com")})
			id := c.do(http.MethodPost, "/Users", body).want(t, http.StatusCreated).str("id")
			var gid string
			if !s.Quirks().NoGroups {
				gid = c.createGroup("Eng", id)
			}
			c.do(http.MethodDelete, "/Users/"+id, nil).want(t, http.StatusNoContent)

			r := c.do(http.MethodGet, "/Users/"+id, nil)
			if tt.wantGet == http.StatusNotFound {
				r.wantError(t, http.StatusNotFound, "")
				c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", true))).wantError(t, http.StatusNotFound, "")
				c.do(http.MethodDelete, "/Users/"+id, nil).wantError(t, http.StatusNotFound, "")
			} else {
				r.want(t, tt.wantGet)
				wantAttr(t, r.body, "active", false)
			}
			listed := listUserNames(t, c.do(http.MethodGet, "/Users", nil))
			if (len(listed) == 1) != tt.wantListed {
				t.Errorf("listed = %v", listed)
			}
			if gid != "" {
				members := s.Groups()[0].Members
				if (len(members) == 1) != tt.wantMember {
					t.Errorf("group members = %v", members)
				}
			}
			users := s.Users()
			if (len(users) == 1) != tt.wantStored {
				t.Fatalf("Users() = %+v", users)
			}
			if tt.wantStored && users[0].Active {
				t.Error("stored user still active")
			}
			r = c.do(http.MethodPost, "/Users", body)
			if tt.wantRecreat == http.StatusConflict {
				r.wantError(t, http.StatusConflict, typeUniqueness)
			} else if tt.wantRecreat != http.StatusCreated {
				r.wantError(t, tt.wantRecreat, "")
			} else {
				r.want(t, http.StatusCreated)
				if users := s.Users(); len(users) != 1 || users[0].Unlinked {
					t.Errorf("after re-create Users() = %+v", users)
				}
			}
		})
	}
}

func TestRehireByReactivation(t *testing.T) {
	t.Parallel()
	for _, preset := range []Quirks{Slack(), GitLab(), Atlassian(), Asana()} {
		t.Run(preset.Vendor, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, preset)
			id := c.createUser("jdoe@example.com", map[string]any{"externalId": "E1", "emails": emails("jdoe@example.com")})
			c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", false))).want(t, http.StatusOK)
			r := c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", true))).want(t, http.StatusOK)
			wantAttr(t, r.body, "active", true)
		})
	}
}

func TestConflictDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		quirks     Quirks
		second     map[string]any
		wantStatus int
		wantType   string
		wantDetail string
	}{
		{"slack email of deactivated user", Slack(),
			userBody("new-name", map[string]any{"emails": emails("jdoe@example.com")}),
			http.StatusConflict, typeUniqueness, "email_taken"},
		{"slack userName of deactivated user", Slack(),
			userBody("JDOE", map[string]any{"emails": emails("other@example.com")}),
			http.StatusConflict, typeUniqueness, "username_taken"},
		{"gitlab inactive identity", GitLab(),
			userBody("someone", map[string]any{"externalId": "E1"}),
			http.StatusPreconditionFailed, "", "externalId is already in use by a deactivated user; reactivate it instead"},
		{"gitlab email of inactive identity", GitLab(),
			userBody("someone", map[string]any{"externalId": "E2", "emails": emails("JDOE@example.com")}),
			http.StatusPreconditionFailed, "", "emails.value is already in use by a deactivated user; reactivate it instead"},
		{"notion email of removed member is free", Notion(),
			userBody("new-name", map[string]any{"emails": emails("jdoe@example.com")}),
			http.StatusCreated, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, tt.quirks)
			id := c.createUser("jdoe", map[string]any{"externalId": "E1", "emails": emails("jdoe@example.com")})
			c.do(http.MethodDelete, "/Users/"+id, nil).want(t, http.StatusNoContent)
			r := c.do(http.MethodPost, "/Users", tt.second)
			if tt.wantStatus == http.StatusCreated {
				r.want(t, http.StatusCreated)
				return
			}
			r.wantError(t, tt.wantStatus, tt.wantType)
			if r.str("detail") != tt.wantDetail {
				t.Errorf("detail = %q, want %q", r.str("detail"), tt.wantDetail)
			}
		})
	}
}

func TestHideInactive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		quirks     Quirks
		wantListed []string
	}{
		{"atlassian hides", Atlassian(), []string{"active"}},
		{"github emu lists soft-deprovisioned", GitHubEMU(), []string{"active", "inactive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, tt.quirks)
			c.createUser("active", nil)
			id := c.createUser("inactive", map[string]any{"externalId": "E2"})
			c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", false))).want(t, http.StatusOK)

			if got := listUserNames(t, c.do(http.MethodGet, "/Users", nil)); !reflect.DeepEqual(got, tt.wantListed) {
				t.Errorf("list = %v, want %v", got, tt.wantListed)
			}
			wantFound := len(tt.wantListed) == 2
			for _, f := range []string{`userName eq "inactive"`, `externalId eq "E2"`} {
				got := listUserNames(t, c.do(http.MethodGet, filterQuery(f), nil))
				if (len(got) == 1) != wantFound {
					t.Errorf("%s = %v", f, got)
				}
			}
			// The stored id still reads, and the userName is still taken.
			r := c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
			wantAttr(t, r.body, "active", false)
			c.do(http.MethodPost, "/Users", userBody("inactive", nil)).wantError(t, http.StatusConflict, typeUniqueness)
		})
	}
}

func TestGitLab(t *testing.T) {
	t.Parallel()
	s, c := start(t, GitLab())
	c.do(http.MethodGet, "/Groups", nil).wantError(t, http.StatusNotFound, "")
	c.do(http.MethodPost, "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "x"}).
		wantError(t, http.StatusNotFound, "")
	c.do(http.MethodPost, "/Users", userBody("jdoe", nil)).wantError(t, http.StatusBadRequest, typeInvalidValue)

	id := c.createUser("jdoe", map[string]any{"externalId": "okta|00u1"})
	if id != "okta|00u1" {
		t.Errorf("id = %q, want the externalId", id)
	}
	c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
	c.do(http.MethodPut, "/Users/"+id, userBody("jdoe", map[string]any{"externalId": "okta|00u1"})).
		wantError(t, http.StatusNotImplemented, "")
	c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "displayName", "J"))).want(t, http.StatusOK)

	second := c.do(http.MethodPost, "/Users", userBody("jdoe", map[string]any{"externalId": "E2"})).want(t, http.StatusCreated)
	if second.str("userName") != "jdoe1" {
		t.Errorf("second userName = %q, want a numeric suffix", second.str("userName"))
	}
	if n := len(s.Users()); n != 2 {
		t.Errorf("users = %d", n)
	}
}

func TestNoPatch(t *testing.T) {
	t.Parallel()
	_, c := start(t, Quirks{NoPatch: true})
	id := c.createUser("a", nil)
	c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "active", false))).wantError(t, http.StatusNotImplemented, "")
	c.do(http.MethodPut, "/Users/"+id, userBody("a", map[string]any{"active": false})).want(t, http.StatusOK)
}

func TestFilterRestrictions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quirks Quirks
		filter string
		ok     bool
	}{
		{"atlassian userName", Atlassian(), `userName eq "a"`, true},
		{"atlassian externalId", Atlassian(), `EXTERNALID eq "a"`, true},
		{"atlassian email", Atlassian(), `emails.value eq "a@x"`, false},
		{"atlassian or", Atlassian(), `userName eq "a" or userName eq "b"`, false},
		{"atlassian sw", Atlassian(), `userName sw "a"`, false},
		{"asana userName", Asana(), `userName eq "a"`, true},
		{"asana displayName", Asana(), `displayName eq "a"`, false},
		{"asana value path", Asana(), `emails[value eq "a"]`, false},
		{"slack email", Slack(), `emails.value eq "a@x"`, true},
		{"slack email alias", Slack(), `email eq "a@x"`, true},
		{"rfc anything", Quirks{}, `title pr and not (userName ew "x")`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, tt.quirks)
			r := c.do(http.MethodGet, filterQuery(tt.filter), nil)
			if tt.ok {
				r.want(t, http.StatusOK)
			} else {
				r.wantError(t, http.StatusBadRequest, typeInvalidFilter)
			}
		})
	}
}

func TestResourceLock(t *testing.T) {
	t.Parallel()
	s, c := start(t, Slack())
	a := c.createUser("a", nil)
	b := c.createUser("b", nil)
	s.Delay(300 * time.Millisecond)

	run := func(ids ...string) []response {
		out := make([]response, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				out[i] = c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "displayName", "x")))
			})
		}
		wg.Wait()
		return out
	}
	same := run(a, a)
	statuses := map[int]int{}
	for _, r := range same {
		statuses[r.status]++
		if r.status == http.StatusTooManyRequests {
			r.wantError(t, http.StatusTooManyRequests, "")
			if r.header.Get("Retry-After") != "1" || r.str("detail") != "resource_locked" {
				t.Errorf("locked answer: Retry-After %q, %s", r.header.Get("Retry-After"), r.raw)
			}
		}
	}
	if statuses[http.StatusOK] != 1 || statuses[http.StatusTooManyRequests] != 1 {
		t.Errorf("two writes to one user: %v", statuses)
	}
	for _, r := range run(a, b) {
		r.want(t, http.StatusOK)
	}
	if s.Requests().RateLimited != 1 {
		t.Errorf("RateLimited = %d", s.Requests().RateLimited)
	}
}

func TestMaxGroupPatchMembers(t *testing.T) {
	t.Parallel()
	_, c := start(t, Quirks{MaxGroupPatchMembers: 2})
	var members []any
	for _, n := range []string{"a", "b", "c"} {
		members = append(members, map[string]any{"value": c.createUser(n, nil)})
	}
	gid := c.createGroup("g")
	c.do(http.MethodPatch, "/Groups/"+gid, patchBody(op("add", "members", members))).
		wantError(t, http.StatusRequestEntityTooLarge, "")
	c.do(http.MethodPatch, "/Groups/"+gid, patchBody(op("add", "members", members[:2]))).want(t, http.StatusOK)
	if Miro().MaxGroupPatchMembers != 8000 {
		t.Error("Miro limit")
	}
}

func TestPresets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q          Quirks
		wantLimits int
	}{
		{Slack(), 3}, {Atlassian(), 0}, {GitHubEMU(), 1}, {GitLab(), 0},
		{Notion(), 0}, {Figma(), 0}, {Miro(), 5}, {Asana(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.q.Vendor, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, tt.q)
			if tt.q.Vendor == "" || len(s.Limits()) != tt.wantLimits {
				t.Errorf("vendor %q, limits %v", tt.q.Vendor, s.Limits())
			}
			id := c.createUser("u@example.com", map[string]any{"externalId": "E1", "emails": emails("u@example.com")})
			c.do(http.MethodGet, "/Users/"+id, nil).want(t, http.StatusOK)
			c.do(http.MethodGet, filterQuery(`userName eq "u@example.com"`), nil).want(t, http.StatusOK)
			c.do(http.MethodGet, "/ServiceProviderConfig", nil).want(t, http.StatusOK)
		})
	}
}

// Slack filters on "email": it finds the user by emails.value.
func TestFilterAlias(t *testing.T) {
	t.Parallel()
	s, c := start(t, Slack())
	s.Seed(User{UserName: "ada", Active: true, Emails: []Email{{Value: "Ada@example.com", Primary: true}}})
	s.Seed(User{UserName: "bob", Active: true, Emails: []Email{{Value: "bob@example.com", Primary: true}}})
	if got := listUserNames(t, c.do(http.MethodGet, filterQuery(`email eq "ada@example.com"`), nil)); !reflect.DeepEqual(got, []string{"ada"}) {
		t.Errorf("email eq: %v, want [ada]", got)
	}
	if got := listUserNames(t, c.do(http.MethodGet, filterQuery(`not (email eq "ada@example.com")`), nil)); !reflect.DeepEqual(got, []string{"bob"}) {
		t.Errorf("not email eq: %v, want [bob]", got)
	}
}

func TestPatchFromProjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quirks Quirks
		query  string
		want   int // members after adding b to a group holding a
	}{
		{"rfc: the parameter shapes the answer only", Quirks{}, "?excludedAttributes=members", 2},
		{"scimmy: the parameter shapes what is patched", Quirks{PatchFromProjection: true}, "?excludedAttributes=members", 1},
		{"scimmy without the parameter", Quirks{PatchFromProjection: true}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, tt.quirks)
			a, b := c.createUser("a", nil), c.createUser("b", nil)
			gid := c.createGroup("g", a)
			c.do(http.MethodPatch, "/Groups/"+gid+tt.query, patchBody(op("add", "members", []any{map[string]any{"value": b}}))).
				want(t, http.StatusOK)
			if got := s.Groups()[0].Members; len(got) != tt.want {
				t.Errorf("members = %v, want %d", got, tt.want)
			}
		})
	}
}

func TestNoEnterpriseUser(t *testing.T) {
	t.Parallel()
	for _, declared := range []bool{true, false} {
		t.Run(map[bool]string{true: "declared", false: "not declared"}[declared], func(t *testing.T) {
			t.Parallel()
			_, c := start(t, Quirks{NoEnterpriseUser: !declared})
			rt := c.do(http.MethodGet, "/ResourceTypes", nil).want(t, http.StatusOK)
			user := rt.body["Resources"].([]any)[0].(map[string]any)
			if _, ok := user["schemaExtensions"]; ok != declared {
				t.Errorf("User resource type %v", user)
			}
			var ids []string
			for _, s := range c.do(http.MethodGet, "/Schemas", nil).want(t, http.StatusOK).body["Resources"].([]any) {
				ids = append(ids, s.(map[string]any)["id"].(string))
			}
			if slices.Contains(ids, enterpriseSchema) != declared || !slices.Contains(ids, userSchema) {
				t.Errorf("schemas %v", ids)
			}
			ext := userBody("ada", map[string]any{enterpriseSchema: map[string]any{"department": "Eng"}})
			ext["schemas"] = []any{userSchema, enterpriseSchema}
			id := c.createUser("bob", nil)
			dept := patchBody(op("replace", enterpriseSchema+":department", "Eng"))
			pathless := patchBody(op("add", "", map[string]any{enterpriseSchema: map[string]any{"department": "Eng"}}))
			if declared {
				c.do(http.MethodPost, "/Users", ext).want(t, http.StatusCreated)
				c.do(http.MethodPatch, "/Users/"+id, dept).want(t, http.StatusOK)
				c.do(http.MethodPatch, "/Users/"+id, pathless).want(t, http.StatusOK)
				return
			}
			c.do(http.MethodPost, "/Users", ext).wantError(t, http.StatusBadRequest, typeInvalidValue)
			c.do(http.MethodPatch, "/Users/"+id, dept).wantError(t, http.StatusBadRequest, typeInvalidPath)
			c.do(http.MethodPatch, "/Users/"+id, pathless).wantError(t, http.StatusBadRequest, typeInvalidPath)
			c.do(http.MethodPatch, "/Users/"+id, patchBody(op("replace", "title", "CTO"))).want(t, http.StatusOK)
		})
	}
}
