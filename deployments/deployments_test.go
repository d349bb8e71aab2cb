package deployments

import (
	"bufio"
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

// documentedEnv mirrors the configuration table of the repository's
// README.md; TestREADMEConfigurationTable keeps the two equal. A deployment
// file that sets any other KEYCARD_*, BAMBOOHR_*, NATS_URL or REDIS_URL
// name sets nothing (envconfig ignores unknown variables), so a typo would
// otherwise go unseen.
var documentedEnv = map[string]bool{
	"BAMBOOHR_WEBHOOK_KEY":           true,
	"KEYCARD_INSECURE_SKIP_VERIFY":   true,
	"KEYCARD_HTTP_ADDR":              true,
	"KEYCARD_METRICS_ADDR":           true,
	"KEYCARD_CONFIG":                 true,
	"KEYCARD_DATA_DIR":               true,
	"NATS_URL":                       true,
	"KEYCARD_NATS_LISTEN":            true,
	"KEYCARD_NATS_SYNC":              true,
	"KEYCARD_STREAM_REPLICAS":        true,
	"KEYCARD_INBOX_DEDUP_WINDOW":     true,
	"KEYCARD_WEBHOOK_MAX_AGE":        true,
	"KEYCARD_WEBHOOK_MAX_FUTURE":     true,
	"KEYCARD_MAX_BODY_BYTES":         true,
	"KEYCARD_PUBLISH_TIMEOUT":        true,
	"KEYCARD_MAX_INFLIGHT":           true,
	"KEYCARD_RETRY_AFTER":            true,
	"KEYCARD_LOG_LEVEL":              true,
	"KEYCARD_LOG_FORMAT":             true,
	"BAMBOOHR_API_KEY":               true,
	"BAMBOOHR_COMPANY":               true,
	"BAMBOOHR_API_URL":               true,
	"BAMBOOHR_CUSTOM_FIELDS":         true,
	"BAMBOOHR_CONTRACT_END_FIELD":    true,
	"BAMBOOHR_TIME_ZONE_FIELD":       true,
	"KEYCARD_TIME_ZONE":              true,
	"KEYCARD_JOINER_TIME":            true,
	"KEYCARD_LEAVER_TIME":            true,
	"KEYCARD_CONTRACTOR_STATUSES":    true,
	"KEYCARD_NORMALIZER_CONCURRENCY": true,
	"KEYCARD_NORMALIZER_MAX_DELIVER": true,
	"KEYCARD_POLL_INTERVAL":          true,
	"KEYCARD_SWEEP_INTERVAL":         true,
	// Not in the README yet: the workers' Redis (idempotency ledger, shared
	// rate limits). TestREADMEConfigurationTable allows it to be missing.
	"REDIS_URL": true,
}

// plannedEnv are documentedEnv names no service reads yet.
var plannedEnv = map[string]bool{"REDIS_URL": true}

// Default listen addresses (services/*/config.go).
const (
	defaultHTTPAddr    = ":8080"
	defaultMetricsAddr = ":9090"
)

// metricKind says how a metric may be referenced in PromQL.
type metricKind int

const (
	counter metricKind = iota
	gauge
	histogram // only as <name>_bucket, _sum or _count
)

// keycardMetrics are the keycard_* metrics the services register
// (services/ingester/ingest/metrics.go). Alerts and dashboards may use no
// other keycard_* name.
var keycardMetrics = map[string]metricKind{
	"keycard_ingester_requests_total":           counter,
	"keycard_ingester_request_duration_seconds": histogram,
	"keycard_ingester_publish_duration_seconds": histogram,
	"keycard_ingester_request_body_bytes":       histogram,
	"keycard_ingester_employees_total":          counter,
	"keycard_ingester_requests_in_flight":       gauge,
}

// requestOutcomes are the only values of the outcome label.
var requestOutcomes = []string{"accepted", "duplicate", "unauthorized", "too_large",
	"bad_request", "method_not_allowed", "unavailable", "overloaded"}

var (
	metricNameRE = regexp.MustCompile(`\bkeycard_[a-z0-9_]+\b`)
	outcomeRE    = regexp.MustCompile(`outcome\s*(=~|!~|=|!=)\s*"([^"]*)"`)
)

// checkPromQL reports keycard_* metrics in expr that do not exist, or are
// used in a way their type does not allow, and outcome values that the
// counter never carries.
func checkPromQL(t *testing.T, where, expr string) {
	t.Helper()
	for _, name := range metricNameRE.FindAllString(expr, -1) {
		if kind, ok := keycardMetrics[name]; ok {
			if kind == histogram {
				t.Errorf("%s: histogram %s used without _bucket/_sum/_count", where, name)
			}
			continue
		}
		base, found := "", false
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok {
				base, found = b, true
				break
			}
		}
		if kind, ok := keycardMetrics[base]; !found || !ok || kind != histogram {
			t.Errorf("%s: metric %s is not one the services expose", where, name)
		}
	}
	for _, m := range outcomeRE.FindAllStringSubmatch(expr, -1) {
		for _, v := range strings.Split(m[2], "|") {
			if !slices.Contains(requestOutcomes, v) {
				t.Errorf("%s: outcome %q is not a value of keycard_ingester_requests_total", where, v)
			}
		}
	}
}

// checkEnvName fails for a Keycard-looking variable that is not documented.
func checkEnvName(t *testing.T, where, name string) {
	t.Helper()
	keycardish := strings.HasPrefix(name, "KEYCARD_") || strings.HasPrefix(name, "BAMBOOHR_") ||
		name == "NATS_URL" || name == "REDIS_URL"
	if keycardish && !documentedEnv[name] {
		t.Errorf("%s: environment variable %s is not one Keycard reads (README.md, Configuration)", where, name)
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

func TestREADMEConfigurationTable(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Rows of the table under "## Configuration": | `NAME` | default | meaning |
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\|")
	inSection := false
	inREADME := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Configuration"
			continue
		}
		if m := row.FindStringSubmatch(line); inSection && m != nil {
			inREADME[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range documentedEnv {
		if !inREADME[name] && !plannedEnv[name] {
			t.Errorf("%s is in the test's list but not in README.md's configuration table", name)
		}
	}
	for name := range inREADME {
		if !documentedEnv[name] {
			t.Errorf("%s is in README.md's configuration table but not in the test's list (documentedEnv)", name)
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

// workspaceModules returns the folders go.work uses, e.g. "services/keycard".
func workspaceModules(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	inUse := false
	for _, line := range strings.Split(string(b), "\n") {
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

func TestWorkspaceUsesThisModule(t *testing.T) {
	t.Parallel()
	if mods := workspaceModules(t); !slices.Contains(mods, "deployments") {
		t.Errorf("go.work uses %v; add ./deployments so `go test` finds this module from the workspace", mods)
	}
}
