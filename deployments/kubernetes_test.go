package deployments

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// helmValues is the one YAML file under kubernetes/ that is not a
// manifest: values for the official NATS chart.
const helmValues = "kubernetes/nats/values.yaml"

// apiVersions is every kind the manifests may use, with its API version.
// A new kind has to be added here, which is a reminder to check it below.
var apiVersions = map[string]string{
	"Namespace":           "v1",
	"Secret":              "v1",
	"ConfigMap":           "v1",
	"Service":             "v1",
	"Deployment":          "apps/v1",
	"StatefulSet":         "apps/v1",
	"PodDisruptionBudget": "policy/v1",
}

const namespace = "keycard"

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// manifest is one YAML document; doc keeps it for kind-specific decoding.
type manifest struct {
	path       string
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	doc        yaml.Node
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env       []envVar `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
	} `yaml:"valueFrom"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional *bool  `yaml:"optional"`
}

// workload is a Deployment or a StatefulSet.
type workload struct {
	Spec struct {
		Replicas    *int   `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    *int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata objectMeta `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type service struct {
	Spec struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type pdb struct {
	Spec struct {
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

type keyValues struct {
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

// loadManifests parses every YAML document under kubernetes/.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir("kubernetes", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == helmValues {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var m manifest
			if err := dec.Decode(&m.doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := m.doc.Decode(&m); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			m.path = path
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no manifests under kubernetes/")
	}
	return out
}

func (m manifest) decode(t *testing.T, v any) {
	t.Helper()
	if err := m.doc.Decode(v); err != nil {
		t.Fatalf("%s %s: %v", m.Kind, m.Metadata.Name, err)
	}
}

func (m manifest) String() string { return m.path + ": " + m.Kind + "/" + m.Metadata.Name }

// byKind indexes the manifests by kind and name.
func byKind(ms []manifest) map[string]map[string]manifest {
	idx := map[string]map[string]manifest{}
	for _, m := range ms {
		if idx[m.Kind] == nil {
			idx[m.Kind] = map[string]manifest{}
		}
		idx[m.Kind][m.Metadata.Name] = m
	}
	return idx
}

func TestManifestsParse(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, m := range loadManifests(t) {
		want, ok := apiVersions[m.Kind]
		switch {
		case m.Kind == "":
			t.Errorf("%s: document without kind", m.path)
		case !ok:
			t.Errorf("%s: kind %s is not one these tests know", m, m.Kind)
		case m.APIVersion != want:
			t.Errorf("%s: apiVersion %q, want %q", m, m.APIVersion, want)
		}
		if m.Metadata.Name == "" {
			t.Errorf("%s: no metadata.name", m)
		}
		wantNS := namespace
		if m.Kind == "Namespace" {
			wantNS = ""
		}
		if m.Metadata.Namespace != wantNS {
			t.Errorf("%s: namespace %q, want %q", m, m.Metadata.Namespace, wantNS)
		}
		key := m.Kind + "/" + m.Metadata.Name
		if other, dup := seen[key]; dup {
			t.Errorf("%s: also defined in %s", m, other)
		}
		seen[key] = m.path
	}
}

func TestWorkloads(t *testing.T) {
	t.Parallel()
	ms := loadManifests(t)
	idx := byKind(ms)
	tests := []struct {
		kind, name   string
		wantReplicas int
	}{
		// Two ingesters, so a rollout or drain never leaves BambooHR
		// without an endpoint.
		{kind: "Deployment", name: "keycard-ingester", wantReplicas: 2},
		// Two normalizers on one durable consumer; their pollers take turns
		// through compare-and-set in KV, so a second replica is safe.
		{kind: "Deployment", name: "keycard-normalizer", wantReplicas: 2},
		// Two workers: each app's durable consumer shares its events
		// between them, and with REDIS_URL they share the idempotency
		// ledger and the app's pacing, so two pace as one.
		{kind: "Deployment", name: "keycard-worker", wantReplicas: 2},
		// One single binary: a second would be a second JetStream store.
		{kind: "StatefulSet", name: "keycard", wantReplicas: 1},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			m, ok := idx[tt.kind][tt.name]
			if !ok {
				t.Fatalf("no %s %s", tt.kind, tt.name)
			}
			var w workload
			m.decode(t, &w)
			if w.Spec.Replicas == nil || *w.Spec.Replicas != tt.wantReplicas {
				t.Errorf("replicas %v, want %d", w.Spec.Replicas, tt.wantReplicas)
			}
			checkWorkload(t, idx, tt.kind, w)
		})
	}
	// Every workload in the folder is covered by the table.
	for _, m := range ms {
		if m.Kind != "Deployment" && m.Kind != "StatefulSet" {
			continue
		}
		covered := false
		for _, tt := range tests {
			covered = covered || (tt.kind == m.Kind && tt.name == m.Metadata.Name)
		}
		if !covered {
			t.Errorf("%s is not in TestWorkloads' table", m)
		}
	}
}

func checkWorkload(t *testing.T, idx map[string]map[string]manifest, kind string, w workload) {
	t.Helper()
	pod := w.Spec.Template
	if len(w.Spec.Selector.MatchLabels) == 0 || !selects(w.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", w.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}
	podNonRoot := pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot
	if u := pod.Spec.SecurityContext.RunAsUser; u != nil && *u == 0 {
		t.Error("pod runAsUser 0")
	}
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			if _, ok := idx["ConfigMap"][v.ConfigMap.Name]; !ok {
				t.Errorf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
		}
		if v.Secret != nil {
			if _, ok := idx["Secret"][v.Secret.SecretName]; !ok {
				t.Errorf("volume %s: no Secret %s", v.Name, v.Secret.SecretName)
			}
		}
	}
	for _, vct := range w.Spec.VolumeClaimTemplates {
		volumes[vct.Metadata.Name] = true
	}
	if len(pod.Spec.Containers) == 0 {
		t.Fatal("no containers")
	}
	for _, c := range pod.Spec.Containers {
		checkImageRef(t, c.Name, c.Image)
		sc := c.SecurityContext
		if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			t.Errorf("%s: runAsNonRoot is not set", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", c.Name)
		}
		if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s: capabilities.drop %v, want [ALL]", c.Name, sc.Capabilities.Drop)
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
			t.Errorf("%s: resources %+v: want cpu and memory requests and a memory limit", c.Name, c.Resources)
		}

		binary := imageBinary(t, c.Image)
		env := imageEnv(t, binary)
		fromSecret := map[string]*keyRef{}
		seen := map[string]bool{}
		for _, e := range c.Env {
			checkEnvName(t, c.Name, binary, e.Name)
			if seen[e.Name] {
				t.Errorf("%s: %s set twice", c.Name, e.Name)
			}
			seen[e.Name] = true
			env[e.Name] = e.Value
			if e.ValueFrom == nil {
				continue
			}
			if ref := e.ValueFrom.SecretKeyRef; ref != nil {
				checkKeyRef(t, idx["Secret"], c.Name, e.Name, "Secret", *ref)
				fromSecret[e.Name] = ref
			}
			if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
				checkKeyRef(t, idx["ConfigMap"], c.Name, e.Name, "ConfigMap", *ref)
			}
		}
		for _, name := range secretEnv {
			if i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == name }); i >= 0 && fromSecret[name] == nil {
				t.Errorf("%s: %s does not come from a Secret (secretKeyRef); keep credentials out of manifests", c.Name, name)
			}
		}
		for _, name := range requiredEnv[binary] {
			i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == name })
			switch {
			case i < 0:
				t.Errorf("%s: %s is not set; services/%s refuses to start without it", c.Name, name, binary)
			case fromSecret[name] != nil && fromSecret[name].Optional != nil && *fromSecret[name].Optional:
				t.Errorf("%s: %s comes from an optional Secret key; services/%s needs it", c.Name, name, binary)
			case c.Env[i].ValueFrom == nil && c.Env[i].Value == "":
				t.Errorf("%s: %s is empty", c.Name, name)
			}
		}

		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if !code(t).reads(binary, "KEYCARD_HTTP_ADDR") {
			if _, ok := ports["http"]; ok {
				t.Errorf("%s: port http, but services/%s serves no webhook", c.Name, binary)
			}
		} else if want := listenPort(t, "KEYCARD_HTTP_ADDR", env["KEYCARD_HTTP_ADDR"]); ports["http"] != want {
			t.Errorf("%s: port http is %d, KEYCARD_HTTP_ADDR listens on %d", c.Name, ports["http"], want)
		}
		metricsPort := listenPort(t, "KEYCARD_METRICS_ADDR", env["KEYCARD_METRICS_ADDR"])
		if ports["metrics"] != metricsPort {
			t.Errorf("%s: port metrics is %d, KEYCARD_METRICS_ADDR listens on %d", c.Name, ports["metrics"], metricsPort)
		}
		for name, p := range ports {
			if name != "http" && name != "metrics" {
				t.Errorf("%s: port %s (%d) is not one Keycard listens on", c.Name, name, p)
			}
		}
		probes := []struct {
			name  string
			p     *probe
			paths []string
		}{
			{name: "readinessProbe", p: c.ReadinessProbe, paths: []string{"/readyz"}},
			{name: "livenessProbe", p: c.LivenessProbe, paths: []string{"/healthz"}},
			{name: "startupProbe", p: c.StartupProbe, paths: []string{"/healthz", "/readyz"}},
		}
		for _, pr := range probes {
			if pr.p == nil {
				if pr.name != "startupProbe" {
					t.Errorf("%s: no %s", c.Name, pr.name)
				}
				continue
			}
			if pr.p.HTTPGet == nil {
				t.Errorf("%s: %s is not an httpGet", c.Name, pr.name)
				continue
			}
			if !slices.Contains(pr.paths, pr.p.HTTPGet.Path) {
				t.Errorf("%s: %s path %q, want one of %v", c.Name, pr.name, pr.p.HTTPGet.Path, pr.paths)
			}
			if port := resolvePort(pr.p.HTTPGet.Port, ports); port != metricsPort {
				t.Errorf("%s: %s port %v is not the metrics port %d", c.Name, pr.name, pr.p.HTTPGet.Port, metricsPort)
			}
		}

		mounts := map[string]string{}
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("%s: mounts unknown volume %s", c.Name, vm.Name)
			}
			mounts[vm.MountPath] = vm.Name
		}
		if kind == "StatefulSet" {
			dir := env["KEYCARD_DATA_DIR"]
			if name, ok := mounts[dir]; dir == "" || !ok || !isClaim(w, name) {
				t.Errorf("%s: KEYCARD_DATA_DIR %q is not a volumeClaimTemplate mount; the JetStream store would be lost with the pod", c.Name, dir)
			}
		}
		if cfg := env["KEYCARD_CONFIG"]; cfg != "" {
			if _, ok := mounts[filepath.Dir(cfg)]; !ok {
				t.Errorf("%s: KEYCARD_CONFIG %s is not on a mounted volume", c.Name, cfg)
			}
		}
	}
	if kind == "StatefulSet" {
		s, ok := idx["Service"][w.Spec.ServiceName]
		var svc service
		if ok {
			s.decode(t, &svc)
		}
		if !ok || svc.Spec.ClusterIP != "None" {
			t.Errorf("serviceName %q is not a headless Service", w.Spec.ServiceName)
		}
	}
}

