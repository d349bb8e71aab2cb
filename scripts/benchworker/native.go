package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/connector"
	"keycard/pkg/connector/registry"
	"keycard/pkg/discord"
	"keycard/pkg/discord/discordtest"
	"keycard/pkg/fault"
	"keycard/pkg/github"
	"keycard/pkg/github/githubtest"
	"keycard/pkg/gitlab"
	"keycard/pkg/gitlab/gitlabtest"
	"keycard/pkg/google"
	"keycard/pkg/google/googletest"
	"keycard/pkg/pipedrive"
	"keycard/pkg/pipedrive/pipedrivetest"
	"keycard/pkg/ratelimit"
)

// ---------------------------------------------------------------- native

// nativeResult is what `benchworker native` prints: -events hires through
// a native connector (built by its registry Factory, as the workers build
// it) against its fake, each hire the worker's plan (create, one group or
// team) applied with connector.Apply behind the app's pacer. Unlimited
// (-rate-scale 0) the fake enforces no quota and nothing is paced; with
// -rate-scale f the fake enforces the vendor's documented limits ×f and
// the pacer is the Factory's own Pace ×f. The ledger, streams and audit
// are left out: the worker's own cost is `benchworker worker`.
type nativeResult struct {
	Type        string  `json:"type"`
	Events      int     `json:"events"`
	Concurrency int     `json:"concurrency"`
	RateScale   float64 `json:"rate_scale"`
	// PacePerMin and PaceBurst are the pacer's (scaled); 0 unpaced.
	PacePerMin int     `json:"pace_per_min"`
	PaceBurst  int     `json:"pace_burst"`
	Paced      int64   `json:"paced_requests"` // requests that waited on the pacer
	Requests   int     `json:"requests"`       // the fake's count, token requests included
	Seconds    float64 `json:"seconds"`
	HiresPerS  float64 `json:"hires_per_s"`
	// MinSeconds is the least time the pace allows for the paced
	// requests; Efficiency MinSeconds / Seconds.
	MinSeconds  float64 `json:"min_seconds"`
	Efficiency  float64 `json:"efficiency"`
	RateLimited int     `json:"rate_limited"` // the fake's quota answers
	Failed      int     `json:"failed"`
}

// nativeApp is one native app under test: its factory, settings, the
// credential, the fake's counters and the person for hire i.
type nativeApp struct {
	factory  registry.Factory
	settings map[string]string
	cred     string
	stats    func() (total, limited int)
	person   func(i int) connector.Person
	want     connector.Want
	close    func()
	env      map[string]string // variables the settings name (a delivery secret)
}

