package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/circuit"
	"keycard/pkg/github/githubtest"
	"keycard/pkg/scim/scimtest"
)

// scimServer starts an in-memory SCIM server holding users users.
func scimServer(t *testing.T, users int, opts ...scimtest.Option) *scimtest.Server {
	t.Helper()
	srv := scimtest.New(opts...)
	t.Cleanup(srv.Close)
	for i := range users {
		srv.Seed(scimtest.User{UserName: fmt.Sprintf("user%d@example.com", i), Active: true})
	}
	return srv
}

// scimApp is one scim entry of a configuration's apps list.
func scimApp(name, profile, baseURL, tokenEnv string) string {
	s := "  - name: " + name + "\n    type: scim\n"
	if profile != "" {
		s += "    profile: " + profile + "\n"
	}
	if baseURL != "" {
		s += "    base_url: " + baseURL + "\n"
	}
	if tokenEnv != "" {
		s += "    token_env: " + tokenEnv + "\n"
	}
	return s
}

const githubApp = "  - name: github\n    type: github\n    org: example-org\n    token_env: GITHUB_TOKEN\n"

// githubAppAt is the github app against a fake organisation.
func githubAppAt(srv *githubtest.Server) string {
	return fmt.Sprintf("  - name: github\n    type: github\n    org: %s\n    base_url: %s\n    login_field: githubLogin\n    token_env: GITHUB_TOKEN\n", srv.Org(), srv.URL())
}

func appsConfig(t *testing.T, apps ...string) string {
	t.Helper()
	return writeFile(t, "keycard.yaml", "apps:\n"+strings.Join(apps, "")+"policy: {}\n")
}

// tableRows maps each data row's APP to its cells, split on the table's
// column starts (cells hold spaces: "$VAR set").
func tableRows(t *testing.T, table string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	header := lines[0]
	cols := regexp.MustCompile(`\S+`).FindAllStringIndex(header, -1)
	out := map[string]map[string]string{}
	for _, line := range lines[1:] {
		if line == "" || strings.Contains(line, " reachable, ") { // the summary
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			end := len(line)
			if i+1 < len(cols) {
				end = min(cols[i+1][0], len(line))
			}
			if c[0] < len(line) {
				row[header[c[0]:c[1]]] = strings.TrimSpace(line[c[0]:end])
			}
		}
		out[row["APP"]] = row
	}
	return out
}

