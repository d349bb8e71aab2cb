package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/github/githubtest"
	"keycard/pkg/google/googletest"
	"keycard/pkg/natstest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
)

// secret is one credential the test looks for: its name and the pieces
// of it (every 16 characters, 8 apart) any of which in a text is a leak,
// so a secret cut short by a truncated message still counts.
type secret struct {
	name   string
	pieces []string
}

// newSecret is value, in pieces.
func newSecret(name, value string) secret {
	const size, step = 16, 8
	s := secret{name: name}
	for i := 0; i+size <= len(value); i += step {
		s.pieces = append(s.pieces, value[i:i+size])
	}
	if len(value) < size || (len(value)-size)%step != 0 {
		s.pieces = append(s.pieces, value[max(len(value)-size, 0):])
	}
	return s
}

// secrets are every credential of a run, and the forms they travel in.
type secrets []secret

// find returns the names of the secrets text holds a piece of.
func (ss secrets) find(text string) []string {
	var names []string
	for _, s := range ss {
		if slices.ContainsFunc(s.pieces, func(p string) bool { return strings.Contains(text, p) }) && !slices.Contains(names, s.name) {
			names = append(names, s.name)
		}
	}
	return names
}

// mask is text with every piece of a secret replaced by [SECRET], cut to
// about 300 characters from shortly before the first: safe to print.
func (ss secrets) mask(text string) string {
	hidden := make([]bool, len(text))
	first := len(text)
	for _, s := range ss {
		for _, p := range s.pieces {
			for off := 0; ; {
				i := strings.Index(text[off:], p)
				if i < 0 {
					break
				}
				first = min(first, off+i)
				for j := off + i; j < off+i+len(p); j++ {
					hidden[j] = true
				}
				off += i + 1
			}
		}
	}
	var b strings.Builder
	for i := max(first-150, 0); i < len(text) && b.Len() < 300; i++ {
		switch {
		case !hidden[i]:
			b.WriteByte(text[i])
		case i == 0 || !hidden[i-1]:
			b.WriteString("[SECRET]")
		}
	}
	return strings.ToValidUTF8(b.String(), "") + "…"
}

// check fails t for every secret text holds, saying where.
func (ss secrets) check(t *testing.T, where, text string) {
	t.Helper()
	if names := ss.find(text); len(names) > 0 {
		t.Errorf("%s leaks %v: %s", where, names, ss.mask(text))
	}
}

// distinct is a credential no other string in the run can contain by chance.
func distinct(prefix string) string { return prefix + rand.Text() + rand.Text() }

// keyParts are the parts of a service account's JSON key that are secret:
// its key id and each line of the private key's base64 body (a leak with
// its line breaks escaped or replaced still holds their pieces).
func keyParts(t *testing.T, keyJSON []byte) secrets {
	t.Helper()
	var k struct {
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
	}
	if err := json.Unmarshal(keyJSON, &k); err != nil || k.PrivateKeyID == "" {
		t.Fatalf("service account key: %v", err)
	}
	if block, _ := pem.Decode([]byte(k.PrivateKey)); block == nil {
		t.Fatal("service account key: no PEM block")
	}
	out := secrets{newSecret("Google private_key_id", k.PrivateKeyID)}
	for _, line := range strings.Split(k.PrivateKey, "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			out = append(out, newSecret("Google private key", line))
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d lines of the private key to look for", len(out)-1)
	}
	return out
}

