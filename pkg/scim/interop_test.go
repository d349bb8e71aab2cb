package scim_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/scim"
)

// scimmyDir holds the third-party SCIM server the interop test runs:
// SCIMMY with scimmy-routers behind a few lines of storage glue
// (server.js; versions pinned in package-lock.json).
const scimmyDir = "interop/scimmy"

// scimmy is a running server.js.
type scimmy struct {
	url, token string
}

// startSCIMMY runs `node server.js` on a free loopback port and stops it
// when the test ends. Without node or the installed packages the test is
// skipped, unless KEYCARD_REQUIRE_INTEROP=1 (scripts/test.sh sets it) makes
// that a failure.
func startSCIMMY(t *testing.T, args ...string) scimmy {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		msg := "interop test against SCIMMY not run: " + why + " (scripts/test.sh installs it: npm ci in pkg/scim/" + scimmyDir + ")"
		if os.Getenv("KEYCARD_REQUIRE_INTEROP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(scimmyDir, "node_modules", "scimmy", "package.json")); err != nil {
		missing("its node_modules are not installed")
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{"server.js"}, args...)...)
	cmd.Dir = scimmyDir
	cmd.Env = append(os.Environ(), "SCIM_TOKEN="+token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second // then killed
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node server.js: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- addr
			}
		}
	}()
	select {
	case addr := <-ready:
		return scimmy{url: "http://" + addr + "/scim/v2", token: token}
	case <-exited:
		t.Fatalf("server.js exited before listening: %v: %s", waitErr, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("server.js not listening after 20 s: %s", stderr.String())
	}
	panic("unreachable")
}

