package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// attrPattern is the attribute paths a filter may name: RFC 7644 §3.4.2.2
// attrPath = [URI ":"] ATTRNAME *1subAttr, with ATTRNAME = ALPHA *(nameChar).
// The URI part is limited to URN characters, so nothing in an attribute can
// break out of the filter.
var attrPattern = regexp.MustCompile(`^(?:[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9.:_-]*:)?[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)?$`)

// maxFilterBytes bounds a filter; vendors reject far shorter ones.
const maxFilterBytes = 4 << 10

// Filter is a SCIM filter expression (RFC 7644 §3.4.2.2), built with [Eq],
// [And] and [Or] so that values are always quoted and escaped and attribute
// names are checked. The zero Filter matches everything (no filter
// parameter is sent). A Filter built from a bad attribute or value carries
// the error; the client returns it, permanent, without sending anything.
type Filter struct {
	expr     string
	attrs    []string // attribute paths compared, for the profile check
	compound bool     // top level is and/or
	err      error
}

// Eq is `attr eq "value"`. attr must be an attribute path such as
// userName, emails.value, externalId, or an extension attribute
// (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department).
// value is written as a JSON string (RFC 7644 §3.4.2.2 defers to RFC 7159
// for compValue): quotes and backslashes are escaped, control characters
// become \u escapes, everything else (plus signs, non-ASCII) is kept as is.
// value must be valid UTF-8.
func Eq(attr, value string) Filter {
	if !attrPattern.MatchString(attr) {
		return Filter{err: fmt.Errorf("scim filter: attribute %q is not a SCIM attribute path", attr)}
	}
	if !utf8.ValidString(value) {
		return Filter{err: fmt.Errorf("scim filter: value for %s is not valid UTF-8", attr)}
	}
	if len(value) > maxFilterBytes {
		return Filter{err: fmt.Errorf("scim filter: value for %s longer than %d bytes", attr, maxFilterBytes)}
	}
	f := Filter{expr: attr + " eq " + quote(value), attrs: []string{attr}}
	if len(f.expr) > maxFilterBytes {
		return Filter{err: fmt.Errorf("scim filter: longer than %d bytes", maxFilterBytes)}
	}
	return f
}

// And joins filters with "and"; Or with "or". Nested and/or operands are
// parenthesised, so precedence never depends on the reader. Zero filters
// are skipped; joining nothing gives the zero Filter.
func And(fs ...Filter) Filter { return join("and", fs) }

// Or joins filters with "or"; see [And].
func Or(fs ...Filter) Filter { return join("or", fs) }

func join(op string, fs []Filter) Filter {
	var parts []string
	var attrs []string
	for _, f := range fs {
		if f.err != nil {
			return Filter{err: f.err}
		}
		if f.expr == "" {
			continue
		}
		e := f.expr
		if f.compound {
			e = "(" + e + ")"
		}
		parts = append(parts, e)
		attrs = append(attrs, f.attrs...)
	}
	switch len(parts) {
	case 0:
		return Filter{}
	case 1:
		// A single operand is that operand (already parenthesised if it was
		// compound, which is harmless), keeping its attributes.
		for _, f := range fs {
			if f.expr != "" {
				return f
			}
		}
	}
	f := Filter{expr: strings.Join(parts, " "+op+" "), attrs: attrs, compound: true}
	if len(f.expr) > maxFilterBytes {
		return Filter{err: fmt.Errorf("scim filter: longer than %d bytes", maxFilterBytes)}
	}
	return f
}

// String is the filter expression, unescaped for the URL ("" for the zero
// Filter or one with an error).
func (f Filter) String() string {
	if f.err != nil {
		return ""
	}
	return f.expr
}

// Err is the error the filter was built with, if any.
func (f Filter) Err() error { return f.err }

// IsZero reports whether f is the empty filter.
func (f Filter) IsZero() bool { return f.expr == "" && f.err == nil }

// Attributes lists the attribute paths f compares, in order.
func (f Filter) Attributes() []string { return append([]string(nil), f.attrs...) }

