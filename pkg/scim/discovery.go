package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// DeclaredUser is what a provider declares about its User resource: the
// schema extensions /ResourceTypes lists for it and the attributes
// /Schemas defines (RFC 7643 §6, §7; RFC 7644 §4).
type DeclaredUser struct {
	// Extensions are the schema extension URNs the User resource type
	// lists (RFC 7643 §6 schemaExtensions).
	Extensions []string
	// Attributes are the attributes Keycard manages that the provider
	// declares. externalId is a common attribute (RFC 7643 §3.1), never
	// listed in a schema, and always counts as declared.
	Attributes Attr
	// Schemas: /Schemas answered, so Attributes come from the definitions;
	// without it they follow the extensions alone.
	Schemas bool
}

// DiscoverUser reads /ResourceTypes and then /Schemas. A provider
// without /Schemas (404, 501: optional at many vendors) is described by
// its resource types alone; one without /ResourceTypes is an error, since
// nothing is then known.
func (c *Client) DiscoverUser(ctx context.Context) (DeclaredUser, error) {
	var types struct {
		Resources []struct {
			ID               string `json:"id"`
			Name             string `json:"name"`
			Endpoint         string `json:"endpoint"`
			Schema           string `json:"schema"`
			SchemaExtensions []struct {
				Schema string `json:"schema"`
			} `json:"schemaExtensions"`
		} `json:"Resources"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/ResourceTypes", nil, nil, &types); err != nil {
		return DeclaredUser{}, err
	}
	var us DeclaredUser
	found := false
	for _, rt := range types.Resources {
		if !strings.EqualFold(rt.Schema, UserSchema) && !strings.EqualFold(strings.Trim(rt.Endpoint, "/"), "Users") {
			continue
		}
		found = true
		for _, e := range rt.SchemaExtensions {
			us.Extensions = append(us.Extensions, e.Schema)
		}
	}
	if !found {
		return DeclaredUser{}, errors.New("scim: GET /ResourceTypes: no User resource type")
	}
	enterprise := hasString(us.Extensions, EnterpriseUserSchema)

	var schemas struct {
		Resources []struct {
			ID         string `json:"id"`
			Attributes []struct {
				Name string `json:"name"`
			} `json:"attributes"`
		} `json:"Resources"`
	}
	_, err := c.do(ctx, http.MethodGet, "/Schemas", nil, nil, &schemas)
	var e *Error
	switch {
	case errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusNotImplemented):
		us.Attributes = AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrTitle | AttrExternalID
		if enterprise {
			us.Attributes |= AttrDepartment | AttrManager
		}
		return us, nil
	case err != nil:
		return DeclaredUser{}, err
	}
	us.Schemas = true
	us.Attributes = AttrExternalID
	for _, s := range schemas.Resources {
		core := strings.EqualFold(s.ID, UserSchema)
		if !core && !(enterprise && strings.EqualFold(s.ID, EnterpriseUserSchema)) {
			continue // an extension the User type does not list is not written
		}
		for _, a := range s.Attributes {
			us.Attributes |= attrByName(core, a.Name)
		}
	}
	return us, nil
}

// attrByName is the Attr for a top-level attribute name of the core User
// schema (core) or the enterprise extension.
func attrByName(core bool, name string) Attr {
	names := map[string]Attr{"department": AttrDepartment, "manager": AttrManager}
	if core {
		names = map[string]Attr{"username": AttrUserName, "emails": AttrEmails, "name": AttrName,
			"displayname": AttrDisplayName, "title": AttrTitle}
	}
	return names[strings.ToLower(name)]
}
