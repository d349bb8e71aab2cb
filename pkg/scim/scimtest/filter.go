package scimtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds a small, strict parser for RFC 7644 §3.4.2.2 filters and
// §3.5.2 PATCH paths. String values are JSON strings (RFC 8259 §7) and are
// unescaped as such; attribute names and operators are case-insensitive.
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER   ; "and" binds tighter
//	attrPath  = [URI ":"] ATTRNAME *1subAttr
//	compValue = false / null / true / number / string

const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

// attrPath names an attribute: an optional schema URI, a name and an
// optional sub-attribute. Names are kept as written; comparisons fold case.
type attrPath struct {
	uri  string
	name string
	sub  string
}

func (p attrPath) String() string {
	s := p.name
	if p.sub != "" {
		s += "." + p.sub
	}
	if p.uri != "" {
		s = p.uri + ":" + s
	}
	return s
}

// key is the lower-case dotted path without the URI, used for lookups in
// per-attribute tables (case exactness, allowed filter attributes).
func (p attrPath) key() string {
	if p.sub == "" {
		return strings.ToLower(p.name)
	}
	return strings.ToLower(p.name + "." + p.sub)
}

// expr is a parsed filter.
type expr interface {
	match(doc map[string]any, scope string) bool
}

type logicalExpr struct {
	and         bool
	left, right expr
}

type notExpr struct{ x expr }

type compareExpr struct {
	path  attrPath
	op    string // eq ne co sw ew gt ge lt le pr
	value any    // string, json.Number, bool or nil
}

type valuePathExpr struct {
	path   attrPath
	filter expr
}

// filterError is a syntax or semantic error in a filter or path.
type filterError struct {
	pos int
	msg string
}

func (e *filterError) Error() string { return fmt.Sprintf("at offset %d: %s", e.pos, e.msg) }

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
)

type token struct {
	kind  tokKind
	text  string // raw text (for strings: the decoded value)
	pos   int
	space bool // preceded by whitespace
}

type parser struct {
	src   string
	pos   int
	tok   token
	depth int
}

func newParser(src string) (*parser, error) {
	if len(src) > maxFilterLen {
		return nil, &filterError{0, fmt.Sprintf("longer than %d bytes", maxFilterLen)}
	}
	if !utf8.ValidString(src) {
		return nil, &filterError{0, "not valid UTF-8"}
	}
	p := &parser{src: src}
	if err := p.next(); err != nil {
		return nil, err
	}
	return p, nil
}

func isSpace(c byte) bool { return c == ' ' }

func isDelim(c byte) bool {
	return c == ' ' || c == '(' || c == ')' || c == '[' || c == ']' || c == '"'
}

// next scans the following token into p.tok.
func (p *parser) next() error {
	start := p.pos
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
	t := token{pos: p.pos, space: p.pos > start}
	if p.pos >= len(p.src) {
		t.kind = tokEOF
		p.tok = t
		return nil
	}
	switch c := p.src[p.pos]; c {
	case '(':
		t.kind, p.pos = tokLParen, p.pos+1
	case ')':
		t.kind, p.pos = tokRParen, p.pos+1
	case '[':
		t.kind, p.pos = tokLBracket, p.pos+1
	case ']':
		t.kind, p.pos = tokRBracket, p.pos+1
	case '"':
		s, end, err := scanString(p.src, p.pos)
		if err != nil {
			return err
		}
		t.kind, t.text, p.pos = tokString, s, end
	default:
		end := p.pos
		for end < len(p.src) && !isDelim(p.src[end]) {
			end++
		}
		t.kind, t.text, p.pos = tokWord, p.src[p.pos:end], end
	}
	p.tok = t
	return nil
}

// scanString reads the JSON string starting at src[start] == '"' and returns
// its decoded value and the offset after the closing quote.
func scanString(src string, start int) (string, int, error) {
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			var s string
			if err := json.Unmarshal([]byte(src[start:i+1]), &s); err != nil {
				return "", 0, &filterError{start, "invalid string: " + err.Error()}
			}
			return s, i + 1, nil
		case c == '\\':
			if i+1 >= len(src) {
				return "", 0, &filterError{i, "unterminated escape"}
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
					return "", 0, &filterError{i, `\u needs four hex digits`}
				}
				i += 6
			default:
				return "", 0, &filterError{i, fmt.Sprintf("invalid escape \\%c", src[i+1])}
			}
		case c < 0x20:
			return "", 0, &filterError{i, "control character in string"}
		default:
			i++
		}
	}
	return "", 0, &filterError{start, "unterminated string"}
}