func newNativeApp(typ string, scale float64) (*nativeApp, error) {
	switch typ {
	case google.Type:
		opts := []googletest.Option{}
		if scale > 0 {
			opts = append(opts, googletest.WithRateScale(scale))
		}
		gw := googletest.New(opts...)
		if scale <= 0 {
			gw.SetQueriesPerMinute(0)
		}
		gw.AddGroup("everyone@example.com", "everyone")
		groups := map[connector.Kind][]string{connector.Group: {"everyone"}}
		return &nativeApp{factory: google.Factory{}, cred: string(gw.Key()), close: gw.Close,
			settings: map[string]string{google.SettingDomain: "example.com", google.SettingAdminEmail: "admin@example.com",
				google.SettingBaseURL: gw.URL(), google.SettingSSO: "true"},
			stats: func() (int, int) { s := gw.Requests(); return s.Total, s.RateLimited },
			person: func(i int) connector.Person {
				id := employeeID(400000, i)
				return connector.Person{EmployeeID: id, Email: "p" + id + "@example.com", UserName: "p" + id + "@example.com", GivenName: "P", FamilyName: id, DisplayName: "P " + id}
			},
			want: connector.Want{Account: true, Memberships: groups, Managed: groups}}, nil
	case github.Type:
		scaleOpt := githubtest.WithRateScale(1e6) // limits as documented, refilled at once: unlimited
		if scale > 0 {
			scaleOpt = githubtest.WithRateScale(scale)
		}
		srv := githubtest.New(scaleOpt, githubtest.WithInvitationCap(1<<30))
		srv.AddTeam("everyone")
		teams := map[connector.Kind][]string{connector.Team: {"everyone"}}
		return &nativeApp{factory: github.Factory{}, cred: srv.Token(), close: srv.Close,
			settings: map[string]string{github.SettingOrg: srv.Org(), github.SettingBaseURL: srv.URL(), github.SettingLoginField: "github"},
			stats:    func() (int, int) { s := srv.Requests(); return s.Total, s.RateLimited },
			person: func(i int) connector.Person {
				id := employeeID(400000, i)
				return connector.Person{EmployeeID: id, Email: "p" + id + "@example.com", Custom: map[string]string{"github": "user-" + id}}
			},
			want: connector.Want{Account: true, Memberships: teams, Managed: teams}}, nil
	case gitlab.Type:
		// Unlimited: the throttle off, a real instance's default. Limited:
		// the throttle at its documented default (7,200 requests an hour),
		// its window scale times shorter.
		opt := gitlabtest.WithRateLimit(0, 0)
		if scale > 0 {
			opt = gitlabtest.WithRateScale(scale)
		}
		srv := gitlabtest.New(opt)
		srv.AddGroup("acme/everyone")
		groups := map[connector.Kind][]string{connector.Group: {"acme/everyone"}}
		return &nativeApp{factory: gitlab.Factory{}, cred: srv.Token(), close: srv.Close,
			settings: map[string]string{gitlab.SettingBaseURL: srv.URL(), gitlab.SettingOrg: "acme"},
			stats:    func() (int, int) { s := srv.Requests(); return s.Total, s.RateLimited },
			person: func(i int) connector.Person {
				id := employeeID(400000, i)
				return connector.Person{EmployeeID: id, Email: "p" + id + "@example.com", UserName: "p" + id + "@example.com", GivenName: "P", FamilyName: id, DisplayName: "P " + id}
			},
			want: connector.Want{Account: true, Memberships: groups, Managed: groups}}, nil
	case pipedrive.Type:
		opts := []pipedrivetest.Option{pipedrivetest.WithDailyBudget(1 << 40)} // the budget is a day's, not a run's
		if scale > 0 {
			opts = append(opts, pipedrivetest.WithRateScale(scale)) // the burst limit as documented, its window scaled
		} else {
			opts = append(opts, pipedrivetest.WithBurstLimit(1<<30))
		}
		srv := pipedrivetest.New(opts...)
		srv.AddTeam("everyone")
		teams := map[connector.Kind][]string{connector.Team: {"everyone"}}
		return &nativeApp{factory: pipedrive.Factory{}, cred: srv.Token(), close: srv.Close,
			settings: map[string]string{pipedrive.SettingBaseURL: srv.URL()},
			stats:    func() (int, int) { s := srv.Requests(); return s.Total, s.RateLimited },
			person: func(i int) connector.Person {
				id := employeeID(400000, i)
				return connector.Person{EmployeeID: id, Email: "p" + id + "@example.com", UserName: "p" + id + "@example.com"}
			},
			want: connector.Want{Account: true, Memberships: teams, Managed: teams}}, nil
	case discord.Type:
		// A hire is an invite (POST /channels/{id}/invites) posted to a
		// Slack webhook; the roles wait for the person to join (Partial).
		scaleOpt := discordtest.WithRateScale(1e6) // per-route and global windows refilled at once: unlimited
		if scale > 0 {
			scaleOpt = discordtest.WithRateScale(scale)
		}
		srv := discordtest.New(scaleOpt)
		srv.AddRole("everyone")
		var posted atomic.Int64
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { posted.Add(1) }))
		roles := map[connector.Kind][]string{connector.Role: {"everyone"}}
		return &nativeApp{factory: discord.Factory{}, cred: srv.Token(), close: func() { hook.Close(); srv.Close() },
			settings: map[string]string{discord.SettingGuildID: srv.GuildID(), discord.SettingChannelID: srv.ChannelID(),
				discord.SettingBaseURL: srv.URL(), discord.SettingUserIDField: "discord",
				discord.SettingDelivery: discord.DeliverySlack, discord.SettingSlackWebhook: "BENCH_SLACK_WEBHOOK"},
			env:   map[string]string{"BENCH_SLACK_WEBHOOK": hook.URL + "/services/bench"},
			stats: func() (int, int) { s := srv.Requests(); return s.Total + int(posted.Load()), s.RateLimited },
			person: func(i int) connector.Person {
				id := employeeID(400000, i)
				return connector.Person{EmployeeID: id, Email: "p" + id + "@example.com", GivenName: "P", FamilyName: id, DisplayName: "P " + id}
			},
			want: connector.Want{Account: true, Memberships: roles, Managed: roles}}, nil
	}
	return nil, fmt.Errorf("-type %q: want google, github, gitlab, pipedrive or discord", typ)
}

