// Package scim is Keycard's client for SCIM 2.0 service providers (RFC 7643
// and RFC 7644): one generic client, and per-vendor [Profile] values that
// hold every difference between Slack, Atlassian, GitHub EMU, GitLab.com,
// Notion, Figma, Miro and Asana (shared/reference/connectors.md §2.1).
//
// # Flow
//
// A connector builds a client from a profile and its parameters:
//
//	p := scim.Atlassian()
//	base, err := p.BaseURL(map[string]string{"directoryId": dir}) // profile.go
//	c, err := scim.New(scim.Config{BaseURL: base, Token: key, Profile: p}) // client.go
//
// then converges one person (connector.Connector):
//
//   - Find: GetUser(stored id) first — Atlassian hides deactivated users
//     from filters, and GitLab.com uses the externalId as id — then
//     FindUsers with p.ByExternalID / p.ByEmail (filter.go builds and
//     quotes the filter; the client refuses attributes the profile says the
//     vendor cannot filter on).
//   - Create: CreateUser (resource.go has the User model; Profile.Prepare
//     drops attributes the vendor does not take). IsConflict(err) means the
//     account exists: adopt it — by stored id first, because Slack and
//     GitLab.com refuse to create over a deactivated account — and
//     reactivate it.
//   - Update: PatchUser with p.UpdateOps(current, wanted). Without PATCH
//     the client reads, applies the operations itself (patch.go, RFC 7644
//     §3.5.2 semantics) and PUTs the whole resource, keeping attributes it
//     does not know.
//   - SetActive: PATCH active, or DELETE where that is the vendor's only
//     documented deprovisioning (Notion). Hard delete is never implied.
//   - Memberships: PatchGroupMembers, in the profile's remove form and
//     split at its members-per-request limit. It sends no
//     excludedAttributes: SCIMMY-based servers apply it to the group they
//     patch and drop its members. A group deleted at the vendor is found
//     or made again on the next grant.
//   - Count: CountUsers (totalResults), the blast-radius guard's base.
//
// # Errors
//
// Every error is classified for the worker runtime (errors.go):
//   - fault.RetryAfter: 429, 408, 5xx (Notion's 529 included) and
//     profile signals (GitHub's rate-limit 403s, Slack's resource_locked)
//     when the server gave Retry-After (seconds or HTTP date) or
//     X-RateLimit-Reset.
//   - plain (transient): the same without a delay, network failures, the
//     per-call timeout.
//   - fault.Permanent: every other 4xx (400, 401, 403, 404, 409, 412,
//     413), bodies over the size limit, undecodable 2xx bodies, and
//     requests refused locally (bad filter, bad patch path).
//
// errors.As finds the *Error beneath; IsConflict, IsNotFound and
// IsUnauthorized test it. No error carries the token, the query string
// (filters hold e-mail addresses) or a request body.
//
// The client does not retry: the worker retries by class. The worker paces
// writes with Profile.RateLimit (its default: PerMinute() with a burst one
// below the vendor's); where the vendor's budget counts reads too
// (RateLimit.Reads, Asana), the client waits on Config.Pace, the same
// pacer, before each read.
package scim
