package googletest

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Bounds of users.list.
const (
	defaultUserPage = 100
	maxUserPage     = 500
	maxBodyBytes    = 1 << 20
)

// decodeFields reads a JSON object body as its fields, for patch
// semantics: a field present is set (null clears it), one absent is kept.
func decodeFields(r *http.Request) (map[string]json.RawMessage, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, ReasonBadRequest, "Bad Request")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, errorf(http.StatusBadRequest, ReasonBadRequest, "Invalid JSON payload received.")
	}
	return fields, nil
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// field decodes fields[key] into v; absent or null leave v as it is.
func field[T any](fields map[string]json.RawMessage, key string, v *T) *apiError {
	raw, ok := fields[key]
	if !ok || isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return invalid("Invalid value at '%s'", key)
	}
	return nil
}

// apply sets on u what fields carry. The caller checks the result.
func (s *Server) apply(u *User, fields map[string]json.RawMessage) *apiError {
	var email string
	if err := field(fields, "primaryEmail", &email); err != nil {
		return err
	}
	if email != "" {
		u.PrimaryEmail = strings.ToLower(strings.TrimSpace(email))
	}
	if raw, ok := fields["name"]; ok && !isNull(raw) {
		var name map[string]json.RawMessage
		if err := json.Unmarshal(raw, &name); err != nil {
			return invalid("Invalid value at 'name'")
		}
		for key, dst := range map[string]*string{"givenName": &u.GivenName, "familyName": &u.FamilyName, "displayName": &u.DisplayName} {
			if _, ok := name[key]; ok {
				*dst = ""
				if err := field(name, key, dst); err != nil {
					return err
				}
			}
		}
	}
	if err := field(fields, "orgUnitPath", &u.OrgUnitPath); err != nil {
		return err
	}
	if err := field(fields, "suspended", &u.Suspended); err != nil {
		return err
	}
	if err := field(fields, "changePasswordAtNextLogin", &u.ChangePasswordAtNextLogin); err != nil {
		return err
	}
	var password string
	if err := field(fields, "password", &password); err != nil {
		return err
	}
	if _, ok := fields["password"]; ok {
		if n := len(password); n < 8 || n > 100 {
			return invalid("Invalid Password")
		}
		u.HasPassword = true
	}
	for key, dst := range map[string]any{"externalIds": &u.ExternalIDs, "organizations": &u.Organizations, "relations": &u.Relations} {
		raw, ok := fields[key]
		if !ok {
			continue
		}
		if isNull(raw) {
			switch d := dst.(type) {
			case *[]ExternalID:
				*d = nil
			case *[]Organization:
				*d = nil
			case *[]Relation:
				*d = nil
			}
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return invalid("Invalid value at '%s'", key)
		}
	}
	return nil
}

// check is what Google verifies of a user being written.
func (s *Server) check(u *User) *apiError {
	switch {
	case u.PrimaryEmail == "" || !strings.Contains(u.PrimaryEmail, "@"):
		return invalid("Invalid Input: primary_user_email")
	case !s.ownsDomain(u.PrimaryEmail):
		return errorf(http.StatusBadRequest, ReasonNotFound, "Domain not found.")
	case strings.TrimSpace(u.GivenName) == "":
		return invalid("Invalid Given/Family Name: GivenName")
	case strings.TrimSpace(u.FamilyName) == "":
		return invalid("Invalid Given/Family Name: FamilyName")
	case !s.db.orgUnits[u.OrgUnitPath]:
		return invalid("Invalid Input: INVALID_OU_ID")
	}
	return nil
}

func (s *Server) ownsDomain(email string) bool {
	_, domain, _ := strings.Cut(email, "@")
	return strings.EqualFold(domain, s.domain)
}

func (s *Server) insertUser(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	fields, err := decodeFields(r)
	if err != nil {
		return err
	}
	u := &User{OrgUnitPath: "/", Created: s.now().UTC()}
	if err := s.apply(u, fields); err != nil {
		return err
	}
	if err := s.check(u); err != nil {
		return err
	}
	if !u.HasPassword {
		return invalid("Invalid Password")
	}
	if s.db.userID(u.PrimaryEmail) != "" {
		return entityExists()
	}
	s.add(u)
	writeJSON(w, http.StatusOK, s.userJSON(u))
	return nil
}

