package scim_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"keycard/pkg/scim"
)

func TestProfileBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile scim.Profile
		params  map[string]string
		want    string
		wantErr string
	}{
		{"slack fixed", scim.Slack(), nil, "https://api.slack.com/scim/v2", ""},
		{"atlassian", scim.Atlassian(), map[string]string{"directoryId": "d-123"}, "https://api.atlassian.com/scim/directory/d-123", ""},
		{"github emu", scim.GitHubEMU(), map[string]string{"enterprise": "acme"}, "https://api.github.com/scim/v2/enterprises/acme", ""},
		{"gitlab escapes", scim.GitLab(), map[string]string{"group_path": "acme corp/x"}, "https://gitlab.com/api/scim/v2/groups/acme%20corp%2Fx", ""},
		{"figma", scim.Figma(), map[string]string{"tenantId": "12345"}, "https://www.figma.com/scim/v2/12345", ""},
		{"missing", scim.Atlassian(), nil, "", "missing {directoryId}"},
		{"empty value", scim.Figma(), map[string]string{"tenantId": ""}, "", "missing {tenantId}"},
		{"dot dot", scim.Figma(), map[string]string{"tenantId": ".."}, "", `must not be ".."`},
		{"typo", scim.Atlassian(), map[string]string{"directoryID": "d"}, "", `unknown parameter "directoryID"`},
		{"extra on fixed", scim.Slack(), map[string]string{"team": "T1"}, "", `unknown parameter "team"`},
		{"no template", scim.Generic(), nil, "", "no base URL template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.profile.BaseURL(tt.params)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BaseURL = %q, %v; want %q", got, err, tt.want)
			}
			if _, err := scim.New(scim.Config{BaseURL: got, Token: testToken, Profile: tt.profile}); err != nil {
				t.Errorf("New with the built URL: %v", err)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, p := range scim.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			got, ok := scim.ProfileByName(strings.ToUpper(p.Name))
			if !ok || got.Name != p.Name {
				t.Errorf("ProfileByName(%s) = %v, %v", p.Name, got.Name, ok)
			}
			if p.Name != "generic" && !strings.HasPrefix(p.BaseURLTemplate, "https://") {
				t.Errorf("template %q", p.BaseURLTemplate)
			}
			if p.RateLimit.PerMinute() < 1 || p.RateLimit.Note == "" {
				t.Errorf("rate limit %+v", p.RateLimit)
			}
			if p.Plan == "" && p.Name != "generic" {
				t.Errorf("no plan gate")
			}
			if p.DeleteEffect == "" {
				t.Errorf("DeleteEffect not described")
			}
			// DELETE is the deactivation only where it is the one way.
			if (p.Deactivate == scim.DeactivateDelete) != (p.Name == "notion") {
				t.Errorf("Deactivate = %v", p.Deactivate)
			}
			if !p.Accepts.Has(p.Requires &^ scim.AttrUserName) {
				t.Errorf("requires %s it does not accept (%s)", p.Requires, p.Accepts)
			}
			if p.Groups && p.Filters.GroupName == "" {
				t.Errorf("groups without a group name filter")
			}
			if f, ok := p.ByEmail("a@example.com"); ok && f.Err() != nil {
				t.Errorf("ByEmail: %v", f.Err())
			}
		})
		if names[p.Name] {
			t.Errorf("duplicate profile %s", p.Name)
		}
		names[p.Name] = true
	}
	if _, ok := scim.ProfileByName("invision"); ok {
		t.Errorf("unknown profile found")
	}
	// Fresh values: changing one does not leak into the next.
	p := scim.Slack()
	p.Transient[0].Detail = "changed"
	if scim.Slack().Transient[0].Detail != "resource_locked" {
		t.Errorf("profiles share state")
	}
}

func TestRateLimitPerMinute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    scim.RateLimit
		want int
	}{
		{scim.Slack().RateLimit, 180},
		{scim.Miro().RateLimit, 200},
		{scim.GitHubEMU().RateLimit, 16},
		{scim.Asana().RateLimit, 1500},
		{scim.RateLimit{Writes: 1, Per: time.Hour}, 1},
		{scim.RateLimit{}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.PerMinute(); got != tt.want {
			t.Errorf("%+v.PerMinute() = %d, want %d", tt.r, got, tt.want)
		}
	}
}