func isHex4(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (p *parser) errorf(format string, args ...any) error {
	return &filterError{p.tok.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, kw)
}

// parseFilter parses a complete filter expression.
func parseFilter(src string) (expr, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errorf("empty filter")
	}
	e, err := p.parseOr(false)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %q", p.describe())
	}
	return e, nil
}

func (p *parser) describe() string {
	switch p.tok.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return "string"
	case tokLParen:
		return "("
	case tokRParen:
		return ")"
	case tokLBracket:
		return "["
	case tokRBracket:
		return "]"
	}
	return p.tok.text
}

func (p *parser) parseOr(inValuePath bool) (expr, error) {
	left, err := p.parseAnd(inValuePath)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		if err := p.logicalKeyword(); err != nil {
			return nil, err
		}
		right, err := p.parseAnd(inValuePath)
		if err != nil {
			return nil, err
		}
		left = logicalExpr{and: false, left: left, right: right}
	}
	return left, nil
}

func (p *parser) parseAnd(inValuePath bool) (expr, error) {
	left, err := p.parseUnary(inValuePath)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		if err := p.logicalKeyword(); err != nil {
			return nil, err
		}
		right, err := p.parseUnary(inValuePath)
		if err != nil {
			return nil, err
		}
		left = logicalExpr{and: true, left: left, right: right}
	}
	return left, nil
}

// logicalKeyword consumes "and"/"or", which need a space on both sides.
func (p *parser) logicalKeyword() error {
	if !p.tok.space {
		return p.errorf("missing space before %q", p.tok.text)
	}
	if err := p.next(); err != nil {
		return err
	}
	if !p.tok.space {
		return p.errorf("missing space after logical operator")
	}
	return nil
}

func (p *parser) parseUnary(inValuePath bool) (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, p.errorf("nested deeper than %d", maxFilterDepth)
	}
	switch {
	case p.isKeyword("not"):
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokLParen {
			return nil, p.errorf(`"not" must be followed by "("`)
		}
		x, err := p.parseGroup(inValuePath)
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	case p.tok.kind == tokLParen:
		return p.parseGroup(inValuePath)
	case p.tok.kind == tokWord:
		return p.parseAttrExp(inValuePath)
	}
	return nil, p.errorf("expected attribute, \"not\" or \"(\", got %q", p.describe())
}

func (p *parser) parseGroup(inValuePath bool) (expr, error) {
	if err := p.next(); err != nil { // consume "("
		return nil, err
	}
	x, err := p.parseOr(inValuePath)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.errorf(`expected ")", got %q`, p.describe())
	}
	return x, p.next()
}

var compareOps = map[string]bool{
	"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "ge": true, "lt": true, "le": true,
}