// imageBinary returns the command a container runs, from its image
// keycard/<binary>:<tag> (the name docker/Dockerfile.<binary> builds).
func imageBinary(t *testing.T, image string) string {
	t.Helper()
	repo, _, _ := strings.Cut(image, ":")
	binary, ok := strings.CutPrefix(repo, "keycard/")
	if _, known := code(t).binaries[binary]; !ok || !known {
		t.Fatalf("image %q: want keycard/<command>:<tag> for a command under services/", image)
	}
	return binary
}

func isClaim(w workload, volume string) bool {
	for _, vct := range w.Spec.VolumeClaimTemplates {
		if vct.Metadata.Name == volume {
			return true
		}
	}
	return false
}

func checkKeyRef(t *testing.T, objs map[string]manifest, ctr, env, kind string, ref keyRef) {
	t.Helper()
	m, ok := objs[ref.Name]
	if !ok {
		t.Errorf("%s: %s refers to %s %s, which the manifests do not define", ctr, env, kind, ref.Name)
		return
	}
	var kv keyValues
	m.decode(t, &kv)
	_, inData := kv.Data[ref.Key]
	_, inString := kv.StringData[ref.Key]
	if !inData && !inString {
		t.Errorf("%s: %s refers to key %s, which %s %s lacks", ctr, env, ref.Key, kind, ref.Name)
	}
}

