package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/fault"
	"keycard/pkg/pipedrive/pipedrivetest"
	"keycard/pkg/ratelimit"
)

func ada() connector.Person {
	return connector.Person{EmployeeID: "e1", Email: "ada@example.com", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace",
		DisplayName: "Ada Lovelace", Title: "Engineer", Department: "Sales"}
}

func mustCreate(t *testing.T, c *Connector, p connector.Person) connector.Account {
	t.Helper()
	a, err := c.Create(t.Context(), p)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return a
}

func userOf(t *testing.T, srv *pipedrivetest.Server, a connector.Account) pipedrivetest.User {
	t.Helper()
	id, _ := strconv.Atoi(a.ID)
	u, ok := srv.User(id)
	if !ok {
		t.Fatalf("no user %s", a.ID)
	}
	return u
}

// The token travels in the x-api-token header only, never in a URL.
func TestTokenInHeaderOnly(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	if _, err := c.Find(t.Context(), ada()); err != nil {
		t.Fatal(err)
	}
	if err := c.SetActive(t.Context(), a, false); err != nil {
		t.Fatal(err)
	}
	if st := srv.Requests(); st.QueryToken != 0 || st.Total < 4 {
		t.Fatalf("requests %+v: %d sent the token in the URL", st, st.QueryToken)
	}
	if _, err := New(Config{BaseURL: srv.URL(), Token: "has space"}); err == nil {
		t.Error("a token with white space was accepted")
	}
}

// A hire gets sales access on the permission set the licence names (by
// name or id), else the app's permission_set, else Pipedrive's default;
// a licence the company does not have is a permanent error naming the
// ones it has.
func TestPermissionSets(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	manager := srv.AddPermissionSet(pipedrivetest.AppSales, "Sales manager")
	c := newConnector(t, srv, func(cfg *Config) { cfg.PermissionSet = "Sales manager" })
	tests := []struct {
		license string
		want    string
	}{
		{"", "Sales manager"},
		{"Admin", "Admin"},
		{"regular user", "Regular user"},
		{manager, "Sales manager"},
	}
	for i, tt := range tests {
		p := ada()
		p.Email, p.License = fmt.Sprintf("p%d@example.com", i), tt.license
		a := mustCreate(t, c, p)
		if got := userOf(t, srv, a).PermissionSet; got != tt.want {
			t.Errorf("licence %q: permission set %q; want %q", tt.license, got, tt.want)
		}
		if plan := connector.Plan(&a, connector.Want{Account: true, License: p.License}, p); len(plan) != 0 {
			t.Errorf("licence %q: plan after Create %v; want none", tt.license, plan)
		}
	}
	p := ada()
	p.License = "Viewer"
	_, err := c.Create(t.Context(), p)
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), `"Sales manager"`) {
		t.Fatalf("unknown licence = %v; want permanent, naming the sets there are", err)
	}
	if _, ok := srv.UserByEmail(p.Email); ok {
		t.Error("a user was added with an unknown licence")
	}
}

// A mover's org_unit moves them to that visibility role; a licence or an
// e-mail Pipedrive's API cannot change is a Partial update that says what
// to change by hand, and the role still moves.
func TestUpdate(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	sales := srv.AddRole("Sales")
	srv.AddSubRole(sales, "Sales EU")
	srv.AddSubRole(sales, "Sales US")
	srv.AddSubRole(srv.AddRole("Support"), "Sales US")
	c := newConnector(t, srv)
	p := ada()
	p.OrgUnit = "/Sales EU" // the end of its path is enough
	a := mustCreate(t, c, p)
	if got := userOf(t, srv, a).Role; got != "Sales EU" {
		t.Fatalf("role after Create %q", got)
	}
	p.AccountID = a.ID
	if cur, _ := c.Find(t.Context(), p); len(connector.Plan(cur, connector.Want{Account: true}, p)) != 0 {
		t.Fatalf("plan after Create %v", connector.Plan(cur, connector.Want{Account: true}, p))
	}
	p.OrgUnit, p.License, p.Email = "/Sales/Sales US", "Admin", "ada.lovelace@example.com"
	cur, err := c.Find(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if plan := connector.Plan(cur, connector.Want{Account: true}, p); len(plan) != 1 || plan[0].Op != connector.OpUpdate {
		t.Fatalf("plan for a mover %v; want an update", plan)
	}
	err = c.Update(t.Context(), *cur, p)
	if !fault.IsPartial(err) || !strings.Contains(err.Error(), "permission set") || !strings.Contains(err.Error(), "Personal preferences") ||
		strings.Contains(err.Error(), "ada.lovelace@") {
		t.Fatalf("Update = %v; want Partial naming the permission set and the address, without addresses", err)
	}
	if u := userOf(t, srv, a); u.Role != "Sales US" || u.PermissionSet != "Regular user" || u.Email != "ada@example.com" {
		t.Fatalf("user after Update %+v; want the role moved, the rest as it was", u)
	}
	if cur, _ = c.Find(t.Context(), p); cur.Attributes["org_unit"] != p.OrgUnit {
		t.Fatalf("org_unit read back %q; want %q", cur.Attributes["org_unit"], p.OrgUnit)
	}
	hand := srv.AddUser("grace@example.com", "Grace", true) // added by hand, before Keycard
	adopted, err := c.Create(t.Context(), connector.Person{Email: "grace@example.com", OrgUnit: "/Sales EU"})
	if err != nil || adopted.ID != strconv.Itoa(hand) || userOf(t, srv, adopted).Role != "Sales EU" {
		t.Fatalf("Create over a hand-made user = %+v, %v; want it adopted and moved to the role", adopted, err)
	}
	if err := c.Update(t.Context(), *cur, connector.Person{OrgUnit: "/Nowhere"}); !fault.IsPermanent(err) || !strings.Contains(err.Error(), `/Sales/Sales EU"`) {
		t.Fatalf("unknown role = %v; want permanent, naming the roles by path", err)
	}
	if err := c.Update(t.Context(), *cur, connector.Person{OrgUnit: "/Sales US"}); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "write more of the path") {
		t.Fatalf("ambiguous role = %v; want permanent", err)
	}
}

