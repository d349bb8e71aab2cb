package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/circuit"
	"keycard/pkg/policy"
	"keycard/pkg/redact"
)

// What apps check found for an app.
const (
	appOK        = "ok"        // the connector reached the app with its credential
	appError     = "error"     // the credential is set, and the check failed
	appSimulated = "simulated" // the worker runs it dry-run in memory: nothing to reach
	appPaused    = "paused"    // its circuit is open: the workers do not pull its events
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
	// Circuit is the app's circuit as the workers share it; null when
	// NATS could not be read.
	Circuit *circuit.State `json:"circuit"`
}

// circuitCell is the CIRCUIT column: closed, paused (reason) or - when
// unknown.
func (r appCheck) circuitCell() string {
	switch {
	case r.Circuit == nil:
		return "-"
	case r.Circuit.Open:
		return "paused (" + string(r.Circuit.Reason) + ")"
	}
	return "closed"
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
	cfg, err := c.loadPolicy(configPath)
	if err != nil {
		return err
	}

	// Each app on its own, each bounded by --timeout: one slow vendor
	// does not hold up the others.
	apps := policy.ByTier(cfg.Apps) // critical first, as every report lists them
	checks := make([]appCheck, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Go(func() { checks[i] = c.probeApp(ctx, a, g.timeout) })
	}
	var circuits map[string]circuit.State
	wg.Go(func() { circuits = c.circuits(ctx, g, cfg.Apps) })
	wg.Wait()

	var ok, failing, paused, simulated int
	for i := range checks {
		r := &checks[i]
		if st, known := circuits[r.App]; known {
			r.Circuit = &st
			if st.Open {
				detail := fmt.Sprintf("since %s: %s", st.Since.UTC().Format(time.RFC3339), st.Cause)
				if st.Probes > 0 {
					detail += fmt.Sprintf("; %d probes failed", st.Probes)
				}
				if r.Status == appOK {
					detail = "reachable again: provctl apps resume " + r.App + "; " + detail
				}
				r.Status, r.Detail = appPaused, detail
			}
		}
		switch r.Status {
		case appOK:
			ok++
		case appError:
			failing++
		case appPaused:
			paused++
		default:
			simulated++
		}
	}
	summary := fmt.Sprintf("%s reachable, %d failing, %d simulated", plural(ok, "app"), failing, simulated)
	if paused > 0 {
		summary += fmt.Sprintf(", %d paused", paused)
	}
	if asJSON {
		if err := jsonLines(c.stdout, checks); err != nil {
			return err
		}
		fmt.Fprintln(c.stderr, summary)
	} else {
		t := newTable(c.stdout, "APP", "TYPE", "MODE", "CREDENTIAL", "STATUS", "CIRCUIT", "USERS", "PATCH", "DETAIL")
		for _, r := range checks {
			users := "-"
			if r.Users != nil {
				users = strconv.Itoa(*r.Users)
			}
			patch := "-"
			if r.Patch != nil {
				patch = yesNo(*r.Patch)
			}
			t.row(r.App, r.Type, r.Mode, r.credential(), r.Status, r.circuitCell(), users, patch, truncate(r.Detail, 2*errorWidth))
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, summary)
	}
	if failing+paused > 0 {
		return errReported
	}
	return nil
}

// probeApp checks one app with its type's read-only probe. An app whose
// credential is unset, or of a type without a connector yet, is simulated
// by the worker, so there is nothing to reach.
func (c *cli) probeApp(ctx context.Context, a policy.App, timeout time.Duration) appCheck {
	r := appCheck{App: a.Name, Type: a.Type, Mode: a.Mode, CredentialEnv: a.Credential()}
	token := ""
	if r.CredentialEnv != "" {
		token = c.getenv(r.CredentialEnv)
		r.CredentialSet = token != ""
	}
	f, ok := c.types.Lookup(a.Type)
	if !ok { // loadPolicy checked the file against the same registry
		r.Status, r.Detail = appError, fmt.Sprintf("no connector type %q", a.Type)
		return r
	}
	p := f.Probe(ctx, a.Connector(), token, timeout)
	r.Type = p.Label
	detail := func(err error) string {
		return redact.Secret(err.Error(), token) // connector errors never carry it; make sure
	}
	switch {
	case p.Simulated != "":
		r.Status, r.Detail = appSimulated, p.Simulated
	case token == "":
		r.Status = appSimulated
		if r.CredentialEnv == "" {
			r.Detail = "no token_env: runs dry-run in memory"
		} else {
			r.Detail = "set $" + r.CredentialEnv + " to connect"
		}
		if p.Err != nil {
			r.Detail += "; also " + detail(p.Err)
		}
	case p.Err != nil:
		r.Status, r.Detail = appError, detail(p.Err)
	default:
		r.Status, r.Users, r.Patch, r.Detail = appOK, p.Users, p.Patch, strings.Join(p.Notes, "; ")
	}
	return r
}

// circuits reads the apps' circuits as the workers share them; nil, with
// a note, when NATS cannot be read: the probes do not need it.
func (c *cli) circuits(ctx context.Context, g globals, apps []policy.App) map[string]circuit.State {
	s, err := connect(g)
	if err != nil {
		fmt.Fprintf(c.stderr, "circuits unknown: %v\n", err)
		return nil
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out := map[string]circuit.State{}
	kv, err := s.js.KeyValue(ctx, circuit.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		for _, a := range apps { // no worker has run yet: nothing paused
			out[a.Name] = circuit.State{App: a.Name}
		}
		return out
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "circuits unknown: %v\n", err)
		return nil
	}
	for _, a := range apps {
		st, err := circuit.Read(ctx, kv, a.Name)
		if err != nil {
			fmt.Fprintf(c.stderr, "circuit of %s unknown: %v\n", a.Name, err)
			continue
		}
		out[a.Name] = st
	}
	return out
}

// appsResume closes the named apps' circuits: their workers pull again at
// once, without waiting for the next probe. Failures trip them anew.
func (c *cli) appsResume(ctx context.Context, g globals, args []string) error {
	fs := c.newFlagSet("apps resume", "apps resume APP...", &g)
	apps, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return usageErrorf("apps resume: name the apps to resume")
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, circuit.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("no circuits yet: no worker has run against %s", g.natsURL)
	}
	if err != nil {
		return fmt.Errorf("key-value bucket %s: %w", circuit.Bucket, err)
	}
	failed := false
	for _, app := range apps {
		was, err := circuit.Read(ctx, kv, app)
		if err == nil {
			_, err = circuit.Resume(ctx, kv, app, c.now())
		}
		switch {
		case errors.Is(err, circuit.ErrNotOpen):
			fmt.Fprintf(c.stdout, "%s: not paused\n", app)
		case err != nil:
			failed = true
			fmt.Fprintf(c.stderr, "%s: %v\n", app, err)
		default:
			fmt.Fprintf(c.stdout, "%s: resumed; was %s\n", app, was)
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
