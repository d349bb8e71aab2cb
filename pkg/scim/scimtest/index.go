package scimtest

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Indexes kept under Server.mu so uniqueness checks, the common single
// `attr eq "value"` filter and a user's computed groups need no scan.
//
// For each indexed user attribute (indexedAttrs, by attrPath.key()) there
// are two maps from a key to the ids carrying it:
//   - uniq: the values uniqueValues yields (non-empty, lower-cased unless
//     case-exact), for conflict and relink checks;
//   - eq: every string value resolve yields, folded as strings.EqualFold
//     compares (unless case-exact), for `attr eq "value"` filters.
//
// Unlinked users stay indexed; readers skip them as the scans did.
// memberOf maps a member id to the ids of the groups listing it.

var indexedAttrs = []string{"username", "externalid", "emails.value"}

var indexedPaths = func() map[string]attrPath {
	m := map[string]attrPath{}
	for _, a := range []string{"userName", "externalId", "emails.value"} {
		p, err := parseAttrPath(a, 0)
		if err != nil {
			panic(err)
		}
		m[p.key()] = p
	}
	return m
}()

type idSet map[string]struct{}

type userIndex struct {
	uniq map[string]map[string]idSet // attr key → value → ids
	eq   map[string]map[string]idSet
}

func newUserIndex() userIndex {
	ix := userIndex{uniq: map[string]map[string]idSet{}, eq: map[string]map[string]idSet{}}
	for _, a := range indexedAttrs {
		ix.uniq[a] = map[string]idSet{}
		ix.eq[a] = map[string]idSet{}
	}
	return ix
}

func addID(m map[string]idSet, key, id string) {
	set := m[key]
	if set == nil {
		set = idSet{}
		m[key] = set
	}
	set[id] = struct{}{}
}

func dropID(m map[string]idSet, key, id string) {
	if set := m[key]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// eqValues returns the keys under which doc is found by `attr eq "v"`.
func eqValues(doc map[string]any, key string) []string {
	p := indexedPaths[key]
	var out []string
	for _, v := range resolve(doc, p) {
		if s, ok := v.(string); ok {
			out = append(out, eqKey(key, s))
		}
	}
	return out
}

func eqKey(attrKey, s string) string {
	if caseExact[attrKey] {
		return s
	}
	return foldKey(s)
}

// foldKey maps s so that foldKey(a) == foldKey(b) exactly when
// strings.EqualFold(a, b): every rune becomes the least of its simple case
// folding orbit (the one EqualFold walks).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii { // the least of an ASCII letter's orbit is its upper case
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// indexUser adds (add) or removes the user's values.
func (s *Server) indexUser(id string, doc map[string]any, add bool) {
	op := dropID
	if add {
		op = addID
	}
	for _, a := range indexedAttrs {
		for _, v := range uniqueValues(doc, indexedPaths[a].String()) {
			op(s.uidx.uniq[a], v, id)
		}
		for _, v := range eqValues(doc, a) {
			op(s.uidx.eq[a], v, id)
		}
	}
}

// memberIDs returns the member ids a group lists (values that are strings).
func memberIDs(doc map[string]any) []string {
	members, _ := doc["members"].([]any)
	out := make([]string, 0, len(members))
	for _, m := range members {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// reindexGroup moves the reverse member index of group gid from the
// members of old to those of doc (either may be nil).
func (s *Server) reindexGroup(gid string, old, doc map[string]any) {
	var before, after []string
	if old != nil {
		before = memberIDs(old)
	}
	if doc != nil {
		after = memberIDs(doc)
	}
	keep := make(map[string]struct{}, len(after))
	for _, m := range after {
		keep[m] = struct{}{}
	}
	for _, m := range before {
		if _, ok := keep[m]; !ok {
			dropID(s.memberOf, m, gid)
		}
	}
	for m := range keep {
		addID(s.memberOf, m, gid)
	}
}

// byOrder sorts ids of kind k into creation order.
func (k kind) byOrder(ids []string) []string {
	recs := k.records()
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(recs[a].ord, recs[b].ord) })
	return ids
}

// put stores rec under id, keeping its place in the order when it replaces
// one, and updates the indexes.
func (k kind) put(id string, rec *record) {
	s := k.s
	old, exists := k.records()[id]
	if exists {
		rec.ord = old.ord
		k.unindex(id, old)
	} else {
		s.ord++
		rec.ord = s.ord
		*k.order() = append(*k.order(), id)
	}
	k.records()[id] = rec
	if k.name == kindUser {
		s.indexUser(id, rec.doc, true)
	} else {
		s.reindexGroup(id, nil, rec.doc)
	}
}

// setDoc replaces the document of a stored record, updating the indexes.
func (k kind) setDoc(id string, rec *record, doc map[string]any) {
	if k.name == kindUser {
		k.s.indexUser(id, rec.doc, false)
		k.s.indexUser(id, doc, true)
	} else {
		k.s.reindexGroup(id, rec.doc, doc)
	}
	rec.doc = doc
}

func (k kind) unindex(id string, rec *record) {
	if k.name == kindUser {
		k.s.indexUser(id, rec.doc, false)
	} else {
		k.s.reindexGroup(id, rec.doc, nil)
	}
}

// remove drops a record from the store and the indexes.
func (k kind) remove(id string) {
	rec, ok := k.records()[id]
	if !ok {
		return
	}
	k.unindex(id, rec)
	delete(k.records(), id)
	*k.order() = slices.DeleteFunc(*k.order(), func(x string) bool { return x == id })
}

// uniqueCandidates returns the users whose unique values under attr (a
// Unique path) meet one of mine; ok is false when attr is not indexed.
func (s *Server) uniqueCandidates(attr string, mine []string) (ids []string, ok bool) {
	p, err := parseAttrPath(attr, 0)
	if err != nil || (p.uri != "" && !isCoreSchema(p.uri)) {
		return nil, false
	}
	m, ok := s.uidx.uniq[p.key()]
	if !ok {
		return nil, false
	}
	seen := map[string]bool{}
	for _, v := range mine {
		for id := range m[v] {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, true
}

// eqCandidates answers a filter that is one `attr eq "string"` on an
// indexed user attribute with the ids that may match (a superset is fine:
// the caller evaluates the filter on each); ok is false otherwise.
func (s *Server) eqCandidates(e expr) (ids []string, ok bool) {
	c, isCmp := e.(compareExpr)
	if !isCmp || c.op != "eq" {
		return nil, false
	}
	want, isStr := c.value.(string)
	if !isStr || (c.path.uri != "" && !isCoreSchema(c.path.uri)) {
		return nil, false
	}
	key := c.path.key()
	m, indexed := s.uidx.eq[key]
	if !indexed {
		return nil, false
	}
	for id := range m[eqKey(key, want)] {
		ids = append(ids, id)
	}
	return ids, true
}