// A leaver is deactivated and stays in the company on a billed seat,
// which List and Seats show; a re-hire switches the same user back on.
// Keycard never deactivates the token's own user.
func TestLeaverKeepsBilledSeat(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	mustCreate(t, c, connector.Person{EmployeeID: "e2", Email: "grace@example.com"})
	if err := c.SetActive(t.Context(), a, false); err != nil {
		t.Fatal(err)
	}
	seats, err := c.Seats(t.Context())
	if err != nil || seats != (Seats{Active: 2, Inactive: 1}) || seats.Billed() != 3 {
		t.Fatalf("Seats = %+v, %v; want the admin and grace active, ada inactive, 3 billed", seats, err)
	}
	var listed []connector.Account
	if err := c.List(t.Context(), func(a connector.Account) error { listed = append(listed, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].Active || listed[0].Attributes[AttrSeat] != SeatBilledInactive || listed[1].Attributes[AttrSeat] != SeatActive {
		t.Fatalf("List = %+v; want ada inactive on a billed seat, grace active, no admin", listed)
	}
	back, err := c.Create(t.Context(), ada()) // a re-hire whose stored id was lost
	if err != nil || back.ID != a.ID || back.Active {
		t.Fatalf("Create over the leaver = %+v, %v; want %s adopted, inactive", back, err, a.ID)
	}
	if err := c.SetActive(t.Context(), back, true); err != nil || !userOf(t, srv, a).Active {
		t.Fatalf("re-hire: %v", err)
	}
	self := connector.Account{ID: strconv.Itoa(pipedrivetest.AdminUserID)}
	if err := c.SetActive(t.Context(), self, false); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "API token") {
		t.Fatalf("deactivating the token's user = %v; want a permanent refusal", err)
	}
	if u, _ := srv.User(pipedrivetest.AdminUserID); !u.Active {
		t.Fatal("the token's user was deactivated")
	}
}

// Find matches the address exactly (the term matches parts of addresses),
// any case, and prefers the stored id.
func TestFindExact(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	srv.AddUser("ada@example.com.au", "Other Ada", true)
	id := srv.AddUser("Ada@Example.com", "Ada", false)
	got, err := c.Find(t.Context(), ada())
	if err != nil || got == nil || got.ID != strconv.Itoa(id) || got.Active {
		t.Fatalf("Find = %+v, %v; want %d, inactive", got, err, id)
	}
	if plan := connector.Plan(got, connector.Want{Account: true}, ada()); len(plan) != 1 || plan[0].Op != connector.OpActivate {
		t.Fatalf("plan %v; want activate only (the address differs in case only)", plan)
	}
	if got, err := c.Find(t.Context(), connector.Person{Email: "da@example.com"}); err != nil || got != nil {
		t.Fatalf("Find by a part of an address = %+v, %v", got, err)
	}
}

// List reads every user past one page of 500, every request paced, and
// reports teams; Count agrees.
func TestListPages(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.AddTeam("closers")
	for i := range 1100 {
		srv.AddUser(fmt.Sprintf("u%04d@example.com", i), "U", i%2 == 0)
	}
	c := newConnector(t, srv)
	first := connector.Account{ID: strconv.Itoa(srv.Users()[1])}
	if err := c.AddMembership(t.Context(), first, connector.Team, "closers"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	paced := 0
	c.pace = func(context.Context) error { mu.Lock(); paced++; mu.Unlock(); return nil }
	n, inTeam := 0, 0
	err := c.List(t.Context(), func(a connector.Account) error {
		n++
		if len(a.Memberships[connector.Team]) == 1 {
			inTeam++
		}
		return nil
	})
	if err != nil || n != 1100 || inTeam != 1 {
		t.Fatalf("List: %d accounts, %d in a team, %v; want 1100 and 1", n, inTeam, err)
	}
	if paced != 1+3+2 { // the teams, three pages of users, the permission sets and roles
		t.Errorf("paced %d requests; want 6", paced)
	}
	if got, err := c.Count(t.Context()); err != nil || got != 1100 {
		t.Errorf("Count = %d, %v", got, err)
	}
}

// Pipedrive's limits reach the worker as waits: a burst 429 the fake
// itself answers, at its x-ratelimit-reset, and a spent daily budget until
// midnight UTC, not a dead letter; both pause the pacer.
func TestLimitsBecomeWaits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)
	srv := newFake(t, pipedrivetest.WithBurstLimit(2), pipedrivetest.WithClock(func() time.Time { return now }))
	var outcomes []ratelimit.Outcome
	c := newConnector(t, srv, func(cfg *Config) {
		cfg.Now = func() time.Time { return now }
		cfg.Observe = func(_ context.Context, o ratelimit.Outcome) { outcomes = append(outcomes, o) }
	})
	var err error
	for range 3 {
		if _, err = c.Find(t.Context(), ada()); err != nil {
			break
		}
	}
	if e, ok := errors.AsType[*Error](err); !ok || e.Limit != BurstLimit || fault.IsPermanent(err) {
		t.Fatalf("past the burst: %v; want a transient burst limit", err)
	}
	if hint, _ := fault.RetryAfterHint(err); hint <= 0 || hint > burstHintMax {
		t.Fatalf("burst hint %v", hint)
	}
	srv.ExhaustDailyBudget()
	now = now.Add(time.Minute)
	_, err = c.Create(t.Context(), ada())
	hint, _ := fault.RetryAfterHint(err)
	if e, ok := errors.AsType[*Error](err); !ok || e.Limit != DailyLimit || fault.IsPermanent(err) || hint != 2*time.Hour+29*time.Minute {
		t.Fatalf("spent budget: %v (hint %v); want a transient daily limit until midnight UTC", err, hint)
	}
	throttled := 0
	for _, o := range outcomes {
		if o.Throttled {
			throttled++
		}
	}
	if throttled != 2 || outcomes[len(outcomes)-1].RetryAfter != hint {
		t.Errorf("outcomes %+v; want both limits to pause the pacer", outcomes)
	}
}

