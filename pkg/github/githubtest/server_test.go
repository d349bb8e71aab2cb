package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"
)

func client(t *testing.T, s *Server, token string) *gh.Client {
	t.Helper()
	base := s.URL()
	c, err := gh.NewClient(gh.WithHTTPClient(s.Client()), gh.WithAuthToken(token), gh.WithURLs(&base, &base), gh.WithDisableRateLimitCheck())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func do(t *testing.T, s *Server, method, path, auth string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, strings.TrimSuffix(s.URL(), "/")+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp, body
}

// Without the token the answer is GitHub's 401, either spelling of the
// header is accepted, and every authenticated answer has the rate headers.
func TestAuthAndRateHeaders(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	for _, tc := range []struct{ auth, message string }{{"", "Requires authentication"}, {"Bearer nope", "Bad credentials"}} {
		resp, body := do(t, s, http.MethodGet, "/orgs/acme", tc.auth)
		if resp.StatusCode != http.StatusUnauthorized || body["message"] != tc.message {
			t.Errorf("auth %q: %d %v; want 401 %q", tc.auth, resp.StatusCode, body, tc.message)
		}
	}
	for _, scheme := range []string{"Bearer ", "token "} {
		resp, _ := do(t, s, http.MethodGet, "/orgs/acme", scheme+s.Token())
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Limit") != strconv.Itoa(PrimaryPerHour) ||
			resp.Header.Get("X-RateLimit-Resource") != "core" || resp.Header.Get("X-RateLimit-Reset") == "" {
			t.Errorf("%q: %d %v", scheme, resp.StatusCode, resp.Header)
		}
	}
	if resp, _ := do(t, s, http.MethodGet, "/orgs/other/members", "Bearer "+s.Token()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another org: %d; want 404", resp.StatusCode)
	}
}

// Lists page with per_page and a Link header go-github follows; the last
// page of a one-item page is the count.
func TestPagination(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	for i := range 250 {
		s.AddMember(fmt.Sprintf("m%d", i), RoleMember)
	}
	c := client(t, s, s.Token())
	opt := &gh.ListMembersOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	seen := map[string]bool{}
	pages := 0
	for {
		users, resp, err := c.Organizations.ListMembers(t.Context(), "acme", opt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range users {
			seen[u.GetLogin()] = true
		}
		if resp.NextPage == 0 {
			if resp.LastPage != 0 || resp.PrevPage != 2 || resp.FirstPage != 1 {
				t.Errorf("last page links: %+v", resp)
			}
			break
		}
		opt.Page = resp.NextPage
	}
	if pages != 3 || len(seen) != 250 {
		t.Fatalf("%d pages, %d members; want 3 and 250", pages, len(seen))
	}
	_, resp, err := c.Organizations.ListMembers(t.Context(), "acme", &gh.ListMembersOptions{ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil || resp.LastPage != 250 {
		t.Fatalf("per_page=1: last page %d, %v; want 250", resp.LastPage, err)
	}
	if users, _, _ := c.Organizations.ListMembers(t.Context(), "acme", &gh.ListMembersOptions{ListOptions: gh.ListOptions{PerPage: 500}}); len(users) != 100 {
		t.Fatalf("per_page=500 gave %d; GitHub caps it at 100", len(users))
	}
}

// An invitation by login is a pending membership whose teams are pending;
// Accept makes them active; DELETE of the membership cancels an
// invitation and drops the teams.
func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	s.AddTeam("eng")
	c := client(t, s, s.Token())
	ctx := t.Context()
	m, _, err := c.Organizations.EditOrgMembership(ctx, "ada", "acme", &gh.Membership{Role: gh.Ptr("member")})
	if err != nil || m.GetState() != Pending || m.GetUser().GetLogin() != "ada" {
		t.Fatalf("PUT membership = %+v, %v; want pending", m, err)
	}
	tm, _, err := c.Teams.AddTeamMembershipBySlug(ctx, "acme", "eng", "ada", gh.AddTeamMembershipRequest{})
	if err != nil || tm.GetState() != Pending {
		t.Fatalf("PUT team membership = %+v, %v; want pending", tm, err)
	}
	invs, _, err := c.Organizations.ListPendingOrgInvitations(ctx, "acme", nil)
	if err != nil || len(invs) != 1 || invs[0].GetLogin() != "ada" || invs[0].GetTeamCount() != 1 || invs[0].FailedAt != nil {
		t.Fatalf("invitations = %+v, %v", invs, err)
	}
	teams, _, err := c.Organizations.ListOrgInvitationTeams(ctx, "acme", strconv.FormatInt(invs[0].GetID(), 10), nil)
	if err != nil || len(teams) != 1 || teams[0].GetSlug() != "eng" {
		t.Fatalf("invitation teams = %+v, %v", teams, err)
	}
	if members, _, _ := c.Teams.ListTeamMembersBySlug(ctx, "acme", "eng", nil); len(members) != 0 {
		t.Fatalf("a pending member is listed as a team member: %+v", members)
	}
	s.Accept("ada")
	if tm, _, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "eng", "ada"); err != nil || tm.GetState() != Active {
		t.Fatalf("team membership after Accept = %+v, %v", tm, err)
	}
	if _, err := c.Organizations.RemoveOrgMembership(ctx, "ada", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, resp, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "eng", "ada"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("team membership after leaving: %d %v; want 404", resp.StatusCode, err)
	}
	if _, err := c.Organizations.RemoveOrgMembership(ctx, "ada", "acme"); err == nil {
		t.Fatal("DELETE of a non-member succeeded; GitHub answers 404")
	}
}

// An expired invitation moves to the failed list and blocks a new one
// until it is cancelled; the e-mail path refuses a duplicate and a member.
func TestFailedAndEmailInvitations(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	c := client(t, s, s.Token())
	ctx := t.Context()
	if _, _, err := c.Organizations.EditOrgMembership(ctx, "ada", "acme", &gh.Membership{}); err != nil {
		t.Fatal(err)
	}
	s.Expire("ada")
	failed, _, err := c.Organizations.ListFailedOrgInvitations(ctx, "acme", nil)
	if err != nil || len(failed) != 1 || failed[0].GetFailedReason() != "expired" || failed[0].FailedAt == nil {
		t.Fatalf("failed = %+v, %v", failed, err)
	}
	if _, resp, _ := c.Organizations.GetOrgMembership(ctx, "ada", "acme"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("membership after expiry: %d; want 404", resp.StatusCode)
	}
	if _, resp, _ := c.Organizations.EditOrgMembership(ctx, "ada", "acme", &gh.Membership{}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invite over a failed invitation: %d; want 422", resp.StatusCode)
	}
	if _, err := c.Organizations.CancelInvite(ctx, "acme", failed[0].GetID()); err != nil {
		t.Fatal(err)
	}
	if m, _, err := c.Organizations.EditOrgMembership(ctx, "ada", "acme", &gh.Membership{}); err != nil || m.GetState() != Pending {
		t.Fatalf("invite after cancelling = %+v, %v", m, err)
	}
	email := gh.CreateOrgInvitationRequest{Email: gh.Ptr("grace@example.com")}
	inv, resp, err := c.Organizations.CreateOrgInvitation(ctx, "acme", email)
	if err != nil || resp.StatusCode != http.StatusCreated || inv.GetEmail() != "grace@example.com" || inv.Login != nil || inv.GetRole() != "direct_member" {
		t.Fatalf("POST invitation = %+v, %v", inv, err)
	}
	if _, resp, _ := c.Organizations.CreateOrgInvitation(ctx, "acme", email); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate e-mail invitation: %d; want 422", resp.StatusCode)
	}
	s.AcceptEmail("grace@example.com", "grace")
	s.AddUser("grace", "grace@example.com")
	if _, resp, _ := c.Organizations.CreateOrgInvitation(ctx, "acme", email); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("inviting a member's address: %d; want 422", resp.StatusCode)
	}
	if m, ok := s.Membership("grace"); !ok || m.State != Active {
		t.Fatalf("grace after accepting: %+v", m)
	}
}

