package scimtest

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

type kindName int

const (
	kindUser kindName = iota
	kindGroup
)

// kind serves one resource type.
type kind struct {
	s    *Server
	name kindName
}

func (s *Server) kind(k kindName) kind { return kind{s: s, name: k} }

func (k kind) resourceType() string {
	if k.name == kindUser {
		return "User"
	}
	return "Group"
}

func (k kind) schema() string {
	if k.name == kindUser {
		return userSchema
	}
	return groupSchema
}

func (k kind) records() map[string]*record {
	if k.name == kindUser {
		return k.s.users
	}
	return k.s.groups
}

func (k kind) order() *[]string {
	if k.name == kindUser {
		return &k.s.userOrder
	}
	return &k.s.groupOrder
}

func (k kind) location(id string) string {
	return k.s.URL() + "/" + k.resourceType() + "s/" + url.PathEscape(id)
}

func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

func hasSchema(doc map[string]any, uri string) bool {
	list, _ := doc["schemas"].([]any)
	for _, v := range list {
		if s, ok := v.(string); ok && strings.EqualFold(s, uri) {
			return true
		}
	}
	return false
}

// lookup finds a live record: unlinked users are gone for SCIM.
func (k kind) lookup(id string) (*record, *scimError) {
	rec, ok := k.records()[id]
	if !ok || rec.unlinked {
		return nil, errorf(http.StatusNotFound, "", "%s %q not found", k.resourceType(), id)
	}
	return rec, nil
}

// view renders a stored resource for a response: meta.location, computed
// groups for users, no password.
//
// A user's view is a deep copy. A group's copies the top level and meta
// but shares the rest (members) with the store: stored values below the
// top level are never changed in place (PATCH works on a deep copy, and
// patchMembers and dropMember replace the members list), so the view may be
// encoded after the lock is released.
func (k kind) view(id string, rec *record) map[string]any {
	var doc map[string]any
	if k.name == kindGroup {
		doc = make(map[string]any, len(rec.doc))
		for key, v := range rec.doc {
			doc[key] = v
		}
		if meta, ok := doc["meta"].(map[string]any); ok {
			doc["meta"] = copyDoc(meta)
		}
	} else {
		doc = copyDoc(rec.doc)
	}
	delete(doc, "password")
	if meta, ok := doc["meta"].(map[string]any); ok {
		meta["location"] = k.location(id)
	}
	if k.name == kindUser {
		var groups []any
		gids := make([]string, 0, len(k.s.memberOf[id]))
		for gid := range k.s.memberOf[id] {
			if _, ok := k.s.groups[gid]; ok {
				gids = append(gids, gid)
			}
		}
		for _, gid := range k.s.kind(kindGroup).byOrder(gids) {
			g := k.s.groups[gid]
			groups = append(groups, map[string]any{
				"value": gid, "display": g.doc["displayName"], "type": "direct",
				"$ref": k.s.kind(kindGroup).location(gid),
			})
		}
		if groups != nil {
			doc["groups"] = groups
		}
	}
	return doc
}

func memberIndex(group map[string]any, id string) int {
	members, _ := group["members"].([]any)
	for i, m := range members {
		if mm, ok := m.(map[string]any); ok && mm["value"] == id {
			return i
		}
	}
	return -1
}

// project applies the attributes / excludedAttributes query parameters
// (RFC 7644 §3.4.2.5) at the top level; id and schemas are always returned.
func project(doc map[string]any, q url.Values) map[string]any {
	names := func(param string) map[string]bool {
		set := map[string]bool{}
		for _, a := range strings.Split(q.Get(param), ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if p, err := parseAttrPath(a, 0); err == nil {
				if p.uri != "" && !isCoreSchema(p.uri) {
					set[strings.ToLower(p.uri)] = true
				} else {
					set[strings.ToLower(p.name)] = true
				}
			} else {
				set[strings.ToLower(a)] = true
			}
		}
		return set
	}
	if include := names("attributes"); len(include) > 0 {
		for k := range doc {
			if !include[strings.ToLower(k)] && k != "id" && k != "schemas" {
				delete(doc, k)
			}
		}
	} else if exclude := names("excludedAttributes"); len(exclude) > 0 {
		for k := range doc {
			if exclude[strings.ToLower(k)] && k != "id" && k != "schemas" {
				delete(doc, k)
			}
		}
	}
	return doc
}

func (k kind) get(w http.ResponseWriter, r *http.Request, id string) *scimError {
	k.s.mu.Lock()
	rec, err := k.lookup(id)
	if err != nil {
		k.s.mu.Unlock()
		return err
	}
	v := k.view(id, rec)
	k.s.mu.Unlock()
	writeJSON(w, http.StatusOK, project(v, r.URL.Query()))
	return nil
}

