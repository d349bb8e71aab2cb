package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/event"
	"keycard/pkg/normalize"
	"keycard/pkg/ratelimit"
	"keycard/pkg/reconcile"
	"keycard/pkg/scim"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/worker"
)

// ---------------------------------------------------------------- reconcile

// reconcileResult is what `benchworker reconcile` prints: one reconcile of
// an app holding -people accounts against as many people in the employees
// bucket, with 1% leavers whose account is active and 1% orphans planted.
// The app is the SCIM test server with -profile's quirks: slack (a page of
// 1,000; reads not counted, so unpaced and the server unlimited) or asana
// (a page of 100; every request counts against 1,500/min, which the server
// enforces and Keycard paces reads at, as the worker would).
type reconcileResult struct {
	People   int `json:"people"`
	Accounts int `json:"accounts"`
	PageSize int `json:"page_size"`
	// Requests the app answered during the run; MinReads is the fewest
	// the page size allows (one per page); ReadRatio their quotient.
	Requests  int     `json:"requests"`
	MinReads  int     `json:"min_reads"`
	ReadRatio float64 `json:"read_ratio"`
	Profile   string  `json:"profile"`
	// ReadsPerMin is the pace the reads waited on; 0 unpaced. LeastSeconds
	// is the least time that pace allows for MinReads; RateLimited the
	// server's 429s.
	ReadsPerMin  int     `json:"reads_per_min"`
	LeastSeconds float64 `json:"least_seconds"`
	RateLimited  int     `json:"rate_limited"`
	// Seconds for the whole run (read HR and Keycard's ids, list,
	// compare), and for the list and compare alone (Report.Took).
	Seconds        float64        `json:"seconds"`
	CompareSeconds float64        `json:"compare_seconds"`
	Counts         map[string]int `json:"counts"`
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	var c common
	c.register(fs)
	people := fs.Int("people", 10000, "people in HR and accounts in the app")
	profile := fs.String("profile", "slack", "the app: slack (reads not counted) or asana (reads paced at its documented limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *people <= 0 {
		return errors.New("-people must be positive")
	}
	quirks, ok := map[string]func() scimtest.Quirks{"slack": scimtest.Slack, "asana": scimtest.Asana}[*profile]
	prof, known := scim.ProfileByName(*profile)
	if !ok || !known {
		return fmt.Errorf("-profile %q: want slack or asana", *profile)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, js, _, closeAll, err := c.setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()

	srv := scimtest.New(quirks())
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	fmt.Fprintf(stderr, "seeding %d people, their accounts and Keycard's account ids\n", *people)
	if err := seedReconcile(ctx, js, srv, *people); err != nil {
		return err
	}

	// The pace the worker would take (the profile's documented limit);
	// the client waits on it only where the vendor counts reads.
	limit := scim.Factory{}.Pace(registry.App{Name: app, Settings: map[string]string{scim.SettingProfile: prof.Name}})
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{app: limit})
	pace := func(ctx context.Context) error { return lim.Wait(ctx, app) }
	readsPerMin := 0
	if prof.RateLimit.Reads {
		readsPerMin = limit.PerMinute
	} else {
		srv.SetLimits() // reads are not counted: the server only limits writes, and this run writes nothing
	}
	client, err := scim.New(scim.Config{BaseURL: hs.URL, Token: srv.Token(), Profile: prof, Pace: pace})
	if err != nil {
		return err
	}
	groups := map[connector.Kind][]string{connector.Group: {"everyone"}}
	before := srv.Requests().Total
	start := time.Now()
	rep, err := reconcile.Run{JS: js, App: app, Connector: scim.NewConnector(client),
		Evaluate: func(e event.Employee) (connector.Want, []string, []string) {
			if e.Status != event.StatusActive {
				return connector.Want{Managed: groups}, nil, nil
			}
			return connector.Want{Account: true, Memberships: groups, Managed: groups}, []string{"bench"}, nil
		}}.Run(ctx)
	if err != nil {
		return err
	}
	res := reconcileResult{People: *people, Accounts: rep.Accounts, PageSize: cmp.Or(prof.MaxPageSize, scim.DefaultPageSize),
		Profile: prof.Name, ReadsPerMin: readsPerMin, RateLimited: srv.Requests().RateLimited,
		Requests: srv.Requests().Total - before, Seconds: round(time.Since(start).Seconds(), 3),
		CompareSeconds: round(rep.Took.Seconds(), 3), Counts: map[string]int{}}
	res.MinReads = (rep.Accounts + res.PageSize - 1) / res.PageSize
	res.ReadRatio = round(float64(res.Requests)/float64(max(res.MinReads, 1)), 3)
	if readsPerMin > 0 { // the first read takes the burst, each later one waits its interval
		res.LeastSeconds = round(float64(res.MinReads-limit.Burst)*60/float64(readsPerMin), 3)
	}
	for cls, n := range rep.Counts {
		res.Counts[string(cls)] = n
	}
	if want := *people / 100; rep.Counts[reconcile.LeaverActive] != want || rep.Counts[reconcile.Orphan] != want {
		return fmt.Errorf("found %d leavers with access and %d orphans, planted %d of each", rep.Counts[reconcile.LeaverActive], rep.Counts[reconcile.Orphan], want)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// seedReconcile fills HR (the employees bucket), the app (active users in
// group everyone, created by Keycard: external id = HR id) and Keycard's
// account ids. Every hundredth person has left HR but kept the account;
// every hundredth account belongs to nobody.
func seedReconcile(ctx context.Context, js jetstream.JetStream, srv *scimtest.Server, n int) error {
	employees, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: normalize.Bucket})
	if err != nil {
		return err
	}
	accounts, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: worker.AccountsBucket})
	if err != nil {
		return err
	}
	var members []string
	for i := range n {
		id := employeeID(300000, i)
		email := "p" + id + "@example.com"
		status := event.StatusActive
		if i%100 == 1 {
			status = event.StatusInactive
		}
		snap := normalize.Snapshot{Sequence: 1, Employee: event.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: email,
			Status: status, HireDate: "2020-01-01", TimeZone: "UTC"}}
		data, _ := json.Marshal(snap)
		if _, err := employees.Put(ctx, event.EmployeeKey(id), data); err != nil {
			return err
		}
		u := scimtest.User{ExternalID: id, UserName: email, Active: true, Emails: []scimtest.Email{{Value: email, Primary: true}}}
		if i%100 == 2 {
			u = scimtest.User{UserName: "stranger" + id + "@example.com", Active: true} // nobody in HR
		}
		u = srv.Seed(u)
		members = append(members, u.ID)
		if u.ExternalID != "" {
			if _, err := accounts.PutString(ctx, worker.AccountKey(app, id), u.ID); err != nil {
				return err
			}
		}
	}
	srv.SeedGroup(scimtest.Group{DisplayName: "everyone", Members: members})
	return nil
}
