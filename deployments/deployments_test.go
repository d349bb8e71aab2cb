package deployments

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the workspace root, relative to this package's folder (go
// test runs in the package directory).
const repoRoot = ".."

// The variables and metrics these tests check the deployment files
// against are derived from the Go sources (code_test.go); only what the
// sources cannot say is kept here.

// Every Keycard-looking name (KEYCARD_*, BAMBOOHR_*, NATS_URL, REDIS_URL)
// in a deployment file must be one an envconfig tag declares: envconfig
// ignores unknown variables, so a typo would otherwise go unseen. Nothing
// is exempt: a variable is documented and deployed once code reads it.

// requiredEnv are the variables without which a binary refuses to start.
// Tags do not say it (it is in the binaries' Validate and Configured
// checks, and in the worker's workers.LoadPolicy), so it is kept here;
// every deployment of the binary sets them. NATS_URL is checked apart:
// every standalone service needs it, the single binary embeds NATS.
var requiredEnv = map[string][]string{
	"keycard":    {"BAMBOOHR_WEBHOOK_KEY"},
	"ingester":   {"BAMBOOHR_WEBHOOK_KEY"},
	"normalizer": {"BAMBOOHR_API_KEY", "BAMBOOHR_COMPANY"},
	"worker":     {"KEYCARD_CONFIG"},
}

// cliCommands are the commands under services/ that are operator tools,
// not servers: they listen on no port and serve no metrics, so they get
// no Dockerfile, compose service, manifest, scrape job or alert. An
// operator runs them on a workstation against the NATS port (compose
// publishes nats-1's on 127.0.0.1:4222; on Kubernetes, `kubectl
// port-forward`). TestCommands checks that every other command reads its
// environment with envconfig and listens (so the tests see its variables
// and its metrics port), and that these really listen on nothing. A name
// here whose folder does not exist (yet) is only logged.
var cliCommands = map[string]string{
	"provctl": "the operator CLI: dead letters, held actions, policy check, explain",
}

// secretEnv are the variables holding credentials: never a literal in a
// deployment file, only a Secret or the caller's environment.
var secretEnv = []string{"BAMBOOHR_WEBHOOK_KEY", "BAMBOOHR_API_KEY"}

// isKeycardEnv reports whether a variable name looks like one of Keycard's.
func isKeycardEnv(name string) bool {
	return strings.HasPrefix(name, "KEYCARD_") || strings.HasPrefix(name, "BAMBOOHR_") ||
		name == "NATS_URL" || name == "REDIS_URL"
}

// checkEnvName fails for a Keycard-looking variable that no code reads or,
// when binary is not empty, that this binary does not read.
func checkEnvName(t *testing.T, where, binary, name string) {
	t.Helper()
	if !isKeycardEnv(name) {
		return
	}
	c := code(t)
	switch {
	case len(c.env[name]) == 0:
		t.Errorf("%s: environment variable %s is not one Keycard reads (no envconfig tag in pkg/ or services/ declares it)", where, name)
	case binary != "" && !c.reads(binary, name):
		t.Errorf("%s: %s is a Keycard variable, but services/%s does not read it", where, name, binary)
	}
}

// listenPort returns the port a binary listens on for the listen-address
// variable name (KEYCARD_HTTP_ADDR, KEYCARD_METRICS_ADDR): value, or the
// default from the sources when value is empty.
func listenPort(t *testing.T, name, value string) int {
	t.Helper()
	if value == "" {
		value = code(t).envDefault(t, name)
	}
	return addrPort(t, value, "")
}

