package deployments

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name string `yaml:"name"`
		UID  string `yaml:"uid"`
		Type string `yaml:"type"`
		URL  string `yaml:"url"`
	} `yaml:"datasources"`
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int             `json:"id"`
		Type       string          `json:"type"`
		Title      string          `json:"title"`
		Datasource json.RawMessage `json:"datasource"`
		GridPos    struct {
			X int `json:"x"`
			Y int `json:"y"`
			W int `json:"w"`
			H int `json:"h"`
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestGrafanaDashboards(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no dashboards")
	}
	uids := map[string]string{}
	titles := map[string]bool{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		titles[d.Title] = true
		if d.UID == "" || len(d.UID) > 40 {
			t.Errorf("%s: uid %q: want 1 to 40 characters", path, d.UID)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %q also used by %s", path, d.UID, other)
		}
		uids[d.UID] = path
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			checkDashboard(t, d)
		})
	}
	for _, want := range []string{"Keycard — ingest", "Keycard — normalizer", "Keycard — workers"} {
		if !titles[want] {
			t.Errorf("no dashboard titled %q", want)
		}
	}
}

func checkDashboard(t *testing.T, d dashboard) {
	t.Helper()
	if d.Title == "" {
		t.Error("no title")
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or later (datasource references by uid)", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Error("no datasource template variable: panels would be bound to one datasource uid")
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if p.ID <= 0 {
			t.Errorf("panel %q: id %d", p.Title, p.ID)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panel %q: id %d also used by %q", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" || p.Type == "" {
			t.Errorf("panel %d: needs a title and a type", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		if !strings.Contains(string(p.Datasource), "${datasource}") {
			t.Errorf("panel %q: datasource %s, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no targets", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: target %s has no expr", p.Title, tg.RefID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			checkPromQL(t, "panel "+p.Title, tg.Expr)
		}
	}
	// Variables' queries name metrics too.
	for _, v := range d.Templating.List {
		if b, err := json.Marshal(v.Query); err == nil {
			checkPromQL(t, "variable "+v.Name, string(b))
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	t.Parallel()
	var ds grafanaDatasources
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) == 0 {
		t.Fatalf("datasources: apiVersion %d with %d entries", ds.APIVersion, len(ds.Datasources))
	}
	c := loadCompose(t)
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" || d.UID == "" {
			t.Errorf("datasource %q: type %q uid %q", d.Name, d.Type, d.UID)
		}
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Errorf("datasource %q: url: %v", d.Name, err)
			continue
		}
		if _, ok := c.Services[u.Hostname()]; !ok || u.Port() != "9090" {
			t.Errorf("datasource %q: url %s is not a compose service on Prometheus' port", d.Name, d.URL)
		}
	}

	var p grafanaProviders
	readYAML(t, "grafana/provisioning/dashboards/keycard.yml", &p)
	if p.APIVersion != 1 || len(p.Providers) == 0 {
		t.Fatalf("dashboard providers: apiVersion %d with %d entries", p.APIVersion, len(p.Providers))
	}
	for _, pr := range p.Providers {
		if pr.Type != "file" || !strings.HasPrefix(pr.Options.Path, "/") {
			t.Errorf("provider %q: type %q path %q, want a file provider with an absolute path", pr.Name, pr.Type, pr.Options.Path)
		}
	}
}
