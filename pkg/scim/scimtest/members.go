package scimtest

import (
	"maps"
	"slices"
	"strings"
)

// Group member PATCHes are the hot path of provisioning runs: every hire
// adds one user to a shared group, which grows to thousands of members. The
// general PATCH path deep-copies the group, revalidates every member and
// rebuilds the group's reverse index, all under s.mu, so each request costs
// O(members) map work. A request whose operations only add or remove
// members by id is applied here instead: it validates and indexes just the
// ids it names, and copies only the slice of member pointers.
//
// The fast path handles the requests it can apply and declines the rest
// (any other operation, an unusual value, an added id that is no live user
// or group), which then run through the general path unchanged; so errors
// and edge cases answer exactly as before. One difference: members already
// in the group are not rechecked (only SeedGroup can store invalid ones).

// memberOp is one operation adding or removing members by id.
type memberOp struct {
	add    bool
	ids    []string
	values []any // add: the member value to store for ids[i]
}

// memberOps turns ops into member operations; ok is false unless every
// operation is one of
//
//	add     members                      value: [{"value": id, …}, …]
//	remove  members                      value: [{"value": id, …}, …]
//	remove  members[value eq "id"]
func memberOps(ops []patchOp) (out []memberOp, ok bool) {
	out = make([]memberOp, 0, len(ops))
	for _, op := range ops {
		mo, ok := asMemberOp(op)
		if !ok {
			return nil, false
		}
		out = append(out, mo)
	}
	return out, true
}

func asMemberOp(op patchOp) (memberOp, bool) {
	if op.path == "" {
		return memberOp{}, false
	}
	pp, err := parsePatchPath(op.path)
	a := pp.attr
	if err != nil || canonical(a.name) != "members" || a.sub != "" || (a.uri != "" && !isCoreSchema(a.uri)) {
		return memberOp{}, false
	}
	switch {
	case pp.filter != nil:
		id, ok := valueEq(pp.filter)
		return memberOp{ids: []string{id}}, ok && op.op == "remove"
	case op.op == "add" || (op.op == "remove" && op.hasValue):
		ids, values, ok := memberValues(op.value)
		return memberOp{add: op.op == "add", ids: ids, values: values}, ok
	}
	return memberOp{}, false // replace, or remove all members
}

// valueEq returns id for the filter `value eq "id"`.
func valueEq(e expr) (string, bool) {
	c, ok := e.(compareExpr)
	if !ok || c.op != "eq" || c.path.uri != "" || c.path.sub != "" || !strings.EqualFold(c.path.name, "value") {
		return "", false
	}
	id, ok := c.value.(string)
	return id, ok
}

// memberValues returns the ids of a non-empty list of member values. Values
// without a string id, and ones marked primary (which the general path
// reconciles with the other values), are declined.
func memberValues(v any) (ids []string, values []any, ok bool) {
	values = asList(v)
	if len(values) == 0 {
		return nil, nil, false
	}
	ids = make([]string, len(values))
	for i, el := range values {
		m, _ := el.(map[string]any)
		ids[i], _ = m["value"].(string)
		if ids[i] == "" || m["primary"] == true {
			return nil, nil, false
		}
	}
	return ids, values, true
}

func memberID(el any) string {
	m, _ := el.(map[string]any)
	id, _ := m["value"].(string)
	return id
}

// liveMember tells whether id may be listed as a member: a user that is
// not unlinked, or a group.
func (s *Server) liveMember(id string) bool {
	u, isUser := s.users[id]
	_, isGroup := s.groups[id]
	return (isUser && !u.unlinked) || isGroup
}

// patchMembers applies ops to group gid and returns the view to answer
// with; ok is false, with nothing changed, when the general path must run.
//
// Membership is read from the memberOf index, so an add or remove costs
// O(1) index work; the stored members slice is never changed in place (a
// view being encoded may share it): the result is a new slice.
func (k kind) patchMembers(gid string, rec *record, ops []memberOp) (v map[string]any, ok bool) {
	s := k.s
	cur, has := rec.doc["members"]
	members, isList := cur.([]any)
	if has && !isList {
		return nil, false
	}
	// changed holds the ids whose membership the request changed so far;
	// it overrides the index for later operations of the same request.
	changed := map[string]bool{}
	isMember := func(id string) bool {
		if now, ok := changed[id]; ok {
			return now
		}
		_, ok := s.memberOf[id][gid]
		return ok
	}
	list := slices.Clone(members)
	for _, op := range ops {
		if op.add {
			for i, id := range op.ids {
				if isMember(id) {
					continue // adding a member again is a no-op
				}
				if !s.liveMember(id) {
					return nil, false // the general path answers the error
				}
				list = append(list, op.values[i])
				changed[id] = true
			}
			continue
		}
		drop := map[string]bool{}
		for _, id := range op.ids {
			if isMember(id) {
				drop[id] = true
				changed[id] = false
			}
		}
		if len(drop) > 0 {
			list = slices.DeleteFunc(list, func(el any) bool { return drop[memberID(el)] })
		}
	}

	for id, now := range changed {
		if _, was := s.memberOf[id][gid]; now && !was {
			addID(s.memberOf, id, gid)
		} else if !now && was {
			dropID(s.memberOf, id, gid)
		}
	}
	doc := maps.Clone(rec.doc)
	setList(doc, "members", list) // no members: the attribute goes, as in applyAt
	s.touch(doc)
	rec.doc = doc
	return k.view(gid, rec), true
}