func intParam(q url.Values, name string, def int) (int, *scimError) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, typeInvalidValue, "%s=%q is not an integer", name, v)
	}
	return n, nil
}

// checkFilter enforces the vendor's filter restrictions.
func (k kind) checkFilter(e expr) *scimError {
	q := k.s.quirks
	if q.SingleEqFilter {
		if c, ok := e.(compareExpr); !ok || c.op != "eq" {
			return errorf(http.StatusBadRequest, typeInvalidFilter, "%s supports a single eq comparison only", k.s.vendor())
		}
	}
	if k.name != kindUser || q.FilterAttributes == nil {
		return nil
	}
	var bad string
	walk(e, func(p attrPath, _ *compareExpr) {
		if bad != "" {
			return
		}
		if !slices.ContainsFunc(q.FilterAttributes, func(a string) bool { return strings.EqualFold(a, p.key()) }) {
			bad = p.String()
		}
	})
	if bad != "" {
		return errorf(http.StatusBadRequest, typeInvalidFilter, "%s cannot filter on %q", k.s.vendor(), bad)
	}
	return nil
}

func (k kind) list(w http.ResponseWriter, r *http.Request, _ string) *scimError {
	q := r.URL.Query()
	var filter expr
	if raw, ok := q["filter"]; ok {
		var err error
		if filter, err = parseFilter(raw[0]); err != nil {
			return errorf(http.StatusBadRequest, typeInvalidFilter, "filter %v", err)
		}
		if k.name == kindUser && k.s.quirks.FilterAliases != nil {
			filter = alias(filter, k.s.quirks.FilterAliases)
		}
		if e := k.checkFilter(filter); e != nil {
			return e
		}
	}
	start, e := intParam(q, "startIndex", 1)
	if e != nil {
		return e
	}
	pageSize := k.s.quirks.pageSize()
	count, e := intParam(q, "count", pageSize)
	if e != nil {
		return e
	}
	start = max(start, 1)
	count = min(max(count, 0), pageSize)

	k.s.mu.Lock()
	ids := *k.order()
	if k.name == kindUser && filter != nil {
		if cand, ok := k.s.eqCandidates(filter); ok {
			ids = k.byOrder(cand)
		}
	}
	// matches holds the ids of the matching resources; views are built
	// (for the filter, or for the page) only where needed.
	var matches []string
	views := map[string]map[string]any{}
	for _, id := range ids {
		rec := k.records()[id]
		if rec.unlinked {
			continue
		}
		if k.name == kindUser && k.s.quirks.HideInactive && rec.doc["active"] == false {
			continue
		}
		if filter != nil {
			v := k.view(id, rec)
			if !filter.match(v, "") {
				continue
			}
			views[id] = v
		}
		matches = append(matches, id)
	}
	page := []map[string]any{}
	if start <= len(matches) {
		for _, id := range matches[start-1 : min(start-1+count, len(matches))] {
			v, ok := views[id]
			if !ok {
				v = k.view(id, k.records()[id])
			}
			page = append(page, v)
		}
	}
	k.s.mu.Unlock()
	for _, v := range page {
		project(v, q)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listSchema},
		"totalResults": len(matches),
		"itemsPerPage": len(page),
		"startIndex":   start,
		"Resources":    page,
	})
	return nil
}

// prepare checks a POST or PUT body and drops what clients cannot set.
func (k kind) prepare(body map[string]any) (map[string]any, *scimError) {
	doc := canonicalize(body).(map[string]any)
	if !hasSchema(doc, k.schema()) {
		return nil, errorf(http.StatusBadRequest, typeInvalidSyntax, "schemas must include %s", k.schema())
	}
	delete(doc, "id") // readOnly attributes are ignored (RFC 7643 §2.2)
	delete(doc, "meta")
	if k.name == kindUser {
		delete(doc, "groups")
		if _, ok := doc[enterpriseSchema]; (ok || hasSchema(doc, enterpriseSchema)) && k.s.quirks.NoEnterpriseUser {
			return nil, errorf(http.StatusBadRequest, typeInvalidValue, "schema extension %s is not declared for User", enterpriseSchema)
		}
	}
	return doc, nil
}

