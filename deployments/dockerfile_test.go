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

// buildPackage returns the package the go build of a Dockerfile's build
// stage compiles (its last argument, e.g. "./services/ingester"), and
// that stage.
func buildPackage(stages []stage) (string, stage) {
	for _, st := range stages[:max(len(stages)-1, 0)] {
		for _, run := range st.find("RUN") {
			if strings.Contains(run, "go build") {
				fields := strings.Fields(run)
				return fields[len(fields)-1], st
			}
		}
	}
	return "", stage{}
}

// dockerfileBinary returns the command under services/ a Dockerfile builds.
func dockerfileBinary(t *testing.T, path string) string {
	t.Helper()
	pkg, _ := buildPackage(parseDockerfile(t, path))
	binary, ok := strings.CutPrefix(pkg, "./services/")
	if !ok || strings.Contains(binary, "/") {
		t.Fatalf("%s: go build of %q, want ./services/<command>", path, pkg)
	}
	return binary
}

// dockerfileEnv returns the ENV of the final stage.
func dockerfileEnv(t *testing.T, stages []stage) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range stages[len(stages)-1].find("ENV") {
		for _, kv := range strings.Fields(e) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %s: use the KEY=value form", e)
			}
			env[k] = v
		}
	}
	return env
}

// imageEnv returns the environment the image of a binary sets
// (docker/Dockerfile.<binary>).
func imageEnv(t *testing.T, binary string) map[string]string {
	t.Helper()
	return dockerfileEnv(t, parseDockerfile(t, filepath.Join("docker", "Dockerfile."+binary)))
}

func TestDockerfiles(t *testing.T) {
	t.Parallel()
	modules := workspaceModules(t)
	facts := code(t)
	type dockerfileCase struct {
		file    string
		volumes bool // whether the image declares its data volume
	}
	tests := []dockerfileCase{
		{file: "Dockerfile.keycard", volumes: true},
		{file: "Dockerfile.ingester"},
		{file: "Dockerfile.normalizer"},
		{file: "Dockerfile.worker"},
	}
	// One Dockerfile per command, and every Dockerfile in the table.
	files, err := filepath.Glob("docker/Dockerfile.*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.ContainsFunc(tests, func(tt dockerfileCase) bool { return tt.file == filepath.Base(f) }) {
			t.Errorf("%s is not in TestDockerfiles' table", f)
		}
	}
	// Every server, that is; the operator CLIs (cliCommands) have no image.
	for binary := range facts.binaries {
		if _, cli := cliCommands[binary]; cli {
			continue
		}
		if _, err := os.Stat(filepath.Join("docker", "Dockerfile."+binary)); err != nil {
			t.Errorf("services/%s has no Dockerfile: %v", binary, err)
		}
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

			// Dockerfile.<binary> builds ./services/<binary>.
			binary := strings.TrimPrefix(tt.file, "Dockerfile.")
			pkg, build := buildPackage(stages)
			if build.image == "" {
				t.Fatal("no build stage runs go build")
			}
			if want := "./services/" + binary; pkg != want {
				t.Errorf("go build compiles %s, want %s", pkg, want)
			}
			if _, ok := facts.binaries[binary]; !ok {
				t.Errorf("services/%s is not a command that reads its environment with envconfig", binary)
			}
			for _, run := range build.find("RUN") {
				if strings.Contains(run, "go build") {
					if !strings.Contains(run, "CGO_ENABLED=0") {
						t.Errorf("go build without CGO_ENABLED=0: %s", run)
					}
					if !strings.Contains(run, "-trimpath") {
						t.Errorf("go build without -trimpath: %s", run)
					}
					if !strings.Contains(run, "-o /out/"+binary+" ") {
						t.Errorf("go build does not write /out/%s: %s", binary, run)
					}
				}
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
			env := dockerfileEnv(t, stages)
			for k := range env {
				checkEnvName(t, "ENV", binary, k)
			}
			// EXPOSE exactly the ports the binary listens on.
			want := []string{strconv.Itoa(listenPort(t, "KEYCARD_METRICS_ADDR", env["KEYCARD_METRICS_ADDR"]))}
			if facts.reads(binary, "KEYCARD_HTTP_ADDR") {
				want = append(want, strconv.Itoa(listenPort(t, "KEYCARD_HTTP_ADDR", env["KEYCARD_HTTP_ADDR"])))
			}
			var exposed []string
			for _, e := range final.find("EXPOSE") {
				exposed = append(exposed, strings.Fields(e)...)
			}
			slices.Sort(want)
			slices.Sort(exposed)
			if !slices.Equal(exposed, want) {
				t.Errorf("EXPOSE %v, want %v (the ports services/%s listens on)", exposed, want, binary)
			}
			if entry := final.find("ENTRYPOINT"); len(entry) == 0 {
				t.Error("final stage has no ENTRYPOINT")
			} else if !strings.Contains(entry[len(entry)-1], "/"+binary+`"`) {
				t.Errorf("ENTRYPOINT %s does not run %s", entry[len(entry)-1], binary)
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
