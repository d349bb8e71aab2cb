package scim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// PatchOpSchema is the schema URI of an RFC 7644 §3.5.2 PATCH request.
const PatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// PatchOp is one operation of an RFC 7644 §3.5.2 PATCH: Op is "add",
// "replace" or "remove"; Path is an attribute path, optionally with a value
// filter (`emails[type eq "work"].value`, `members[value eq "2819c223"]`),
// or empty to address the whole resource (add/replace only); Value is any
// JSON-encodable value, omitted for remove unless the vendor wants the
// removed values listed.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Replace is a "replace" operation. A nil value is sent as JSON null.
func Replace(path string, value any) PatchOp { return PatchOp{Op: "replace", Path: path, Value: value} }

// Add is an "add" operation.
func Add(path string, value any) PatchOp { return PatchOp{Op: "add", Path: path, Value: value} }

// Remove is a "remove" operation.
func Remove(path string) PatchOp { return PatchOp{Op: "remove", Path: path} }

// MarshalJSON writes a replace or add of nil as "value": null, which
// omitempty would drop.
func (o PatchOp) MarshalJSON() ([]byte, error) {
	type wire struct {
		Op    string `json:"op"`
		Path  string `json:"path,omitempty"`
		Value any    `json:"value"`
	}
	if o.Value == nil && o.Op == "remove" {
		type bare struct {
			Op   string `json:"op"`
			Path string `json:"path,omitempty"`
		}
		return json.Marshal(bare{Op: o.Op, Path: o.Path})
	}
	return json.Marshal(wire(o))
}

// patchRequest is the RFC 7644 §3.5.2 request body.
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

// patchPath is a parsed PATCH path: RFC 7644 §3.5.2
// PATH = attrPath / valuePath [subAttr].
type patchPath struct {
	urn    string // extension schema URN, "" for core attributes
	attr   string // top-level attribute ("" when the path is a whole extension)
	sub    string // sub-attribute, "" if none
	filter node   // value filter, nil if none
}

// parsePatchPath parses p. known lists the extension URNs the resource
// already has, so a path that is exactly an extension URN addresses the
// extension object rather than an attribute named like its last segment.
func parsePatchPath(p string, known []string) (patchPath, error) {
	var pp patchPath
	head, tail := p, ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		j := strings.LastIndexByte(p, ']')
		if j < i {
			return pp, fmt.Errorf("path %q: missing ']'", p)
		}
		f, err := parseFilter(p[i+1 : j])
		if err != nil {
			return pp, fmt.Errorf("path %q: %w", p, err)
		}
		pp.filter = f
		head, tail = p[:i], p[j+1:]
		if tail != "" {
			if !strings.HasPrefix(tail, ".") || !attrPattern.MatchString(tail[1:]) || strings.Contains(tail[1:], ".") {
				return pp, fmt.Errorf("path %q: bad sub-attribute after ']'", p)
			}
			pp.sub = tail[1:]
		}
	}
	for _, u := range append(known, EnterpriseUserSchema) {
		if strings.EqualFold(head, u) {
			if pp.filter != nil {
				return pp, fmt.Errorf("path %q: a filter needs an attribute", p)
			}
			pp.urn = u
			return pp, nil
		}
	}
	if !attrPattern.MatchString(head) {
		return pp, fmt.Errorf("path %q is not a SCIM attribute path", p)
	}
	if strings.HasPrefix(strings.ToLower(head), "urn:") {
		i := strings.LastIndexByte(head, ':')
		pp.urn, head = head[:i], head[i+1:]
	}
	attr, sub, hasSub := strings.Cut(head, ".")
	if hasSub && pp.filter != nil {
		return pp, fmt.Errorf("path %q: sub-attribute goes after the filter", p)
	}
	pp.attr = attr
	if hasSub {
		pp.sub = sub
	}
	return pp, nil
}

// errNoTarget is RFC 7644 §3.5.2.3's noTarget: a value filter in a replace
// matched nothing.
type errNoTarget struct{ path string }

func (e errNoTarget) Error() string { return fmt.Sprintf("path %q matched no value", e.path) }