// resolvePort turns a probe or Service port (number or port name) into a
// number using the container's named ports.
func resolvePort(p any, named map[string]int) int {
	switch v := p.(type) {
	case int:
		return v
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return named[v]
	}
	return -1
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// podsSelectedBy returns the workloads whose pods a selector matches.
func podsSelectedBy(t *testing.T, idx map[string]map[string]manifest, selector map[string]string) []workload {
	t.Helper()
	var out []workload
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		for _, m := range idx[kind] {
			var w workload
			m.decode(t, &w)
			if selects(selector, w.Spec.Template.Metadata.Labels) {
				out = append(out, w)
			}
		}
	}
	return out
}

func TestServices(t *testing.T) {
	t.Parallel()
	idx := byKind(loadManifests(t))
	for name, m := range idx["Service"] {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var s service
			m.decode(t, &s)
			ws := podsSelectedBy(t, idx, s.Spec.Selector)
			if len(s.Spec.Selector) == 0 || len(ws) == 0 {
				t.Fatalf("selector %v matches no workload", s.Spec.Selector)
			}
			for _, p := range s.Spec.Ports {
				for _, w := range ws {
					for _, c := range w.Spec.Template.Spec.Containers {
						named := map[string]int{}
						for _, cp := range c.Ports {
							named[cp.Name] = cp.ContainerPort
						}
						target := p.TargetPort
						if target == nil {
							target = p.Port
						}
						if resolvePort(target, named) <= 0 {
							t.Errorf("port %s: targetPort %v is not a port of container %s", p.Name, target, c.Name)
						}
					}
				}
			}
		})
	}
}

