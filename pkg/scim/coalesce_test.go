package scim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/scim/scimtest"
)

// slowPace hands out one token every interval, like a paced app whose
// budget is the bottleneck, and counts the tokens taken.
type slowPace struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
	taken int
}

func (p *slowPace) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.taken++
	p.mu.Unlock()
	select {
	case <-time.After(at.Sub(now)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *slowPace) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken
}

// hire converges one joiner through Find, Plan and Apply, pacing the
// steps the connector leaves to the worker with pace.
func hire(ctx context.Context, k *Connector, p connector.Person, groups []string, pace func(context.Context) error) error {
	want := connector.Want{Account: true, Memberships: map[connector.Kind][]string{connector.Group: groups},
		Managed: map[connector.Kind][]string{connector.Group: groups}}
	cur, err := k.Find(ctx, p)
	if err != nil {
		return err
	}
	_, _, err = connector.Apply(ctx, k, cur, p, connector.Plan(cur, want, p), pace)
	return err
}

func joiner(i int) connector.Person {
	email := fmt.Sprintf("joiner%03d@example.com", i)
	return connector.Person{EmployeeID: fmt.Sprint(2000 + i), Email: email, UserName: email,
		GivenName: "Joiner", FamilyName: fmt.Sprint(i), DisplayName: fmt.Sprint("Joiner ", i)}
}

// Joiners entering the same groups at a slow pace share PATCHes: far
// fewer group writes than memberships, every member present, and every
// write took a token of the one pace.
func TestCoalescedGroupAdds(t *testing.T) {
	t.Parallel()
	const joiners = 40
	groups := []string{"everyone", "eng", "vpn"}
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	srv.SetLimits()
	for _, g := range groups {
		srv.SeedGroup(scimtest.Group{DisplayName: g})
	}
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Slack(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	pace := &slowPace{every: 5 * time.Millisecond}
	k := NewConnector(c, Coalesce(pace.wait))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, joiners)
	for i := range joiners {
		wg.Go(func() { errs <- hire(ctx, k, joiner(i), groups, pace.wait) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range srv.Groups() {
		if len(g.Members) != joiners {
			t.Errorf("group %s has %d members, want %d", g.DisplayName, len(g.Members), joiners)
		}
	}
	st := srv.Requests()
	patches, creates := st.ByRoute["PATCH /Groups/{id}"], st.ByRoute["POST /Users"]
	if creates != joiners {
		t.Errorf("%d user creates, want %d", creates, joiners)
	}
	if patches > joiners*len(groups)/3 {
		t.Errorf("%d group PATCHes for %d memberships: not coalesced", patches, joiners*len(groups))
	}
	if got, want := pace.count(), creates+patches; got != want {
		t.Errorf("%d pace tokens taken for %d writes: every write (and only a write) takes one", got, want)
	}
	t.Logf("%d joiners × %d groups: %d creates + %d group PATCHes = %.2f writes per joiner",
		joiners, len(groups), creates, patches, float64(creates+patches)/joiners)
}

// A member the vendor refuses fails alone: the batch it was in is
// written again member by member, and the others get their group.
func TestCoalescedBadMemberFailsAlone(t *testing.T) {
	t.Parallel()
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	srv.SetLimits()
	g := srv.SeedGroup(scimtest.Group{DisplayName: "everyone"})
	var good []string
	for i := range 5 {
		good = append(good, srv.Seed(scimtest.User{UserName: fmt.Sprintf("u%d@example.com", i), Active: true}).ID)
	}
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Slack(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	// A slow first token lets every addition join one batch.
	gate := make(chan struct{})
	var once sync.Once
	pace := func(ctx context.Context) error {
		once.Do(func() { <-gate })
		return nil
	}
	k := NewConnector(c, Coalesce(pace))
	ctx := context.Background()
	ids := append([]string{"no-such-user"}, good...)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = k.AddMembership(ctx, connector.Account{ID: id}, connector.Group, "everyone")
		})
	}
	time.Sleep(50 * time.Millisecond) // all queued behind the held token
	close(gate)
	wg.Wait()
	if !fault.IsPermanent(errs[0]) {
		t.Errorf("the unknown member: %v, want a permanent error", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("member %s: %v, want added", good[i], err)
		}
	}
	for _, grp := range srv.Groups() {
		if grp.ID == g.ID && len(grp.Members) != len(good) {
			t.Errorf("everyone has %v, want the %d good members", grp.Members, len(good))
		}
	}
}

// A caller that gives up does not stop the batch for the others, and its
// own addition still lands (idempotent: its retry finds it).
func TestCoalescedCallerGivesUp(t *testing.T) {
	t.Parallel()
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	srv.SetLimits()
	srv.SeedGroup(scimtest.Group{DisplayName: "everyone"})
	a := srv.Seed(scimtest.User{UserName: "a@example.com", Active: true}).ID
	b := srv.Seed(scimtest.User{UserName: "b@example.com", Active: true}).ID
	c, err := New(Config{BaseURL: srv.URL(), Token: srv.Token(), Profile: Slack(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	k := NewConnector(c, Coalesce(func(ctx context.Context) error { <-gate; return nil }))
	short, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- k.AddMembership(short, connector.Account{ID: a}, connector.Group, "everyone") }()
	done := make(chan error, 1)
	go func() {
		done <- k.AddMembership(context.Background(), connector.Account{ID: b}, connector.Group, "everyone")
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-gaveUp; err == nil {
		t.Error("a cancelled caller got no error")
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, g := range srv.Groups() {
		if len(g.Members) != 2 {
			t.Errorf("everyone has %v, want both members", g.Members)
		}
	}
}