// applyPatch applies ops to doc, a resource decoded with UseNumber, the way
// RFC 7644 §3.5.2 says a service provider would. It is what the PUT
// fallback runs locally. Attribute names match case-insensitively and keep
// the spelling the resource already uses.
func applyPatch(doc map[string]any, ops []PatchOp) error {
	for i, op := range ops {
		val, err := normalize(op.Value)
		if err != nil {
			return fmt.Errorf("operation %d: value: %w", i, err)
		}
		kind := strings.ToLower(op.Op)
		if op.Path == "" {
			if kind == "remove" {
				return fmt.Errorf("operation %d: remove needs a path", i)
			}
			obj, ok := val.(map[string]any)
			if !ok {
				return fmt.Errorf("operation %d: %s without a path needs an object value", i, kind)
			}
			for k, v := range obj {
				if err := applyOne(doc, kind, k, v); err != nil {
					return fmt.Errorf("operation %d: %w", i, err)
				}
			}
			continue
		}
		if err := applyOne(doc, kind, op.Path, val); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
	}
	return nil
}

func applyOne(doc map[string]any, kind, path string, val any) error {
	if kind != "add" && kind != "replace" && kind != "remove" {
		return fmt.Errorf("unknown op %q", kind)
	}
	pp, err := parsePatchPath(path, schemaURNs(doc))
	if err != nil {
		return err
	}
	// The object the top-level attribute lives in: the resource, or its
	// extension object (created for add/replace).
	target := doc
	if pp.urn != "" {
		k, ok := lookupKey(doc, pp.urn)
		ext, isObj := doc[k].(map[string]any)
		switch {
		case pp.attr == "" && kind == "remove":
			if ok {
				delete(doc, k)
			}
			return nil
		case pp.attr == "":
			obj, valIsObj := val.(map[string]any)
			if !valIsObj {
				return fmt.Errorf("path %q: an extension takes an object value", path)
			}
			if !ok || !isObj {
				k, ext = pp.urn, map[string]any{}
				doc[k] = ext
				addSchema(doc, pp.urn)
			}
			for sk, sv := range obj {
				setAttr(ext, kind, sk, sv)
			}
			return nil
		case !ok || !isObj:
			if kind == "remove" {
				return nil
			}
			k, ext = pp.urn, map[string]any{}
			doc[k] = ext
			addSchema(doc, pp.urn)
		}
		target = ext
	}

	if pp.filter != nil {
		return applyFiltered(target, kind, path, pp, val)
	}
	if pp.sub != "" {
		k, ok := lookupKey(target, pp.attr)
		parent, isObj := target[k].(map[string]any)
		if !ok || !isObj {
			if kind == "remove" {
				return nil
			}
			k, parent = pp.attr, map[string]any{}
			target[k] = parent
		}
		if kind == "remove" {
			if sk, ok := lookupKey(parent, pp.sub); ok {
				delete(parent, sk)
			}
			return nil
		}
		setAttr(parent, kind, pp.sub, val)
		return nil
	}
	if kind == "remove" {
		if k, ok := lookupKey(target, pp.attr); ok {
			delete(target, k)
		}
		return nil
	}
	setAttr(target, kind, pp.attr, val)
	return nil
}

// applyFiltered handles attr[filter] and attr[filter].sub.
func applyFiltered(target map[string]any, kind, path string, pp patchPath, val any) error {
	k, ok := lookupKey(target, pp.attr)
	arr, isArr := target[k].([]any)
	if !ok || !isArr {
		if kind == "remove" {
			return nil // nothing to remove: already converged
		}
		return errNoTarget{path}
	}
	matched := false
	out := arr[:0:0]
	for _, elem := range arr {
		if !matches(pp.filter, elem) {
			out = append(out, elem)
			continue
		}
		matched = true
		switch {
		case kind == "remove" && pp.sub == "":
			continue // drop the element
		case kind == "remove":
			if m, isObj := elem.(map[string]any); isObj {
				if sk, ok := lookupKey(m, pp.sub); ok {
					delete(m, sk)
				}
			}
		case pp.sub != "":
			m, isObj := elem.(map[string]any)
			if !isObj {
				return fmt.Errorf("path %q: %s is not complex", path, pp.attr)
			}
			setAttr(m, kind, pp.sub, val)
		default:
			if m, isObj := elem.(map[string]any); isObj {
				if obj, ok := val.(map[string]any); ok {
					for sk, sv := range obj {
						setAttr(m, kind, sk, sv)
					}
					break
				}
			}
			elem = val
		}
		out = append(out, elem)
	}
	if !matched && kind != "remove" {
		return errNoTarget{path}
	}
	target[k] = out
	return nil
}