// quote writes s as a JSON string without HTML escaping: only '"', '\\' and
// control characters are escaped, so servers with simple filter parsers see
// the value as it is.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// ---- parsing ----------------------------------------------------------------
//
// The client parses filters in two places: the value filters inside PATCH
// paths (members[value eq "2819c223"]) when it applies a patch itself for
// the PUT fallback, and the fuzz test that checks the builder. The grammar
// is RFC 7644 §3.4.2.2 with its ABNF in Figure 1:
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER     ; "and" binds tighter
//	compValue = false / null / true / number / string  ; RFC 7159

// node is a parsed filter.
type node interface{ isNode() }

type cmpNode struct {
	Attr  string
	Op    string // lower case: eq ne co sw ew gt ge lt le pr
	Value any    // string, bool, nil, json.Number; nil for pr
}

type logNode struct {
	Op   string // "and" or "or"
	L, R node
}

type notNode struct{ X node }

type valuePathNode struct {
	Attr   string
	Filter node
}

func (cmpNode) isNode()       {}
func (logNode) isNode()       {}
func (notNode) isNode()       {}
func (valuePathNode) isNode() {}

func isCompareOp(op string) bool {
	switch op {
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		return true
	}
	return false
}

// maxFilterDepth bounds nesting so a hostile filter cannot exhaust the stack.
const maxFilterDepth = 32

type filterParser struct {
	s     string
	pos   int
	depth int
}

// parseFilter parses a filter expression strictly: every string must be a
// valid JSON string, every attribute must match attrPattern, and nothing
// may follow the expression.
func parseFilter(s string) (node, error) {
	if len(s) > maxFilterBytes {
		return nil, fmt.Errorf("filter longer than %d bytes", maxFilterBytes)
	}
	p := &filterParser{s: s}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d", p.rest(8), p.pos)
	}
	return n, nil
}

func (p *filterParser) rest(n int) string {
	r := p.s[p.pos:]
	if len(r) > n {
		r = r[:n]
	}
	return r
}

func (p *filterParser) space() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

// keyword consumes word (case-insensitive) when it is followed by a space,
// '(' or the end.
func (p *filterParser) keyword(word string) bool {
	p.space()
	end := p.pos + len(word)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], word) {
		return false
	}
	if end < len(p.s) && p.s[end] != ' ' && p.s[end] != '(' {
		return false
	}
	p.pos = end
	return true
}

func (p *filterParser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = logNode{Op: "or", L: l, R: r}
	}
	return l, nil
}

func (p *filterParser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = logNode{Op: "and", L: l, R: r}
	}
	return l, nil
}

func (p *filterParser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, errors.New("filter nested too deeply")
	}
	p.space()
	if p.keyword("not") {
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != '(' {
			return nil, errors.New(`"not" must be followed by "("`)
		}
		x, err := p.group()
		if err != nil {
			return nil, err
		}
		return notNode{X: x}, nil
	}
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		return p.group()
	}
	return p.attrExp()
}

func (p *filterParser) group() (node, error) {
	p.pos++ // '('
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos >= len(p.s) || p.s[p.pos] != ')' {
		return nil, fmt.Errorf("missing ')' at %d", p.pos)
	}
	p.pos++
	return x, nil
}

func (p *filterParser) attrExp() (node, error) {
	attr, err := p.attrPath()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.s) && p.s[p.pos] == '[' {
		p.pos++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ']' {
			return nil, fmt.Errorf("missing ']' at %d", p.pos)
		}
		p.pos++
		return valuePathNode{Attr: attr, Filter: f}, nil
	}
	if p.pos >= len(p.s) || p.s[p.pos] != ' ' {
		return nil, fmt.Errorf("expected operator after %q", attr)
	}
	p.space()
	start := p.pos
	for p.pos < len(p.s) && isAlpha(p.s[p.pos]) {
		p.pos++
	}
	op := strings.ToLower(p.s[start:p.pos])
	if op == "pr" {
		return cmpNode{Attr: attr, Op: op}, nil
	}
	if !isCompareOp(op) {
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	if p.pos >= len(p.s) || p.s[p.pos] != ' ' {
		return nil, fmt.Errorf("expected value after %q", op)
	}
	p.space()
	v, err := p.compValue()
	if err != nil {
		return nil, err
	}
	return cmpNode{Attr: attr, Op: op, Value: v}, nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *filterParser) attrPath() (string, error) {
	p.space()
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ' ' || c == '[' || c == ']' || c == '(' || c == ')' {
			break
		}
		p.pos++
	}
	attr := p.s[start:p.pos]
	if !attrPattern.MatchString(attr) {
		return "", fmt.Errorf("bad attribute path %q", attr)
	}
	return attr, nil
}

