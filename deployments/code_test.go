package deployments

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// This file derives from the Go sources (not from lists kept by hand) what
// the deployment files are checked against: the environment variables
// Keycard reads, which of them each binary reads, their defaults, and the
// keycard_* metrics with their types and labels.

// sourceRoots are the folders, relative to the repository root, whose Go
// files (tests excluded) are scanned.
var sourceRoots = []string{"pkg", "services"}

// envDecl is one struct field tagged `envconfig:"NAME"`.
type envDecl struct {
	def        string // the default:"…" tag
	hasDefault bool
	where      string // file:line
}

// metricKind says how a metric may be referenced in PromQL.
type metricKind int

const (
	counter metricKind = iota
	gauge
	histogram // only as <name>_bucket, _sum or _count
	summary   // as <name> (with quantile), <name>_sum or <name>_count
)

func (k metricKind) String() string {
	return [...]string{"counter", "gauge", "histogram", "summary"}[k]
}

// constructors maps the client_golang constructors to the type of what
// they build.
var constructors = map[string]metricKind{
	"NewCounter": counter, "NewCounterVec": counter, "NewCounterFunc": counter,
	"NewGauge": gauge, "NewGaugeVec": gauge, "NewGaugeFunc": gauge,
	"NewHistogram": histogram, "NewHistogramVec": histogram,
	"NewSummary": summary, "NewSummaryVec": summary,
}

// helpers maps the functions of keycard/pkg/metrics, which every metric is
// built with, to the type of what they build and the index of their first
// label argument (after reg, name, help and a histogram's buckets).
var helpers = map[string]struct {
	kind       metricKind
	vec        bool
	firstLabel int
}{
	"Counter": {counter, false, 3}, "CounterVec": {counter, true, 3},
	"Gauge": {gauge, false, 3}, "GaugeVec": {gauge, true, 3},
	"Histogram": {histogram, false, 4}, "HistogramVec": {histogram, true, 4},
}

// metricInfo is one metric a constructor in the sources builds.
type metricInfo struct {
	kind   metricKind
	labels []string // the variable labels, in declaration order
	where  string   // file:line
}

// codeFacts is what the sources say.
type codeFacts struct {
	// env holds every variable some struct tags `envconfig:"NAME"`, with
	// each declaration (the single binary and a standalone service may
	// declare the same name).
	env map[string][]envDecl
	// binaries maps each command under services/ (its folder name, which
	// is also its image name) to the variables its config type reads,
	// through embedded structs and type aliases.
	binaries map[string]map[string]bool
	// commands holds every command under services/ (a package main in
	// services/<name>), whether or not it reads envconfig, with whether it
	// listens: calls service.Setup (which serves /metrics, /healthz and
	// /readyz), an http ListenAndServe/Serve or a net.Listen.
	commands map[string]bool
	// metrics holds the keycard_* metrics by full name.
	metrics map[string]metricInfo
	// strings holds every string literal of the scanned files.
	strings map[string]bool
}

var scanCodeOnce = sync.OnceValues(scanCode)

// code returns the facts derived from the sources, scanned once per run.
func code(t *testing.T) *codeFacts {
	t.Helper()
	c, err := scanCodeOnce()
	if err != nil {
		t.Fatalf("deriving variables and metrics from the Go sources: %v", err)
	}
	return c
}

// envDefault returns the default of a variable as its envconfig tag says.
func (c *codeFacts) envDefault(t *testing.T, name string) string {
	t.Helper()
	decls := c.env[name]
	if len(decls) == 0 || !decls[0].hasDefault {
		t.Fatalf("%s has no default:\"…\" tag in the sources", name)
	}
	return decls[0].def
}

// reads reports whether binary reads the variable name.
func (c *codeFacts) reads(binary, name string) bool { return c.binaries[binary][name] }

// goPackage is the non-test files of one folder.
type goPackage struct {
	dir   string
	name  string
	files []*ast.File
}

type scanner struct {
	fset    *token.FileSet
	pkgs    map[string]*goPackage // by folder, relative to the repository root
	modules map[string]string     // module path -> folder
	facts   *codeFacts
	errs    []error
}

func (s *scanner) errorf(pos token.Pos, format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("%s: %s", s.pos(pos), fmt.Sprintf(format, args...)))
}

