package scim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Schema URIs of RFC 7643.
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListResponseSchema   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// User is a SCIM User (RFC 7643 §4.1) with the enterprise extension
// (§4.3), limited to what Keycard manages. Attributes the provider returns
// that User has no field for are kept in Extra and written back by
// MarshalJSON, so a read-modify-write with [Client.ReplaceUser] does not
// drop them.
type User struct {
	ID          string
	ExternalID  string // Keycard sends the HR employee id
	UserName    string
	Name        *Name
	DisplayName string
	Title       string
	Emails      []Email
	// Active is whether the account can sign in. A provider that omits the
	// attribute reads as false: planning an idempotent "activate" is
	// harmless, believing a leaver active is not.
	Active     bool
	Enterprise *EnterpriseUser
	// Groups is read-only (RFC 7643 §4.1.2): the provider reports it, the
	// client never sends it.
	Groups  []GroupRef
	Schemas []string
	Meta    *Meta
	// Extra holds every other top-level attribute as the provider sent it.
	Extra map[string]json.RawMessage
}

// Name is the User's name (RFC 7643 §4.1.1).
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is one of the User's e-mail addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"` // "work", "home", "other"
	Primary bool   `json:"primary,omitempty"`
	Display string `json:"display,omitempty"`
}

// EnterpriseUser is the enterprise extension (RFC 7643 §4.3), under the
// key EnterpriseUserSchema.
type EnterpriseUser struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// Manager refers to the manager's User: Value is the manager's id at the
// provider (not the HR id; resolve it with a filter on externalId first).
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// GroupRef is a group the user belongs to, as the provider reports it.
type GroupRef struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Meta is resource metadata (RFC 7643 §3.1).
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// PrimaryEmail is the primary e-mail value, else the first one, else "".
func (u User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// isUserKey reports whether User has a field for the top-level attribute k.
func isUserKey(k string) bool {
	switch strings.ToLower(k) {
	case "schemas", "id", "externalid", "username", "name", "displayname", "title", "emails", "active", "groups", "meta",
		strings.ToLower(EnterpriseUserSchema):
		return true
	}
	return false
}

// MarshalJSON writes the attributes a provider accepts on create and
// replace: never groups or meta (read-only), always active, and schemas
// listing the enterprise extension when it is present. Extra attributes are
// written unless a field of the same name (case-insensitively) is.
func (u User) MarshalJSON() ([]byte, error) {
	out := map[string]any{"active": u.Active}
	for k, v := range u.Extra {
		if !isUserKey(k) {
			out[k] = v
		}
	}
	put := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	put("id", u.ID)
	put("externalId", u.ExternalID)
	put("userName", u.UserName)
	put("displayName", u.DisplayName)
	put("title", u.Title)
	if u.Name != nil && *u.Name != (Name{}) {
		out["name"] = u.Name
	}
	if len(u.Emails) > 0 {
		out["emails"] = u.Emails
	}
	schemas := u.Schemas
	if len(schemas) == 0 {
		schemas = []string{UserSchema}
	}
	if u.Enterprise != nil && *u.Enterprise != (EnterpriseUser{}) {
		out[EnterpriseUserSchema] = u.Enterprise
		if !hasString(schemas, EnterpriseUserSchema) {
			schemas = append(append([]string(nil), schemas...), EnterpriseUserSchema)
		}
	}
	out["schemas"] = schemas
	return json.Marshal(out)
}

// UnmarshalJSON reads a User, matching attribute names case-insensitively
// (RFC 7643 §2.1) and keeping unknown attributes in Extra.
func (u *User) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = User{}
	for k, v := range raw {
		var err error
		switch strings.ToLower(k) {
		case "schemas":
			err = json.Unmarshal(v, &u.Schemas)
		case "id":
			u.ID, err = lenientString(v)
		case "externalid":
			u.ExternalID, err = lenientString(v)
		case "username":
			u.UserName, err = lenientString(v)
		case "name":
			err = unmarshalNonNull(v, &u.Name)
		case "displayname":
			u.DisplayName, err = lenientString(v)
		case "title":
			u.Title, err = lenientString(v)
		case "emails":
			err = json.Unmarshal(v, &u.Emails)
		case "active":
			u.Active, err = lenientBool(v)
		case "groups":
			err = json.Unmarshal(v, &u.Groups)
		case "meta":
			err = unmarshalNonNull(v, &u.Meta)
		case strings.ToLower(EnterpriseUserSchema):
			err = unmarshalNonNull(v, &u.Enterprise)
		default:
			if u.Extra == nil {
				u.Extra = map[string]json.RawMessage{}
			}
			u.Extra[k] = append(json.RawMessage(nil), v...)
		}
		if err != nil {
			return fmt.Errorf("user attribute %s: %w", k, err)
		}
	}
	return nil
}

// Group is a SCIM Group (RFC 7643 §4.2). Members may be partial or absent
// in list results; GetGroup returns them as the provider holds them.
type Group struct {
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName"`
	Members     []Member `json:"members,omitempty"`
	Schemas     []string `json:"schemas,omitempty"`
	Meta        *Meta    `json:"meta,omitempty"`
}

// Member is one member of a Group: Value is the member's id at the provider.
type Member struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"` // "User" or "Group"
}

// ListResponse is one page of a query (RFC 7644 §3.4.2).
type listResponse struct {
	TotalResults int               `json:"totalResults"`
	ItemsPerPage int               `json:"itemsPerPage"`
	StartIndex   int               `json:"startIndex"`
	Resources    []json.RawMessage `json:"Resources"`
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// lenientString reads a string, a number (some providers send numeric ids)
// or null.
func lenientString(v json.RawMessage) (string, error) {
	if string(v) == "null" {
		return "", nil
	}
	if s, ok := jsonString(v); ok {
		return s, nil
	}
	return "", fmt.Errorf("want a string, got %.20s", v)
}

// lenientBool reads true/false, the strings "true"/"false" (Slack's SCIM
// 1.1 heritage), or null (false).
func lenientBool(v json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	if string(v) == "null" {
		return false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("want a boolean, got %.20s", v)
}

func unmarshalNonNull[T any](v json.RawMessage, dst **T) error {
	if string(v) == "null" {
		return nil
	}
	var t T
	if err := json.Unmarshal(v, &t); err != nil {
		return err
	}
	*dst = &t
	return nil
}
