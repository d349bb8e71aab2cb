package scimtest

import (
	"net/http"
	"time"
)

// DeleteMode is what DELETE /Users/{id} does.
type DeleteMode int

const (
	// DeleteRemove removes the resource; later requests for it get 404
	// (RFC 7644 §3.6).
	DeleteRemove DeleteMode = iota
	// DeleteDeactivate sets active=false and keeps the resource readable.
	DeleteDeactivate
	// DeleteUnlink deactivates the account and drops the SCIM record: every
	// later SCIM request for the id gets 404, the user is listed nowhere, and
	// a new POST with the same userName or email links a new record.
	DeleteUnlink
)

func (m DeleteMode) String() string {
	switch m {
	case DeleteDeactivate:
		return "deactivate"
	case DeleteUnlink:
		return "unlink"
	}
	return "remove"
}

// Limit is one token bucket: Requests per Per, holding at most Burst tokens
// (Requests when Burst is 0). A request takes a token from every bucket it
// matches and gets 429 with Retry-After when any of them is empty.
type Limit struct {
	Name     string
	Methods  []string      // nil: every method
	Resource string        // "Users", "Groups"; "": every path
	Requests int           // tokens added per Per
	Per      time.Duration // refill period
	Burst    int           // bucket size; 0: Requests
}

// writeMethods returns a fresh list, so no two Limits share one.
func writeMethods() []string {
	return []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
}

func perMinute(name string, methods []string, resource string, n, burst int) Limit {
	return Limit{Name: name, Methods: methods, Resource: resource, Requests: n, Per: time.Minute, Burst: burst}
}

// Quirks switches vendor behaviour on top of the RFC 7644 defaults. The zero
// value is a plain RFC server.
type Quirks struct {
	// Vendor names the vendor in error details and ServiceProviderConfig.
	Vendor string
	// Delete is what DELETE /Users/{id} does. Groups are always removed.
	Delete DeleteMode
	// HideInactive leaves users with active=false out of list and filter
	// results; reads by id still find them.
	HideInactive bool
	// Unique lists the user attribute paths that must be unique
	// ("userName", "externalId", "emails.value"), compared case-insensitively
	// except externalId. nil means userName and externalId. Deactivated users
	// keep their values; unlinked ones (DeleteUnlink) do not.
	Unique []string
	// ConflictDetails maps an attribute path from Unique to the error detail
	// of a conflict on it (Slack: "email_taken").
	ConflictDetails map[string]string
	// InactiveConflictStatus, when set, is the status for a create or update
	// that collides with a deactivated user, instead of 409.
	InactiveConflictStatus int
	// UserNameSuffix makes a create with a taken userName succeed with a
	// numeric suffix appended instead of a conflict.
	UserNameSuffix bool
	// RequireExternalID rejects users without externalId (400 invalidValue).
	RequireExternalID bool
	// IDFromExternalID uses the externalId as the user's id.
	IDFromExternalID bool
	// NoPatch answers PATCH with 501; NoPut answers PUT with 501.
	NoPatch, NoPut bool
	// NoGroups serves Users only: /Groups answers 404.
	NoGroups bool
	// FilterAttributes, when set, are the only attribute paths a /Users
	// filter may use (case-insensitive); others get 400 invalidFilter.
	FilterAttributes []string
	// FilterAliases maps a vendor's own filter attribute to the SCIM path
	// it stands for (Slack filters on "email", meaning emails.value).
	FilterAliases map[string]string
	// SingleEqFilter accepts only one `attr eq "value"` comparison, on
	// /Users and /Groups.
	SingleEqFilter bool
	// LockWrites answers a write to a user or group that another write is
	// still processing with 429, Retry-After and "resource_locked".
	LockWrites bool
	// MaxGroupPatchMembers, when set, answers a group PATCH naming more
	// members than this with 413.
	MaxGroupPatchMembers int
	// MaxPageSize caps count on list requests; 0 means 100.
	MaxPageSize int
	// PatchFromProjection applies a PATCH's attributes/excludedAttributes
	// query parameters to the resource the operations start from, not only
	// to the answer, and stores the result whole: a group PATCH with
	// excludedAttributes=members keeps only the members it adds. SCIMMY
	// 1.3.5, a widely used server library, does this (its PATCH reads the
	// resource with the request's attribute projection, applies the
	// operations and writes the resource back).
	PatchFromProjection bool
	// NoEnterpriseUser declares no schema extension on User: /ResourceTypes
	// lists none and /Schemas has no enterprise schema; a create or replace
	// carrying the enterprise extension gets 400 invalidValue and a PATCH
	// into it 400 invalidPath (SCIMMY's answer without the extension).
	NoEnterpriseUser bool
	// Limits are the rate limits; nil means none.
	Limits []Limit
}

func (q Quirks) apply(c *config) { c.quirks = q }

func (q Quirks) unique() []string {
	if q.Unique == nil {
		return []string{"userName", "externalId"}
	}
	return q.Unique
}

func (q Quirks) pageSize() int {
	if q.MaxPageSize <= 0 {
		return 100
	}
	return q.MaxPageSize
}

// Citations below are to /work/shared/reference/connectors.md.