func (s *Server) add(u *User) {
	for u.ID == "" || s.db.users[u.ID] != nil {
		u.ID = "1" + digits(20)
	}
	s.db.users[u.ID] = u
	s.db.emails[u.PrimaryEmail] = u.ID
	for _, a := range u.Aliases {
		s.db.emails[strings.ToLower(a)] = u.ID
	}
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	writeJSON(w, http.StatusOK, s.userJSON(u))
	return nil
}

// patchUser is users.patch and users.update: Google documents patch
// semantics for both. A new primary address leaves the old one as an
// alias.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	fields, err := decodeFields(r)
	if err != nil {
		return err
	}
	next := u.clone()
	if err := s.apply(&next, fields); err != nil {
		return err
	}
	if err := s.check(&next); err != nil {
		return err
	}
	if next.PrimaryEmail != u.PrimaryEmail {
		if owner := s.db.userID(next.PrimaryEmail); owner != "" && owner != u.ID {
			return entityExists()
		}
		next.Aliases = slices.DeleteFunc(next.Aliases, func(a string) bool { return strings.EqualFold(a, next.PrimaryEmail) })
		next.Aliases = append(next.Aliases, u.PrimaryEmail)
		s.db.emails[next.PrimaryEmail] = u.ID
	}
	*u = next
	writeJSON(w, http.StatusOK, s.userJSON(u))
	return nil
}

// listUsers is users.list: customer (my_customer or the customer id) or
// domain, query, maxResults (at most 500) and pageToken, in primary
// address order.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	q := r.URL.Query()
	customer, domain := q.Get("customer"), q.Get("domain")
	switch {
	case customer == "" && domain == "":
		return errorf(http.StatusBadRequest, ReasonBadRequest, "Bad Request")
	case customer != "" && customer != "my_customer" && customer != s.customer:
		return errorf(http.StatusBadRequest, ReasonBadRequest, "Bad Request")
	case domain != "" && !strings.EqualFold(domain, s.domain):
		return errorf(http.StatusForbidden, ReasonForbidden, "Not Authorized to access this resource/api")
	}
	match, err := parseQuery(q.Get("query"))
	if err != nil {
		return err
	}
	users := slices.DeleteFunc(s.db.sortedUsers(), func(u *User) bool { return !match(u) })
	return writePage(w, r, "admin#directory#users", "users", defaultUserPage, maxUserPage, users,
		func(u *User) string { return u.PrimaryEmail }, func(u *User) any { return s.userJSON(u) })
}

// parseQuery reads the search terms the fake supports: externalId and
// email, with ':' or '=', values optionally in single or double quotes
// (an email value ending in '*' matches a prefix). Terms are ANDed.
func parseQuery(q string) (func(*User) bool, *apiError) {
	var terms []func(*User) bool
	for _, t := range splitTerms(q) {
		i := strings.IndexAny(t, ":=")
		if i <= 0 {
			return nil, invalid("Invalid Input")
		}
		key, value := t[:i], unquote(t[i+1:])
		switch key {
		case "externalId":
			terms = append(terms, func(u *User) bool {
				return slices.ContainsFunc(u.ExternalIDs, func(e ExternalID) bool { return e.Value == value })
			})
		case "email":
			v := strings.ToLower(value)
			terms = append(terms, func(u *User) bool {
				for _, a := range append([]string{u.PrimaryEmail}, u.Aliases...) {
					a = strings.ToLower(a)
					if a == v || (strings.HasSuffix(v, "*") && strings.HasPrefix(a, strings.TrimSuffix(v, "*"))) {
						return true
					}
				}
				return false
			})
		default:
			return nil, invalid("Invalid Input")
		}
	}
	return func(u *User) bool {
		for _, t := range terms {
			if !t(u) {
				return false
			}
		}
		return true
	}, nil
}

