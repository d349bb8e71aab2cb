package scim

import (
	"net/http"
	"time"

	"keycard/pkg/connector/registry"
)

// The vendor profiles. Comments name the section of
// shared/reference/connectors.md ("§3.1") each value comes from. Where
// that document is silent the value is marked (unverified) and chosen so a
// wrong guess fails loudly (a 400 on an attribute, a refused filter)
// rather than silently (a deleted account).
//
// They are functions, not package variables, so no caller can change a
// profile under another (STYLE.md: no package-level mutable state).

// conservative is the pace for vendors that publish no numbers: one write
// a second, no bursts.
func conservative(note string) RateLimit {
	return RateLimit{Writes: 60, Per: time.Minute, Burst: 1, Note: note}
}

// Generic is a plain RFC 7644 service provider: everything the RFC
// defines, filters unchecked, PATCH, reversible deactivation.
func Generic() Profile {
	return Profile{
		Name:     "generic",
		Patch:    true,
		Groups:   true,
		Accepts:  AttrAll,
		Requires: AttrUserName, // RFC 7643 §4.1.1: userName is required
		Filters: FilterSupport{
			UserName: "userName", Email: "emails.value", ExternalID: "externalId", GroupName: "displayName",
			Combine: true, Unchecked: true,
		},
		Deactivate:   DeactivatePatch,
		DeleteEffect: "RFC 7644 §3.6: the resource is gone; what happens to the account is the provider's choice",
		Reactivate:   ReactivatePatch,
		RateLimit:    conservative("RFC 7644 sets no rate; paced at one write a second"),
	}
}

// Slack is Slack's SCIM 2.0 API (connectors.md §3.1).
func Slack() Profile {
	return Profile{
		Name: "slack",
		// §3.1 API: base https://api.slack.com/scim/VERSION/, v2 = RFC 7644.
		BaseURLTemplate: "https://api.slack.com/scim/v2",
		// §3.1 Auth & plan: OAuth token with the admin scope; its creator
		// must stay Admin/Owner (an IsUnauthorized alert means re-issue).
		Auth: Auth{},
		// §3.1 Auth & plan: Business+ or Enterprise (plus_teams_only otherwise).
		Plan: "Business+ or Enterprise Grid (Grid: SCIM app installed on the org)",
		// §3.1 Endpoints: Users and Groups take GET/POST/PATCH/PUT/DELETE.
		Patch:  true,
		Groups: true,
		// (unverified) §3.1 lists no attributes. Slack's /Schemas/Users, as
		// mirrored by IBM Verify's Slack connector, has userName, emails,
		// name, displayName, title, department; externalId and manager are
		// not claimed, so they are not sent.
		Accepts: AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrTitle | AttrDepartment,
		// (unverified) python-slack-sdk: a create must have userName and
		// at least one e-mail.
		Requires: AttrUserName | AttrEmails,
		// (unverified) python-slack-sdk: an e-mail sent as userName is
		// converted to a Slack username, so userName is not a lookup key.
		UserNameRewritten: true,
		// §3.1 Filter: username and email, operators eq…le, and/or.
		Filters: FilterSupport{UserName: "userName", Email: "email", GroupName: "displayName", Combine: true},
		// §3.1 Filter: count ≤ 1,000 recommended.
		MaxPageSize: 1000,
		// §3.1 Endpoints/Deprovision: DELETE /Users/{id} "sets a Slack user
		// to deactivated" (no hard delete). PATCH active=false is the same
		// reversible state and keeps one code path with the other vendors.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "deactivates the user (Slack has no hard delete); reversible with active=true; deactivated members are not billed",
		// §3.1 Deprovision: deactivated members are not billed.
		DeactivatedSeat: registry.SeatFreed,
		// §3.1 Idempotency: re-hire ⇒ active=true on the stored user id.
		Reactivate: ReactivatePatch,
		// §3.1 Idempotency: POST with the e-mail of a deactivated user fails
		// (email_taken) ⇒ find by stored id and reactivate.
		CreateBlockedByInactive: true,
		// §3.1 Move: remove one member with members[value eq "U…"].
		MemberRemoval: RemoveByFilter,
		// §3.1 Rate limits: create/update/delete user 180/min, burst 20 (the
		// org-wide write budget of 600/min, burst 180, is shared by every
		// SCIM app of the org); 429 with Retry-After.
		RateLimit: RateLimit{Writes: 180, Per: time.Minute, Burst: 20, Documented: true,
			Note: "per-endpoint user writes; org-wide writes 600/min burst 180, reads 1,000/min"},
		// §3.1 Rate limits: a user/group locked by a concurrent write gives
		// 429 (transient anyway) and resource_locked for group updates,
		// whatever status it comes with.
		Transient: []Signal{{Detail: "resource_locked"}},
	}
}

