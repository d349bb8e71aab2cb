package discordtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, s *Server, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, s.URL()+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bot "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

// Discord's error shapes, by what the connector relies on.
func TestErrors(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	g := "guilds/" + s.GuildID()
	tests := []struct {
		name, method, path, token string
		status                    int
		message                   string
		code                      float64
	}{
		{"no token", "GET", "users/@me", "", 401, "401: Unauthorized", 0},
		{"bearer is not a bot token", "GET", "users/@me", "x", 401, "401: Unauthorized", 0},
		{"unknown member", "GET", g + "/members/80351110224678912", s.Token(), 404, "Unknown Member", 10007},
		{"unknown role", "PUT", g + "/members/" + s.BotID() + "/roles/1", s.Token(), 404, "Unknown Role", 10011},
		{"unknown guild", "GET", "guilds/1/roles", s.Token(), 404, "Unknown Guild", 10004},
		{"unknown channel", "GET", "channels/1/invites", s.Token(), 404, "Unknown Channel", 10003},
		{"unknown invite", "DELETE", "invites/nope", s.Token(), 404, "Unknown Invite", 10006},
		{"limit over 1000", "GET", g + "/members?limit=1001", s.Token(), 400, "Invalid Form Body", 50035},
		{"the bot's own role", "DELETE", g + "/members/" + s.BotID() + "/roles/" + s.roleID("Keycard"), s.Token(), 403, "Missing Permissions", 50013},
	}
	for _, tt := range tests {
		resp, body := do(t, s, tt.method, tt.path, tt.token, "")
		if resp.StatusCode != tt.status || body["message"] != tt.message || body["code"] != tt.code {
			t.Errorf("%s: %d %v; want %d %q code %v", tt.name, resp.StatusCode, body, tt.status, tt.message, tt.code)
		}
	}
}

func (s *Server) roleID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.roles {
		if r.name == name {
			return id
		}
	}
	return ""
}

// A route past its bucket answers 429 with the documented headers and
// body; the global limit answers with X-RateLimit-Global.
func TestRateLimitAnswers(t *testing.T) {
	t.Parallel()
	s := New(WithGlobalLimit(1000))
	defer s.Close()
	path := "guilds/" + s.GuildID() + "/members/" + s.BotID()
	var resp *http.Response
	var body map[string]any
	for range RouteLimits["GET /guilds/{guild.id}/members/{user.id}"].Requests + 1 {
		resp, body = do(t, s, "GET", path, s.Token(), "")
	}
	h := resp.Header
	after, _ := strconv.ParseFloat(h.Get("X-RateLimit-Reset-After"), 64)
	if resp.StatusCode != 429 || body["message"] != "You are being rate limited." || body["global"] != false ||
		h.Get("X-RateLimit-Scope") != "user" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Bucket") == "" || h.Get("Retry-After") == "" || after <= 0 {
		t.Fatalf("past the bucket: %d %v %v", resp.StatusCode, h, body)
	}
	if ra, ok := body["retry_after"].(float64); !ok || ra <= 0 || ra > 1 {
		t.Fatalf("retry_after %v; want a float of at most a second", body["retry_after"])
	}
	g := New(WithGlobalLimit(2))
	defer g.Close()
	for range 3 {
		resp, body = do(t, g, "GET", "users/@me", g.Token(), "")
	}
	if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Global") != "true" || resp.Header.Get("X-RateLimit-Scope") != "global" || body["global"] != true {
		t.Fatalf("past the global limit: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	if st := g.Requests(); st.RateLimited != 1 || st.Invalid != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Members page by user id; invites expire and are used up; a role grant
// and a kick are 204.
func TestGuild(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	s := New(WithClock(func() time.Time { return now }), WithGlobalLimit(1000), WithRateScale(1e6))
	defer s.Close()
	s.AddRole("eng")
	for _, id := range []string{"30000000000000003", "10000000000000001", "20000000000000002"} {
		s.AddMember(id, false)
	}
	g := "guilds/" + s.GuildID()
	var page []map[string]any
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL()+g+"/members?limit=2&after=10000000000000001", nil)
	req.Header.Set("Authorization", "Bot "+s.Token())
	r2, _ := s.Client().Do(req)
	_ = json.NewDecoder(r2.Body).Decode(&page)
	r2.Body.Close()
	if r2.StatusCode != 200 || len(page) != 2 || page[0]["user"].(map[string]any)["id"] != "20000000000000002" {
		t.Fatalf("page after 1…: %v", page)
	}
	resp, _ := do(t, s, "PUT", g+"/members/10000000000000001/roles/"+s.roleID("eng"), s.Token(), "")
	if m, _ := s.Member("10000000000000001"); resp.StatusCode != 204 || len(m.Roles) != 1 {
		t.Fatalf("grant: %d %+v", resp.StatusCode, m)
	}
	if resp, _ := do(t, s, "DELETE", g+"/members/10000000000000001", s.Token(), ""); resp.StatusCode != 204 {
		t.Fatalf("kick: %d", resp.StatusCode)
	}
	resp, inv := do(t, s, "POST", "channels/"+s.ChannelID()+"/invites", s.Token(), `{"max_age": 60, "max_uses": 1, "unique": true}`)
	code, _ := inv["code"].(string)
	if resp.StatusCode != 200 || code == "" || inv["max_uses"] != float64(1) || inv["expires_at"] == nil {
		t.Fatalf("invite: %d %v", resp.StatusCode, inv)
	}
	if resp, _ := do(t, s, "POST", "channels/"+s.ChannelID()+"/invites", s.Token(), `{"max_age": 604801}`); resp.StatusCode != 400 {
		t.Fatalf("max_age over 7 days: %d", resp.StatusCode)
	}
	if err := s.Accept(code, "40000000000000004"); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(code, "50000000000000005"); err != ErrInvalidInvite {
		t.Fatalf("second use of a single-use invite: %v", err)
	}
	_, inv = do(t, s, "POST", "channels/"+s.ChannelID()+"/invites", s.Token(), `{"max_age": 60, "max_uses": 1, "unique": true}`)
	now = now.Add(time.Minute)
	if err := s.Accept(inv["code"].(string), "50000000000000005"); err != ErrInvalidInvite {
		t.Fatalf("use of an expired invite: %v", err)
	}
	if got := s.Members(); len(got) != 3 {
		t.Fatalf("members %v", got)
	}
}
