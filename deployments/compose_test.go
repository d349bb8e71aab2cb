package deployments

import (
	"fmt"
	"net/url"
	"os"
	"path"
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

// binary returns the command a Keycard service runs: the package its
// Dockerfile's go build compiles.
func (s composeService) binary(t *testing.T) string {
	t.Helper()
	dockerfile := s.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	return dockerfileBinary(t, filepath.Join(repoRoot, s.Build.Context, dockerfile))
}

// env returns a Keycard service's environment: the image's ENV (from the
// Dockerfile) overlaid with the compose file's.
func (s composeService) env(t *testing.T) map[string]string {
	t.Helper()
	env := imageEnv(t, s.binary(t))
	for k, v := range s.Environment {
		env[k] = v
	}
	return env
}

// ports returns the webhook port (0 when the binary serves none) and the
// metrics port a Keycard service listens on.
func (s composeService) ports(t *testing.T) (httpPort, metricsPort int) {
	t.Helper()
	env := s.env(t)
	if code(t).reads(s.binary(t), "KEYCARD_HTTP_ADDR") {
		httpPort = listenPort(t, "KEYCARD_HTTP_ADDR", env["KEYCARD_HTTP_ADDR"])
	}
	return httpPort, listenPort(t, "KEYCARD_METRICS_ADDR", env["KEYCARD_METRICS_ADDR"])
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
			binary := "" // other images: only names some Keycard binary reads
			if s.keycard() {
				binary = s.binary(t)
			}
			for k := range s.Environment {
				checkEnvName(t, name, binary, k)
			}
		})
	}
}

// composeRef is a value taken from the caller's environment: ${NAME},
// ${NAME:-default}, ${NAME:?message} and the like.
var composeRef = regexp.MustCompile(`^\$\{([A-Z0-9_]+)(?:(:?[-?+])(.*))?\}$`)

// TestComposeKeycardServices checks the services built from this
// repository against what the binaries read and listen on.
func TestComposeKeycardServices(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	facts := code(t)
	nodes := c.natsNodes()
	found := map[string]bool{}
	for name, s := range c.Services {
		if !s.keycard() {
			continue
		}
		binary := s.binary(t)
		found[binary] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if want := "keycard/" + binary + ":"; !strings.HasPrefix(s.Image, want) {
				t.Errorf("image %q: want %s<tag>, named after the binary its Dockerfile builds", s.Image, want)
			}
			httpPort, metricsPort := s.ports(t)
			for _, p := range slices.Concat(s.Ports, s.Expose) {
				if int(p) != metricsPort && (httpPort == 0 || int(p) != httpPort) {
					t.Errorf("container port %d is not one services/%s listens on (metrics %d, webhook %d)", p, binary, metricsPort, httpPort)
				}
			}
			if httpPort != 0 && !slices.Contains(s.Ports, composePort(httpPort)) {
				t.Errorf("webhook port %d is not published", httpPort)
			}
			if slices.Contains(s.Ports, composePort(metricsPort)) {
				t.Errorf("metrics port %d is published; keep it on the compose network (expose)", metricsPort)
			}
			// Required variables are set, and secrets come from the caller's
			// environment: ${NAME:?message}, so compose refuses to start
			// without them. A required variable taken from the environment
			// is taken the same way (${NAME} or ${NAME:-} could be empty).
			for _, k := range requiredEnv[binary] {
				v, ok := s.Environment[k]
				switch {
				case !ok || v == "":
					t.Errorf("%s is not set; services/%s refuses to start without it", k, binary)
				case strings.Contains(v, "${"):
					if m := composeRef.FindStringSubmatch(v); m == nil || m[1] != k || m[2] != ":?" || m[3] == "" {
						t.Errorf("%s is %q; use ${%s:?message}", k, v, k)
					}
				}
			}
			for _, k := range secretEnv {
				v, ok := s.Environment[k]
				if !ok {
					continue
				}
				if m := composeRef.FindStringSubmatch(v); m == nil || m[1] != k || m[2] != ":?" || m[3] == "" {
					t.Errorf("%s is %q; use ${%s:?message}", k, v, k)
				}
			}
			// KEYCARD_CONFIG names a file the service mounts.
			if cfg := s.Environment["KEYCARD_CONFIG"]; cfg != "" && !slices.ContainsFunc(s.Volumes, func(m composeMount) bool {
				return m.Target == cfg || m.Target == path.Dir(cfg)
			}) {
				t.Errorf("KEYCARD_CONFIG %s is not a mounted file or in a mounted folder (volumes %v)", cfg, s.Volumes)
			}
			// REDIS_URL points at a Redis of this compose file.
			if v := s.Environment["REDIS_URL"]; v != "" {
				u, err := url.Parse(v)
				if err != nil || u.Scheme != "redis" {
					t.Errorf("REDIS_URL %q: want redis://<service>:6379/<db>", v)
				} else if r, ok := c.Services[u.Hostname()]; !ok || !strings.HasPrefix(r.Image, "redis:") || u.Port() != "6379" {
					t.Errorf("REDIS_URL %q is not a redis service of this file on port 6379", v)
				} else if !slices.Contains(s.DependsOn, u.Hostname()) {
					t.Errorf("does not wait for %s (depends_on %v)", u.Hostname(), s.DependsOn)
				}
			}
			// A default given in the compose file is the code's default,
			// or it silently changes behaviour when the caller sets nothing.
			for k, v := range s.Environment {
				m := composeRef.FindStringSubmatch(v)
				if m == nil || m[2] != ":-" || len(facts.env[k]) == 0 {
					continue
				}
				if d := facts.env[k][0]; m[1] != k || !d.hasDefault || m[3] != d.def {
					t.Errorf("%s is %q; want ${%s:-%s} (the default at %s) or no default", k, v, k, d.def, d.where)
				}
			}
			natsURL := s.Environment["NATS_URL"]
			if natsURL == "" {
				if binary != "keycard" {
					t.Errorf("NATS_URL is not set; only the single binary embeds NATS")
				}
				return
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
			for _, node := range nodes {
				if !slices.Contains(s.DependsOn, node) {
					t.Errorf("does not wait for NATS node %s (depends_on %v)", node, s.DependsOn)
				}
			}
		})
	}
	for _, want := range []string{"ingester", "normalizer", "worker"} {
		if !found[want] {
			t.Errorf("no compose service runs services/%s", want)
		}
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