func TestPodDisruptionBudgets(t *testing.T) {
	t.Parallel()
	idx := byKind(loadManifests(t))
	if len(idx["PodDisruptionBudget"]) == 0 {
		t.Fatal("no PodDisruptionBudget")
	}
	for name, m := range idx["PodDisruptionBudget"] {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var p pdb
			m.decode(t, &p)
			ws := podsSelectedBy(t, idx, p.Spec.Selector.MatchLabels)
			if len(p.Spec.Selector.MatchLabels) == 0 || len(ws) != 1 {
				t.Fatalf("selector %v matches %d workloads, want 1", p.Spec.Selector.MatchLabels, len(ws))
			}
			minAvailable, ok := p.Spec.MinAvailable.(int)
			if !ok {
				t.Fatalf("minAvailable %v: want a number", p.Spec.MinAvailable)
			}
			// A budget as large as the replica count blocks every drain.
			if r := ws[0].Spec.Replicas; r == nil || *r <= minAvailable {
				t.Errorf("minAvailable %d leaves no disruption to %v replicas", minAvailable, r)
			}
		})
	}
}

// placeholder is what a template Secret may hold instead of a value.
var placeholder = regexp.MustCompile(`^(|<[^>]*>|(REPLACE|CHANGE)_?ME)$`)

func TestSecretsHoldNoValues(t *testing.T) {
	t.Parallel()
	for _, m := range loadManifests(t) {
		if m.Kind != "Secret" {
			continue
		}
		var kv keyValues
		m.decode(t, &kv)
		for k, v := range kv.StringData {
			if !placeholder.MatchString(v) {
				t.Errorf("%s: stringData.%s holds a value; keep secrets out of the repository", m, k)
			}
		}
		for k, v := range kv.Data {
			if v != "" {
				t.Errorf("%s: data.%s holds a value; keep secrets out of the repository", m, k)
			}
		}
	}
}

// TestConfigMapMatchesExample keeps the ConfigMap's embedded config equal
// to keycard.example.yaml, its source.
func TestConfigMapMatchesExample(t *testing.T) {
	t.Parallel()
	m, ok := byKind(loadManifests(t))["ConfigMap"]["keycard-config"]
	if !ok {
		t.Fatal("no ConfigMap keycard-config")
	}
	var kv keyValues
	m.decode(t, &kv)
	example, err := os.ReadFile("keycard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := kv.Data["keycard.yaml"]; got != string(example) {
		t.Error("data[keycard.yaml] differs from keycard.example.yaml; regenerate it (see the comment in configmap.yaml)")
	}
}