// pos is file:line relative to the repository root.
func (s *scanner) pos(p token.Pos) string {
	position := s.fset.Position(p)
	if rel, err := filepath.Rel(repoRoot, position.Filename); err == nil {
		position.Filename = filepath.ToSlash(rel)
	}
	return fmt.Sprintf("%s:%d", position.Filename, position.Line)
}

func scanCode() (*codeFacts, error) {
	s := &scanner{
		fset:    token.NewFileSet(),
		pkgs:    map[string]*goPackage{},
		modules: map[string]string{},
		facts: &codeFacts{
			env:      map[string][]envDecl{},
			binaries: map[string]map[string]bool{},
			commands: map[string]bool{},
			metrics:  map[string]metricInfo{},
			strings:  map[string]bool{},
		},
	}
	if err := s.readModules(); err != nil {
		return nil, err
	}
	for _, root := range sourceRoots {
		if err := s.parseTree(root); err != nil {
			return nil, err
		}
	}
	// Sorted, so errors come out in a stable order.
	dirs := make([]string, 0, len(s.pkgs))
	for dir := range s.pkgs {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	metricNames := map[string]token.Pos{} // every Name: "keycard_…" field
	for _, dir := range dirs {
		for _, f := range s.pkgs[dir].files {
			s.scanFile(f, metricNames)
		}
	}
	for name, pos := range metricNames {
		if _, ok := s.facts.metrics[name]; !ok {
			s.errorf(pos, "metric %s: not built by a client_golang constructor these tests recognise, so its type is unknown", name)
		}
	}
	for _, dir := range dirs {
		if p := s.pkgs[dir]; p.name == "main" && path.Dir(dir) == "services" {
			s.facts.commands[path.Base(dir)] = s.listens(p)
			s.scanBinary(p)
		}
	}
	switch {
	case len(s.facts.env) == 0:
		s.errs = append(s.errs, errors.New(`no struct field tagged envconfig:"…" found`))
	case len(s.facts.binaries) == 0:
		s.errs = append(s.errs, errors.New("no command under services/ calls envconfig.Process"))
	case len(s.facts.metrics) == 0:
		s.errs = append(s.errs, errors.New("no keycard_* metric found"))
	}
	return s.facts, errors.Join(s.errs...)
}

// readModules maps the module paths of go.work's modules to their folders.
func (s *scanner) readModules() error {
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		return err
	}
	for _, dir := range parseGoWork(string(b)) {
		mod, err := os.ReadFile(filepath.Join(repoRoot, dir, "go.mod"))
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(mod), "\n") {
			if p, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
				s.modules[strings.Trim(strings.TrimSpace(p), `"`)] = dir
			}
		}
	}
	return nil
}

// parseTree parses the non-test Go files under root.
func (s *scanner) parseTree(root string) error {
	return filepath.WalkDir(filepath.Join(repoRoot, root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" || name == "vendor" || (strings.HasPrefix(name, ".") && name != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(name) != ".go" || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(s.fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		pkg := s.pkgs[rel]
		if pkg == nil {
			pkg = &goPackage{dir: rel, name: f.Name.Name}
			s.pkgs[rel] = pkg
		}
		pkg.files = append(pkg.files, f)
		return nil
	})
}

// scanFile records the file's envconfig tags, metrics and string literals.
func (s *scanner) scanFile(f *ast.File, metricNames map[string]token.Pos) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if v, err := strconv.Unquote(n.Value); err == nil {
					s.facts.strings[v] = true
				}
			}
		case *ast.StructType:
			for _, field := range n.Fields.List {
				tag := fieldTag(field)
				name, ok := tag.Lookup("envconfig")
				if !ok || tag.Get("ignored") == "true" {
					continue
				}
				def, hasDefault := tag.Lookup("default")
				s.facts.env[name] = append(s.facts.env[name], envDecl{def: def, hasDefault: hasDefault, where: s.pos(field.Pos())})
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Name" {
				if v, ok := stringLit(n.Value); ok && strings.HasPrefix(v, "keycard_") {
					metricNames[v] = n.Pos()
				}
			}
		case *ast.CallExpr:
			s.scanConstructor(n)
		}
		return true
	})
}