func (p *parser) parseAttrExp(inValuePath bool) (expr, error) {
	pathPos := p.tok.pos
	path, err := parseAttrPath(p.tok.text, pathPos)
	if err != nil {
		return nil, err
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokLBracket {
		if p.tok.space {
			return nil, p.errorf(`no space allowed before "["`)
		}
		if inValuePath {
			return nil, p.errorf("value paths cannot nest")
		}
		if path.sub != "" {
			return nil, &filterError{pathPos, "value path on a sub-attribute"}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		inner, err := p.parseOr(true)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRBracket {
			return nil, p.errorf(`expected "]", got %q`, p.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		return valuePathExpr{path: path, filter: inner}, nil
	}
	if p.tok.kind != tokWord || !p.tok.space {
		return nil, p.errorf("expected operator after %q", path)
	}
	op := strings.ToLower(p.tok.text)
	if op == "pr" {
		return compareExpr{path: path, op: op}, p.next()
	}
	if !compareOps[op] {
		return nil, p.errorf("unknown operator %q", p.tok.text)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if !p.tok.space {
		return nil, p.errorf("expected a space and a value after %q", op)
	}
	var value any
	switch p.tok.kind {
	case tokString:
		value = p.tok.text
	case tokWord:
		switch p.tok.text { // literals are case-sensitive JSON tokens
		case "true":
			value = true
		case "false":
			value = false
		case "null":
			value = nil
		default:
			var n json.Number
			if !isJSONNumber(p.tok.text) || json.Unmarshal([]byte(p.tok.text), &n) != nil {
				return nil, p.errorf("value %q is not a quoted string, number, true, false or null", p.tok.text)
			}
			value = n
		}
	default:
		return nil, p.errorf("expected a value, got %q", p.describe())
	}
	switch v := value.(type) {
	case bool:
		if op != "eq" && op != "ne" {
			return nil, p.errorf("operator %q is not defined for booleans", op)
		}
	case nil:
		if op != "eq" && op != "ne" {
			return nil, p.errorf("operator %q is not defined for null", op)
		}
	case json.Number:
		if op == "co" || op == "sw" || op == "ew" {
			return nil, p.errorf("operator %q needs a string, got %s", op, v)
		}
	}
	return compareExpr{path: path, op: op, value: value}, p.next()
}

func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseAttrPath parses `[URI ":"] ATTRNAME [ "." ATTRNAME ]`.
func parseAttrPath(s string, pos int) (attrPath, error) {
	var p attrPath
	rest := s
	if len(s) >= 4 && strings.EqualFold(s[:4], "urn:") {
		i := strings.LastIndexByte(s, ':')
		p.uri, rest = s[:i], s[i+1:]
		if rest == "" {
			return p, &filterError{pos, fmt.Sprintf("attribute path %q has no attribute name", s)}
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validAttrName(name) {
		return p, &filterError{pos, fmt.Sprintf("invalid attribute name %q", name)}
	}
	if hasSub && !validAttrName(sub) {
		return p, &filterError{pos, fmt.Sprintf("invalid sub-attribute name %q", sub)}
	}
	p.name, p.sub = name, sub
	return p, nil
}

// validAttrName implements ATTRNAME = ALPHA *(nameChar) plus "$ref".
func validAttrName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// patchPath is a parsed PATCH "path": attrPath, or valuePath with an
// optional sub-attribute after the closing bracket.
type patchPath struct {
	attr   attrPath
	filter expr // nil without a value filter
}

func parsePatchPath(src string) (patchPath, error) {
	var pp patchPath
	p, err := newParser(src)
	if err != nil {
		return pp, err
	}
	if p.tok.kind != tokWord || p.tok.space {
		return pp, p.errorf("expected an attribute path")
	}
	if pp.attr, err = parseAttrPath(p.tok.text, p.tok.pos); err != nil {
		return pp, err
	}
	if err := p.next(); err != nil {
		return pp, err
	}
	if p.tok.kind == tokEOF {
		return pp, nil
	}
	if p.tok.kind != tokLBracket || p.tok.space {
		return pp, p.errorf("unexpected %q in path", p.describe())
	}
	if pp.attr.sub != "" {
		return pp, p.errorf("value filter on a sub-attribute")
	}
	if err := p.next(); err != nil {
		return pp, err
	}
	if pp.filter, err = p.parseOr(true); err != nil {
		return pp, err
	}
	if p.tok.kind != tokRBracket {
		return pp, p.errorf(`expected "]", got %q`, p.describe())
	}
	tail := p.src[p.pos:]
	switch {
	case tail == "":
	case tail[0] == '.' && validAttrName(tail[1:]):
		pp.attr.sub = tail[1:]
	default:
		return pp, &filterError{p.pos, fmt.Sprintf("unexpected %q after value filter", tail)}
	}
	return pp, nil
}

// walk calls fn for every attribute path in e; inside a value path the
// inner paths are reported relative to the outer attribute.
func walk(e expr, fn func(attrPath, *compareExpr)) {
	switch x := e.(type) {
	case logicalExpr:
		walk(x.left, fn)
		walk(x.right, fn)
	case notExpr:
		walk(x.x, fn)
	case compareExpr:
		fn(x.path, &x)
	case valuePathExpr:
		walk(x.filter, func(inner attrPath, c *compareExpr) {
			fn(attrPath{uri: x.path.uri, name: x.path.name, sub: inner.name}, c)
		})
	}
}

// alias returns e with each comparison on an aliased attribute (by key)
// rewritten to the path the alias stands for.
func alias(e expr, aliases map[string]string) expr {
	switch x := e.(type) {
	case logicalExpr:
		x.left, x.right = alias(x.left, aliases), alias(x.right, aliases)
		return x
	case notExpr:
		return notExpr{alias(x.x, aliases)}
	case compareExpr:
		if to, ok := aliases[x.path.key()]; ok {
			if p, err := parseAttrPath(to, 0); err == nil {
				x.path = p
			}
		}
		return x
	}
	return e
}