func TestAppsCheck(t *testing.T) {
	t.Parallel()
	slack := scimServer(t, 3, scimtest.Slack())
	wrong := scimServer(t, 1) // the generic RFC server; the variable holds another token
	const wrongToken = "not-the-token-0123456789"
	org := githubtest.New()
	t.Cleanup(org.Close)
	org.AddMember("ada", githubtest.RoleAdmin)
	org.AddMember("grace", githubtest.RoleMember)
	org.AddOutsideCollaborator("linus")
	path := appsConfig(t,
		scimApp("slack", "slack", slack.URL(), "SLACK_SCIM_TOKEN"),
		scimApp("tool", "", wrong.URL(), "TOOL_SCIM_TOKEN"),
		scimApp("notion", "notion", "https://api.notion.com/scim/v2", "NOTION_SCIM_TOKEN"),
		githubAppAt(org),
	)
	h := harness{t: t, env: map[string]string{
		"SLACK_SCIM_TOKEN": slack.Token(),
		"TOOL_SCIM_TOKEN":  wrongToken,
		"GITHUB_TOKEN":     org.Token(),
	}}
	o := h.run("apps", "check", "--config", path)
	if o.err == nil || exitCode(o.err) != 1 {
		t.Fatalf("err = %v, want exit 1 for the failing app\nstdout:\n%s\nstderr:\n%s", o.err, o.stdout, o.stderr)
	}
	for _, secret := range []string{slack.Token(), wrongToken, wrong.Token(), org.Token()} {
		if strings.Contains(o.stdout, secret) || strings.Contains(o.stderr, secret) {
			t.Errorf("a token is in the output:\nstdout:\n%s\nstderr:\n%s", o.stdout, o.stderr)
		}
	}
	want := map[string]map[string]string{
		"slack": {"TYPE": "scim/slack", "MODE": "apply", "CREDENTIAL": "$SLACK_SCIM_TOKEN set", "STATUS": "ok", "USERS": "3", "PATCH": "yes", "DETAIL": "-"},
		"tool": {"TYPE": "scim/generic", "MODE": "apply", "CREDENTIAL": "$TOOL_SCIM_TOKEN set", "STATUS": "error", "USERS": "-", "PATCH": "-",
			"DETAIL": "scim: GET /ServiceProviderConfig: 401 Unauthorized (token rejected): missing or invalid bearer token"},
		"notion": {"TYPE": "scim/notion", "MODE": "apply", "CREDENTIAL": "$NOTION_SCIM_TOKEN unset", "STATUS": "simulated", "USERS": "-", "PATCH": "-",
			"DETAIL": "set $NOTION_SCIM_TOKEN to connect"},
		"github": {"TYPE": "github", "MODE": "apply", "CREDENTIAL": "$GITHUB_TOKEN set", "STATUS": "ok", "USERS": "2", "PATCH": "-",
			"DETAIL": "team plan, 2 of 100 seats filled; 1 outside collaborators (repository access; not removed)"},
	}
	got := tableRows(t, o.stdout)
	for app, cells := range want {
		for col, v := range cells {
			if got[app][col] != v {
				t.Errorf("%s %s = %q, want %q\n%s", app, col, got[app][col], v, o.stdout)
			}
		}
	}
	if n := len(got); n != len(want) {
		t.Errorf("%d rows, want %d:\n%s", n, len(want), o.stdout)
	}
	if !strings.HasSuffix(o.stdout, "\n2 apps reachable, 1 failing, 1 simulated\n") {
		t.Errorf("no summary at the end:\n%s", o.stdout)
	}
	// Rows keep the configuration's order, whatever order the checks end in.
	if c := column(strings.TrimSuffix(o.stdout, "2 apps reachable, 1 failing, 1 simulated\n")); strings.Join(c, " ") != "slack tool notion github" {
		t.Errorf("rows %v, want the configuration's order", c)
	}
	// Reads only: one ServiceProviderConfig and one page of users.
	if st := slack.Requests(); st.Total != 2 {
		t.Errorf("slack served %d requests (%v), want 2", st.Total, st.ByRoute)
	}
	// GitHub: the org, then one item of members, invitations and outside
	// collaborators each; no write.
	if st := org.Requests(); st.Total != 4 || st.ByRoute["GET /orgs/{org}"] != 1 {
		t.Errorf("github served %d requests (%v), want 4 reads", st.Total, st.ByRoute)
	}
}

func TestAppsCheckAllReachable(t *testing.T) {
	t.Parallel()
	srv := scimServer(t, 2)
	// KEYCARD_CONFIG is the default --config.
	h := harness{t: t, env: map[string]string{
		envConfig:         appsConfig(t, scimApp("tool", "", srv.URL(), "TOOL_SCIM_TOKEN"), githubApp),
		"TOOL_SCIM_TOKEN": srv.Token(),
	}}
	o := h.run("apps", "check")
	wantOK(t, o)
	if got := tableRows(t, o.stdout)["tool"]; got["STATUS"] != "ok" || got["USERS"] != "2" || got["PATCH"] != "yes" {
		t.Errorf("tool row %v\n%s", got, o.stdout)
	}
	if !strings.HasSuffix(o.stdout, "\n1 app reachable, 0 failing, 1 simulated\n") {
		t.Errorf("summary:\n%s", o.stdout)
	}
}