func (p *filterParser) compValue() (any, error) {
	if p.pos >= len(p.s) {
		return nil, errors.New("missing value")
	}
	if p.s[p.pos] == '"' {
		end, err := stringEnd(p.s, p.pos)
		if err != nil {
			return nil, err
		}
		var v string
		if err := json.Unmarshal([]byte(p.s[p.pos:end]), &v); err != nil {
			return nil, fmt.Errorf("bad string at %d: %w", p.pos, err)
		}
		if !utf8.ValidString(p.s[p.pos:end]) {
			return nil, fmt.Errorf("string at %d is not valid UTF-8", p.pos)
		}
		p.pos = end
		return v, nil
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ' ' || c == ')' || c == ']' {
			break
		}
		p.pos++
	}
	tok := p.s[start:p.pos]
	switch strings.ToLower(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(tok))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil || dec.More() || n.String() != tok {
		return nil, fmt.Errorf("bad value %q", tok)
	}
	return n, nil
}

// stringEnd returns the index just after the JSON string that starts at i.
func stringEnd(s string, i int) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d", i)
}

// ---- evaluation (value filters in PATCH paths) -------------------------------

// matches reports whether elem, one value of a multi-valued attribute,
// satisfies n. Attribute names compare case-insensitively (RFC 7643 §2.1);
// strings compare case-insensitively too, which is what RFC 7643 says for
// the caseExact=false sub-attributes value filters address in practice
// (type, value of emails, display); member ids are opaque and compared the
// same way, which cannot select a wrong member in any real id scheme.
func matches(n node, elem any) bool {
	switch n := n.(type) {
	case logNode:
		if n.Op == "and" {
			return matches(n.L, elem) && matches(n.R, elem)
		}
		return matches(n.L, elem) || matches(n.R, elem)
	case notNode:
		return !matches(n.X, elem)
	case cmpNode:
		v, ok := subValue(elem, n.Attr)
		return compare(n.Op, v, ok, n.Value)
	default: // nested value paths are not meaningful inside a value filter
		return false
	}
}

// subValue finds attr (possibly a.b) in elem. A simple (non-object) value
// answers to "value", as RFC 7643 §2.4 names it.
func subValue(elem any, attr string) (any, bool) {
	m, isObj := elem.(map[string]any)
	if !isObj {
		if strings.EqualFold(attr, "value") {
			return elem, true
		}
		return nil, false
	}
	var cur any = m
	for part := range strings.SplitSeq(attr, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		k, ok := lookupKey(obj, part)
		if !ok {
			return nil, false
		}
		cur = obj[k]
	}
	return cur, true
}

func compare(op string, got any, present bool, want any) bool {
	if op == "pr" {
		return present && got != nil && got != "" && !isEmptyArray(got)
	}
	if !present {
		return op == "ne" || (op == "eq" && want == nil)
	}
	switch w := want.(type) {
	case nil:
		eq := got == nil
		return (op == "eq" && eq) || (op == "ne" && !eq)
	case bool:
		g, ok := got.(bool)
		eq := ok && g == w
		return (op == "eq" && eq) || (op == "ne" && !eq)
	case json.Number:
		g, ok1 := toFloat(got)
		f, ok2 := toFloat(w)
		if !ok1 || !ok2 {
			return op == "ne"
		}
		return ordered(op, cmpFloat(g, f))
	case string:
		g, ok := got.(string)
		if !ok {
			return op == "ne"
		}
		gl, wl := strings.ToLower(g), strings.ToLower(w)
		switch op {
		case "co":
			return strings.Contains(gl, wl)
		case "sw":
			return strings.HasPrefix(gl, wl)
		case "ew":
			return strings.HasSuffix(gl, wl)
		}
		return ordered(op, strings.Compare(gl, wl))
	}
	return false
}

func ordered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil && !math.IsNaN(f)
	case float64:
		return v, true
	}
	return 0, false
}

func isEmptyArray(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 0
}