// Slack is Slack's SCIM 2.0 API (connectors.md §3.1): DELETE deactivates
// ("users cannot be permanently deleted, only deactivated"); userName and
// email are unique even against deactivated users (errors username_taken,
// email_taken); concurrent writes to one user or group get 429 with
// retry-after (per-resource lock, resource_locked); page size ≤1,000; rate
// limits: org-wide writes 600/min (burst 180), reads 1,000/min (burst not
// documented, so a minute's worth), user create/update/delete 180/min
// (burst 20).
func Slack() Quirks {
	return Quirks{
		Vendor:          "slack",
		Delete:          DeleteDeactivate,
		Unique:          []string{"userName", "emails.value"},
		ConflictDetails: map[string]string{"userName": "username_taken", "emails.value": "email_taken"},
		FilterAliases:   map[string]string{"email": "emails.value"},
		LockWrites:      true,
		MaxPageSize:     1000,
		Limits: []Limit{
			perMinute("org writes", writeMethods(), "", 600, 180),
			perMinute("org reads", []string{http.MethodGet}, "", 1000, 0),
			perMinute("user writes", writeMethods(), "Users", 180, 20),
		},
	}
}

// Atlassian is the Atlassian Guard user-provisioning API (connectors.md
// §3.2): DELETE deactivates the account and deletes the SCIM record, after
// which every SCIM operation on it returns 404 and only a new POST (which
// links the existing account) brings it back; Get Users does not list
// inactive users (ACCESS-1293); filters are a single exact eq on userName or
// externalId; a duplicate create is 409. SCIM rate-limit numbers were not
// found, so none are set.
func Atlassian() Quirks {
	return Quirks{
		Vendor:           "atlassian",
		Delete:           DeleteUnlink,
		HideInactive:     true,
		Unique:           []string{"userName", "externalId"},
		FilterAttributes: []string{"userName", "externalId"},
		SingleEqFilter:   true,
	}
}

// GitHubEMU is GitHub Enterprise Managed Users SCIM (connectors.md §3.4):
// active=false is a reversible soft deprovision and the list includes such
// users; DELETE is an irreversible hard deprovision (the SCIM identity is
// deleted); no more than 1,000 user assignments per hour.
func GitHubEMU() Quirks {
	return Quirks{
		Vendor: "github-emu",
		Delete: DeleteRemove,
		Unique: []string{"userName", "externalId"},
		Limits: []Limit{{Name: "user assignments", Methods: []string{http.MethodPost}, Resource: "Users",
			Requests: 1000, Per: time.Hour}},
	}
}

// GitLab is GitLab.com group SCIM (connectors.md §3.5): Users only, no SCIM
// Groups; GET/POST on /Users and GET/PATCH/DELETE on /Users/:id (no PUT);
// the id is the external UID, so externalId is required; removal or
// active=false only takes the user out of the group (the identity stays,
// inactive); a create for an inactive SCIM identity returns 412 instead of
// reactivating; existing usernames get a numeric suffix on create; emails
// are checked for existing accounts. 429 + Retry-After, numbers not given.
func GitLab() Quirks {
	return Quirks{
		Vendor:                 "gitlab",
		Delete:                 DeleteDeactivate,
		Unique:                 []string{"externalId", "emails.value"},
		InactiveConflictStatus: http.StatusPreconditionFailed,
		UserNameSuffix:         true,
		RequireExternalID:      true,
		IDFromExternalID:       true,
		NoPut:                  true,
		NoGroups:               true,
	}
}

// Notion is Notion's SCIM API (connectors.md §3.7): DELETE removes the
// member from the workspace (the account survives outside SCIM); users are
// found by email or name; 429 rate_limited with integer Retry-After, limits
// plan-based and not given as numbers.
func Notion() Quirks {
	return Quirks{
		Vendor: "notion",
		Delete: DeleteRemove,
		Unique: []string{"userName", "emails.value"},
	}
}

// Figma is Figma's SCIM API (connectors.md §3.8): userName is the email;
// active=false deactivates; Groups with PATCH members. DELETE semantics,
// rate limits and the duplicate-create code are undocumented, so RFC
// defaults apply.
func Figma() Quirks {
	return Quirks{
		Vendor: "figma",
		Delete: DeleteRemove,
		Unique: []string{"userName"},
	}
}

// Miro is Miro's SCIM API (connectors.md §3.12): active toggles
// activation; DELETE deletes the user; per-30-s limits GET/POST Users 200,
// PUT/PATCH Users 100, DELETE Users 20, GET Groups 5, PATCH Groups 100; a
// group PATCH with more than 8,000 members gets 413.
func Miro() Quirks {
	per30s := func(name string, methods []string, resource string, n int) Limit {
		return Limit{Name: name, Methods: methods, Resource: resource, Requests: n, Per: 30 * time.Second}
	}
	return Quirks{
		Vendor:               "miro",
		Delete:               DeleteRemove,
		Unique:               []string{"userName"},
		MaxGroupPatchMembers: 8000,
		Limits: []Limit{
			per30s("GET/POST Users", []string{http.MethodGet, http.MethodPost}, "Users", 200),
			per30s("PUT/PATCH Users", []string{http.MethodPut, http.MethodPatch}, "Users", 100),
			per30s("DELETE Users", []string{http.MethodDelete}, "Users", 20),
			per30s("GET Groups", []string{http.MethodGet}, "Groups", 5),
			per30s("PATCH Groups", []string{http.MethodPatch}, "Groups", 100),
		},
	}
}

// Asana is Asana's SCIM API (connectors.md §3.13): filter on userName
// only; active=false or DELETE deprovisions ("zombify"); 429 with
// Retry-After at 1,500 requests/min per token on paid plans (150 free).
func Asana() Quirks {
	return Quirks{
		Vendor:           "asana",
		Delete:           DeleteDeactivate,
		Unique:           []string{"userName"},
		FilterAttributes: []string{"userName"},
		Limits:           []Limit{perMinute("per token", nil, "", 1500, 0)},
	}
}