// scanConstructor records a metric built by prometheus.NewCounter(…) and
// the like: the name from the Opts literal (Namespace, Subsystem, Name),
// the type from the constructor, the labels from a Vec's label list.
func (s *scanner) scanConstructor(call *ast.CallExpr) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return
	}
	if isIdent(sel.X, "metrics") {
		s.scanHelper(call, sel.Sel.Name)
		return
	}
	if strings.HasPrefix(s.pos(call.Pos()), "pkg/metrics/") {
		return // the helpers themselves: their names are arguments
	}
	kind, ok := constructors[sel.Sel.Name]
	if !ok || len(call.Args) == 0 {
		return
	}
	opts, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return
	}
	if typ, ok := opts.Type.(*ast.SelectorExpr); !ok || !strings.HasSuffix(typ.Sel.Name, "Opts") {
		return
	}
	var parts [3]string // Namespace, Subsystem, Name
	for _, elt := range opts.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, _ := kv.Key.(*ast.Ident)
		if k == nil {
			continue
		}
		i := slices.Index([]string{"Namespace", "Subsystem", "Name"}, k.Name)
		if i < 0 {
			continue
		}
		v, ok := stringLit(kv.Value)
		if !ok {
			s.errorf(kv.Pos(), "%s.%s is not a string literal; these tests cannot read the metric's name", sel.Sel.Name, k.Name)
			return
		}
		parts[i] = v
	}
	var nonEmpty []string
	for _, p := range parts {
		if p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	name := strings.Join(nonEmpty, "_") // prometheus.BuildFQName
	if !strings.HasPrefix(name, "keycard_") {
		return
	}
	info := metricInfo{kind: kind, where: s.pos(call.Pos())}
	if strings.HasSuffix(sel.Sel.Name, "Vec") {
		if len(call.Args) < 2 {
			s.errorf(call.Pos(), "%s of %s without labels", sel.Sel.Name, name)
			return
		}
		list, ok := call.Args[1].(*ast.CompositeLit)
		if !ok {
			s.errorf(call.Args[1].Pos(), "labels of %s are not a []string{…} literal; these tests cannot read them", name)
			return
		}
		for _, elt := range list.Elts {
			v, ok := stringLit(elt)
			if !ok {
				s.errorf(elt.Pos(), "a label of %s is not a string literal", name)
				return
			}
			info.labels = append(info.labels, v)
		}
	}
	s.record(call, name, info)
}

// scanHelper records a metric built by metrics.CounterVec(reg, name, help,
// labels…) and the like.
func (s *scanner) scanHelper(call *ast.CallExpr, fn string) {
	h, ok := helpers[fn]
	if !ok || len(call.Args) < h.firstLabel {
		return
	}
	name, ok := stringLit(call.Args[1])
	if !ok {
		s.errorf(call.Args[1].Pos(), "the name given to metrics.%s is not a string literal; these tests cannot read it", fn)
		return
	}
	info := metricInfo{kind: h.kind, where: s.pos(call.Pos())}
	for _, arg := range call.Args[h.firstLabel:] {
		v, ok := stringLit(arg)
		if !ok {
			s.errorf(arg.Pos(), "a label of %s is not a string literal", name)
			return
		}
		info.labels = append(info.labels, v)
	}
	if h.vec && len(info.labels) == 0 {
		s.errorf(call.Pos(), "metrics.%s of %s without labels", fn, name)
		return
	}
	s.record(call, name, info)
}

func (s *scanner) record(call *ast.CallExpr, name string, info metricInfo) {
	if prev, dup := s.facts.metrics[name]; dup {
		if prev.kind != info.kind || !slices.Equal(prev.labels, info.labels) {
			s.errorf(call.Pos(), "metric %s is also built at %s as a %s with labels %v", name, prev.where, prev.kind, prev.labels)
		}
		return
	}
	s.facts.metrics[name] = info
}

// scanBinary records the variables a command reads: the type of the
// variable its envconfig.Process call fills, walked through embedded
// structs (as envconfig does with an empty prefix).
func (s *scanner) scanBinary(p *goPackage) {
	binary := path.Base(p.dir)
	for _, f := range p.files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Process" || !isIdent(sel.X, "envconfig") || len(call.Args) != 2 {
				return true
			}
			if prefix, ok := stringLit(call.Args[0]); !ok || prefix != "" {
				s.errorf(call.Pos(), "envconfig.Process with a prefix: the tags would not be the variables' names")
				return true
			}
			u, ok := call.Args[1].(*ast.UnaryExpr)
			if !ok || u.Op != token.AND {
				s.errorf(call.Pos(), "envconfig.Process(\"\", …) without &variable")
				return true
			}
			v, ok := u.X.(*ast.Ident)
			if !ok {
				s.errorf(call.Pos(), "envconfig.Process(\"\", &…) of something other than a variable")
				return true
			}
			typ := varType(f, v.Name)
			if typ == nil {
				s.errorf(call.Pos(), "cannot find `var %s T` in %s", v.Name, s.pos(f.Package))
				return true
			}
			if s.facts.binaries[binary] == nil {
				s.facts.binaries[binary] = map[string]bool{}
			}
			s.collectEnv(p, f, typ, map[string]bool{}, s.facts.binaries[binary])
			return true
		})
	}
}