func (k kind) create(w http.ResponseWriter, r *http.Request, _ string) *scimError {
	body, e := readBody(r)
	if e != nil {
		return e
	}
	doc, e := k.prepare(body)
	if e != nil {
		return e
	}
	s := k.s
	s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			s.mu.Unlock()
		}
	}()
	if k.name == kindUser {
		if _, ok := doc["active"]; !ok {
			doc["active"] = true
		}
	}
	if e := k.validate(doc); e != nil {
		return e
	}
	var id string
	if k.name == kindUser {
		s.relink(doc)
		if s.quirks.UserNameSuffix {
			s.suffixUserName(doc)
		}
		if s.quirks.IDFromExternalID {
			id, _ = doc["externalId"].(string)
		}
	}
	if e := k.conflict(doc, ""); e != nil {
		return e
	}
	if id == "" {
		id = s.nextID(strings.ToLower(k.resourceType()[:1]))
	}
	if _, taken := k.records()[id]; taken {
		return errorf(http.StatusConflict, typeUniqueness, "id %q is already in use", id)
	}
	now := s.timestamp()
	doc["id"] = id
	doc["meta"] = map[string]any{"resourceType": k.resourceType(), "created": now, "lastModified": now}
	k.put(id, &record{doc: doc})
	v := k.view(id, k.records()[id])
	locked = false
	s.mu.Unlock()
	w.Header().Set("Location", k.location(id))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// relink drops unlinked users (DeleteUnlink) whose userName or email the
// new user carries: the vendor links the existing account to a new record.
func (s *Server) relink(doc map[string]any) {
	mine := uniqueValues(doc, "userName")
	mine = append(mine, uniqueValues(doc, "emails.value")...)
	byName, _ := s.uniqueCandidates("userName", mine)
	byEmail, _ := s.uniqueCandidates("emails.value", mine)
	for _, id := range slices.Concat(byName, byEmail) {
		if rec, ok := s.users[id]; ok && rec.unlinked {
			s.kind(kindUser).remove(id)
		}
	}
}

func (s *Server) suffixUserName(doc map[string]any) {
	base, _ := doc["userName"].(string)
	taken := func(name string) bool {
		for id := range s.uidx.eq["username"][foldKey(name)] {
			rec := s.users[id]
			if n, ok := rec.doc["userName"].(string); ok && !rec.unlinked && strings.EqualFold(n, name) {
				return true
			}
		}
		return false
	}
	name := base
	for i := 1; taken(name); i++ {
		name = base + strconv.Itoa(i)
	}
	doc["userName"] = name
}

