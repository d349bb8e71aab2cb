package deployments

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type prometheusConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadPrometheusConfig(t *testing.T) prometheusConfig {
	t.Helper()
	var cfg prometheusConfig
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	return cfg
}

func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	cfg := loadPrometheusConfig(t)
	if len(cfg.RuleFiles) == 0 {
		t.Error("no rule_files: the alerts would never load")
	}
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(filepath.Join("prometheus", f)); err != nil {
			t.Errorf("rule file: %v", err)
		}
	}
	target := regexp.MustCompile(`^[a-z0-9.-]+:[0-9]+$`)
	jobs := map[string]bool{}
	for _, job := range cfg.ScrapeConfigs {
		if jobs[job.JobName] {
			t.Errorf("job %q defined twice", job.JobName)
		}
		jobs[job.JobName] = true
		for _, sc := range job.StaticConfigs {
			for _, tg := range sc.Targets {
				if !target.MatchString(tg) {
					t.Errorf("job %s: target %q is not host:port", job.JobName, tg)
				}
			}
		}
	}
	// Every job alerts.yml selects is scraped, except "keycard": the single
	// binary, which the compose file does not run (prometheus.yml shows
	// its job commented out).
	var rules alertRules
	readYAML(t, "prometheus/alerts.yml", &rules)
	jobRE := regexp.MustCompile(`\bjob\s*(?:=~|=)\s*"([^"]*)"`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range jobRE.FindAllStringSubmatch(r.Expr, -1) {
				for _, job := range strings.Split(m[1], "|") {
					if !jobs[job] && job != "keycard" {
						t.Errorf("alert %s selects job %q, which prometheus.yml does not scrape", r.Alert, job)
					}
				}
			}
		}
	}
	for _, want := range []string{"keycard-ingester", "keycard-normalizer", "keycard-worker"} {
		if !jobs[want] {
			t.Errorf("no job %q", want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	var rules alertRules
	readYAML(t, "prometheus/alerts.yml", &rules)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		if len(g.Rules) == 0 {
			t.Errorf("group %q has no rules", g.Name)
		}
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Alert == "" {
					t.Fatalf("group %s: rule without alert name (record %q)", g.Name, r.Record)
				}
				if seen[r.Alert] {
					t.Errorf("alert defined twice")
				}
				seen[r.Alert] = true
				if strings.TrimSpace(r.Expr) == "" {
					t.Error("no expr")
				}
				if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
					t.Errorf("for %q: want a positive duration, so one bad scrape does not page", r.For)
				}
				switch r.Labels["severity"] {
				case "critical", "warning", "info":
				default:
					t.Errorf("labels.severity %q: want critical, warning or info", r.Labels["severity"])
				}
				for _, a := range []string{"summary", "description", "runbook"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("annotations.%s is empty", a)
					}
				}
				if want := "deployments/README.md#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
					t.Errorf("annotations.runbook = %q, want %q", r.Annotations["runbook"], want)
				}
				if !strings.Contains(string(readme), "\n### "+r.Alert+"\n") {
					t.Errorf("README.md has no runbook section \"### %s\"", r.Alert)
				}
				if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
					t.Error("unbalanced parentheses in expr")
				}
				checkPromQL(t, r.Alert, r.Expr)
			})
		}
	}
	for _, want := range []string{"KeycardIngesterDown", "KeycardIngesterUnavailable", "KeycardWebhookUnauthorizedSpike",
		"KeycardIngesterPublishLatencyHigh", "KeycardIngesterNotReady",
		"KeycardNormalizerDown", "KeycardNormalizerDeadLetters", "KeycardNormalizerRetrying",
		"KeycardPollerStale", "KeycardSweepGuardTripped",
		"KeycardWorkerDown", "KeycardWorkerDeadLetters", "KeycardWorkerActionsHeld",
		"KeycardDeprovisionSLOBreached", "KeycardWorkerRetrying"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestPollerStaleThreshold keeps KeycardPollerStale at 3 × the poll
// interval the code defaults to (and the deployments do not override).
func TestPollerStaleThreshold(t *testing.T) {
	t.Parallel()
	var rules alertRules
	readYAML(t, "prometheus/alerts.yml", &rules)
	expr := ""
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "KeycardPollerStale" {
				expr = r.Expr
			}
		}
	}
	m := regexp.MustCompile(`>\s*3\s*\*\s*([0-9]+)\s*$`).FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		t.Fatalf("KeycardPollerStale: expr %q does not end in > 3 * <seconds>", expr)
	}
	interval, err := time.ParseDuration(code(t).envDefault(t, "KEYCARD_POLL_INTERVAL"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m[1]; got != strconv.Itoa(int(interval.Seconds())) {
		t.Errorf("KeycardPollerStale assumes a %ss poll interval; KEYCARD_POLL_INTERVAL defaults to %s", got, interval)
	}
	// A deployment that changes the interval needs another threshold.
	for name, s := range loadCompose(t).Services {
		if v, ok := s.Environment["KEYCARD_POLL_INTERVAL"]; ok {
			t.Errorf("compose service %s sets KEYCARD_POLL_INTERVAL=%s; KeycardPollerStale assumes the default", name, v)
		}
	}
	for _, mf := range loadManifests(t) {
		var w workload
		if mf.Kind != "Deployment" && mf.Kind != "StatefulSet" {
			continue
		}
		mf.decode(t, &w)
		for _, c := range w.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "KEYCARD_POLL_INTERVAL" {
					t.Errorf("%s sets KEYCARD_POLL_INTERVAL; KeycardPollerStale assumes the default", mf)
				}
			}
		}
	}
}

// TestPromtool runs Prometheus' own checks and the rule unit tests in
// prometheus/alerts_test.yml where promtool is installed (apt-get install
// prometheus; make test installs it and sets KEYCARD_REQUIRE_PROMTOOL=1,
// so there it fails rather than skips); the parsing tests above run
// everywhere.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("KEYCARD_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool not on PATH (apt-get install prometheus)")
		}
		t.Skip("promtool not on PATH")
	}
	// The dashboards' queries, as recording rules, so that promtool parses
	// them too (Grafana's variables replaced by plausible values).
	dashboardRules, err := filepath.Abs(filepath.Join(t.TempDir(), "dashboards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeDashboardRules(t, dashboardRules)
	tests := []struct {
		name string
		args []string
	}{
		{name: "config", args: []string{"check", "config", "prometheus.yml"}},
		{name: "rules", args: []string{"check", "rules", "alerts.yml"}},
		{name: "rule unit tests", args: []string{"test", "rules", "alerts_test.yml"}},
		{name: "dashboard queries", args: []string{"check", "rules", dashboardRules}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), promtool, tt.args...)
			cmd.Dir = "prometheus"
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
		})
	}
}

// grafanaVariable matches $name, ${name} and ${name:format} in a query.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// writeDashboardRules writes every dashboard query as a recording rule.
func writeDashboardRules(t *testing.T, path string) {
	t.Helper()
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	paths, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, panel := range d.Panels {
			for _, tg := range panel.Targets {
				expr := grafanaVariable.ReplaceAllStringFunc(tg.Expr, func(v string) string {
					switch name := grafanaVariable.FindStringSubmatch(v)[1]; name {
					case "__rate_interval", "__interval":
						return "5m"
					case "__range":
						return "6h"
					default:
						return ".+"
					}
				})
				name := fmt.Sprintf("dashboard:%s:panel_%d_%s", d.UID, panel.ID, tg.RefID)
				rules = append(rules, rule{Record: strings.ReplaceAll(name, "-", "_"), Expr: expr})
			}
		}
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}
