package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"go.yaml.in/yaml/v3"

	"keycard/pkg/event"
)

// employeeType is the CEL type name of event.Employee.
const employeeType = "event.Employee"

// celEnv is the environment rule conditions compile in: the variable
// employee of type event.Employee, whose fields are its JSON names, and
// the CEL string extensions. Built once, on first use; cel.Env is safe for
// concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[event.Employee](), ext.ParseStructTag("json")),
		cel.Variable("employee", cel.ObjectType(employeeType)),
		ext.Strings(),
	)
})

// employeeFields lists event.Employee's JSON field names, for suggestions.
var employeeFields = sync.OnceValue(func() []string {
	t := reflect.TypeFor[event.Employee]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
})

// celIssue is one compile problem, at a 1-based line and 0-based column of
// the expression.
type celIssue struct {
	line, col int
	msg       string
}

// compileWhen compiles a rule condition, which must be of type bool.
func compileWhen(env *cel.Env, src string) (cel.Program, []celIssue) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		var out []celIssue
		for _, e := range iss.Errors() {
			out = append(out, celIssue{line: e.Location.Line(), col: e.Location.Column(), msg: explain(e.Message)})
		}
		return nil, out
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, []celIssue{{line: 1, col: -1, msg: fmt.Sprintf("must be a bool expression, got %s", cel.FormatCELType(t))}}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []celIssue{{line: 1, col: -1, msg: err.Error()}}
	}
	return prg, nil
}

// explain adds a suggestion to the checker's "undefined field" message,
// which only ever concerns employee (the one object type).
func explain(msg string) string {
	const prefix = "undefined field '"
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, "'") {
		return msg
	}
	field := msg[len(prefix) : len(msg)-1]
	msg = fmt.Sprintf("unknown employee field '%s'", field)
	best, bestD := "", 3
	for _, f := range employeeFields() {
		if d := distance(field, f); d < bestD {
			best, bestD = f, d
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(" (did you mean '%s'?)", best)
	}
	return msg + " (fields: " + strings.Join(employeeFields(), ", ") + ")"
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// exprPos maps a position inside the expression held by scalar node n
// (1-based line, 0-based column, col < 0 for "the whole expression") to a
// file position. It is exact for one-line plain and quoted scalars without
// escapes and for literal blocks (|); otherwise it returns the node's
// position and a note naming the position inside the expression.
func exprPos(n *yaml.Node, lines []string, line, col int) (fileLine, fileCol int, note string) {
	if col < 0 {
		return n.Line, n.Column, ""
	}
	exprLines := strings.Split(n.Value, "\n")
	if line >= 1 && line <= len(exprLines) {
		text := exprLines[line-1]
		switch {
		case n.Style&yaml.LiteralStyle != 0:
			// Content line k is file line n.Line+k; its indentation is
			// whatever precedes the text.
			if src, ok := lineAt(lines, n.Line+line); ok && text != "" && strings.HasSuffix(src, text) {
				indent := utf8.RuneCountInString(src) - utf8.RuneCountInString(text)
				return n.Line + line, indent + col + 1, ""
			}
		case len(exprLines) == 1:
			off := 0
			if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
				off = 1
			}
			if src, ok := lineAt(lines, n.Line); ok {
				rs := []rune(src)
				start := n.Column - 1 + off
				if start <= len(rs) && strings.HasPrefix(string(rs[start:]), text) {
					return n.Line, n.Column + off + col, ""
				}
			}
		}
	}
	if len(exprLines) > 1 {
		return n.Line, n.Column, fmt.Sprintf(" (expression line %d, column %d)", line, col+1)
	}
	return n.Line, n.Column, fmt.Sprintf(" (expression column %d)", col+1)
}

// lineAt returns the 1-based line i of the file.
func lineAt(lines []string, i int) (string, bool) {
	if i < 1 || i > len(lines) {
		return "", false
	}
	return strings.TrimRight(lines[i-1], "\r"), true
}