// Atlassian is Atlassian Guard user provisioning (connectors.md §3.2).
func Atlassian() Profile {
	return Profile{
		Name: "atlassian",
		// §3.2 API: https://api.atlassian.com/scim/directory/{directoryId}.
		BaseURLTemplate: "https://api.atlassian.com/scim/directory/{directoryId}",
		// §3.2 API: the directory API key as bearer token (not the org key).
		Auth: Auth{},
		// §3.2 Plan: Atlassian Guard (formerly Access).
		Plan: "Atlassian Guard (formerly Atlassian Access)",
		// §3.2 API/Move: users and groups, PATCH on both.
		Patch:  true,
		Groups: true,
		// (unverified) §3.2 lists no attributes; these are the core and
		// enterprise attributes the go-atlassian SCIM models carry.
		Accepts:  AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrTitle | AttrDepartment | AttrExternalID,
		Requires: AttrUserName | AttrEmails,
		// §3.2 Filter/paging: a single exact eq on userName or externalId.
		Filters: FilterSupport{UserName: "userName", ExternalID: "externalId", GroupName: "displayName"},
		// §3.2 Deprovision: DELETE deactivates and deletes the SCIM record
		// for good (later calls 404; no SCIM undo). active=false is the
		// reversible route; §7 lists checking it on a tenant as open.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "deactivates the Atlassian account and deletes the SCIM record: later SCIM calls return 404, only a new POST re-links, reactivation is in Atlassian Administration",
		// §3.2 Licence / data: deactivating a managed account stops billing.
		DeactivatedSeat: registry.SeatFreed,
		// (unverified, §7) active=true on the stored id.
		Reactivate: ReactivatePatch,
		// §3.2 Deprovision: Get Users does not list inactive users (ACCESS-1293).
		InactiveHidden: true,
		// §3.2 Idempotency: an existing user gives 409 (IsConflict's
		// default, nothing to add to CreateConflictStatus).
		// (unverified) §3.2 Move: group PATCH; the RFC remove form.
		MemberRemoval: RemoveByFilter,
		// §3.2 Rate limits: 429 with rate-limit headers; SCIM numbers not found.
		RateLimit: conservative("§3.2: SCIM directory limits not published"),
	}
}

// GitHubEMU is GitHub Enterprise Managed Users SCIM (connectors.md §3.4).
func GitHubEMU() Profile {
	return Profile{
		Name: "github-emu",
		// §3.4 API: /scim/v2/enterprises/{enterprise}/Users and /Groups on
		// the REST host api.github.com (§3.3).
		BaseURLTemplate: "https://api.github.com/scim/v2/enterprises/{enterprise}",
		// §3.4 Auth: PAT (classic) of the setup user, scim:enterprise scope.
		// Requests must carry a User-Agent; the client always sends one.
		Auth: Auth{},
		// §3.4: GHEC with Enterprise Managed Users, open SCIM configuration.
		Plan: "GitHub Enterprise Cloud with Enterprise Managed Users (open SCIM configuration enabled)",
		// §3.4 API: GET, POST, PUT, PATCH, DELETE on Users and Groups.
		Patch:  true,
		Groups: true,
		// (unverified) §3.4 lists no attributes; GitHub's EMU schema has
		// userName, emails, name, displayName, externalId (required), roles.
		Accepts:  AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrExternalID,
		Requires: AttrUserName | AttrExternalID,
		// (unverified) §3.4 Idempotency: search with filter first.
		Filters: FilterSupport{UserName: "userName", ExternalID: "externalId", GroupName: "displayName"},
		// §3.4 Deprovision: active=false = suspend, reversible; DELETE is
		// irreversible.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "IRREVERSIBLE hard deprovision: SCIM identity, PATs, SSH keys and user-owned repositories are deleted",
		// §3.4 Deprovision: reinstated with active=true.
		Reactivate: ReactivatePatch,
		// §3.4 API: the list includes soft-deprovisioned users.
		InactiveHidden: false,
		MemberRemoval:  RemoveByFilter,
		// §3.4 Rate limits: at most 1,000 user assignments per hour.
		RateLimit: RateLimit{Writes: 1000, Per: time.Hour, Burst: 1, Documented: true,
			Note: "≤1,000 users (and ≤1,000 per group) per hour"},
		// §3.3 Rate limits (same API host): primary and secondary limits
		// answer 403 or 429, with retry-after or x-ratelimit-remaining: 0.
		Transient: []Signal{
			{Status: http.StatusForbidden, Header: "Retry-After"},
			{Status: http.StatusForbidden, Header: "X-RateLimit-Remaining", Value: "0"},
		},
	}
}

