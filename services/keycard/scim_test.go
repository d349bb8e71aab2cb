package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/scim/scimtest"
)

// vendors are the eight SCIM profiles and their test servers' quirks.
var vendors = []struct {
	name   string
	quirks func() scimtest.Quirks
	groups bool
}{
	{"slack", scimtest.Slack, true},
	{"atlassian", scimtest.Atlassian, true},
	{"github-emu", scimtest.GitHubEMU, true},
	{"gitlab", scimtest.GitLab, false}, // Users only
	{"notion", scimtest.Notion, true},
	{"figma", scimtest.Figma, true},
	{"miro", scimtest.Miro, true},
	{"asana", scimtest.Asana, true},
}

// webhookHR is a fake BambooHR holding Katherine Johnson (2001), an
// engineer, set as the normalizer's HR; only webhooks drive the pipeline
// (no poll, no sweep).
func webhookHR(t *testing.T) *bamboohrtest.Server {
	t.Helper()
	fake := bamboohrtest.New()
	t.Cleanup(fake.Close)
	fake.Put(bamboohrtest.Employee{ID: "2001", FirstName: "Katherine", LastName: "Johnson", WorkEmail: "katherine@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h")
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")
	return fake
}

// The whole pipeline for every SCIM profile: signed webhook → ingester →
// normalizer (fake BambooHR) → one worker per app → that vendor's SCIM test
// server. A hire creates one active user in the right groups, a move swaps
// groups, a termination deactivates and leaves no group, a re-hire brings
// the same account back, and duplicate webhooks change nothing.
func TestSCIMLifecycleThroughPipeline(t *testing.T) {
	fake := webhookHR(t)

	var cfg strings.Builder
	cfg.WriteString("apps:\n")
	servers := map[string]*scimtest.Server{}
	for _, v := range vendors {
		srv := scimtest.New(v.quirks(), scimtest.WithRateScale(1000))
		defer srv.Close()
		servers[v.name] = srv
		env := "TOKEN_" + strings.ToUpper(strings.ReplaceAll(v.name, "-", "_"))
		t.Setenv(env, srv.Token())
		fmt.Fprintf(&cfg, "  - {name: %s, type: scim, profile: %s, token_env: %s, base_url: %q, rate_limit: {writes_per_minute: 60000, burst: 100}}\n",
			v.name, v.name, env, srv.URL())
	}
	cfg.WriteString("policy:\n  birthright:\n")
	for _, v := range vendors {
		if v.groups {
			fmt.Fprintf(&cfg, "    %s: {groups: [everyone]}\n", v.name)
		} else {
			fmt.Fprintf(&cfg, "    %s: {}\n", v.name)
		}
	}
	cfg.WriteString("  rules:\n")
	for _, dept := range []string{"Engineering", "Sales"} {
		fmt.Fprintf(&cfg, "    - name: %s\n      when: 'employee.department == %q'\n      grant:\n", strings.ToLower(dept), dept)
		for _, v := range vendors {
			if v.groups {
				fmt.Fprintf(&cfg, "        %s: {groups: [%s]}\n", v.name, strings.ToLower(dept))
			}
		}
	}
	in := startWithConfig(t, cfg.String())
	defer in.stop(t)

	// state is "<active> <sorted groups>" of Katherine at each vendor.
	state := func() map[string]string {
		out := map[string]string{}
		for _, v := range vendors {
			srv := servers[v.name]
			users := srv.Users()
			if len(users) != 1 {
				out[v.name] = fmt.Sprintf("%d users", len(users))
				continue
			}
			u := users[0]
			var groups []string
			for _, g := range srv.Groups() {
				if slices.Contains(g.Members, u.ID) {
					groups = append(groups, g.DisplayName)
				}
			}
			slices.Sort(groups)
			out[v.name] = fmt.Sprintf("%v %v", u.Active, groups)
		}
		return out
	}
	expect := func(step string, active bool, groups ...string) {
		t.Helper()
		want := map[string]string{}
		for _, v := range vendors {
			g := groups
			if !v.groups {
				g = nil
			}
			want[v.name] = fmt.Sprintf("%v %v", active, g)
		}
		var got map[string]string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = state(); fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
		}
		t.Fatalf("%s:\n got  %v\n want %v", step, got, want)
	}

	in.send(t, "employee.created", "2001")
	in.send(t, "employee.updated", "2001") // BambooHR's create+update pair: one hire
	expect("hire", true, "engineering", "everyone")

	fake.Update("2001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "2001")
	expect("move", true, "everyone", "sales")

	fake.Update("2001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "2001")
	in.send(t, "employee.updated", "2001") // a duplicate
	// Notion deprovisions by DELETE (the member leaves the workspace): no
	// user left there; every other vendor keeps one deactivated user.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := state()
		ok := got["notion"] == "0 users"
		for _, v := range vendors {
			if v.name != "notion" && got[v.name] != "false []" {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminate: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	fake.Update("2001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate, e.HireDate = "Active", "", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "2001")
	expect("re-hire", true, "everyone", "sales")
}
