package deployments

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
	// alerts.yml selects these job names.
	if !jobs["keycard-ingester"] {
		t.Error(`no job "keycard-ingester"`)
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
		"KeycardIngesterPublishLatencyHigh", "KeycardIngesterNotReady"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestPromtool runs Prometheus' own checks and the rule unit tests in
// prometheus/alerts_test.yml where promtool is installed (apt-get install
// prometheus); the parsing tests above run everywhere.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	tests := []struct {
		name string
		args []string
	}{
		{name: "config", args: []string{"check", "config", "prometheus.yml"}},
		{name: "rules", args: []string{"check", "rules", "alerts.yml"}},
		{name: "rule unit tests", args: []string{"test", "rules", "alerts_test.yml"}},
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