// GitLab is GitLab.com group SCIM (connectors.md §3.5).
func GitLab() Profile {
	return Profile{
		Name: "gitlab",
		// §3.5: /api/scim/v2/groups/{group_path}/Users (top-level group).
		BaseURLTemplate: "https://gitlab.com/api/scim/v2/groups/{group_path}",
		// §3.5: group SCIM token as bearer.
		Auth: Auth{},
		// §3.5: Premium/Ultimate with Group SSO.
		Plan: "Premium or Ultimate with Group SSO (GitLab.com)",
		// §3.5: GET/POST Users, GET/PATCH/DELETE Users/:id; no PUT.
		Patch: true,
		// §3.5 Resources: Users only, no SCIM Groups (group membership via
		// SAML Group Sync or the Members API).
		Groups: false,
		// (unverified) §3.5 lists no attributes; GitLab's group SCIM takes
		// userName, emails, name and requires externalId (the extern_uid).
		Accepts:  AttrUserName | AttrEmails | AttrName | AttrExternalID,
		Requires: AttrUserName | AttrEmails | AttrExternalID,
		// §3.5: "id is the external UID".
		IDIsExternalID: true,
		// (unverified) §3.5: "filter expression supported".
		Filters: FilterSupport{UserName: "userName"},
		// §3.5 Deprovision: removal or active=false takes the user out of
		// the top-level group; the GitLab.com account survives.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "same as active=false: removes the user from the top-level group; the GitLab.com account remains",
		// §3.5 Idempotency: re-create of an inactive identity gives 412;
		// PATCH active=true on the stored id instead.
		Reactivate:              ReactivatePatch,
		CreateBlockedByInactive: true,
		CreateConflictStatus:    []int{http.StatusPreconditionFailed},
		// §3.5 Rate limits: 429 with Retry-After; numbers not published.
		RateLimit: conservative("§3.5: 429 + Retry-After, limits not published for group SCIM"),
	}
}

// Notion is Notion's SCIM API (connectors.md §3.7).
func Notion() Profile {
	return Profile{
		Name: "notion",
		// §3.7 Base URL: https://api.notion.com/scim/v2/Users.
		BaseURLTemplate: "https://api.notion.com/scim/v2",
		// §3.7 Auth: workspace-owner SCIM token (bearer).
		Auth: Auth{},
		// §3.7 API/plan: Enterprise.
		Plan: "Enterprise",
		// (unverified) §3.7: "update a member's profile" — PATCH assumed.
		Patch: true,
		// §3.7: groups create/remove, add/remove members.
		Groups: true,
		// (unverified) §3.7: profile updates; names/e-mails need a verified
		// domain. userName is the e-mail.
		Accepts:         AttrUserName | AttrEmails | AttrName,
		Requires:        AttrUserName,
		UserNameIsEmail: true,
		// §3.7: find members by e-mail or name, groups by name (attribute
		// names unverified: userName holds the e-mail).
		Filters: FilterSupport{UserName: "userName", GroupName: "displayName"},
		// §3.7 Deprovision: DELETE is the only documented way: it removes
		// the member from the workspace, ends sessions and reclaims the
		// licence; the Notion account is not deleted.
		Deactivate:   DeactivateDelete,
		DeleteEffect: "removes the member from the workspace, logs out sessions, reclaims the licence; the account survives",
		// §3.7: DELETE reclaims the licence.
		DeactivatedSeat: registry.SeatFreed,
		// (unverified) after DELETE the member comes back by POST.
		Reactivate:    ReactivateByCreate,
		MemberRemoval: RemoveByFilter,
		// §3.7 Rate limits: 429 rate_limited with Retry-After, 529
		// service_overload (both transient by status); plan-based numbers
		// not captured.
		RateLimit: conservative("§3.7: plan-based per-connection and per-workspace limits, numbers not captured"),
	}
}

