package scimtest

import (
	"encoding/json"
	"strings"
)

// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	listSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
	patchSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	spcSchema        = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	rtSchema         = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// canonicalNames maps lower-cased attribute names of the core User, Group
// and enterprise User schemas (RFC 7643 §4, §8.7.1) to their spelling, so
// requests may use any case (RFC 7643 §2.1) and responses use the RFC's.
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"schemas", "id", "externalId", "meta", "resourceType", "created", "lastModified", "location", "version",
		"userName", "name", "formatted", "familyName", "givenName", "middleName", "honorificPrefix",
		"honorificSuffix", "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage",
		"locale", "timezone", "active", "password", "emails", "phoneNumbers", "ims", "photos", "addresses",
		"streetAddress", "locality", "region", "postalCode", "country", "groups", "entitlements", "roles",
		"x509Certificates", "value", "display", "type", "primary", "$ref", "members",
		"employeeNumber", "costCenter", "organization", "division", "department", "manager",
	} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// multiValued lists the multi-valued attributes of the core schemas.
var multiValued = map[string]bool{
	"schemas": true, "emails": true, "phoneNumbers": true, "ims": true, "photos": true, "addresses": true,
	"groups": true, "entitlements": true, "roles": true, "x509Certificates": true, "members": true,
}

// caseExact lists attributes compared case-sensitively (RFC 7643 §3.1,
// §4.1.2, §4.2); every other string compares case-insensitively.
var caseExact = map[string]bool{
	"id": true, "externalid": true, "members.value": true, "groups.value": true,
	"meta.location": true, "meta.version": true, "password": true,
}

func canonical(name string) string {
	if c, ok := canonicalNames[strings.ToLower(name)]; ok {
		return c
	}
	if strings.EqualFold(name, enterpriseSchema) {
		return enterpriseSchema
	}
	return name
}

// canonicalize rewrites the keys of a decoded JSON object to their schema
// spelling, recursively.
func canonicalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[canonical(k)] = canonicalize(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = canonicalize(val)
		}
		return out
	}
	return v
}

// deepCopy copies decoded JSON.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = deepCopy(val)
		}
		return out
	}
	return v
}

func copyDoc(doc map[string]any) map[string]any { return deepCopy(doc).(map[string]any) }

// lookupKey finds the key in m that names attribute name, ignoring case.
func lookupKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func lookup(m map[string]any, name string) (any, bool) {
	k, ok := lookupKey(m, name)
	if !ok {
		return nil, false
	}
	return m[k], true
}

func isCoreSchema(uri string) bool {
	return strings.EqualFold(uri, userSchema) || strings.EqualFold(uri, groupSchema)
}

// container returns the object holding p's attribute: the resource itself
// or the extension object named by p.uri.
func container(doc map[string]any, p attrPath, create bool) map[string]any {
	if p.uri == "" || isCoreSchema(p.uri) {
		return doc
	}
	if v, ok := lookup(doc, p.uri); ok {
		if m, ok := v.(map[string]any); ok {
			return m
		}
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	doc[canonical(p.uri)] = m
	addSchema(doc, canonical(p.uri))
	return m
}

func addSchema(doc map[string]any, uri string) {
	list, _ := doc["schemas"].([]any)
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, uri) {
			return
		}
	}
	doc["schemas"] = append(list, uri)
}

// resolve returns the values at p in doc; multi-valued attributes are
// flattened and complex values without a sub-attribute yield their "value".
func resolve(doc map[string]any, p attrPath) []any {
	c := container(doc, p, false)
	if c == nil {
		return nil
	}
	v, ok := lookup(c, p.name)
	if !ok {
		return nil
	}
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	}
	var out []any
	for _, x := range vals {
		m, isMap := x.(map[string]any)
		switch {
		case p.sub == "" && !isMap:
			out = append(out, x)
		case p.sub == "":
			if vv, ok := lookup(m, "value"); ok {
				out = append(out, vv)
			}
		case isMap:
			if vv, ok := lookup(m, p.sub); ok {
				if list, ok := vv.([]any); ok {
					out = append(out, list...)
				} else {
					out = append(out, vv)
				}
			}
		}
	}
	return out
}

func (e logicalExpr) match(doc map[string]any, scope string) bool {
	if e.and {
		return e.left.match(doc, scope) && e.right.match(doc, scope)
	}
	return e.left.match(doc, scope) || e.right.match(doc, scope)
}

func (e notExpr) match(doc map[string]any, scope string) bool { return !e.x.match(doc, scope) }

func (e valuePathExpr) match(doc map[string]any, _ string) bool {
	c := container(doc, e.path, false)
	if c == nil {
		return false
	}
	v, ok := lookup(c, e.path.name)
	if !ok {
		return false
	}
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	}
	scope := strings.ToLower(e.path.name)
	for _, x := range vals {
		m, ok := x.(map[string]any)
		if !ok {
			m = map[string]any{"value": x}
		}
		if e.filter.match(m, scope) {
			return true
		}
	}
	return false
}

func (e compareExpr) match(doc map[string]any, scope string) bool {
	vals := resolve(doc, e.path)
	key := e.path.key()
	if scope != "" {
		key = scope + "." + key
	}
	exact := caseExact[key]
	switch e.op {
	case "pr":
		for _, v := range vals {
			if present(v) {
				return true
			}
		}
		return false
	case "ne":
		eq := e
		eq.op = "eq"
		return !eq.match(doc, scope)
	}
	if e.value == nil { // eq null: unassigned
		for _, v := range vals {
			if present(v) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if compare(v, e.op, e.value, exact) {
			return true
		}
	}
	return false
}

func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func compare(have any, op string, want any, exact bool) bool {
	switch w := want.(type) {
	case bool:
		h, ok := have.(bool)
		return ok && h == w
	case string:
		h, ok := have.(string)
		if !ok {
			return false
		}
		if !exact {
			if op == "eq" {
				return strings.EqualFold(h, w)
			}
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "eq":
			return h == w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
	case json.Number:
		hf, ok := number(have)
		wf, err := w.Float64()
		if !ok || err != nil {
			return false
		}
		switch op {
		case "eq":
			return hf == wf
		case "gt":
			return hf > wf
		case "ge":
			return hf >= wf
		case "lt":
			return hf < wf
		case "le":
			return hf <= wf
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}