// The secondary limit counts writes only and answers 403 with
// retry-after; the primary limit answers 403 with remaining 0 until its
// reset; injected failures look like GitHub's.
func TestLimitsAndFailures(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	t0 := now
	clock := &now
	s := New(WithClock(func() time.Time { return *clock }), WithPrimaryLimit(100))
	defer s.Close()
	auth := "Bearer " + s.Token()
	for i := range SecondaryPerMinute {
		if resp, _ := do(t, s, http.MethodDelete, "/orgs/acme/memberships/u"+strconv.Itoa(i), auth); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("write %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := do(t, s, http.MethodDelete, "/orgs/acme/memberships/ada", auth)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Retry-After") == "" || !strings.Contains(body["message"].(string), "secondary rate limit") {
		t.Fatalf("write past the secondary limit: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := do(t, s, http.MethodGet, "/orgs/acme", auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("a read under the secondary limit: %d", resp.StatusCode)
	}
	*clock = t0.Add(time.Minute)
	if resp, _ := do(t, s, http.MethodDelete, "/orgs/acme/memberships/ada", auth); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a write a minute later: %d", resp.StatusCode)
	}
	for resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		resp, _ = do(t, s, http.MethodGet, "/orgs/acme", auth)
	}
	if st := s.Requests(); st.Total != 101 || st.RateLimited != 2 {
		t.Fatalf("stats %+v; want 101 requests, 2 rate-limited (the 81st write, the 101st request)", st)
	}
	if reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); !time.Unix(reset, 0).Equal(t0.Add(time.Hour)) {
		t.Fatalf("reset %d; want an hour from the window's start", reset)
	}
	*clock = t0.Add(2 * time.Hour)
	s.FailNextOn("GET /orgs/{org}", 1, http.StatusServiceUnavailable, 3*time.Second, "")
	resp, body = do(t, s, http.MethodGet, "/orgs/acme", auth)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "3" || body["message"] != "Server Error" {
		t.Fatalf("injected 503: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	s.FailNext(http.StatusTooManyRequests, 7*time.Second)
	resp, body = do(t, s, http.MethodGet, "/orgs/acme/teams", auth)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" || !strings.Contains(body["documentation_url"].(string), "secondary-rate-limits") {
		t.Fatalf("injected 429: %d %v %v", resp.StatusCode, resp.Header, body)
	}
}