// The whole pipeline at debug level, with a distinctive value for every
// credential, through a hire, a move, a termination, vendor refusals that
// dead-letter (each fake repeating the request's Authorization header in
// its error body, as a debugging proxy would), an app that answers 401 to
// everything and a BambooHR refusal; then provctl's read commands. No log
// line, metric, stored message (dead letters and audit records included)
// or provctl output may hold a credential.
func TestSecretsNeverLeak(t *testing.T) {
	const field = "githubLogin"
	webhookKey, bambooKey := distinct("kc-webhook-"), distinct("kc-bamboohr-")
	slackToken, atlassianToken, githubToken := distinct("kc-slack-"), distinct("kc-atlassian-"), distinct("github_pat_kc")

	hr := bamboohrtest.New(bamboohrtest.WithAPIKey(bambooKey), bamboohrtest.WithEchoAuthorization())
	defer hr.Close()
	hr.Put(bamboohrtest.Employee{ID: "2001", FirstName: "Katherine", LastName: "Johnson", WorkEmail: "katherine@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01",
		Fields: map[string]any{field: "kjohnson"}})
	t.Setenv("BAMBOOHR_API_URL", hr.URL())
	t.Setenv("BAMBOOHR_API_KEY", bambooKey)
	t.Setenv("BAMBOOHR_COMPANY", hr.Company())
	t.Setenv("BAMBOOHR_CUSTOM_FIELDS", field)
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h") // only webhooks drive this test
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")
	t.Setenv("KEYCARD_LOG_LEVEL", "debug")

	slack := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000), scimtest.WithToken(slackToken), scimtest.WithEchoAuthorization())
	defer slack.Close()
	// Atlassian accepts another token than the one Keycard has: a 401 to
	// every request, the sent token echoed back.
	atlassian := scimtest.New(scimtest.Atlassian(), scimtest.WithRateScale(1000), scimtest.WithEchoAuthorization())
	defer atlassian.Close()
	gh := githubtest.New(githubtest.WithRateScale(1000), githubtest.WithToken(githubToken), githubtest.WithEchoAuthorization())
	defer gh.Close()
	gh.AddTeam("everyone", "engineering", "sales")
	gw := googletest.New(googletest.WithRateScale(1000))
	defer gw.Close()
	gw.AddGroup("everyone@example.com", "everyone")
	gw.AddOrgUnit("/Engineering")
	gw.AddOrgUnit("/Sales")
	saKey := gw.Key()

	t.Setenv("TOKEN_SLACK", slackToken)
	t.Setenv("TOKEN_ATLASSIAN", atlassianToken)
	t.Setenv("GITHUB_TOKEN", githubToken)
	t.Setenv("GOOGLE_SERVICE_ACCOUNT_JSON", string(saKey))
	cfg := fmt.Sprintf(`apps:
  - {name: slack, type: scim, profile: slack, token_env: TOKEN_SLACK, base_url: %q, rate_limit: {writes_per_minute: 60000, burst: 100}}
  - {name: atlassian, type: scim, profile: atlassian, token_env: TOKEN_ATLASSIAN, base_url: %q, rate_limit: {writes_per_minute: 60000, burst: 100}}
  - {name: github, type: github, org: %s, base_url: %q, login_field: %s, token_env: GITHUB_TOKEN, rate_limit: {writes_per_minute: 60000, burst: 100}}
  - name: google
    type: google
    domain: example.com
    admin_email: %s
    base_url: %q
    credentials_env: GOOGLE_SERVICE_ACCOUNT_JSON
    rate_limit: {writes_per_minute: 60000, burst: 100}
policy:
  birthright:
    slack: {groups: [everyone]}
    atlassian: {groups: [everyone]}
    github: {teams: [everyone]}
    google: {groups: [everyone]}
  rules:
    - {name: engineering, when: 'employee.department == "Engineering"', grant: {slack: {groups: [engineering]}, github: {teams: [engineering]}, google: {org_unit: /Engineering}}}
    - {name: sales, when: 'employee.department == "Sales"', grant: {slack: {groups: [sales]}, github: {teams: [sales]}, google: {org_unit: /Sales}}}
`, slack.URL(), atlassian.URL(), gh.Org(), gh.URL(), field, gw.AdminEmail(), gw.URL())
	cfgFile := filepath.Join(t.TempDir(), "keycard.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYCARD_CONFIG", cfgFile)
	in := startKeyed(t, t.TempDir(), webhookKey)
	defer in.stop(t)

	waitFor := func(step string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached in 20s", step)
			}
		}
	}
	slackState := func() string {
		users := slack.Users()
		if len(users) != 1 {
			return fmt.Sprintf("%d users", len(users))
		}
		var groups []string
		for _, g := range slack.Groups() {
			if slices.Contains(g.Members, users[0].ID) {
				groups = append(groups, g.DisplayName)
			}
		}
		slices.Sort(groups)
		return fmt.Sprintf("%v %v", users[0].Active, groups)
	}
	googleOU := func() string {
		if users := gw.Users(); len(users) == 1 {
			return fmt.Sprintf("%s suspended=%v", users[0].OrgUnitPath, users[0].Suspended)
		}
		return ""
	}

	// A forged delivery is refused; nothing may say what the valid
	// signature would have been.
	body := []byte(`{"type":"employee.created","timestamp":"2026-12-01T09:00:00Z","data":{"companyId":"1","employeeId":"2001"}}`)
	from := time.Now().Unix()
	if code, _ := postSigned(t, in.webhookURL, "not-"+webhookKey, body); code != http.StatusUnauthorized {
		t.Fatalf("forged delivery = %d; want 401", code)
	}
	var valid secrets // for each second it may have been signed at
	for sent := from; sent <= time.Now().Unix(); sent++ {
		valid = append(valid, newSecret("a valid signature", webhook.Sign([]byte(webhookKey), body, strconv.FormatInt(sent, 10))))
	}

	in.send(t, "employee.created", "2001")
	waitFor("hire", func() bool {
		_, invited := gh.Membership("kjohnson")
		return slackState() == "true [engineering everyone]" && invited && googleOU() == "/Engineering suspended=false" &&
			atlassian.Requests().ByStatus[http.StatusUnauthorized] > 0
	})
	gh.Accept("kjohnson")

	hr.Update("2001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "2001")
	waitFor("move", func() bool {
		m, _ := gh.Membership("kjohnson")
		return slackState() == "true [everyone sales]" && googleOU() == "/Sales suspended=false" && slices.Contains(m.Teams, "sales")
	})

	hr.Update("2001", func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
	in.send(t, "employee.updated", "2001")
	waitFor("terminate", func() bool {
		_, member := gh.Membership("kjohnson")
		return slackState() == "false []" && googleOU() == "/Sales suspended=true" && !member
	})

	// Slack and GitHub refuse the next hire for good (their bodies echo the
	// token), BambooHR refuses to show the third person (its header echoes
	// the Basic credentials): three dead letters.
	slack.FailNext(1, http.StatusBadRequest, "invalid userName")
	gh.FailNextOn("PUT /orgs/{org}/memberships/{username}", 1, http.StatusUnprocessableEntity, 0, "Validation Failed")
	hr.Put(bamboohrtest.Employee{ID: "2002", FirstName: "Dorothy", LastName: "Vaughan", WorkEmail: "dorothy@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Sales", JobTitle: "Analyst", HireDate: "2024-03-01",
		Fields: map[string]any{field: "dvaughan"}})
	in.send(t, "employee.created", "2002")
	waitFor("refused hire dead-lettered", func() bool {
		apps := dlqApps(t, in.natsURL, "2002")
		return slices.Contains(apps, "slack") && slices.Contains(apps, "github")
	})
	hr.Fail(1, http.StatusForbidden, "Forbidden")
	in.send(t, "employee.created", "2003")
	waitFor("BambooHR refusal dead-lettered", func() bool {
		return slices.Contains(dlqApps(t, in.natsURL, ""), "normalizer")
	})

	ss := secrets{
		newSecret("webhook key", webhookKey),
		newSecret("BambooHR API key", bambooKey),
		newSecret("BambooHR Basic credentials", base64.StdEncoding.EncodeToString([]byte(bambooKey+":x"))),
		newSecret("Slack token", slackToken),
		newSecret("Atlassian token", atlassianToken),
		newSecret("GitHub token", githubToken),
	}
	ss = append(ss, valid...)
	ss = append(ss, keyParts(t, saKey)...)
	for _, tok := range gw.AccessTokens() {
		ss = append(ss, newSecret("Google access token", tok))
	}
	// The search finds a secret cut short, and the mask hides it all.
	if cut := "token " + slackToken[:20] + "…"; !slices.Equal(ss.find(cut), []string{"Slack token"}) || strings.Contains(ss.mask(cut), slackToken[:12]) {
		t.Fatalf("the search is broken: %v in a cut token, masked %q", ss.find(cut), ss.mask(cut))
	}

	// provctl's read commands, as an operator runs them.
	dead := streamMsgs(t, in.natsURL, streams.DLQ)
	cmds := [][]string{
		{"dlq", "list"}, {"dlq", "list", "--json"},
		{"apps", "check"}, {"apps", "check", "--json"},
		{"explain", "2001"}, {"explain", "2002", "--json"},
		{"reconcile"}, {"reconcile", "--json", "--details"},
		{"held", "list"},
	}
	for _, m := range dead {
		seq := fmt.Sprint(m.Sequence)
		cmds = append(cmds, []string{"dlq", "show", seq}, []string{"dlq", "show", seq, "--json"})
	}
	bin := buildProvctl(t)
	for _, args := range cmds {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NATS_URL="+in.natsURL, "KEYCARD_CONFIG="+cfgFile)
		out, err := cmd.CombinedOutput()
		if err != nil && cmd.ProcessState.ExitCode() != 1 { // 1: a check found a problem (Atlassian's 401)
			t.Errorf("provctl %s: %v\n%s", strings.Join(args, " "), err, ss.mask(string(out)))
		}
		ss.check(t, "provctl "+strings.Join(args, " "), string(out))
	}

	_, metrics := get(t, in.opsURL+"/metrics")
	for i, line := range strings.Split(metrics, "\n") {
		ss.check(t, fmt.Sprintf("/metrics line %d", i+1), line)
	}
	stored := storedMessages(t, in.natsURL, ss)
	for _, want := range []string{streams.DLQ, streams.Audit, streams.Inbox, streams.Events} {
		if stored[want] == 0 {
			t.Errorf("stream %s holds nothing: the scenario did not reach it", want)
		}
	}
	// The echoes were there to redact: each dead letter of a refusal says
	// what the vendor said, without the credential.
	for app, want := range map[string]string{"slack": "invalid userName", "github": "Validation Failed", "normalizer": "403"} {
		var reason string
		for _, m := range dead {
			if m.Header.Get(deadletter.HeaderApp) == app {
				reason = m.Header.Get(deadletter.HeaderError)
			}
		}
		if !strings.Contains(reason, want) || !strings.Contains(reason, "Authorization") {
			t.Errorf("%s's dead letter says %q; want the vendor's %q and its (redacted) echo", app, ss.mask(reason), want)
		}
	}
	for i, line := range in.logs.rawLines() {
		ss.check(t, fmt.Sprintf("log line %d", i+1), line)
	}
	if n := len(in.logs.rawLines()); n < 50 {
		t.Errorf("only %d log lines captured", n)
	}
}

// dlqApps are the apps of the dead letters about employee id ("" any).
func dlqApps(t *testing.T, natsURL, id string) []string {
	t.Helper()
	var apps []string
	for _, m := range streamMsgs(t, natsURL, streams.DLQ) {
		if id == "" || strings.HasSuffix(m.Subject, "."+event.EmployeeKey(id)) {
			apps = append(apps, m.Header.Get(deadletter.HeaderApp))
		}
	}
	return apps
}

// storedMessages reads every message of every stream (the KV buckets
// included), fails t for any of ss one holds, and counts them by stream.
func storedMessages(t *testing.T, natsURL string, ss secrets) map[string]int {
	t.Helper()
	counts := map[string]int{}
	withJS(t, natsURL, func(js jetstream.JetStream) {
		names := js.StreamNames(context.Background())
		for name := range names.Name() {
			for _, m := range natstest.Messages(t, js, name) {
				counts[name]++
				ss.check(t, fmt.Sprintf("stream %s seq %d (%s)", name, m.Sequence, m.Subject), m.Subject+" "+fmt.Sprint(m.Header)+" "+string(m.Data))
			}
		}
		if err := names.Err(); err != nil {
			t.Fatal(err)
		}
	})
	return counts
}

// buildProvctl builds provctl into a temporary directory.
func buildProvctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "provctl")
	build := exec.Command("go", "build", "-o", bin, "../provctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build provctl: %v\n%s", err, out)
	}
	return bin
}