// Figma is Figma's SCIM API (connectors.md §3.8).
func Figma() Profile {
	return Profile{
		Name: "figma",
		// §3.8 Base URL: https://www.figma.com/scim/v2/{tenantId}; Figma for
		// Government is figma-gov.com (set Config.BaseURL directly).
		BaseURLTemplate: "https://www.figma.com/scim/v2/{tenantId}",
		// §3.8: admin-generated SCIM API token.
		Auth: Auth{},
		// §3.8: Organization or Enterprise, not Starter/Professional.
		Plan: "Organization or Enterprise",
		// §3.8: GET/POST/PUT/PATCH/DELETE; Group resource with members.
		Patch:  true,
		Groups: true,
		// §3.8 Schema: userName = e-mail; other attributes (unverified) per
		// Figma's supported-schemas page as summarised in §3.8.
		Accepts:         AttrUserName | AttrName | AttrDisplayName | AttrTitle | AttrDepartment | AttrExternalID,
		Requires:        AttrUserName,
		UserNameIsEmail: true,
		// (unverified) filters not documented in §3.8; userName per RFC.
		Filters: FilterSupport{UserName: "userName", GroupName: "displayName"},
		// §3.8 Schema: active=false deactivates and removes from the org.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "not documented (§3.8, §7 open item)",
		// (unverified) active=true on the stored id.
		Reactivate:    ReactivatePatch,
		MemberRemoval: RemoveByFilter,
		// §3.8: rate limits not documented.
		RateLimit: conservative("§3.8: not documented"),
	}
}

// Miro is Miro's SCIM 2.0 API (connectors.md §3.12).
func Miro() Profile {
	return Profile{
		Name: "miro",
		// §3.12 API: https://miro.com/api/v1/scim/.
		BaseURLTemplate: "https://miro.com/api/v1/scim",
		// §3.12: bearer token from Company settings → Enterprise integrations.
		Auth: Auth{},
		// §3.12: Enterprise, SSO/SAML enabled first.
		Plan: "Enterprise (SSO/SAML enabled)",
		// §3.12 Rate limits name PUT/PATCH Users and PATCH Groups.
		Patch: true,
		// §3.12 Groups: a SCIM Group is a Miro user group.
		Groups: true,
		// (unverified) §3.12 lists no attributes.
		Accepts:  AttrUserName | AttrEmails | AttrName | AttrDisplayName | AttrTitle | AttrDepartment,
		Requires: AttrUserName,
		// (unverified) filters not documented in §3.12.
		Filters: FilterSupport{UserName: "userName", GroupName: "displayName"},
		// §3.12 Deprovision: activate/deactivate via active; DELETE deletes
		// the user and hands their boards to the oldest team admin.
		Deactivate:   DeactivatePatch,
		DeleteEffect: "deletes the user and transfers their boards to the oldest team admin; refused for the last admin and for guests",
		Reactivate:   ReactivatePatch,
		// §3.12 Rate limits: group PATCH ≤ 8,000 members, else 413.
		MemberRemoval:      RemoveByFilter,
		MaxMembersPerPatch: 8000,
		// §3.12 Rate limits: PUT/PATCH Users 100 per 30 s (POST 200, DELETE
		// 20, PATCH Groups 5 when > 500 bytes).
		RateLimit: RateLimit{Writes: 100, Per: 30 * time.Second, Burst: 1, Documented: true,
			Note: "PUT/PATCH Users 100/30 s; POST Users 200/30 s; DELETE Users 20/30 s; PATCH Groups 5/30 s above 500 bytes"},
	}
}

// Asana is Asana's SCIM API (connectors.md §3.13).
func Asana() Profile {
	return Profile{
		Name: "asana",
		// §3.13 API: https://app.asana.com/api/1.0/scim.
		BaseURLTemplate: "https://app.asana.com/api/1.0/scim",
		// §3.13: service-account token (bearer).
		Auth: Auth{},
		// §3.13: Enterprise domains, service accounts only.
		Plan: "Enterprise (service account)",
		// §3.13: PUT/PATCH; Group endpoints map to teams.
		Patch:  true,
		Groups: true,
		// (unverified) §3.13 lists no attributes; userName is the e-mail.
		Accepts:         AttrUserName | AttrEmails | AttrName | AttrTitle | AttrDepartment,
		Requires:        AttrUserName,
		UserNameIsEmail: true,
		// §3.13: GET /Users filters on userName (no guests).
		Filters: FilterSupport{UserName: "userName", GroupName: "displayName"},
		// §3.13: active=false or DELETE deprovision ("zombify").
		Deactivate:   DeactivatePatch,
		DeleteEffect: "deprovisions (\"zombifies\") the user, like active=false",
		// (unverified) active=true on the stored id.
		Reactivate:    ReactivatePatch,
		MemberRemoval: RemoveByFilter,
		// §3.13 Rate limits: 1,500/min per token on paid plans (Enterprise
		// is paid); search 60/min; 429 with Retry-After.
		RateLimit: RateLimit{Writes: 1500, Per: time.Minute, Burst: 1, Documented: true, Reads: true,
			Note: "1,500 requests/min per token (paid), reads included; search 60/min (the task search API)"},
	}
}