func (k kind) replace(w http.ResponseWriter, r *http.Request, id string) *scimError {
	body, e := readBody(r)
	if e != nil {
		return e
	}
	doc, e := k.prepare(body)
	if e != nil {
		return e
	}
	v, e := func() (map[string]any, *scimError) {
		k.s.mu.Lock()
		defer k.s.mu.Unlock()
		rec, e := k.lookup(id)
		if e != nil {
			return nil, e
		}
		if k.name == kindUser {
			if _, ok := doc["active"]; !ok { // omitted readWrite value: keep it (RFC 7644 §3.5.1)
				doc["active"] = rec.doc["active"]
			}
		}
		doc["id"] = id
		doc["meta"] = rec.doc["meta"]
		return k.commit(id, rec, doc)
	}()
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// commit validates doc, stores it as the new state of rec and returns the
// view to answer with.
func (k kind) commit(id string, rec *record, doc map[string]any) (map[string]any, *scimError) {
	if e := k.validate(doc); e != nil {
		return nil, e
	}
	if e := k.conflict(doc, id); e != nil {
		return nil, e
	}
	k.s.touch(doc)
	k.setDoc(id, rec, doc)
	return k.view(id, rec), nil
}

// touch sets meta.lastModified in a copy of doc's meta: the stored meta may
// be shared with a view still being encoded.
func (s *Server) touch(doc map[string]any) {
	meta, _ := doc["meta"].(map[string]any)
	meta = copyDoc(meta)
	meta["lastModified"] = s.timestamp()
	doc["meta"] = meta
}

func (k kind) patch(w http.ResponseWriter, r *http.Request, id string) *scimError {
	var req struct {
		Schemas    []string
		Operations []struct {
			Op    string
			Path  string
			Value json.RawMessage
		}
	}
	if e := checkContentType(r); e != nil {
		return e
	}
	if err := decodeJSON(http.MaxBytesReader(nil, r.Body, maxPayload), &req); err != nil {
		return errorf(http.StatusBadRequest, typeInvalidSyntax, "request body: %v", err)
	}
	if !slices.ContainsFunc(req.Schemas, func(s string) bool { return strings.EqualFold(s, patchSchema) }) {
		return errorf(http.StatusBadRequest, typeInvalidSyntax, "schemas must be [%q]", patchSchema)
	}
	if len(req.Operations) == 0 {
		return errorf(http.StatusBadRequest, typeInvalidValue, "Operations is empty")
	}
	ops := make([]patchOp, 0, len(req.Operations))
	for i, o := range req.Operations {
		op := patchOp{op: strings.ToLower(o.Op), path: o.Path}
		if len(o.Value) > 0 {
			var v any
			if err := decodeJSON(strings.NewReader(string(o.Value)), &v); err != nil {
				return errorf(http.StatusBadRequest, typeInvalidSyntax, "Operations[%d].value: %v", i, err)
			}
			op.value, op.hasValue = canonicalize(v), v != nil
		}
		ops = append(ops, op)
	}
	if k.name == kindUser && k.s.quirks.NoEnterpriseUser {
		for i, op := range ops {
			if intoEnterprise(op) {
				return errorf(http.StatusBadRequest, typeInvalidPath, "Operations[%d]: invalid path %q: schema extension %s is not declared for User",
					i, op.path, enterpriseSchema)
			}
		}
	}
	if maxMembers := k.s.quirks.MaxGroupPatchMembers; k.name == kindGroup && maxMembers > 0 {
		if n := memberCount(ops); n > maxMembers {
			return errorf(http.StatusRequestEntityTooLarge, "",
				"%s accepts at most %d members in one group PATCH, got %d", k.s.vendor(), maxMembers, n)
		}
	}
	// A group request that only adds or removes members takes the fast
	// path (members.go) when it can; its operations are parsed here,
	// before taking the lock.
	var members []memberOp
	fast := false
	if k.name == kindGroup {
		members, fast = memberOps(ops)
	}
	v, e := func() (map[string]any, *scimError) {
		k.s.mu.Lock()
		defer k.s.mu.Unlock()
		rec, e := k.lookup(id)
		if e != nil {
			return nil, e
		}
		if fast && !k.s.quirks.PatchFromProjection {
			if v, ok := k.patchMembers(id, rec, members); ok {
				return v, nil
			}
		}
		doc := copyDoc(rec.doc)
		if k.s.quirks.PatchFromProjection {
			doc = project(doc, r.URL.Query())
		}
		for i, op := range ops {
			if e := applyPatch(doc, op, k.name); e != nil {
				e.detail = "Operations[" + strconv.Itoa(i) + "]: " + e.detail
				return nil, e
			}
		}
		return k.commit(id, rec, doc)
	}()
	if e != nil {
		return e
	}
	// The answer is subject to attributes/excludedAttributes (RFC 7644
	// §3.5.2): a member PATCH can ask not to get the whole group back.
	writeJSON(w, http.StatusOK, project(v, r.URL.Query()))
	return nil
}

func (k kind) delete(w http.ResponseWriter, _ *http.Request, id string) *scimError {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := k.lookup(id)
	if e != nil {
		return e
	}
	mode := DeleteRemove
	if k.name == kindUser {
		mode = s.quirks.Delete
	}
	switch mode {
	case DeleteDeactivate:
		rec.doc["active"] = false
		rec.doc["meta"].(map[string]any)["lastModified"] = s.timestamp()
	case DeleteUnlink:
		rec.doc["active"] = false
		rec.doc["meta"].(map[string]any)["lastModified"] = s.timestamp()
		rec.unlinked = true
		s.dropMember(id)
	default:
		k.remove(id)
		s.dropMember(id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropMember removes id from every group's members.
func (s *Server) dropMember(id string) {
	for gid := range maps.Clone(s.memberOf[id]) {
		g, ok := s.groups[gid]
		if !ok {
			continue
		}
		if i := memberIndex(g.doc, id); i >= 0 {
			members := g.doc["members"].([]any)
			doc := maps.Clone(g.doc)
			doc["members"] = slices.Delete(slices.Clone(members), i, i+1)
			s.kind(kindGroup).setDoc(gid, g, doc)
		}
	}
}

// validate checks the attribute types the server relies on.
func (k kind) validate(doc map[string]any) *scimError {
	bad := func(format string, args ...any) *scimError {
		return errorf(http.StatusBadRequest, typeInvalidValue, format, args...)
	}
	for name, v := range doc {
		if multiValued[name] {
			if _, ok := v.([]any); !ok {
				return bad("%s must be an array", name)
			}
		}
	}
	for _, name := range []string{"externalId", "displayName", "userName"} {
		if v, ok := doc[name]; ok {
			if _, isString := v.(string); !isString {
				return bad("%s must be a string", name)
			}
		}
	}
	if k.name == kindGroup {
		return k.validateGroup(doc)
	}
	if n, _ := doc["userName"].(string); strings.TrimSpace(n) == "" {
		return bad("userName is required")
	}
	if _, ok := doc["active"].(bool); !ok {
		return bad("active must be a boolean")
	}
	if v, ok := doc["name"]; ok {
		if _, isMap := v.(map[string]any); !isMap {
			return bad("name must be an object")
		}
	}
	if k.s.quirks.RequireExternalID {
		if id, _ := doc["externalId"].(string); id == "" {
			return bad("%s requires externalId", k.s.vendor())
		}
	}
	for name, v := range doc {
		if !multiValued[name] || name == "schemas" {
			continue
		}
		primaries := 0
		for _, el := range v.([]any) {
			m, ok := el.(map[string]any)
			if !ok {
				return bad("%s values must be objects", name)
			}
			if m["primary"] == true {
				primaries++
			}
		}
		if primaries > 1 {
			return bad("%s has more than one primary value", name)
		}
	}
	emails, _ := doc["emails"].([]any)
	for _, el := range emails {
		if v, _ := el.(map[string]any)["value"].(string); v == "" {
			return bad("emails values need a value")
		}
	}
	return nil
}

func (k kind) validateGroup(doc map[string]any) *scimError {
	if n, _ := doc["displayName"].(string); strings.TrimSpace(n) == "" {
		return errorf(http.StatusBadRequest, typeInvalidValue, "displayName is required")
	}
	members, _ := doc["members"].([]any)
	seen := map[string]bool{}
	out := members[:0:0]
	for _, el := range members {
		m, ok := el.(map[string]any)
		if !ok {
			return errorf(http.StatusBadRequest, typeInvalidValue, "members values must be objects")
		}
		id, _ := m["value"].(string)
		if id == "" {
			return errorf(http.StatusBadRequest, typeInvalidValue, "members values need a value (the member's id)")
		}
		if !k.s.liveMember(id) {
			return errorf(http.StatusBadRequest, typeInvalidValue, "member %q is not a user or group id", id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, m)
		}
	}
	if _, ok := doc["members"]; ok {
		doc["members"] = out
	}
	return nil
}

// uniqueValues returns the comparable values of a unique attribute.
func uniqueValues(doc map[string]any, path string) []string {
	p, err := parseAttrPath(path, 0)
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range resolve(doc, p) {
		if s, ok := v.(string); ok && s != "" {
			if !caseExact[p.key()] {
				s = strings.ToLower(s)
			}
			out = append(out, s)
		}
	}
	return out
}

// conflict reports a uniqueness violation of doc against every other live
// resource of the kind.
func (k kind) conflict(doc map[string]any, self string) *scimError {
	q := k.s.quirks
	attrs := q.unique()
	if k.name == kindGroup {
		attrs = []string{"displayName", "externalId"}
	}
	for _, attr := range attrs {
		mine := uniqueValues(doc, attr)
		if len(mine) == 0 {
			continue
		}
		ids := *k.order()
		if k.name == kindUser {
			if cand, ok := k.s.uniqueCandidates(attr, mine); ok {
				ids = k.byOrder(cand)
			}
		}
		for _, id := range ids {
			rec := k.records()[id]
			if id == self || rec.unlinked {
				continue
			}
			theirs := uniqueValues(rec.doc, attr)
			if !slices.ContainsFunc(mine, func(v string) bool { return slices.Contains(theirs, v) }) {
				continue
			}
			detail := q.ConflictDetails[attr]
			if detail == "" {
				detail = attr + " is already in use"
			}
			if k.name == kindUser && rec.doc["active"] == false && q.InactiveConflictStatus != 0 {
				return errorf(q.InactiveConflictStatus, "", "%s by a deactivated user; reactivate it instead", detail)
			}
			return errorf(http.StatusConflict, typeUniqueness, "%s", detail)
		}
	}
	return nil
}

// intoEnterprise reports whether op writes into the enterprise extension:
// by a path under its URN, or a pathless value holding it.
func intoEnterprise(op patchOp) bool {
	if op.path != "" {
		pp, err := parsePatchPath(op.path)
		return err == nil && strings.EqualFold(pp.attr.uri, enterpriseSchema) ||
			strings.EqualFold(op.path, enterpriseSchema)
	}
	m, _ := op.value.(map[string]any)
	for key := range m {
		if len(key) >= len(enterpriseSchema) && strings.EqualFold(key[:len(enterpriseSchema)], enterpriseSchema) {
			return true
		}
	}
	return false
}
