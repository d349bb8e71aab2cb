package scimtest

import (
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// patchOp is one decoded PATCH operation (RFC 7644 §3.5.2); op is lower
// case, value canonicalized.
type patchOp struct {
	op, path string
	value    any
	hasValue bool
}

// applyPatch applies one operation to doc in place; the caller works on a
// copy so a failing request changes nothing.
func applyPatch(doc map[string]any, op patchOp, k kindName) *scimError {
	switch op.op {
	case "add", "replace", "remove":
	default:
		return errorf(http.StatusBadRequest, typeInvalidSyntax, "op %q is not add, replace or remove", op.op)
	}
	if op.path != "" {
		pp, err := parsePatchPath(op.path)
		if err != nil {
			return errorf(http.StatusBadRequest, typeInvalidPath, "path %q: %v", op.path, err)
		}
		if op.op != "remove" && !op.hasValue {
			return errorf(http.StatusBadRequest, typeInvalidValue, "%s needs a value", op.op)
		}
		return applyAt(doc, pp, op.op, op.value, op.hasValue, k)
	}
	if op.op == "remove" {
		return errorf(http.StatusBadRequest, typeNoTarget, "remove needs a path")
	}
	attrs, ok := op.value.(map[string]any)
	if !ok {
		return errorf(http.StatusBadRequest, typeInvalidValue, "without a path, value must be an object of attributes")
	}
	for _, key := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[key]
		isURN := strings.HasPrefix(strings.ToLower(key), "urn:")
		switch {
		case isURN && isCoreSchema(key):
			sub, ok := v.(map[string]any)
			if !ok {
				return errorf(http.StatusBadRequest, typeInvalidValue, "%s must be an object", key)
			}
			if e := applyPatch(doc, patchOp{op: op.op, value: sub, hasValue: true}, k); e != nil {
				return e
			}
		case isURN && (strings.EqualFold(key, enterpriseSchema) || hasSchema(doc, key)):
			sub, ok := v.(map[string]any)
			if !ok {
				return errorf(http.StatusBadRequest, typeInvalidValue, "%s must be an object", key)
			}
			for _, name := range slices.Sorted(maps.Keys(sub)) {
				pp := patchPath{attr: attrPath{uri: key, name: name}}
				if e := applyAt(doc, pp, op.op, sub[name], true, k); e != nil {
					return e
				}
			}
		default:
			pp, err := parsePatchPath(key)
			if err != nil {
				return errorf(http.StatusBadRequest, typeInvalidPath, "attribute %q: %v", key, err)
			}
			if e := applyAt(doc, pp, op.op, v, true, k); e != nil {
				return e
			}
		}
	}
	return nil
}

func applyAt(doc map[string]any, pp patchPath, op string, value any, hasValue bool, k kindName) *scimError {
	p := pp.attr
	name := canonical(p.name)
	if p.uri == "" || isCoreSchema(p.uri) {
		if name == "id" || name == "meta" || (k == kindUser && name == "groups") {
			return errorf(http.StatusBadRequest, typeMutability, "%s is read-only", name)
		}
	}
	c := container(doc, p, op != "remove")
	if c == nil {
		return nil // removing from an absent extension
	}
	key, ok := lookupKey(c, name)
	if !ok {
		key = name
	}
	cur, exists := c[key]
	before := primaries(cur)
	sub := canonical(p.sub)

	switch {
	case pp.filter == nil && sub == "":
		switch {
		case op == "remove" && hasValue && multiValued[name]:
			setList(c, key, removeValues(asList(cur), asList(value), name))
		case op == "remove" || value == nil:
			delete(c, key)
		case op == "add":
			c[key] = addValue(cur, value, name)
		default:
			c[key] = replaceValue(cur, value, name)
		}
	case pp.filter == nil:
		switch x := cur.(type) {
		case map[string]any:
			setSub(x, sub, op, value)
		case []any:
			if op != "remove" && len(x) == 0 {
				return errorf(http.StatusBadRequest, typeNoTarget, "%s has no values", name)
			}
			for _, el := range x {
				if m, ok := el.(map[string]any); ok {
					setSub(m, sub, op, value)
				}
			}
		case nil:
			switch {
			case op == "remove":
			case multiValued[name]:
				return errorf(http.StatusBadRequest, typeNoTarget, "%s has no values", name)
			case value != nil:
				c[key] = map[string]any{sub: value}
			}
		default:
			return errorf(http.StatusBadRequest, typeInvalidPath, "%s is not a complex attribute", name)
		}
	default:
		list, isList := cur.([]any)
		if exists && cur != nil && !isList {
			return errorf(http.StatusBadRequest, typeInvalidPath, "%s is not multi-valued", name)
		}
		list = slices.Clone(list)
		var matched []int
		for i, el := range list {
			if m, ok := el.(map[string]any); ok && pp.filter.match(m, strings.ToLower(name)) {
				matched = append(matched, i)
			}
		}
		switch {
		case op == "remove" && sub == "":
			for i := len(matched) - 1; i >= 0; i-- {
				list = slices.Delete(list, matched[i], matched[i]+1)
			}
		case op == "remove":
			for _, i := range matched {
				delete(list[i].(map[string]any), sub)
			}
		default:
			if len(matched) == 0 {
				el := eqAttrs(pp.filter)
				if op == "replace" || el == nil {
					return errorf(http.StatusBadRequest, typeNoTarget, "no %s value matches the filter", name)
				}
				list = append(list, el)
				matched = []int{len(list) - 1}
				op = "add"
			}
			for _, i := range matched {
				m := list[i].(map[string]any)
				if sub != "" {
					setSub(m, sub, op, value)
					continue
				}
				vm, ok := value.(map[string]any)
				if !ok {
					return errorf(http.StatusBadRequest, typeInvalidValue, "a value for %s must be an object", name)
				}
				if op == "replace" {
					list[i] = maps.Clone(vm)
				} else {
					maps.Copy(m, vm)
				}
			}
		}
		setList(c, key, list)
	}
	fixPrimary(c, key, before)
	return nil
}