func runNative(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("native", flag.ContinueOnError)
	typ := fs.String("type", "google", "google, github, gitlab, pipedrive or discord")
	n := fs.Int("events", 500, "hires")
	conc := fs.Int("concurrency", 16, "hires applied at once (the worker's handlers)")
	scale := fs.Float64("rate-scale", 0, "0: no limits, no pacer; f > 0: the vendor's documented limits and Keycard's pace for it, ×f")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *conc <= 0 || *scale < 0 {
		return errors.New("-events and -concurrency must be positive, -rate-scale not negative")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	na, err := newNativeApp(*typ, *scale)
	if err != nil {
		return err
	}
	defer na.close()
	res := nativeResult{Type: *typ, Events: *n, Concurrency: *conc, RateScale: *scale}
	appCfg := registry.App{Name: app, Settings: na.settings}
	var paced atomic.Int64
	pace := func(context.Context) error { paced.Add(1); return nil }
	if *scale > 0 {
		lim := na.factory.Pace(appCfg)
		lim.PerMinute = int(float64(lim.PerMinute) * *scale)
		res.PacePerMin, res.PaceBurst = lim.PerMinute, max(lim.Burst, 1)
		local := ratelimit.NewLocal(map[string]ratelimit.Limit{app: lim})
		pace = func(ctx context.Context) error { paced.Add(1); return local.Wait(ctx, app) }
	}
	conn, err := na.factory.New(ctx, appCfg, registry.Deps{Credential: na.cred, Pace: pace, Log: zerolog.Nop(),
		Getenv: func(k string) string { return na.env[k] }})
	if err != nil {
		return err
	}

	fmt.Fprintf(stderr, "%d hires through %s at concurrency %d (rate scale %g)\n", *n, *typ, *conc, *scale)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < *n; i = int(next.Add(1)) - 1 {
				if err := hire(ctx, conn, na.person(i), na.want, pace); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintf(stderr, "hire %d: %v\n", i, err)
					}
				}
			}
		})
	}
	wg.Wait()
	res.Seconds = round(time.Since(start).Seconds(), 3)
	res.Failed = int(failed.Load())
	res.Requests, res.RateLimited = na.stats()
	res.Paced = paced.Load()
	res.HiresPerS = round(float64(*n)/res.Seconds, 1)
	if res.PacePerMin > 0 {
		res.MinSeconds = round(max(0, float64(res.Paced-int64(res.PaceBurst)))*60/float64(res.PacePerMin), 3)
		res.Efficiency = round(res.MinSeconds/res.Seconds, 3)
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d of %d hires failed", res.Failed, *n)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// hire is the worker's apply step for one joiner: find, plan, apply at
// the pace (retrying what the vendor throttled, as the worker's retry
// would).
func hire(ctx context.Context, c connector.Connector, p connector.Person, want connector.Want, pace func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cur, err := c.Find(ctx, p)
		if err == nil {
			_, _, err = connector.Apply(ctx, c, cur, p, connector.Plan(cur, want, p), pace)
		}
		if fault.IsPartial(err) {
			err = nil // applied, with a warning, as the worker records it
		}
		if err == nil || attempt == 5 || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