// listenCalls are the calls that make a command a server, by import path
// ("" for a method on any value, such as an http.Server's).
var listenCalls = map[string][]string{
	"keycard/pkg/service": {"Setup"},
	"net/http":            {"ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS"},
	"net":                 {"Listen", "ListenTCP", "ListenUnix"},
	"":                    {"ListenAndServe", "ListenAndServeTLS"},
}

// listens reports whether the command's own package calls one of
// listenCalls. Listeners in other packages count only through the call
// that starts them here (service.Setup), which is how every server of this
// repository starts its metrics port.
func (s *scanner) listens(p *goPackage) bool {
	found := false
	for _, f := range p.files {
		imports := map[string]string{} // local name -> import path
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			local := path.Base(ip)
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = ip
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return !found
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			importPath := ""
			if x, ok := sel.X.(*ast.Ident); ok {
				importPath = imports[x.Name]
			}
			found = found || slices.Contains(listenCalls[importPath], sel.Sel.Name) ||
				slices.Contains(listenCalls[""], sel.Sel.Name)
			return !found
		})
	}
	return found
}

// collectEnv adds the variables of the type expression typ (in file f of
// package p) to out.
func (s *scanner) collectEnv(p *goPackage, f *ast.File, typ ast.Expr, seen map[string]bool, out map[string]bool) {
	switch t := typ.(type) {
	case *ast.StarExpr:
		s.collectEnv(p, f, t.X, seen, out)
	case *ast.ParenExpr:
		s.collectEnv(p, f, t.X, seen, out)
	case *ast.Ident:
		s.collectNamed(p, t.Name, t.Pos(), seen, out)
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		if !ok {
			s.errorf(t.Pos(), "cannot resolve type %s", exprString(t))
			return
		}
		q := s.importedPackage(f, x.Name)
		if q == nil {
			s.errorf(t.Pos(), "type %s: package %s is not in the workspace's pkg/ or services/", exprString(t), x.Name)
			return
		}
		s.collectNamed(q, t.Sel.Name, t.Pos(), seen, out)
	case *ast.StructType:
		for _, field := range t.Fields.List {
			tag := fieldTag(field)
			if tag.Get("ignored") == "true" {
				continue
			}
			if name, ok := tag.Lookup("envconfig"); ok {
				out[name] = true
				continue
			}
			if len(field.Names) == 0 { // embedded: same prefix, so its fields' own names
				s.collectEnv(p, f, field.Type, seen, out)
				continue
			}
			for _, n := range field.Names {
				if n.IsExported() {
					s.errorf(n.Pos(), "field %s has no envconfig tag: envconfig would read %s", n.Name, strings.ToUpper(n.Name))
				}
			}
		}
	default:
		s.errorf(typ.Pos(), "cannot read the variables of type %s", exprString(typ))
	}
}

// collectNamed resolves the named type name of package p (a struct, a
// defined type or an alias) and collects its variables.
func (s *scanner) collectNamed(p *goPackage, name string, pos token.Pos, seen map[string]bool, out map[string]bool) {
	key := p.dir + "." + name
	if seen[key] {
		return
	}
	seen[key] = true
	for _, f := range p.files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				if ts := spec.(*ast.TypeSpec); ts.Name.Name == name {
					s.collectEnv(p, f, ts.Type, seen, out)
					return
				}
			}
		}
	}
	s.errorf(pos, "type %s not found in %s", name, p.dir)
}

// importedPackage returns the workspace package that the file f imports
// under the name local, or nil.
func (s *scanner) importedPackage(f *ast.File, local string) *goPackage {
	for _, imp := range f.Imports {
		importPath, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		p := s.pkgs[s.importDir(importPath)]
		if p == nil {
			continue
		}
		if (imp.Name != nil && imp.Name.Name == local) || (imp.Name == nil && p.name == local) {
			return p
		}
	}
	return nil
}

