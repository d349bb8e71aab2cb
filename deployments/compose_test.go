package deployments

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"
)

// The subset of the Compose specification these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       *composeBuild  `yaml:"build"`
	Command     []string       `yaml:"command"`
	Environment composeEnv     `yaml:"environment"`
	Ports       []composePort  `yaml:"ports"`
	Expose      []composePort  `yaml:"expose"`
	Volumes     []composeMount `yaml:"volumes"`
	DependsOn   composeDepends `yaml:"depends_on"`
	Healthcheck map[string]any `yaml:"healthcheck"`
}

// composeBuild is `build: ctx` or `build: {context, dockerfile}`.
type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain composeBuild
	return n.Decode((*plain)(b))
}

// composeEnv is a map or a list of KEY=VALUE.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			k, v, _ := strings.Cut(item.Value, "=")
			(*e)[k] = v
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			(*e)[n.Content[i].Value] = n.Content[i+1].Value
		}
		return nil
	}
	return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
}

// composePort is the container side of a ports/expose entry: "8080",
// "8080:8080", "127.0.0.1:4222:4222/tcp" or {target: 8080}.
type composePort int

func (p *composePort) UnmarshalYAML(n *yaml.Node) error {
	s := n.Value
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target string `yaml:"target"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		s = long.Target
	}
	s, _, _ = strings.Cut(s, "/")
	s = s[strings.LastIndex(s, ":")+1:]
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("line %d: port %q: %w", n.Line, n.Value, err)
	}
	*p = composePort(v)
	return nil
}

// composeMount is "source:target[:mode]" or {source, target}.
type composeMount struct {
	Source, Target string
}

func (m *composeMount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Source string `yaml:"source"`
			Target string `yaml:"target"`
		}
		err := n.Decode(&long)
		m.Source, m.Target = long.Source, long.Target
		return err
	}
	parts := strings.Split(n.Value, ":")
	if len(parts) < 2 {
		return fmt.Errorf("line %d: volume %q has no target", n.Line, n.Value)
	}
	m.Source, m.Target = parts[0], parts[1]
	return nil
}

// bind reports whether the mount is a host path rather than a named volume.
func (m composeMount) bind() bool {
	return strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/")
}

// composeDepends is a list of names or a map of name to condition.
type composeDepends []string

func (d *composeDepends) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			*d = append(*d, item.Value)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			*d = append(*d, n.Content[i].Value)
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a map", n.Line)
	}
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, filepath.Join(repoRoot, "docker-compose.yml"), &c)
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c
}

// keycardService reports whether a compose service runs a Keycard image.
func (s composeService) keycard() bool { return s.Build != nil }

// ports returns the webhook and metrics ports a Keycard service listens on.
func (s composeService) ports(t *testing.T) (httpPort, metricsPort int) {
	t.Helper()
	return addrPort(t, s.Environment["KEYCARD_HTTP_ADDR"], defaultHTTPAddr),
		addrPort(t, s.Environment["KEYCARD_METRICS_ADDR"], defaultMetricsAddr)
}

// natsNodes returns the compose services running nats-server.
func (c composeFile) natsNodes() []string {
	var names []string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range c.Services {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if s.Image == "" && s.Build == nil {
				t.Fatal("neither image nor build")
			}
			if s.Image != "" {
				checkImageRef(t, name, s.Image)
			}
			if s.Build != nil {
				ctx := filepath.Join(repoRoot, s.Build.Context)
				if fi, err := os.Stat(ctx); err != nil || !fi.IsDir() {
					t.Fatalf("build context %q is not a folder", s.Build.Context)
				}
				dockerfile := s.Build.Dockerfile
				if dockerfile == "" {
					dockerfile = "Dockerfile"
				}
				if _, err := os.Stat(filepath.Join(ctx, dockerfile)); err != nil {
					t.Errorf("dockerfile: %v", err)
				}
			}
			for _, dep := range s.DependsOn {
				if _, ok := c.Services[dep]; !ok {
					t.Errorf("depends_on %q: no such service", dep)
				}
			}
			for k := range s.Environment {
				checkEnvName(t, name, k)
			}
		})
	}
}

// TestComposeKeycardServices checks the services built from this
// repository against what the binaries read and listen on.
func TestComposeKeycardServices(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	nodes := c.natsNodes()
	required := regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]+\}$`)
	found := 0
	for name, s := range c.Services {
		if !s.keycard() {
			continue
		}
		found++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			httpPort, metricsPort := s.ports(t)
			for _, p := range slices.Concat(s.Ports, s.Expose) {
				if int(p) != httpPort && int(p) != metricsPort {
					t.Errorf("container port %d is neither KEYCARD_HTTP_ADDR (%d) nor KEYCARD_METRICS_ADDR (%d)", p, httpPort, metricsPort)
				}
			}
			if !slices.Contains(s.Ports, composePort(httpPort)) {
				t.Errorf("webhook port %d is not published", httpPort)
			}
			// Secrets come from the caller's environment and are required.
			if key, ok := s.Environment["BAMBOOHR_WEBHOOK_KEY"]; ok && !required.MatchString(key) {
				t.Errorf("BAMBOOHR_WEBHOOK_KEY is %q; use ${BAMBOOHR_WEBHOOK_KEY:?message}", key)
			}
			natsURL := s.Environment["NATS_URL"]
			if natsURL == "" {
				return // the single binary embeds NATS
			}
			var hosts []string
			for _, u := range strings.Split(natsURL, ",") {
				pu, err := url.Parse(u)
				if err != nil || pu.Scheme != "nats" || pu.Port() != "4222" {
					t.Errorf("NATS_URL entry %q: want nats://<node>:4222", u)
					continue
				}
				hosts = append(hosts, pu.Hostname())
			}
			slices.Sort(hosts)
			if !slices.Equal(hosts, nodes) {
				t.Errorf("NATS_URL lists %v, want every NATS node %v", hosts, nodes)
			}
			if got, want := s.Environment["KEYCARD_STREAM_REPLICAS"], strconv.Itoa(len(nodes)); got != want {
				t.Errorf("KEYCARD_STREAM_REPLICAS = %q, want %s (one replica per NATS node)", got, want)
			}
			if !slices.Contains(s.DependsOn, nodes[0]) {
				t.Errorf("does not wait for NATS (depends_on %v)", s.DependsOn)
			}
		})
	}
	if found == 0 {
		t.Error("no service is built from this repository")
	}
}