func setSub(m map[string]any, sub, op string, value any) {
	if op == "remove" || value == nil {
		delete(m, sub)
		return
	}
	if vm, ok := value.(map[string]any); ok {
		if cur, ok := m[sub].(map[string]any); ok && op == "add" {
			maps.Copy(cur, vm)
			return
		}
	}
	m[sub] = value
}

func setList(c map[string]any, key string, list []any) {
	if len(list) == 0 {
		delete(c, key)
		return
	}
	c[key] = list
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// sameValue decides whether two values of a multi-valued attribute are the
// same: members by their "value" (the id), everything else by equality.
func sameValue(a, b any, name string) bool {
	if name == "members" {
		am, _ := a.(map[string]any)
		bm, _ := b.(map[string]any)
		return am != nil && bm != nil && am["value"] == bm["value"]
	}
	return reflect.DeepEqual(a, b)
}

func addValue(cur, value any, name string) any {
	if multiValued[name] {
		out := slices.Clone(asList(cur))
		for _, v := range asList(value) {
			if !slices.ContainsFunc(out, func(x any) bool { return sameValue(x, v, name) }) {
				out = append(out, v)
			}
		}
		return out
	}
	return replaceValue(cur, value, name)
}

func replaceValue(cur, value any, name string) any {
	if multiValued[name] {
		return slices.Clone(asList(value))
	}
	vm, ok1 := value.(map[string]any)
	cm, ok2 := cur.(map[string]any)
	if ok1 && ok2 { // sub-attributes not given stay (RFC 7644 §3.5.2.3)
		merged := maps.Clone(cm)
		maps.Copy(merged, vm)
		return merged
	}
	return value
}

// removeValues drops the given values; a member is named by its "value".
func removeValues(list, values []any, name string) []any {
	return slices.DeleteFunc(slices.Clone(list), func(x any) bool {
		return slices.ContainsFunc(values, func(v any) bool {
			if name != "members" {
				if vm, ok := v.(map[string]any); ok {
					if xm, ok := x.(map[string]any); ok && vm["value"] != nil && len(vm) == 1 {
						return xm["value"] == vm["value"]
					}
				}
			}
			return sameValue(x, v, name)
		})
	})
}

// eqAttrs turns `a eq "x" and b eq "y"` into {a: x, b: y}, the value that
// an add through a filter that matched nothing creates; nil otherwise.
func eqAttrs(e expr) map[string]any {
	switch x := e.(type) {
	case compareExpr:
		if x.op == "eq" && x.path.sub == "" && x.path.uri == "" && x.value != nil {
			return map[string]any{canonical(x.path.name): x.value}
		}
	case logicalExpr:
		if !x.and {
			return nil
		}
		l, r := eqAttrs(x.left), eqAttrs(x.right)
		if l == nil || r == nil {
			return nil
		}
		maps.Copy(l, r)
		return l
	}
	return nil
}

// primaries returns the identities of the values marked primary.
func primaries(v any) map[uintptr]bool {
	set := map[uintptr]bool{}
	list, _ := v.([]any)
	for _, el := range list {
		if m, ok := el.(map[string]any); ok && m["primary"] == true {
			set[reflect.ValueOf(m).Pointer()] = true
		}
	}
	return set
}

// fixPrimary keeps "primary" unique: a PATCH that marks a value primary
// clears the flag on the values that had it (RFC 7644 §3.5.2).
func fixPrimary(c map[string]any, key string, before map[uintptr]bool) {
	list, _ := c[key].([]any)
	var now []map[string]any
	for _, el := range list {
		if m, ok := el.(map[string]any); ok && m["primary"] == true {
			now = append(now, m)
		}
	}
	if len(now) < 2 {
		return
	}
	for _, m := range now {
		if before[reflect.ValueOf(m).Pointer()] {
			m["primary"] = false
		}
	}
}

// memberCount counts the members named in group PATCH operations.
func memberCount(ops []patchOp) int {
	n := 0
	for _, op := range ops {
		if strings.HasPrefix(strings.ToLower(op.path), "members") {
			n += len(asList(op.value))
			continue
		}
		if m, ok := op.value.(map[string]any); ok && op.path == "" {
			n += len(asList(m["members"]))
		}
	}
	return n
}