func TestExampleConfig(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Apps []struct {
			Name     string `yaml:"name"`
			Type     string `yaml:"type"`
			Mode     string `yaml:"mode"`
			TokenEnv string `yaml:"token_env"`
			CredsEnv string `yaml:"credentials_env"`
		} `yaml:"apps"`
		Policy struct {
			Birthright map[string]map[string]any `yaml:"birthright"`
			Rules      []struct {
				When  string                    `yaml:"when"`
				Grant map[string]map[string]any `yaml:"grant"`
			} `yaml:"rules"`
		} `yaml:"policy"`
	}
	readYAML(t, "keycard.example.yaml", &cfg)
	types := []string{"scim", "google", "github", "gitlab", "discord", "pipedrive"}
	apps := map[string]bool{}
	for _, a := range cfg.Apps {
		if apps[a.Name] {
			t.Errorf("app %q defined twice", a.Name)
		}
		apps[a.Name] = true
		if !slices.Contains(types, a.Type) {
			t.Errorf("app %s: type %q, want one of %v", a.Name, a.Type, types)
		}
		if a.Mode != "" && a.Mode != "apply" && a.Mode != "dry-run" {
			t.Errorf("app %s: mode %q, want apply or dry-run", a.Name, a.Mode)
		}
		if a.TokenEnv == "" && a.CredsEnv == "" {
			t.Errorf("app %s names no credentials variable", a.Name)
		}
	}
	for _, want := range []string{"slack", "google", "github"} {
		if !apps[want] {
			t.Errorf("no app %s", want)
		}
	}
	for app := range cfg.Policy.Birthright {
		if !apps[app] {
			t.Errorf("birthright grants unknown app %s", app)
		}
	}
	// employment_type is lower case in the canonical event.
	upper := regexp.MustCompile(`employment_type\s*==\s*"[^"]*[A-Z]`)
	for i, r := range cfg.Policy.Rules {
		if r.When == "" || len(r.Grant) == 0 {
			t.Errorf("rule %d: needs when and grant", i)
		}
		if upper.MatchString(r.When) {
			t.Errorf("rule %d: %s compares employment_type with a capitalised value", i, r.When)
		}
		for app := range r.Grant {
			if !apps[app] {
				t.Errorf("rule %d grants unknown app %s", i, app)
			}
		}
	}
}

// TestNATSHelmValues checks the settings of the chart values Keycard
// relies on: a 3-server cluster with file-backed, fsync'd JetStream.
func TestNATSHelmValues(t *testing.T) {
	t.Parallel()
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `yaml:"enabled"`
				Replicas int  `yaml:"replicas"`
			} `yaml:"cluster"`
			JetStream struct {
				Enabled   bool `yaml:"enabled"`
				FileStore struct {
					Enabled bool `yaml:"enabled"`
				} `yaml:"fileStore"`
				Merge map[string]string `yaml:"merge"`
			} `yaml:"jetstream"`
		} `yaml:"config"`
	}
	readYAML(t, helmValues, &v)
	if !v.Config.Cluster.Enabled || v.Config.Cluster.Replicas != 3 {
		t.Errorf("cluster %+v, want enabled with 3 replicas", v.Config.Cluster)
	}
	if !v.Config.JetStream.Enabled || !v.Config.JetStream.FileStore.Enabled {
		t.Error("JetStream with a file store is not enabled")
	}
	if v.Config.JetStream.Merge["sync_interval"] != "always" {
		t.Error("jetstream sync_interval is not always")
	}
	// Every service on the NATS cluster asks for as many stream replicas
	// as there are servers.
	idx := byKind(loadManifests(t))
	clients := 0
	for name, m := range idx["Deployment"] {
		var w workload
		m.decode(t, &w)
		for _, c := range w.Spec.Template.Spec.Containers {
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env["NATS_URL"] == "" {
				t.Errorf("%s/%s: NATS_URL is not set", name, c.Name)
				continue
			}
			clients++
			if got, want := env["KEYCARD_STREAM_REPLICAS"], strconv.Itoa(v.Config.Cluster.Replicas); got != want {
				t.Errorf("%s/%s: KEYCARD_STREAM_REPLICAS %q with %s NATS servers", name, c.Name, got, want)
			}
		}
	}
	if clients == 0 {
		t.Error("no Deployment connects to the NATS cluster")
	}
}