// splitTerms splits q at spaces outside quotes.
func splitTerms(q string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	for _, r := range q {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case r == ' ':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// etag is an entity tag of parts, quoted as Google sends them.
func etag(parts ...any) string {
	raw, _ := json.Marshal(parts)
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)) + `"`
}

// userJSON is u as the Directory API answers it.
func (s *Server) userJSON(u *User) map[string]any {
	emails := []any{map[string]any{"address": u.PrimaryEmail, "primary": true}}
	for _, a := range u.Aliases {
		emails = append(emails, map[string]any{"address": a})
	}
	doc := map[string]any{
		"kind": "admin#directory#user", "id": u.ID, "etag": etag(u.ID, u.PrimaryEmail, u.GivenName, u.FamilyName, u.Suspended),
		"primaryEmail": u.PrimaryEmail,
		"name": map[string]any{
			"givenName": u.GivenName, "familyName": u.FamilyName, "fullName": strings.TrimSpace(u.GivenName + " " + u.FamilyName),
		},
		"isAdmin": false, "isDelegatedAdmin": false, "lastLoginTime": "1970-01-01T00:00:00.000Z",
		"creationTime": u.Created.Format("2006-01-02T15:04:05.000Z"), "agreedToTerms": false,
		"suspended": u.Suspended, "archived": false, "changePasswordAtNextLogin": u.ChangePasswordAtNextLogin,
		"ipWhitelisted": false, "emails": emails, "customerId": s.customer, "orgUnitPath": u.OrgUnitPath,
		"isMailboxSetup": true, "isEnrolledIn2Sv": false, "isEnforcedIn2Sv": false, "includeInGlobalAddressList": true,
	}
	if u.DisplayName != "" {
		doc["name"].(map[string]any)["displayName"] = u.DisplayName
	}
	if u.Suspended {
		doc["suspensionReason"] = "ADMIN"
	}
	if len(u.Aliases) > 0 {
		doc["aliases"] = slices.Clone(u.Aliases)
	}
	if len(u.ExternalIDs) > 0 {
		doc["externalIds"] = u.ExternalIDs
	}
	if len(u.Organizations) > 0 {
		doc["organizations"] = u.Organizations
	}
	if len(u.Relations) > 0 {
		doc["relations"] = u.Relations
	}
	return doc
}

// AddUser stores u as an admin would have made it by hand (an id is made
// when empty; the org unit defaults to "/") and returns its id. It panics
// on an address already held: a test's mistake.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := u.clone()
	c.PrimaryEmail = strings.ToLower(c.PrimaryEmail)
	if c.OrgUnitPath == "" {
		c.OrgUnitPath = "/"
	}
	if c.Created.IsZero() {
		c.Created = s.now().UTC()
	}
	for _, a := range append([]string{c.PrimaryEmail}, c.Aliases...) {
		if s.db.userID(a) != "" {
			panic("googletest: AddUser: address " + a + " is taken")
		}
	}
	s.add(&c)
	return c.ID
}

// User returns the user a userKey (id, address or alias) names.
func (s *Server) User(key string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.db.user(key)
	if u == nil {
		return User{}, false
	}
	return u.clone(), true
}

// Users returns every user, by primary address.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.db.sortedUsers() {
		out = append(out, u.clone())
	}
	return out
}

// DeleteUser removes a user, as an admin deleting it in the console.
func (s *Server) DeleteUser(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.db.user(key)
	if u == nil {
		return
	}
	delete(s.db.users, u.ID)
	for a, id := range s.db.emails {
		if id == u.ID {
			delete(s.db.emails, a)
		}
	}
	for _, g := range s.db.groups {
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == u.ID })
	}
	for _, l := range s.db.licences {
		delete(l, u.ID)
	}
}

// AddOrgUnit makes an org unit (its parents too), such as /Engineering.
func (s *Server) AddOrgUnit(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path = "/" + strings.Trim(path, "/")
	for p := path; p != "/"; p = p[:max(strings.LastIndex(p, "/"), 1)] {
		s.db.orgUnits[p] = true
	}
}