// burstHintMax bounds the burst wait the fake asks for (its 2-second window).
const burstHintMax = 2 * time.Second

// Every request has a deadline: a server that never answers is a
// transient timeout naming the path, not the address searched for.
func TestTimeout(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer ts.Close()
	defer close(block)
	c, err := New(Config{BaseURL: ts.URL + "/api/v1/", Token: "tok0123456789", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Find(t.Context(), ada())
	if err == nil || fault.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "ada@") ||
		!strings.Contains(err.Error(), "GET users/find") {
		t.Fatalf("Find against a silent server = %v; want a transient timeout naming the path only", err)
	}
}

// Teams: an unknown team is a permanent grant error; one deleted in
// Pipedrive after it was read is forgotten and reported.
func TestTeams(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	c := newConnector(t, srv)
	a := mustCreate(t, c, ada())
	if err := c.AddMembership(t.Context(), a, connector.Team, "closers"); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "no team") {
		t.Fatalf("unknown team = %v", err)
	}
	srv.AddTeam("closers") // made by an admin since: read again on a miss
	if err := c.AddMembership(t.Context(), a, connector.Team, "Closers"); err != nil {
		t.Fatalf("team made since the last read: %v", err)
	}
	if got := userOf(t, srv, a).Teams; len(got) != 1 || got[0] != "closers" {
		t.Fatalf("teams %v", got)
	}
	if err := c.AddMembership(t.Context(), a, connector.Group, "eng"); !fault.IsPermanent(err) {
		t.Fatalf("a group = %v; want permanent", err)
	}
}

// New builds a connector from the settings and the worker's
// dependencies; the company domain makes the base URL.
func TestNewFromSettings(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	var paced, observed int
	deps := registry.Deps{Credential: srv.Token(),
		Pace:    func(context.Context) error { paced++; return nil },
		Observe: func(context.Context, ratelimit.Outcome) { observed++ }}
	app := registry.App{Name: "pipedrive", Settings: map[string]string{"base_url": srv.URL(), "permission_set": "Admin"}}
	c, err := Factory{}.New(t.Context(), app, deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(t.Context(), ada())
	if err != nil {
		t.Fatal(err)
	}
	if got := userOf(t, srv, a).PermissionSet; got != "Admin" {
		t.Errorf("permission_set setting not applied: %q", got)
	}
	if err := c.List(t.Context(), func(connector.Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if paced == 0 || observed == 0 {
		t.Errorf("paced %d, observed %d; want List paced and the write observed", paced, observed)
	}
	if _, ok := c.(connector.Counter); !ok {
		t.Error("the connector does not count accounts (the guard needs it)")
	}
	k, err := New(Config{CompanyDomain: "acme", Token: "tok"})
	if err != nil || k.base.String() != "https://acme.pipedrive.com/api/v1/" {
		t.Errorf("company domain → %v, %v", k, err)
	}
	if _, err := New(Config{CompanyDomain: "acme.pipedrive.com", Token: "tok"}); err == nil {
		t.Error("a full host was taken for the company domain")
	}
}
