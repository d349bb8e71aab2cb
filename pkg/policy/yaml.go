package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes a document expands to through aliases, so a
// "billion laughs" file fails instead of exhausting memory.
const maxNodes = 100_000

// yamlLineErr matches go.yaml.in/yaml/v3's syntax errors.
var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML parses data as exactly one YAML document and returns its root
// node (not the document node).
func decodeYAML(file string, data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty configuration; want apps and policy"}
		}
		return nil, syntaxError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(file, data, err)
		}
		return nil, &Error{File: file, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document"}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty configuration; want apps and policy"}
	}
	return doc.Content[0], nil
}

// syntaxError turns a YAML parser error into an *Error. The parser names
// the line where the enclosing block starts, which may be far above the
// mistake; the shortest prefix of whole lines that fails with the same
// problem ends on the line of the mistake itself, so that line is reported
// and the parser's line named in the message.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLineErr.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: "invalid YAML: " + msg}
	}
	ctx, _ := strconv.Atoi(m[1])
	problem := m[2]
	line := ctx
	if at := failingLine(data, problem); at > ctx {
		line = at
		problem += fmt.Sprintf(" (in the block starting on line %d)", ctx)
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + problem}
}

// maxSyntaxSearch bounds the lines failingLine tries.
const maxSyntaxSearch = 2000

// failingLine returns the number of lines in the shortest prefix of data
// that fails to parse with problem, or 0.
func failingLine(data []byte, problem string) int {
	end := 0
	for n := 1; n <= maxSyntaxSearch && end < len(data); n++ {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data[:end]))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if err == nil {
				continue
			}
			if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil && m[2] == problem {
				return n
			}
			break
		}
	}
	return 0
}

// converter turns a YAML node tree into the JSON data model the schema
// validator works on (map[string]any, []any, string, bool, numbers, nil),
// recording what JSON cannot say (duplicate or non-scalar keys, merge
// keys, non-finite numbers) as errors.
type converter struct {
	root  *yaml.Node
	file  string
	nodes int
	errs  []*Error
}

func (c *converter) errorf(n *yaml.Node, path []string, format string, args ...any) {
	c.errs = append(c.errs, &Error{
		File: c.file, Line: n.Line, Column: n.Column,
		Field: fieldPath(c.root, path), Msg: fmt.Sprintf(format, args...),
	})
}

func (c *converter) value(n *yaml.Node, path []string) any {
	c.nodes++
	if c.nodes > maxNodes {
		if c.nodes == maxNodes+1 {
			c.errorf(n, path, "document expands to more than %d nodes (aliases)", maxNodes)
		}
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.value(n.Alias, path)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], path)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = c.value(item, appendPath(path, strconv.Itoa(i)))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.errorf(k, path, "keys must be strings")
				continue
			}
			if k.ShortTag() == "!!merge" {
				c.errorf(k, path, "merge keys (<<) are not supported; repeat the settings")
				continue
			}
			if _, dup := out[k.Value]; dup {
				c.errorf(k, appendPath(path, k.Value), "duplicate key %q", k.Value)
				continue
			}
			out[k.Value] = c.value(v, appendPath(path, k.Value))
		}
		return out
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	return nil
}

func (c *converter) scalar(n *yaml.Node, path []string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			c.errorf(n, path, "%v", err)
			return nil
		}
		if f, ok := v.(float64); ok && (f != f || f > 1e308 || f < -1e308) {
			c.errorf(n, path, "%s is not a finite number", n.Value)
			return nil
		}
		return v
	default: // !!str, !!timestamp, !!binary and custom tags keep their text
		return n.Value
	}
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// appendPath returns path+tok without aliasing path's backing array.
func appendPath(path []string, tok string) []string {
	return append(path[:len(path):len(path)], tok)
}

// lookup finds the node at path (JSON pointer tokens) below root. key is
// the mapping key node of the last token (nil for sequence items and the
// root); val is nil when the path does not exist. When the path stops
// early, lookup returns the deepest node it reached as key and val.
func lookup(root *yaml.Node, path []string) (key, val *yaml.Node, found bool) {
	n := resolve(root)
	for _, tok := range path {
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == tok {
					key, next = k, resolve(n.Content[i+1])
					break
				}
			}
			if next == nil {
				return n, n, false
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, n, false
			}
			key, n = nil, resolve(n.Content[i])
		default:
			return n, n, false
		}
	}
	if key == nil {
		key = n
	}
	return key, n, true
}

// identifier is a key that reads well after a dot.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// fieldPath formats path as "policy.rules[1].grant.slack.groups[0]",
// looking at the nodes to tell sequence indexes from mapping keys.
func fieldPath(root *yaml.Node, path []string) string {
	var sb strings.Builder
	n := resolve(root)
	for _, tok := range path {
		isIndex := n != nil && n.Kind == yaml.SequenceNode
		if n == nil {
			_, err := strconv.Atoi(tok)
			isIndex = err == nil
		}
		switch {
		case isIndex:
			sb.WriteString("[" + tok + "]")
		case identifier.MatchString(tok):
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(tok)
		default:
			sb.WriteString("[" + strconv.Quote(tok) + "]")
		}
		if n != nil {
			if _, next, ok := lookup(n, []string{tok}); ok {
				n = next
			} else {
				n = nil
			}
		}
	}
	return sb.String()
}

// decodeDuration is time.ParseDuration for a YAML scalar.
func decodeDuration(n *yaml.Node) (time.Duration, error) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, errors.New("want a duration such as 10m")
	}
	return time.ParseDuration(n.Value)
}