// importDir maps an import path of a workspace module to its folder.
func (s *scanner) importDir(importPath string) string {
	best, dir := "", ""
	for mod, d := range s.modules {
		if (importPath == mod || strings.HasPrefix(importPath, mod+"/")) && len(mod) > len(best) {
			best, dir = mod, path.Join(d, strings.TrimPrefix(importPath[len(mod):], "/"))
		}
	}
	return dir
}

// varType finds `var name T` in f and returns T.
func varType(f *ast.File, name string) ast.Expr {
	var typ ast.Expr
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && vs.Type != nil {
			for _, id := range vs.Names {
				if id.Name == name {
					typ = vs.Type
				}
			}
		}
		return typ == nil
	})
	return typ
}

func fieldTag(field *ast.Field) reflect.StructTag {
	if field.Tag == nil {
		return ""
	}
	v, err := strconv.Unquote(field.Tag.Value)
	if err != nil {
		return ""
	}
	return reflect.StructTag(v)
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	}
	return fmt.Sprintf("%T", e)
}

// TestCodeFacts checks the derivation itself found what it must: if a
// refactoring moved the variables or metrics out of its reach, every
// other test would check against too little.
func TestCodeFacts(t *testing.T) {
	t.Parallel()
	c := code(t)
	for _, binary := range []string{"keycard", "ingester", "normalizer", "worker"} {
		if !c.commands[binary] {
			t.Errorf("services/%s: no listener found (service.Setup)", binary)
		}
		vars := c.binaries[binary]
		if len(vars) == 0 {
			t.Errorf("found no variables read by services/%s", binary)
			continue
		}
		// service.Base, which every process embeds.
		for _, name := range []string{"KEYCARD_METRICS_ADDR", "NATS_URL", "KEYCARD_LOG_LEVEL"} {
			if !vars[name] {
				t.Errorf("services/%s: %s not found through its config type", binary, name)
			}
		}
	}
	for binary, vars := range c.binaries {
		for name := range vars {
			if len(c.env[name]) == 0 {
				t.Errorf("services/%s reads %s, which no envconfig tag declares", binary, name)
			}
		}
	}
	for _, name := range []string{"keycard_ingester_requests_total", "keycard_normalizer_messages_total", "keycard_poller_polls_total",
		"keycard_worker_events_total"} {
		if _, ok := c.metrics[name]; !ok {
			t.Errorf("metric %s not found", name)
		}
	}
	for _, name := range []string{"keycard_normalizer_message_duration_seconds", "keycard_worker_end_to_end_seconds"} {
		if m := c.metrics[name]; m.kind != histogram {
			t.Errorf("%s is a %s, want histogram", name, m.kind)
		}
	}
}

// TestCommands sorts the commands under services/ into servers, which the
// deployment files must cover, and the operator CLIs of cliCommands,
// which they must not.
func TestCommands(t *testing.T) {
	t.Parallel()
	c := code(t)
	for name, listens := range c.commands {
		_, cli := cliCommands[name]
		_, envconfig := c.binaries[name]
		switch {
		case cli && listens:
			t.Errorf("services/%s is in cliCommands but starts a listener: it is a server now; remove it from cliCommands and deploy it", name)
		case !cli && !listens:
			t.Errorf("services/%s starts no listener (service.Setup): if it is an operator tool, add it to cliCommands", name)
		case !cli && !envconfig:
			t.Errorf("services/%s does not read its environment with envconfig.Process(\"\", &cfg), so these tests cannot see its variables", name)
		}
	}
	for name, what := range cliCommands {
		if _, ok := c.commands[name]; !ok {
			t.Logf("cliCommands: services/%s (%s) is not a command in the workspace (yet)", name, what)
		}
	}
}

// TestEnvDefaultsAgree checks a variable declared by several structs has
// one default, so the README's default column has one truth.
func TestEnvDefaultsAgree(t *testing.T) {
	t.Parallel()
	for name, decls := range code(t).env {
		for _, d := range decls[1:] {
			if d.hasDefault != decls[0].hasDefault || d.def != decls[0].def {
				t.Errorf("%s: default %q at %s, but %q at %s", name, d.def, d.where, decls[0].def, decls[0].where)
			}
		}
	}
}
