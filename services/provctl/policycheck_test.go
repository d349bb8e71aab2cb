package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testPolicy is a small valid configuration: two apps, two rules.
const testPolicy = `apps:
  - name: slack
    type: scim
    profile: slack
    base_url: https://api.slack.com/scim/v2
    token_env: SLACK_SCIM_TOKEN
  - name: github
    type: github
    org: example-org
    token_env: GITHUB_TOKEN
policy:
  birthright:
    slack: {groups: [everyone]}
  rules:
    - name: engineering
      when: 'employee.department == "Engineering"'
      grant:
        slack: {groups: [eng]}
        github: {teams: [engineering]}
    - name: contractors
      when: 'employee.employment_type == "contractor"'
      grant:
        slack: {groups: [contractors]}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		content    string
		wantStdout string
		wantStderr []string // lines, each prefixed by the file path
	}{
		{name: "valid", content: testPolicy, wantStdout: "ok: 2 apps, 2 rules\n"},
		{
			name: "unknown field and app",
			content: strings.Replace(strings.Replace(testPolicy, "employee.department", "employe.department", 1),
				"github: {teams: [engineering]}", "gitlab: {teams: [engineering]}", 1),
			wantStderr: []string{
				":16:14: policy.rules[0].when: undeclared reference to 'employe'",
				":19:9: policy.rules[0].grant.gitlab: app \"gitlab\" is not defined in apps",
			},
		},
		{
			name:       "schema",
			content:    strings.Replace(testPolicy, "type: github", "type: githab", 1),
			wantStderr: []string{":8:11: apps[1].type: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "keycard.yaml", tt.content)
			h := harness{t: t} // policy check needs no NATS
			o := h.run("policy", "check", path)
			if len(tt.wantStderr) == 0 {
				wantOK(t, o)
				if o.stdout != tt.wantStdout {
					t.Errorf("stdout %q, want %q", o.stdout, tt.wantStdout)
				}
				return
			}
			if o.err == nil || exitCode(o.err) != 1 {
				t.Fatalf("err = %v, want exit 1", o.err)
			}
			lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
			if len(lines) != len(tt.wantStderr) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tt.wantStderr), o.stderr)
			}
			for i, want := range tt.wantStderr {
				if !strings.HasPrefix(lines[i], path+want) {
					t.Errorf("line %d: %q, want it to start %q", i+1, lines[i], path+want)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		h := harness{t: t}
		if o := h.run("policy", "check", filepath.Join(t.TempDir(), "nope.yaml")); o.err == nil || !strings.Contains(o.stderr, "nope.yaml") {
			t.Errorf("err = %v, stderr %q; want the file named", o.err, o.stderr)
		}
	})
}
