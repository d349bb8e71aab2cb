package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycard/pkg/policy"
	"keycard/pkg/scim"
)

// What apps check found for an app.
const (
	appOK        = "ok"        // the connector reached the app with its credential
	appError     = "error"     // the credential is set, and the check failed
	appSimulated = "simulated" // the worker runs it dry-run in memory: nothing to reach
)

// appCheck is one app's line of `apps check`.
type appCheck struct {
	App  string `json:"app"`
	Type string `json:"type"` // scim/<profile>, or the app type
	Mode string `json:"mode"` // as configured: apply or dry-run
	// CredentialEnv names the variable holding the credential ("" when
	// the app names none); CredentialSet says whether it is set. The value
	// is only used to connect, never printed.
	CredentialEnv string `json:"credential_env,omitempty"`
	CredentialSet bool   `json:"credential_set"`
	Status        string `json:"status"`
	// Users is the provider's user count; null when not read.
	Users *int `json:"users"`
	// Patch is whether the provider says it supports PATCH; null when not
	// read or not served.
	Patch  *bool  `json:"patch"`
	Detail string `json:"detail,omitempty"`
}

// credential is the CREDENTIAL column: $VAR set, $VAR unset, or -.
func (r appCheck) credential() string {
	switch {
	case r.CredentialEnv == "":
		return "-"
	case r.CredentialSet:
		return "$" + r.CredentialEnv + " set"
	}
	return "$" + r.CredentialEnv + " unset"
}

// appsCheck reads every configured app with its credential, the way the
// worker would connect, and says which are reachable. It only reads:
// GET /ServiceProviderConfig and one user of GET /Users per SCIM app.
func (c *cli) appsCheck(ctx context.Context, g globals, args []string) error {
	var configPath string
	var asJSON bool
	fs := c.newFlagSet("apps check", "apps check [--config FILE] [--json]", &g)
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file naming the apps (env KEYCARD_CONFIG)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per app")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("apps check: unexpected argument %q", pos[0])
	}
	if configPath == "" {
		return usageErrorf("apps check: no configuration: pass --config FILE or set %s", envConfig)
	}
	if g.timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	cfg, err := policy.Load(configPath)
	if err != nil {
		for _, e := range problems(err) {
			fmt.Fprintln(c.stderr, e)
		}
		return errReported
	}

	// Each app on its own, each bounded by --timeout: one slow vendor
	// does not hold up the others.
	checks := make([]appCheck, len(cfg.Apps))
	var wg sync.WaitGroup
	for i, a := range cfg.Apps {
		wg.Go(func() { checks[i] = c.probeApp(ctx, a, g.timeout) })
	}
	wg.Wait()

	var ok, failing, simulated int
	for _, r := range checks {
		switch r.Status {
		case appOK:
			ok++
		case appError:
			failing++
		default:
			simulated++
		}
	}
	summary := fmt.Sprintf("%s reachable, %d failing, %d simulated", plural(ok, "app"), failing, simulated)
	if asJSON {
		if err := jsonLines(c.stdout, checks); err != nil {
			return err
		}
		fmt.Fprintln(c.stderr, summary)
	} else {
		t := newTable(c.stdout, "APP", "TYPE", "MODE", "CREDENTIAL", "STATUS", "USERS", "PATCH", "DETAIL")
		for _, r := range checks {
			users := "-"
			if r.Users != nil {
				users = strconv.Itoa(*r.Users)
			}
			patch := "-"
			if r.Patch != nil {
				patch = yesNo(*r.Patch)
			}
			t.row(r.App, r.Type, r.Mode, r.credential(), r.Status, users, patch, truncate(r.Detail, 2*errorWidth))
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, summary)
	}
	if failing > 0 {
		return errReported
	}
	return nil
}

// probeApp checks one app. A SCIM app whose token is set is read as the
// worker would connect to it; every other app is simulated by the worker,
// so there is nothing to reach.
func (c *cli) probeApp(ctx context.Context, a policy.App, timeout time.Duration) appCheck {
	r := appCheck{App: a.Name, Type: a.Type, Mode: a.Mode, CredentialEnv: a.Credential()}
	token := ""
	if r.CredentialEnv != "" {
		token = c.getenv(r.CredentialEnv)
		r.CredentialSet = token != ""
	}
	switch a.Type {
	case policy.TypeSCIM:
	case policy.TypeDryRun:
		r.Status, r.Detail = appSimulated, "dryrun type: plans only, in memory"
		return r
	default:
		r.Status, r.Detail = appSimulated, "no connector yet: runs dry-run in memory"
		return r
	}

	cfg, cfgErr := a.SCIMConfig(token)
	r.Type += "/" + strings.ToLower(cmp.Or(a.Profile, scim.Generic().Name)) // profile names are lower case
	detail := func(err error) string {
		s := strings.TrimPrefix(err.Error(), "app "+a.Name+": ")
		if token != "" {
			s = strings.ReplaceAll(s, token, "[redacted]") // scim errors never carry it; make sure
		}
		return s
	}
	if token == "" {
		r.Status = appSimulated
		if r.CredentialEnv == "" {
			r.Detail = "no token_env: runs dry-run in memory"
		} else {
			r.Detail = "set $" + r.CredentialEnv + " to connect"
		}
		if cfgErr != nil {
			r.Detail += "; also " + detail(cfgErr)
		}
		return r
	}
	fail := func(err error) appCheck {
		r.Status, r.Detail = appError, detail(err)
		return r
	}
	if cfgErr != nil {
		return fail(cfgErr)
	}
	cfg.Timeout = timeout
	client, err := scim.New(cfg)
	if err != nil {
		return fail(err)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	late := func(err error) error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return err
	}
	var notes []string
	spc, err := client.ServiceProviderConfig(ctx)
	switch {
	case err == nil:
		r.Patch = &spc.PatchSupported
		if n := patchNote(cfg.Profile, spc); n != "" {
			notes = append(notes, n)
		}
	case notServed(err):
		// Optional for many vendors: the profile decides, as in the worker.
		notes = append(notes, fmt.Sprintf("no ServiceProviderConfig served: the %s profile's PATCH (%s) applies",
			cfg.Profile.Name, yesNo(cfg.Profile.Patch)))
	default:
		return fail(late(err))
	}
	n, err := client.CountUsers(ctx)
	if err != nil {
		return fail(late(err))
	}
	r.Users = &n
	r.Status, r.Detail = appOK, strings.Join(notes, "; ")
	return r
}

// patchNote says how the worker will update when that is not PATCH as
// the server reported: the generic profile follows the server, a vendor
// profile its documentation.
func patchNote(p scim.Profile, spc scim.ServiceProviderConfig) string {
	if p.Name == scim.Generic().Name {
		p = p.WithDiscovery(spc)
	}
	switch {
	case !p.Patch:
		return "updates read the resource and PUT it back (no PATCH)"
	case !spc.PatchSupported:
		return fmt.Sprintf("server reports no PATCH; the %s profile uses it", p.Name)
	}
	return ""
}

// notServed reports whether err is the server not having the endpoint
// (404, 405, 501), rather than refusing the token or failing.
func notServed(err error) bool {
	e, ok := errors.AsType[*scim.Error](err)
	return ok && (e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusNotImplemented)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