// client is a generic-profile client for the server, narrowed by the
// start-up discovery the worker runs (discover in services/worker) when
// discovered is set.
func (s scimmy) client(t *testing.T, discovered bool) *scim.Client {
	t.Helper()
	cfg := scim.Config{BaseURL: s.url, Token: s.token, Timeout: 10 * time.Second}
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !discovered {
		return c
	}
	ctx := context.Background()
	spc, err := c.ServiceProviderConfig(ctx)
	if err != nil {
		t.Fatalf("ServiceProviderConfig: %v", err)
	}
	du, err := c.DiscoverUser(ctx)
	if err != nil {
		t.Fatalf("DiscoverUser: %v", err)
	}
	cfg.Profile = scim.Generic().WithDiscovery(spc).WithDeclaredUser(du)
	if c, err = scim.New(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// The SCIM client and connector against a SCIM server not written here.
// SCIMMY differs from scimtest where it matters: its PATCH reads the
// resource with the request's attributes/excludedAttributes applied and
// writes the result back whole, and without the enterprise extension it
// answers a PATCH into it with 400 invalidPath (a POST carrying it is
// stored without it).
func TestInteropSCIMMY(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		discovered bool
		wantDept   bool // the server stores the department
	}{
		{"no enterprise extension, discovered", nil, true, false},
		{"no enterprise extension, undiscovered", nil, false, false},
		{"enterprise extension", []string{"--enterprise"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startSCIMMY(t, tt.args...)
			c := srv.client(t, tt.discovered)
			if got := c.Profile().Accepts.Has(scim.AttrDepartment); tt.discovered && got != tt.wantDept {
				t.Fatalf("discovered profile takes department: %v, want %v", got, tt.wantDept)
			}
			interopLifecycle(t, c, tt.wantDept)
		})
	}
}

func interopLifecycle(t *testing.T, c *scim.Client, wantDept bool) {
	ctx := context.Background()
	// As the worker builds it: group additions coalesced behind a pace,
	// here one write at a time 5 ms apart, so the joiners below share
	// PATCHes of many members each.
	var paceMu sync.Mutex
	pace := func(ctx context.Context) error {
		paceMu.Lock()
		defer paceMu.Unlock()
		time.Sleep(5 * time.Millisecond)
		return ctx.Err()
	}
	k := scim.NewConnector(c, scim.Coalesce(pace))
	noWait := func(context.Context) error { return nil }
	person := func(i int) connector.Person {
		mail := fmt.Sprintf("person%02d@example.com", i)
		return connector.Person{EmployeeID: fmt.Sprint(1000 + i), UserName: mail, Email: mail, GivenName: "P",
			FamilyName: fmt.Sprint(i), DisplayName: fmt.Sprintf("P %d", i), Title: "Engineer", Department: "Engineering"}
	}
	// converge plans and applies as the worker does; a partial step (an
	// attribute refused) is allowed, a failure is not.
	converge := func(step string, p *connector.Person, want connector.Want) error {
		t.Helper()
		cur, err := k.Find(ctx, *p)
		if err != nil {
			t.Fatalf("%s: find: %v", step, err)
		}
		cur, _, err = connector.Apply(ctx, k, cur, *p, connector.Plan(cur, want, *p), noWait)
		if err != nil && !fault.IsPartial(err) {
			t.Fatalf("%s: a failure would dead-letter the event: %v", step, err)
		}
		if cur != nil && cur.ID != "" {
			p.AccountID = cur.ID
		}
		return err
	}
	active := connector.Want{Account: true}

	// Create, then adopt on the 409 of a second create.
	ada := person(0)
	if err := converge("hire", &ada, active); err != nil && wantDept {
		t.Fatalf("hire with the extension declared: %v", err)
	}
	again, err := k.Create(ctx, ada)
	if err != nil && !fault.IsPartial(err) || again.ID != ada.AccountID {
		t.Fatalf("second create = %+v, %v; want the account %s adopted", again, err, ada.AccountID)
	}
	// Found by externalId, and by e-mail alone.
	for _, p := range []connector.Person{{EmployeeID: ada.EmployeeID}, {Email: ada.Email}} {
		if got, err := k.Find(ctx, p); err != nil || got == nil || got.ID != ada.AccountID {
			t.Fatalf("find %+v = %+v, %v", p, got, err)
		}
	}
	// Attributes; deactivate and reactivate.
	ada.Title, ada.FamilyName = "Lead", "Lovelace"
	if err := converge("update", &ada, active); err != nil && wantDept {
		t.Fatalf("update: %v", err)
	}
	if u, err := c.GetUser(ctx, ada.AccountID); err != nil || u.Title != "Lead" || u.Name == nil || u.Name.FamilyName != "Lovelace" {
		t.Fatalf("after update: %+v, %v", u, err)
	}
	for _, on := range []bool{false, true} {
		if err := k.SetActive(ctx, connector.Account{ID: ada.AccountID}, on); err != nil {
			t.Fatalf("set active %v: %v", on, err)
		}
		if u, err := c.GetUser(ctx, ada.AccountID); err != nil || u.Active != on {
			t.Fatalf("after set active %v: active %v, %v", on, u.Active, err)
		}
	}

	// 20 joiners, each added to two groups at once: every one in both.
	joiners := make([]connector.Person, 20)
	var wg sync.WaitGroup
	errs := make(chan error, len(joiners))
	for i := range joiners {
		joiners[i] = person(i + 1)
		wg.Go(func() {
			errs <- converge("join", &joiners[i], connector.Want{Account: true,
				Memberships: map[connector.Kind][]string{connector.Group: {"eng", "everyone"}}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && wantDept {
			t.Fatalf("join: %v", err)
		}
	}
	var all []string
	for _, p := range joiners {
		all = append(all, p.AccountID)
	}
	slices.Sort(all)
	members := func(name string) []string {
		t.Helper()
		gs, err := c.FindGroups(ctx, scim.Eq("displayName", name))
		if err != nil || len(gs) != 1 {
			t.Fatalf("find group %s: %+v, %v", name, gs, err)
		}
		g, err := c.GetGroup(ctx, gs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range g.Members {
			ids = append(ids, m.Value)
		}
		// SCIMMY stores a member added twice twice (RFC 7644 §3.5.2.1
		// says no change SHOULD be made); Keycard's guarantee is that no
		// member is lost, so members compare as a set.
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	for _, g := range []string{"eng", "everyone"} {
		if got := members(g); !slices.Equal(got, all) {
			t.Fatalf("%s has %d members, want all %d joiners: %v", g, len(got), len(all), got)
		}
	}
	// A fresh connector (a restarted worker) finds the groups by name
	// instead of making them again.
	k2 := scim.NewConnector(c, scim.Coalesce(pace))
	if err := k2.AddMembership(ctx, connector.Account{ID: all[0]}, connector.Group, "eng"); err != nil {
		t.Fatal(err)
	}
	if gs, _ := c.FindGroups(ctx, scim.Filter{}); len(gs) != 2 {
		t.Fatalf("%d groups, want eng and everyone only", len(gs))
	}
	if got := members("eng"); !slices.Equal(got, all) {
		t.Fatalf("eng after a repeated add: %v", got)
	}

	// A mover: department and title change, out of eng. Not a failure,
	// whether or not the server takes the department.
	mover := &joiners[0]
	mover.Department, mover.Title = "Sales", "Account Executive"
	err = converge("move", mover, connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Group: {"everyone"}},
		Managed: map[connector.Kind][]string{connector.Group: {"eng", "everyone"}}})
	if wantDept && err != nil {
		t.Fatalf("move with the extension declared: %v", err)
	}
	u, err := c.GetUser(ctx, mover.AccountID)
	if err != nil || u.Title != "Account Executive" {
		t.Fatalf("mover: %+v, %v; want the new title", u, err)
	}
	if dept := u.Enterprise != nil && u.Enterprise.Department == "Sales"; dept != wantDept {
		t.Fatalf("mover's department stored: %v, want %v (%+v)", dept, wantDept, u.Enterprise)
	}
	// SCIMMY reports no groups on a user, so the plan cannot see the eng
	// membership to remove: remove members directly.
	for _, p := range joiners[:5] {
		if err := k.RemoveMembership(ctx, connector.Account{ID: p.AccountID}, connector.Group, "eng"); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	var stay []string
	for _, p := range joiners[5:] {
		stay = append(stay, p.AccountID)
	}
	slices.Sort(stay)
	if got := members("eng"); !slices.Equal(got, stay) {
		t.Fatalf("eng after removing 5: %v, want %v", got, stay)
	}
	if got := members("everyone"); len(got) != 20 {
		t.Fatalf("everyone after removals from eng: %d members, want 20", len(got))
	}
}

// The control: this server really loses members when a group PATCH asks
// for excludedAttributes=members, as Keycard's client once did. Without
// it the same PATCH keeps them.
func TestInteropSCIMMYExcludedAttributesLosesMembers(t *testing.T) {
	t.Parallel()
	srv := startSCIMMY(t)
	c := srv.client(t, false)
	ctx := context.Background()
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		u, err := c.CreateUser(ctx, scim.User{UserName: n + "@example.com", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g, err := c.CreateGroup(ctx, scim.Group{DisplayName: "g", Members: []scim.Member{{Value: ids[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	patch := func(query, member string) {
		t.Helper()
		body := `{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + member + `"}]}]}`
		req, _ := http.NewRequest(http.MethodPatch, srv.url+"/Groups/"+g.ID+query, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", scim.ContentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("PATCH%s: %s", query, resp.Status)
		}
	}
	count := func() int {
		t.Helper()
		got, err := c.GetGroup(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(got.Members)
	}
	if patch("", ids[1]); count() != 2 {
		t.Fatalf("plain PATCH: %d members, want 2", count())
	}
	if patch("?excludedAttributes=members", ids[2]); count() != 1 {
		t.Fatalf("PATCH with excludedAttributes=members: %d members; SCIMMY used to keep only the added one", count())
	}
	if err := c.PatchGroupMembers(ctx, g.ID, []string{ids[0], ids[1]}, nil); err != nil || count() != 3 {
		t.Fatalf("the client's PATCH: %d members, %v; want all 3", count(), err)
	}
}