func TestAppsCheckPatch(t *testing.T) {
	t.Parallel()
	noSPC := scimServer(t, 1, scimtest.Slack())
	noSPC.FailNext(2, http.StatusNotFound, "no such endpoint") // /ServiceProviderConfig, then the 1.1 spelling
	noPatch := scimServer(t, 4, scimtest.Quirks{NoPatch: true})
	h := harness{t: t, env: map[string]string{"A_TOKEN": noSPC.Token(), "B_TOKEN": noPatch.Token()}}
	o := h.run("apps", "check", "--config", appsConfig(t,
		scimApp("nospc", "slack", noSPC.URL(), "A_TOKEN"),
		scimApp("noput", "", noPatch.URL(), "B_TOKEN")))
	wantOK(t, o) // an endpoint the vendor does not serve is no failure
	rows := tableRows(t, o.stdout)
	if r := rows["nospc"]; r["STATUS"] != "ok" || r["USERS"] != "1" || r["PATCH"] != "-" ||
		r["DETAIL"] != "no ServiceProviderConfig served: the slack profile's PATCH (yes) applies" {
		t.Errorf("nospc row %v", r)
	}
	if r := rows["noput"]; r["STATUS"] != "ok" || r["USERS"] != "4" || r["PATCH"] != "no" ||
		r["DETAIL"] != "updates read the resource and PUT it back (no PATCH)" {
		t.Errorf("noput row %v", r)
	}
}

func TestAppsCheckTimeout(t *testing.T) {
	t.Parallel()
	slow := scimServer(t, 1)
	slow.Delay(5 * time.Second)
	h := harness{t: t, env: map[string]string{"T": slow.Token()}}
	start := time.Now()
	o := h.run("apps", "check", "--timeout", "200ms", "--config", appsConfig(t, scimApp("slow", "", slow.URL(), "T")))
	if o.err == nil || exitCode(o.err) != 1 {
		t.Fatalf("err = %v, want exit 1", o.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s with --timeout 200ms", d)
	}
	if r := tableRows(t, o.stdout)["slow"]; r["STATUS"] != "error" || !strings.HasPrefix(r["DETAIL"], "no answer within 200ms: ") {
		t.Errorf("slow row %v", r)
	}
}

func TestAppsCheckJSON(t *testing.T) {
	t.Parallel()
	srv := scimServer(t, 5, scimtest.Slack())
	path := appsConfig(t,
		scimApp("slack", "slack", srv.URL(), "SLACK_SCIM_TOKEN"),
		scimApp("tool", "", "", ""), // no token_env: dry-run, and no base_url either
		githubApp)
	h := harness{t: t, env: map[string]string{"SLACK_SCIM_TOKEN": srv.Token()}}
	o := h.run("apps", "check", "--config", path, "--json")
	wantOK(t, o)
	var got []appCheck
	dec := json.NewDecoder(strings.NewReader(o.stdout))
	for dec.More() {
		var r appCheck
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("decode: %v\n%s", err, o.stdout)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d objects, want 3:\n%s", len(got), o.stdout)
	}
	s := got[0]
	if s.App != "slack" || s.Type != "scim/slack" || s.Mode != "apply" || s.CredentialEnv != "SLACK_SCIM_TOKEN" || !s.CredentialSet ||
		s.Status != appOK || s.Users == nil || *s.Users != 5 || s.Patch == nil || !*s.Patch || s.Detail != "" {
		t.Errorf("slack = %+v", s)
	}
	if d := got[1]; d.App != "tool" || d.Type != "scim/generic" || d.Mode != "dry-run" || d.CredentialEnv != "" || d.Status != appSimulated ||
		d.Users != nil || d.Patch != nil || d.Detail != "no token_env: runs dry-run in memory; also base_url is required (the generic SCIM root)" {
		t.Errorf("tool = %+v", d)
	}
	if g := got[2]; g.App != "github" || g.Type != "github" || g.CredentialEnv != "GITHUB_TOKEN" || g.CredentialSet || g.Status != appSimulated {
		t.Errorf("github = %+v", g)
	}
	// null, not 0 or false, for what was not read.
	if !strings.Contains(o.stdout, `"users":null,"patch":null`) {
		t.Errorf("unread fields not null:\n%s", o.stdout)
	}
	// Without NATS the circuits are unknown, said once; then the summary.
	if o.stderr != "circuits unknown: connect to NATS at nats://127.0.0.1:4222: nats: no servers available for connection\n1 app reachable, 0 failing, 2 simulated\n" {
		t.Errorf("stderr %q, want the circuits note and the summary", o.stderr)
	}
	if strings.Contains(o.stdout, srv.Token()) {
		t.Error("token in JSON output")
	}
}

func TestAppsCheckCommandLine(t *testing.T) {
	t.Parallel()
	bad := writeFile(t, "bad.yaml", "apps:\n  - name: x\n    type: scim\n    base_url: http://example.com/scim\npolicy: {}\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		stderr   string
	}{
		{"no config", []string{"apps", "check"}, 2, "pass --config FILE or set KEYCARD_CONFIG", ""},
		{"unknown subcommand", []string{"apps", "list"}, 2, "apps list: unknown subcommand (check, resume)", ""},
		{"no subcommand", []string{"apps"}, 2, "apps: no subcommand", ""},
		{"extra argument", []string{"apps", "check", "slack", "--config", bad}, 2, `unexpected argument "slack"`, ""},
		{"bad timeout", []string{"apps", "check", "--config", bad, "--timeout", "0s"}, 2, "--timeout must be positive", ""},
		{"invalid config", []string{"apps", "check", "--config", bad}, 1, "failed (details above)", "apps[0].base_url: must use https (http only for localhost)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := harness{t: t}
			o := h.run(tt.args...)
			if o.err == nil || exitCode(o.err) != tt.wantCode || !strings.Contains(o.err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want exit %d with %q", o.err, tt.wantCode, tt.wantErr)
			}
			if !strings.Contains(o.stderr, tt.stderr) {
				t.Errorf("stderr %q, want %q", o.stderr, tt.stderr)
			}
		})
	}
	h := harness{t: t}
	if o := h.run("help"); !strings.Contains(o.stdout, "apps check  [--config FILE] [--json]") {
		t.Errorf("usage lacks apps check:\n%s", o.stdout)
	}
}