func TestProfileLookups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile scim.Profile
		lookup  func(scim.Profile) (scim.Filter, bool)
		want    string // "" when the vendor cannot
	}{
		{"slack email", scim.Slack(), func(p scim.Profile) (scim.Filter, bool) { return p.ByEmail("a@x") }, `email eq "a@x"`},
		{"slack userName rewritten", scim.Slack(), func(p scim.Profile) (scim.Filter, bool) { return p.ByUserName("a") }, ""},
		{"atlassian externalId", scim.Atlassian(), func(p scim.Profile) (scim.Filter, bool) { return p.ByExternalID("E1") }, `externalId eq "E1"`},
		{"atlassian no email", scim.Atlassian(), func(p scim.Profile) (scim.Filter, bool) { return p.ByEmail("a@x") }, ""},
		{"asana email is userName", scim.Asana(), func(p scim.Profile) (scim.Filter, bool) { return p.ByEmail("a@x") }, `userName eq "a@x"`},
		{"gitlab no externalId filter", scim.GitLab(), func(p scim.Profile) (scim.Filter, bool) { return p.ByExternalID("E1") }, ""},
		{"generic email", scim.Generic(), func(p scim.Profile) (scim.Filter, bool) { return p.ByEmail("a@x") }, `emails.value eq "a@x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ok := tt.lookup(tt.profile)
			if ok != (tt.want != "") || f.String() != tt.want {
				t.Errorf("got %q, %v; want %q", f.String(), ok, tt.want)
			}
		})
	}
}

func TestUpdateOps(t *testing.T) {
	t.Parallel()
	cur := scim.User{
		UserName: "ada", ExternalID: "E1", Title: "Analyst", DisplayName: "Ada",
		Name:       &scim.Name{GivenName: "Ada", FamilyName: "Byron"},
		Emails:     []scim.Email{{Value: "ADA@example.com", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "Ops", Manager: &scim.Manager{Value: "m1"}},
	}
	want := cur
	want.Name = &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"}
	want.Title = ""
	want.Emails = []scim.Email{{Value: "ada@example.com", Primary: true}} // same address, other case
	want.Enterprise = &scim.EnterpriseUser{Department: "Research", Manager: &scim.Manager{Value: "m2"}}
	tests := []struct {
		name    string
		profile scim.Profile
		cur     scim.User
		want    []scim.PatchOp
	}{
		{"generic", scim.Generic(), cur, []scim.PatchOp{
			scim.Replace("name.familyName", "Lovelace"),
			scim.Remove("title"),
			scim.Replace(scim.EnterpriseUserSchema+":department", "Research"),
			scim.Replace(scim.EnterpriseUserSchema+":manager", scim.Manager{Value: "m2"}),
		}},
		{"gitlab only what it accepts", scim.GitLab(), cur, []scim.PatchOp{
			scim.Replace("name.familyName", "Lovelace"),
		}},
		{"nothing differs", scim.Generic(), want, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.profile.UpdateOps(tt.cur, want)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	u := scim.User{
		UserName: "ada", Title: "Analyst", ExternalID: "E1",
		Emails:     []scim.Email{{Value: "ada@example.com"}},
		Enterprise: &scim.EnterpriseUser{Manager: &scim.Manager{Value: "m1"}},
	}
	got, err := scim.Slack().Prepare(u)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExternalID != "" || got.Enterprise != nil || got.Title != "Analyst" {
		t.Errorf("Slack Prepare = %+v", got)
	}
	if u.Enterprise == nil || u.ExternalID != "E1" {
		t.Errorf("Prepare changed its argument")
	}
	if _, err := scim.GitHubEMU().Prepare(scim.User{UserName: "ada"}); err == nil || !strings.Contains(err.Error(), "externalId") {
		t.Errorf("GitHub EMU without externalId: %v", err)
	}
}