func TestComposeVolumes(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	used := map[string]bool{}
	for name, s := range c.Services {
		for _, m := range s.Volumes {
			switch {
			case m.bind():
				if _, err := os.Stat(filepath.Join(repoRoot, m.Source)); err != nil {
					t.Errorf("%s: bind mount source: %v", name, err)
				}
			default:
				used[m.Source] = true
				if _, ok := c.Volumes[m.Source]; !ok {
					t.Errorf("%s: volume %q is not declared under volumes:", name, m.Source)
				}
			}
		}
	}
	for v := range c.Volumes {
		if !used[v] {
			t.Errorf("volume %q is declared but no service mounts it", v)
		}
	}
}

// TestComposeNATSCluster parses nats.conf with the real nats-server config
// loader and checks it forms one cluster out of exactly the compose nodes.
func TestComposeNATSCluster(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	nodes := c.natsNodes()
	if len(nodes) != 3 {
		t.Fatalf("NATS nodes %v, want 3 (R3 streams need three servers)", nodes)
	}
	names := map[string]bool{}
	var confs []string
	for _, node := range nodes {
		s := c.Services[node]
		i := slices.Index(s.Command, "--name")
		if i < 0 || i+1 >= len(s.Command) {
			t.Errorf("%s: command %v sets no --name (JetStream needs unique server names)", node, s.Command)
		} else if names[s.Command[i+1]] {
			t.Errorf("%s: server name %q is used twice", node, s.Command[i+1])
		} else {
			names[s.Command[i+1]] = true
		}
		dataVolume := ""
		for _, m := range s.Volumes {
			switch m.Target {
			case "/data":
				dataVolume = m.Source
			case "/etc/nats/keycard.conf":
				confs = append(confs, m.Source)
			}
		}
		if dataVolume == "" || names["volume:"+dataVolume] {
			t.Errorf("%s: needs its own volume on /data, has %q", node, dataVolume)
		}
		names["volume:"+dataVolume] = true
		if !slices.Contains(s.Command, "/etc/nats/keycard.conf") {
			t.Errorf("%s: command %v does not load /etc/nats/keycard.conf", node, s.Command)
		}
		if s.Healthcheck == nil {
			t.Errorf("%s: no healthcheck, so depends_on cannot wait for it", node)
		}
	}
	slices.Sort(confs)
	if confs = slices.Compact(confs); len(confs) != 1 {
		t.Fatalf("NATS nodes mount config files %v, want one shared file", confs)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(repoRoot, confs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port != 4222 || opts.Cluster.Port != 6222 || opts.HTTPPort != 8222 {
		t.Errorf("ports client %d, cluster %d, http %d; want 4222, 6222, 8222", opts.Port, opts.Cluster.Port, opts.HTTPPort)
	}
	if !opts.JetStream || opts.StoreDir != "/data" {
		t.Errorf("jetstream %v with store %q, want enabled on /data", opts.JetStream, opts.StoreDir)
	}
	if !opts.SyncAlways {
		t.Error("jetstream sync_interval is not always: an acknowledged webhook could be lost on power loss")
	}
	if opts.Cluster.Name == "" {
		t.Error("cluster has no name")
	}
	var routes []string
	for _, r := range opts.Routes {
		if r.Port() != "6222" {
			t.Errorf("route %s: want port 6222", r)
		}
		routes = append(routes, r.Hostname())
	}
	slices.Sort(routes)
	if !slices.Equal(routes, nodes) {
		t.Errorf("routes to %v, want every node %v", routes, nodes)
	}
}

// TestComposeMonitoring checks Prometheus scrapes the Keycard services on
// their metrics ports and Grafana loads the provisioned files.
func TestComposeMonitoring(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("no prometheus service")
	}
	if !slices.Contains(prom.Volumes, composeMount{"./deployments/prometheus", "/etc/prometheus"}) {
		t.Errorf("prometheus does not mount ./deployments/prometheus at /etc/prometheus: %v", prom.Volumes)
	}
	cfg := loadPrometheusConfig(t)
	scraped := map[string]bool{}
	for _, job := range cfg.ScrapeConfigs {
		for _, sc := range job.StaticConfigs {
			for _, target := range sc.Targets {
				host, port, _ := strings.Cut(target, ":")
				s, ok := c.Services[host]
				if !ok {
					continue // e.g. Prometheus itself on 127.0.0.1
				}
				scraped[host] = true
				if !s.keycard() {
					continue
				}
				if _, metricsPort := s.ports(t); port != strconv.Itoa(metricsPort) {
					t.Errorf("job %s scrapes %s, but %s serves metrics on %d", job.JobName, target, host, metricsPort)
				}
			}
		}
	}
	for name, s := range c.Services {
		if s.keycard() && !scraped[name] {
			t.Errorf("Prometheus does not scrape %s", name)
		}
	}

	grafana, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	var providers grafanaProviders
	readYAML(t, "grafana/provisioning/dashboards/keycard.yml", &providers)
	wantMounts := []composeMount{{"./deployments/grafana/provisioning", "/etc/grafana/provisioning"}}
	for _, p := range providers.Providers {
		wantMounts = append(wantMounts, composeMount{"./deployments/grafana/dashboards", p.Options.Path})
	}
	for _, m := range wantMounts {
		if !slices.Contains(grafana.Volumes, m) {
			t.Errorf("grafana does not mount %s at %s", m.Source, m.Target)
		}
	}
}
