package scimtest

// User is a snapshot of a stored user.
type User struct {
	ID          string
	ExternalID  string
	UserName    string
	DisplayName string
	GivenName   string
	FamilyName  string
	// Active is taken as given by Seed: set it for a live user.
	Active bool
	Emails []Email
	// Unlinked marks a user whose SCIM record DELETE dropped under
	// DeleteUnlink: the account exists, deactivated, but SCIM answers 404.
	Unlinked bool
	// Attributes is the whole stored resource as JSON (a copy). Seed starts
	// from it when set and lets the typed fields above override it.
	Attributes map[string]any
}

// Email is one value of a user's emails.
type Email struct {
	Value   string
	Type    string
	Primary bool
}

// Group is a snapshot of a stored group.
type Group struct {
	ID          string
	ExternalID  string
	DisplayName string
	Members     []string // member ids
	Attributes  map[string]any
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func userFromDoc(rec *record) User {
	doc := rec.doc
	u := User{
		ID:          str(doc, "id"),
		ExternalID:  str(doc, "externalId"),
		UserName:    str(doc, "userName"),
		DisplayName: str(doc, "displayName"),
		Active:      doc["active"] == true,
		Unlinked:    rec.unlinked,
		Attributes:  copyDoc(doc),
	}
	if name, ok := doc["name"].(map[string]any); ok {
		u.GivenName, u.FamilyName = str(name, "givenName"), str(name, "familyName")
	}
	emails, _ := doc["emails"].([]any)
	for _, el := range emails {
		if m, ok := el.(map[string]any); ok {
			u.Emails = append(u.Emails, Email{Value: str(m, "value"), Type: str(m, "type"), Primary: m["primary"] == true})
		}
	}
	return u
}

func groupFromDoc(rec *record) Group {
	doc := rec.doc
	g := Group{
		ID:          str(doc, "id"),
		ExternalID:  str(doc, "externalId"),
		DisplayName: str(doc, "displayName"),
		Attributes:  copyDoc(doc),
	}
	members, _ := doc["members"].([]any)
	for _, el := range members {
		if m, ok := el.(map[string]any); ok {
			g.Members = append(g.Members, str(m, "value"))
		}
	}
	return g
}

// Users returns every stored user in creation order, unlinked ones included.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, userFromDoc(s.users[id]))
	}
	return out
}

// User returns the stored user with id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return userFromDoc(rec), true
}

// Groups returns every stored group in creation order.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groupOrder))
	for _, id := range s.groupOrder {
		out = append(out, groupFromDoc(s.groups[id]))
	}
	return out
}

// Seed stores u as is, bypassing validation, quirks and rate limits, and
// returns it as stored (with an id when u.ID is empty). A seeded user with
// the id of an existing one replaces it.
func (s *Server) Seed(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := map[string]any{}
	if u.Attributes != nil {
		doc = canonicalize(copyDoc(u.Attributes)).(map[string]any)
	}
	addSchema(doc, userSchema)
	set := func(key, v string) {
		if v != "" {
			doc[key] = v
		}
	}
	set("externalId", u.ExternalID)
	set("userName", u.UserName)
	set("displayName", u.DisplayName)
	if u.GivenName != "" || u.FamilyName != "" {
		name, _ := doc["name"].(map[string]any)
		if name == nil {
			name = map[string]any{}
		}
		if u.GivenName != "" {
			name["givenName"] = u.GivenName
		}
		if u.FamilyName != "" {
			name["familyName"] = u.FamilyName
		}
		doc["name"] = name
	}
	doc["active"] = u.Active
	if u.Emails != nil {
		emails := make([]any, 0, len(u.Emails))
		for _, e := range u.Emails {
			m := map[string]any{"value": e.Value, "primary": e.Primary}
			if e.Type != "" {
				m["type"] = e.Type
			}
			emails = append(emails, m)
		}
		doc["emails"] = emails
	}
	id := u.ID
	if id == "" {
		id = s.nextID("u")
	}
	s.store(kindUser, id, doc, u.Unlinked)
	return userFromDoc(s.users[id])
}

// SeedGroup stores g as is (members need not exist) and returns it as
// stored.
func (s *Server) SeedGroup(g Group) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := map[string]any{}
	if g.Attributes != nil {
		doc = canonicalize(copyDoc(g.Attributes)).(map[string]any)
	}
	addSchema(doc, groupSchema)
	if g.DisplayName != "" {
		doc["displayName"] = g.DisplayName
	}
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if g.Members != nil {
		members := make([]any, 0, len(g.Members))
		for _, id := range g.Members {
			members = append(members, map[string]any{"value": id})
		}
		doc["members"] = members
	}
	id := g.ID
	if id == "" {
		id = s.nextID("g")
	}
	s.store(kindGroup, id, doc, false)
	return groupFromDoc(s.groups[id])
}

func (s *Server) store(k kindName, id string, doc map[string]any, unlinked bool) {
	kd := s.kind(k)
	now := s.timestamp()
	doc["id"] = id
	doc["meta"] = map[string]any{"resourceType": kd.resourceType(), "created": now, "lastModified": now}
	kd.put(id, &record{doc: doc, unlinked: unlinked})
}