// Issue 12: a paused app shows as paused with the first failing request
// (and, since this check reached it, how to resume it now); apps resume
// closes its circuit for every worker.
func TestAppsCheckShowsPauseAndResume(t *testing.T) {
	t.Parallel()
	slack := scimServer(t, 1, scimtest.Slack())
	h := newHarness(t)
	h.env = map[string]string{envConfig: appsConfig(t, scimApp("slack", "slack", slack.URL(), "SLACK_SCIM_TOKEN")), "SLACK_SCIM_TOKEN": slack.Token()}
	kv, err := circuit.OpenBucket(h.ctx(), h.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	br, err := circuit.New(h.ctx(), kv, circuit.Config{App: "slack", Instance: "worker-1", Trip: map[circuit.Reason]int{circuit.Auth: 1},
		Probe: func(context.Context, circuit.Reason) error { return nil }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	br.Failed(h.ctx(), circuit.Auth, errors.New("scim: POST /Users: 401 Unauthorized (token rejected)"))

	o := h.run("apps", "check")
	if exitCode(o.err) != 1 {
		t.Fatalf("exit %d, want 1 for a paused app\n%s%s", exitCode(o.err), o.stdout, o.stderr)
	}
	row := tableRows(t, o.stdout)["slack"]
	if row["STATUS"] != "paused" || row["CIRCUIT"] != "paused (auth)" ||
		!strings.Contains(row["DETAIL"], "401 Unauthorized") || !strings.Contains(row["DETAIL"], "provctl apps resume slack") {
		t.Errorf("slack row %v\n%s", row, o.stdout)
	}
	if !strings.HasSuffix(o.stdout, "0 apps reachable, 0 failing, 0 simulated, 1 paused\n") {
		t.Errorf("summary:\n%s", o.stdout)
	}

	o = h.run("apps", "resume", "slack", "tool")
	wantOK(t, o)
	if !strings.Contains(o.stdout, "slack: resumed; was paused (auth) since ") || !strings.Contains(o.stdout, "tool: not paused") {
		t.Errorf("resume said:\n%s", o.stdout)
	}
	st, err := circuit.Read(h.ctx(), kv, "slack")
	if err != nil || st.Open || st.ClosedBy != "operator" {
		t.Fatalf("stored %+v %v, want closed by the operator", st, err)
	}
	o = h.run("apps", "check")
	wantOK(t, o)
	if row := tableRows(t, o.stdout)["slack"]; row["STATUS"] != "ok" || row["CIRCUIT"] != "closed" {
		t.Errorf("after resume: %v", row)
	}
}
