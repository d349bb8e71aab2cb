package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/discord/discordtest"
	"keycard/pkg/event"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// slackHook is a Slack incoming webhook, keeping the invitations posted.
type slackHook struct {
	mu    sync.Mutex
	texts []string
}

func (h *slackHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	raw, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || json.Unmarshal(raw, &body) != nil || body.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.texts = append(h.texts, body.Text)
	h.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

var inviteLink = regexp.MustCompile(`https://discord\.gg/([A-Za-z0-9]+)`)

// codes are the invite codes posted so far.
func (h *slackHook) codes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, t := range h.texts {
		if m := inviteLink.FindStringSubmatch(t); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// The whole pipeline for a Discord guild: signed webhook → ingester →
// normalizer (fake BambooHR; the Discord user id in a custom field, empty
// at first) → worker → the fake guild, invitations posted to a Slack
// webhook. A hire gets one single-use invite (the create+update pair and
// a redelivery send no second), their roles wait as a warning, not a dead
// letter; once they joined and HR holds their id the next update links
// them and grants the roles; a move swaps roles through 429s (route and
// global) and a 502; a termination strips the roles and kicks, and a
// duplicate kicks no one twice; a re-hire gets a new invite; a permanent
// 403 on an invite goes to the dead-letter stream.
func TestDiscordLifecycleThroughPipeline(t *testing.T) {
	const uid, field = "80351110224678912", "discordUserId"
	fake := bamboohrtest.New()
	defer fake.Close()
	fake.Put(bamboohrtest.Employee{ID: "3001", FirstName: "Mary", LastName: "Jackson", WorkEmail: "mary@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	t.Setenv("BAMBOOHR_API_URL", fake.URL())
	t.Setenv("BAMBOOHR_API_KEY", fake.APIKey())
	t.Setenv("BAMBOOHR_COMPANY", fake.Company())
	t.Setenv("BAMBOOHR_CUSTOM_FIELDS", field)
	t.Setenv("KEYCARD_POLL_INTERVAL", "1h") // only webhooks drive this test
	t.Setenv("KEYCARD_SWEEP_INTERVAL", "-1s")

	srv := discordtest.New(discordtest.WithRateScale(1000))
	defer srv.Close()
	srv.AddRole("everyone", "engineering", "sales")
	hook := &slackHook{}
	slack := httptest.NewServer(hook)
	defer slack.Close()
	t.Setenv("DISCORD_BOT_TOKEN", srv.Token())
	t.Setenv("DISCORD_INVITE_WEBHOOK", slack.URL+"/services/T000/B000/XXXXXXXX")
	config := fmt.Sprintf(`apps:
  - name: discord
    type: discord
    guild_id: "%s"
    channel_id: "%s"
    base_url: %q
    user_id_field: %s
    invite_max_age: 3d
    invite_delivery: slack
    slack_webhook_env: DISCORD_INVITE_WEBHOOK
    token_env: DISCORD_BOT_TOKEN
    rate_limit: {writes_per_minute: 60000, burst: 100}
policy:
  birthright:
    discord: {roles: [everyone]}
  rules:
    - {name: engineering, when: 'employee.department == "Engineering"', grant: {discord: {roles: [engineering]}}}
    - {name: sales, when: 'employee.department == "Sales"', grant: {discord: {roles: [sales]}}}
`, srv.GuildID(), srv.ChannelID(), srv.URL(), field)
	in := startWithConfig(t, config)
	defer in.stop(t)

	// state is Mary's membership and roles, the live invites and the
	// invitations posted.
	state := func() string {
		invs, posted := len(srv.Invites()), len(hook.codes())
		m, ok := srv.Member(uid)
		if !ok {
			return fmt.Sprintf("not a member, %d invites, %d posted", invs, posted)
		}
		return fmt.Sprintf("member %v, %d invites, %d posted", m.Roles, invs, posted)
	}
	expect := func(step, want string, within time.Duration) {
		t.Helper()
		expectState(t, step, want, within, state)
	}
	routes := func() map[string]int { return srv.Requests().ByRoute }
	const (
		createInvite = "POST /channels/{channel.id}/invites"
		kick         = "DELETE /guilds/{guild.id}/members/{user.id}"
	)

	in.send(t, "employee.created", "3001")
	in.send(t, "employee.updated", "3001") // BambooHR's create+update pair: one hire
	expect("hire: invited", "not a member, 1 invites, 1 posted", 20*time.Second)
	waitAudit(t, in, "applied", "waiting for the person to join")
	in.send(t, "employee.updated", "3001") // nothing new in HR: the invite is still out
	time.Sleep(500 * time.Millisecond)
	expect("hire: no second invite", "not a member, 1 invites, 1 posted", time.Second)
	if n := routes()[createInvite]; n != 1 {
		t.Fatalf("the hire made %d invites; want 1", n)
	}
	if text := hook.texts[0]; !strings.Contains(text, "Mary Jackson") || !strings.Contains(text, "mary@example.com") {
		t.Fatalf("posted %q; want the invitation naming Mary", text)
	}

	// Mary opens the link; HR records her user id; the update links her.
	if err := srv.Accept(hook.codes()[0], uid); err != nil {
		t.Fatal(err)
	}
	expect("joined, not linked yet", "member [], 0 invites, 1 posted", time.Second)
	fake.Update("3001", func(e *bamboohrtest.Employee) { e.Fields = map[string]any{field: uid} })
	in.send(t, "employee.updated", "3001")
	expect("linked: roles granted", "member [engineering everyone], 0 invites, 1 posted", 20*time.Second)

	// A storm: the move's first requests meet a route 429, a global 429
	// and a 502, each with the wait Discord would ask for.
	srv.FailNextOn("", 1, http.StatusTooManyRequests, 300*time.Millisecond)
	srv.FailNextGlobal(1, 300*time.Millisecond)
	srv.FailNextOn("", 1, http.StatusBadGateway, 0)
	fake.Update("3001", func(e *bamboohrtest.Employee) { e.Department = "Sales" })
	in.send(t, "employee.updated", "3001")
	expect("move through the storm", "member [everyone sales], 0 invites, 1 posted", 40*time.Second)
	if st := srv.Requests(); st.RateLimited < 2 || st.ByStatus[http.StatusBadGateway] != 1 {
		t.Fatalf("the storm was not served: %+v", st)
	}

	hrTerminates(fake, "3001")
	in.send(t, "employee.updated", "3001")
	in.send(t, "employee.updated", "3001") // a duplicate
	expect("terminate: kicked", "not a member, 0 invites, 1 posted", 20*time.Second)
	time.Sleep(500 * time.Millisecond) // let the duplicate be handled
	if n := routes()[kick]; n != 1 {
		t.Fatalf("%d kicks; want 1 (the duplicate finds no member)", n)
	}

	hrRehires(fake, "3001")
	in.send(t, "employee.updated", "3001")
	expect("re-hire: invited again", "not a member, 1 invites, 2 posted", 20*time.Second)
	if err := srv.Accept(hook.codes()[1], uid); err != nil {
		t.Fatal(err)
	}
	// Joining changes nothing in HR: the roles come with the next HR
	// update (or the scheduled reconcile).
	fake.Update("3001", func(e *bamboohrtest.Employee) { e.JobTitle = "Senior Engineer" })
	in.send(t, "employee.updated", "3001")
	expect("re-hire: back with roles", "member [everyone sales], 0 invites, 2 posted", 20*time.Second)

	// Discord refuses a hire's invite (the bot lost Create Invite on the
	// channel): 403 Missing Permissions, permanent, dead-lettered.
	srv.FailNextOn(createInvite, 1, http.StatusForbidden, 0)
	fake.Put(bamboohrtest.Employee{ID: "3002", FirstName: "Christine", LastName: "Darden", WorkEmail: "christine@example.com",
		Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer", HireDate: "2024-03-01"})
	in.send(t, "employee.created", "3002")
	reason := deadLetter(t, in.natsURL, "dlq.discord.hired."+event.EmployeeKey("3002"))
	if !strings.Contains(reason, "403") || !strings.Contains(reason, "Missing Permissions") || strings.Contains(reason, srv.Token()) {
		t.Fatalf("dead-letter reason %q; want Discord's 403 and its message, no token", reason)
	}
	for _, code := range hook.codes() {
		if strings.Contains(reason, code) {
			t.Fatal("the dead letter holds an invite code")
		}
	}
	expect("Mary untouched", "member [everyone sales], 0 invites, 2 posted", time.Second)
}

// waitAudit waits for an audit record of the discord app with outcome
// whose warning says warn.
func waitAudit(t *testing.T, in *instance, outcome, warn string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range streamMsgs(t, in.natsURL, streams.Audit) {
			var rec worker.Record
			if json.Unmarshal(m.Data, &rec) == nil && rec.App == "discord" && rec.Outcome == outcome && strings.Contains(rec.Warning, warn) {
				return
			}
		}
	}
	t.Fatalf("no audit record %q with a warning %q", outcome, warn)
}