// labelValues are the values of the keycard_* labels that have a fixed
// set, which PromQL matchers may use. The labels themselves come from the
// sources; TestLabelValues checks every label here is one of its metric's
// and every value is a string literal in the sources, so a renamed value
// fails. Labels not listed here are not value-checked.
var labelValues = map[string]map[string][]string{
	"keycard_ingester_requests_total": {"outcome": {"accepted", "duplicate", "unauthorized",
		"too_large", "bad_request", "method_not_allowed", "unavailable", "overloaded"}},
	"keycard_normalizer_messages_total": {"source": {"inbox", "due"},
		"outcome": {"done", "retried", "dead_lettered"}},
	"keycard_normalizer_events_total":    {"kind": {"hired", "updated", "moved", "terminated", "rehired"}},
	"keycard_normalizer_schedules_total": {"op": {"set", "cancelled"}},
	"keycard_poller_polls_total": {"outcome": {"ok", "conflict", "api_error", "api_permanent",
		"publish_error", "state_error"}},
	"keycard_poller_rechecks_published_total": {"kind": {"poll", "sweep"}, "outcome": {"stored", "duplicate"}},
	"keycard_sweep_runs_total":                {"outcome": {"ok", "guard_tripped", "failed"}},
	"keycard_worker_events_total": {"kind": {"hired", "updated", "moved", "terminated", "rehired"},
		"outcome": {"applied", "noop", "duplicate", "stale", "held", "dead_lettered", "retry", "paused"}},
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

var (
	selectorRE    = regexp.MustCompile(`\b(keycard_[a-z0-9_]+)\b(?:\s*\{([^}]*)\})?`)
	matcherRE     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRE    = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	labelValuesRE = regexp.MustCompile(`label_values\(\s*(keycard_[a-z0-9_]+)\b(?:\{[^}]*\})?\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	regexMeta     = regexp.MustCompile(`[\\.*+?()\[\]{}^$]`)
)

// seriesLabels resolves a keycard_* series name (a metric, or a histogram's
// or summary's _bucket, _sum or _count) to the labels its series carry.
func seriesLabels(c *codeFacts, name string) (metric string, labels []string, err error) {
	if m, ok := c.metrics[name]; ok {
		switch m.kind {
		case histogram:
			return name, nil, fmt.Errorf("histogram %s used without _bucket/_sum/_count", name)
		case summary:
			return name, slices.Concat(m.labels, targetLabels, []string{"quantile"}), nil
		}
		return name, slices.Concat(m.labels, targetLabels), nil
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		m, ok := c.metrics[base]
		switch {
		case ok && m.kind == histogram && suffix == "_bucket":
			return base, slices.Concat(m.labels, targetLabels, []string{"le"}), nil
		case ok && (m.kind == histogram || m.kind == summary) && suffix != "_bucket":
			return base, slices.Concat(m.labels, targetLabels), nil
		}
	}
	return "", nil, fmt.Errorf("metric %s is not one the services expose", name)
}

// checkPromQL reports keycard_* series in expr that do not exist or are
// used in a way their type does not allow, label matchers on labels the
// metric does not have or with values it never carries, and grouping
// labels none of the expression's keycard_* metrics has.
func checkPromQL(t *testing.T, where, expr string) {
	t.Helper()
	c := code(t)
	var allowed []string // labels of every keycard_* series in expr
	for _, sel := range selectorRE.FindAllStringSubmatch(expr, -1) {
		metric, labels, err := seriesLabels(c, sel[1])
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		allowed = append(allowed, labels...)
		for _, m := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := m[1], m[2], m[3]
			if label == "__name__" {
				continue
			}
			if !slices.Contains(labels, label) {
				t.Errorf("%s: %s has no label %q (it has %v)", where, sel[1], label, labels)
				continue
			}
			values := labelValues[metric][label]
			if values == nil {
				continue
			}
			alternatives := []string{value}
			if op == "=~" || op == "!~" {
				alternatives = strings.Split(value, "|")
			}
			for _, v := range alternatives {
				if strings.Contains(v, "$") || regexMeta.MatchString(v) {
					continue // a Grafana variable or a real regular expression
				}
				if !slices.Contains(values, v) {
					t.Errorf("%s: %s{%s} is never %q (values %v)", where, metric, label, v, values)
				}
			}
		}
	}
	for _, m := range labelValuesRE.FindAllStringSubmatch(expr, -1) {
		if _, labels, err := seriesLabels(c, m[1]); err == nil && !slices.Contains(labels, m[2]) {
			t.Errorf("%s: label_values of %s: it has no label %q", where, m[1], m[2])
		}
	}
	if len(allowed) == 0 {
		return // no keycard_* series: other exporters' labels are unknown here
	}
	for _, g := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, label := range strings.Split(g[1], ",") {
			if label = strings.TrimSpace(label); label != "" && !slices.Contains(allowed, label) {
				t.Errorf("%s: grouping by %q, a label no keycard_* metric of the expression has", where, label)
			}
		}
	}
}

func TestLabelValues(t *testing.T) {
	t.Parallel()
	c := code(t)
	for metric, byLabel := range labelValues {
		m, ok := c.metrics[metric]
		if !ok {
			t.Errorf("labelValues: %s is not a metric the sources build", metric)
			continue
		}
		for label, values := range byLabel {
			if !slices.Contains(m.labels, label) {
				t.Errorf("labelValues: %s has no label %q (%s: %v)", metric, label, m.where, m.labels)
			}
			for _, v := range values {
				if !c.strings[v] {
					t.Errorf("labelValues: %s{%s=%q}: %q is no string literal in the sources", metric, label, v, v)
				}
			}
		}
	}
}

// envNameRE matches what looks like a Keycard variable in any text.
var envNameRE = regexp.MustCompile(`\b(?:KEYCARD_[A-Z0-9_]*[A-Z0-9]|BAMBOOHR_[A-Z0-9_]*[A-Z0-9]|NATS_URL|REDIS_URL)\b`)

// TestEnvNamesInFiles reads every deployment file as text, comments and
// documentation included, for variable names no code reads.
func TestEnvNamesInFiles(t *testing.T) {
	t.Parallel()
	files := []string{filepath.Join(repoRoot, "docker-compose.yml")}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) != ".go" && path != "go.mod" && path != "go.sum" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, name := range envNameRE.FindAllString(line, -1) {
				checkEnvName(t, fmt.Sprintf("%s:%d", path, i+1), "", name)
			}
		}
	}
}

// addrPort returns the port of a listen address such as ":8080" or
// "127.0.0.1:4222", or of def when addr is empty.
func addrPort(t *testing.T, addr, def string) int {
	t.Helper()
	if addr == "" {
		addr = def
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen address %q: port: %v", addr, err)
	}
	return n
}

// hasRegistryHost reports whether an image reference names a registry:
// the part before the first "/" looks like a host (a dot, a port or
// localhost). "nats:2.15-alpine" and "prom/prometheus:v3" do not.
func hasRegistryHost(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// checkImageRef fails for an image with a registry host or without a
// pinned tag; "latest" changes under a deployment without notice.
func checkImageRef(t *testing.T, where, ref string) {
	t.Helper()
	if hasRegistryHost(ref) {
		t.Errorf("%s: image %q names a registry host; write it without one", where, ref)
	}
	name := ref
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	_, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "" || tag == "latest" {
		t.Errorf("%s: image %q needs a pinned tag", where, ref)
	}
}

// readYAML decodes the single YAML document in path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readmeConfiguration returns the rows of the configuration table of the
// repository's README.md: variable name -> default column.
func readmeConfiguration(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Rows of the table under "## Configuration": | `NAME` | default | meaning |
	row := regexp.MustCompile("^\\| `([A-Z0-9_]+)` \\| ([^|]*) \\|")
	inSection := false
	rows := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Configuration"
			continue
		}
		if m := row.FindStringSubmatch(line); inSection && m != nil {
			rows[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("README.md: no configuration table under \"## Configuration\"")
	}
	return rows
}

// TestREADMEConfigurationTable checks the README's table against the
// envconfig tags: every variable has a row, every row is a variable, and a
// default the code sets is the one the table gives.
func TestREADMEConfigurationTable(t *testing.T) {
	t.Parallel()
	c := code(t)
	rows := readmeConfiguration(t)
	for name, decls := range c.env {
		def, ok := rows[name]
		if !ok {
			t.Errorf("%s (%s) is missing from README.md's configuration table", name, decls[0].where)
			continue
		}
		if d := decls[0]; d.hasDefault && def != "`"+d.def+"`" {
			t.Errorf("README.md gives %s the default %s, the code `%s` (%s)", name, def, d.def, d.where)
		}
	}
	for name := range rows {
		if len(c.env[name]) == 0 {
			t.Errorf("README.md's configuration table lists %s, which no envconfig tag in pkg/ or services/ declares", name)
		}
	}
}

// TestHandKeptEnv keeps the hand-kept lists honest: required and secret
// names are read.
func TestHandKeptEnv(t *testing.T) {
	t.Parallel()
	c := code(t)
	for binary, names := range requiredEnv {
		for _, name := range names {
			if !c.reads(binary, name) {
				t.Errorf("requiredEnv: services/%s does not read %s", binary, name)
			}
		}
	}
	for _, name := range secretEnv {
		if len(c.env[name]) == 0 {
			t.Errorf("secretEnv: no code reads %s", name)
		}
	}
}

// registryHosts are patterns of container and package registry host names,
// which no deployment file may contain: image references stay host-less,
// and where they are pulled from is the installation's choice.
var registryHosts = regexp.MustCompile(`(?i)\b(` + strings.Join([]string{
	`docker\.io`, `index\.docker`, `hub\.docker\.com`, `ghcr\.io`, `quay\.io`, `gcr\.io`,
	`pkg\.dev`, `azurecr\.io`, `ecr\.aws`, `amazonaws\.com`, `mcr\.microsoft\.com`,
	`nvcr\.io`, `lscr\.io`, `github\.io`, `registry\.[a-z0-9-]+`,
}, "|") + `)`)

func TestNoRegistryHosts(t *testing.T) {
	t.Parallel()
	files := []string{filepath.Join(repoRoot, "docker-compose.yml"), filepath.Join(repoRoot, ".dockerignore")}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Go files are skipped: this file spells out the patterns.
		if !d.IsDir() && filepath.Ext(path) != ".go" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := registryHosts.FindString(line); m != "" {
				t.Errorf("%s:%d: names a registry host (%q)", path, i+1, m)
			}
		}
	}
}

func TestHasRegistryHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "official image", ref: "nats:2.15-alpine", want: false},
		{name: "namespaced image", ref: "prom/prometheus:v3.5.0", want: false},
		{name: "host with dot", ref: "example.com/keycard/ingester:1", want: true},
		{name: "host with port", ref: "myhost:5000/keycard:1", want: true},
		{name: "localhost", ref: "localhost/keycard:1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hasRegistryHost(tt.ref); got != tt.want {
				t.Errorf("hasRegistryHost(%q) = %v, want %v", tt.ref, got, tt.want)
			}
		})
	}
}

// parseGoWork returns the folders a go.work file uses, e.g. "services/keycard".
func parseGoWork(text string) []string {
	var dirs []string
	inUse := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "use (":
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse && line != "" && !strings.HasPrefix(line, "//"):
			dirs = append(dirs, strings.TrimPrefix(line, "./"))
		case strings.HasPrefix(line, "use ./"):
			dirs = append(dirs, strings.TrimPrefix(line, "use ./"))
		}
	}
	return dirs
}

// workspaceModules returns the folders go.work uses.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	return parseGoWork(string(b))
}

func TestWorkspaceUsesThisModule(t *testing.T) {
	t.Parallel()
	if mods := workspaceModules(t); !slices.Contains(mods, "deployments") {
		t.Errorf("go.work uses %v; add ./deployments so `go test` finds this module from the workspace", mods)
	}
}
