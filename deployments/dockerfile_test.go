package deployments

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, …
	args string
}

// stage is the instructions from one FROM to the next.
type stage struct {
	image, alias string
	instrs       []instruction
}

// parseDockerfile reads enough of the Dockerfile syntax for these checks:
// comments, line continuations and FROM [--platform=…] image [AS name].
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending.Len() == 0) {
			continue // Docker drops comment lines, even inside a continuation
		}
		if pending.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(body + " ")
			continue
		}
		pending.WriteString(line)
		full := strings.TrimSpace(pending.String())
		pending.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			var fields []string
			for _, f := range strings.Fields(in.args) {
				if !strings.HasPrefix(f, "--") {
					fields = append(fields, f)
				}
			}
			if len(fields) == 0 {
				t.Fatalf("%s:%d: FROM without an image", path, start)
			}
			st := stage{image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.alias = fields[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, start, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pending.Len() > 0 {
		t.Fatalf("%s: ends inside a line continuation", path)
	}
	return stages
}

// find returns the arguments of every cmd instruction in the stage.
func (s stage) find(cmd string) []string {
	var out []string
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfiles(t *testing.T) {
	t.Parallel()
	modules := workspaceModules(t)
	tests := []struct {
		file    string
		pkg     string // what the build stage compiles
		volumes bool   // whether the image declares its data volume
	}{
		{file: "Dockerfile.keycard", pkg: "./services/keycard", volumes: true},
		{file: "Dockerfile.ingester", pkg: "./services/ingester"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			stages := parseDockerfile(t, filepath.Join("docker", tt.file))
			if len(stages) < 2 {
				t.Fatalf("%d stage(s): want a multi-stage build", len(stages))
			}
			aliases := map[string]bool{}
			for _, st := range stages {
				if !aliases[st.image] {
					checkImageRef(t, "FROM", st.image)
				}
				if st.alias != "" {
					aliases[st.alias] = true
				}
			}

			var build stage
			for _, st := range stages[:len(stages)-1] {
				for _, run := range st.find("RUN") {
					if strings.Contains(run, "go build") {
						build = st
						if !strings.Contains(run, "CGO_ENABLED=0") {
							t.Errorf("go build without CGO_ENABLED=0: %s", run)
						}
						if !strings.Contains(run, "-trimpath") {
							t.Errorf("go build without -trimpath: %s", run)
						}
						if !strings.HasSuffix(run, " "+tt.pkg) {
							t.Errorf("go build does not build %s: %s", tt.pkg, run)
						}
					}
				}
			}
			if build.image == "" {
				t.Fatal("no build stage runs go build")
			}
			if !strings.HasPrefix(build.image, "golang:") {
				t.Errorf("build stage is %s, want golang:", build.image)
			}
			// go refuses a workspace with a module missing: the build stage
			// copies the whole context, or at least every go.mod go.work uses.
			copies := build.find("COPY")
			if !slices.Contains(copies, ". .") {
				all := strings.Join(copies, "\n")
				for _, m := range modules {
					if !strings.Contains(all, m+"/go.mod") {
						t.Errorf("build stage copies neither the context nor %s/go.mod (go.work uses ./%s)", m, m)
					}
				}
			}

			final := stages[len(stages)-1]
			if strings.HasPrefix(final.image, "golang:") {
				t.Errorf("final stage is %s: ship the binary, not the toolchain", final.image)
			}
			users := final.find("USER")
			if len(users) == 0 {
				t.Fatal("final stage has no USER: it would run as root")
			}
			user, _, _ := strings.Cut(users[len(users)-1], ":")
			uid, err := strconv.Atoi(user)
			switch {
			case err != nil:
				t.Errorf("USER %q: want a numeric UID, which Kubernetes can check against runAsNonRoot", user)
			case uid == 0:
				t.Error("final stage runs as root (USER 0)")
			}
			var exposed []string
			for _, e := range final.find("EXPOSE") {
				exposed = append(exposed, strings.Fields(e)...)
			}
			for _, addr := range []string{defaultHTTPAddr, defaultMetricsAddr} {
				if p := strconv.Itoa(addrPort(t, addr, "")); !slices.Contains(exposed, p) {
					t.Errorf("EXPOSE %v lacks %s", exposed, p)
				}
			}
			if len(final.find("ENTRYPOINT")) == 0 {
				t.Error("final stage has no ENTRYPOINT")
			}
			if len(final.find("HEALTHCHECK")) == 0 {
				t.Error("final stage has no HEALTHCHECK")
			}
			if got := len(final.find("VOLUME")) > 0; got != tt.volumes {
				t.Errorf("declares a VOLUME: %v, want %v", got, tt.volumes)
			}
		})
	}
}

// TestDockerignore checks the build context keeps what the Dockerfiles
// copy: every module of go.work with its go.mod.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	keep := []string{"go.work", "go.work.sum"}
	for _, m := range workspaceModules(t) {
		keep = append(keep, m+"/go.mod", m+"/go.sum")
	}
	for _, line := range strings.Split(string(b), "\n") {
		pattern := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "/"), "/")
		if pattern == "" || strings.HasPrefix(pattern, "#") || strings.HasPrefix(pattern, "!") {
			continue
		}
		for _, k := range keep {
			if ok, _ := filepath.Match(pattern, k); ok || strings.HasPrefix(k, pattern+"/") {
				t.Errorf(".dockerignore %q excludes %s, which the Dockerfiles need", line, k)
			}
		}
	}
}