// setAttr sets name in obj: add appends to a multi-valued attribute
// (skipping values already present) and merges into a complex one;
// replace overwrites a multi-valued attribute and merges into a complex one
// (RFC 7644 §3.5.2.1 and §3.5.2.3).
func setAttr(obj map[string]any, kind, name string, val any) {
	k, ok := lookupKey(obj, name)
	if !ok {
		k = name
	}
	cur := obj[k]
	switch c := cur.(type) {
	case []any:
		if kind == "add" {
			add := []any{val}
			if a, isArr := val.([]any); isArr {
				add = a
			}
			for _, v := range add {
				if !containsValue(c, v) {
					c = append(c, v)
				}
			}
			obj[k] = c
			return
		}
	case map[string]any:
		if m, isObj := val.(map[string]any); isObj {
			for sk, sv := range m {
				setAttr(c, kind, sk, sv)
			}
			return
		}
	}
	obj[k] = val
}

// containsValue reports whether v is in arr already. Complex values with a
// "value" sub-attribute (members, emails) are the same value when their
// "value"s are equal, whatever display or type they carry.
func containsValue(arr []any, v any) bool {
	vv, vHas := valueOf(v)
	for _, e := range arr {
		if ev, eHas := valueOf(e); vHas && eHas {
			if reflect.DeepEqual(ev, vv) {
				return true
			}
			continue
		}
		if reflect.DeepEqual(e, v) {
			return true
		}
	}
	return false
}

func valueOf(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	k, ok := lookupKey(m, "value")
	if !ok {
		return nil, false
	}
	return m[k], true
}

// lookupKey finds name in obj case-insensitively (RFC 7643 §2.1), preferring
// an exact match.
func lookupKey(obj map[string]any, name string) (string, bool) {
	if _, ok := obj[name]; ok {
		return name, true
	}
	for k := range obj {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

// schemaURNs lists the resource's "schemas" values.
func schemaURNs(doc map[string]any) []string {
	k, ok := lookupKey(doc, "schemas")
	if !ok {
		return nil
	}
	arr, _ := doc[k].([]any)
	var out []string
	for _, v := range arr {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// addSchema lists urn in "schemas" if it is not there yet (RFC 7643 §3:
// schemas names every extension the resource carries).
func addSchema(doc map[string]any, urn string) {
	for _, s := range schemaURNs(doc) {
		if strings.EqualFold(s, urn) {
			return
		}
	}
	k, ok := lookupKey(doc, "schemas")
	if !ok {
		k = "schemas"
	}
	arr, _ := doc[k].([]any)
	doc[k] = append(arr, urn)
}

// normalize turns a Go value into the generic JSON form applyPatch works
// on (maps, slices, json.Number), by a JSON round trip.
func normalize(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeGeneric(b)
}

func decodeGeneric(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkOps validates ops before anything is sent.
func checkOps(ops []PatchOp) error {
	if len(ops) == 0 {
		return fmt.Errorf("no operations")
	}
	for i, op := range ops {
		switch strings.ToLower(op.Op) {
		case "add", "replace":
		case "remove":
			if op.Path == "" {
				return fmt.Errorf("operation %d: remove needs a path", i)
			}
		default:
			return fmt.Errorf("operation %d: unknown op %q", i, op.Op)
		}
		if op.Path != "" {
			if _, err := parsePatchPath(op.Path, nil); err != nil {
				return fmt.Errorf("operation %d: %w", i, err)
			}
		}
	}
	return nil
}
