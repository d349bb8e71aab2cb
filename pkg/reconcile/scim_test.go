package reconcile

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/ratelimit"
	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
)

// Reconciling 5,000 Asana accounts (every request counts against its
// 1,500/min, which the test server enforces, scaled ×100 so the run takes
// a second) waits on the app's pace before every read, and so draws no
// 429; it reads one page per 100 accounts and nothing else.
func TestReconcileOf5000AccountsStaysWithinTheReadPace(t *testing.T) {
	const n, scale = 5000, 100
	srv := scimtest.New(scimtest.Asana(), scimtest.WithRateScale(scale))
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	var people []normalize.Snapshot
	for i := range n {
		id := fmt.Sprint(100000 + i)
		email := "p" + id + "@example.com"
		srv.Seed(scimtest.User{ExternalID: id, UserName: email, Active: true, Emails: []scimtest.Email{{Value: email, Primary: true}}})
		people = append(people, normalize.Snapshot{Sequence: 1, Employee: event.Employee{ID: id, WorkEmail: email, Status: event.StatusActive, HireDate: "2020-01-01"}})
	}
	limit := scim.Factory{}.Pace(registry.App{Settings: map[string]string{scim.SettingProfile: "asana"}})
	limit.PerMinute *= scale
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{"asana": limit})
	var paced atomic.Int64
	client, err := scim.New(scim.Config{BaseURL: hs.URL, Token: srv.Token(), Profile: scim.Asana(), Pace: func(ctx context.Context) error {
		paced.Add(1)
		return lim.Wait(ctx, "asana")
	}})
	if err != nil {
		t.Fatal(err)
	}
	accountOnly := func(event.Employee) (connector.Want, []string, []string) {
		return connector.Want{Account: true}, nil, nil
	}
	rep, err := Compare(context.Background(), Input{App: "asana", People: people, Evaluate: accountOnly, List: scim.NewConnector(client).List})
	if err != nil {
		t.Fatal(err)
	}
	stats := srv.Requests()
	if rep.Accounts != n || rep.Drift() != 0 {
		t.Fatalf("listed %d accounts, drift %v; want %d in line", rep.Accounts, rep.Counts, n)
	}
	if pages := n / scim.DefaultPageSize; stats.Total != pages || int(paced.Load()) != stats.Total || stats.RateLimited != 0 {
		t.Fatalf("%d requests (%d paced, %d answered 429); want %d pages, each paced, none refused", stats.Total, paced.Load(), stats.RateLimited, pages)
	}
}
