// Package google is Keycard's connector for Google Workspace (app type
// "google"): the Admin SDK Directory API for users, their sessions and
// group memberships, and the Enterprise License Manager API for licences,
// through Google's Go clients (/work/shared/reference/connectors.md §3.6).
//
// # Auth
//
// A service account with domain-wide delegation impersonates an admin
// (Config.AdminEmail, the JWT's subject): its JSON key is the app's
// credential, read with golang.org/x/oauth2/google.JWTConfigFromJSON and
// never logged or quoted in an error. A super admin authorises the
// service account's client id for Scopes; Google refuses the token with
// unauthorized_client otherwise, which the connector reports as permanent
// with where to fix it.
//
// # What the connector does
//
//   - Find: the stored id, then the HR id in externalIds (type
//     organization), then the primary address. An address that is only an
//     alias (Google keeps a renamed user's old address) finds no one.
//   - Create: users.insert with a random password nobody learns (Google
//     requires one), the org unit of the policy (else /), the HR id, title
//     and department, the manager's address; then the policy's licence. A
//     409 adopts the user holding the address.
//   - Update: one users.patch of what differs; a changed licence moves
//     within its product (licenseAssignments.patch).
//   - SetActive(false): users.signOut, every application-specific password
//     and OAuth token deleted, then suspended: true, last, because
//     suspension is what the next plan reads. Suspended users keep their
//     licence and Google bills them as active ones. SetActive(true) lifts
//     the suspension.
//   - Memberships: groups only, existing ones (members.insert, 409 "Member
//     already exists." is success; members.delete, 404 is success). Groups
//     of the domain go by their local part.
//   - List: users.list in pages of 500, with memberships and licences from
//     tenant-wide listings; Count: user ids, cached five minutes.
//
// # Errors and pace
//
// Every request has a timeout. Google's answers become *Error, which
// knows its class: a quota 403 (userRateLimitExceeded, quotaExceeded,
// rateLimitExceeded), a 429, a 408 or a 5xx is transient, with Google's
// Retry-After if it sent one; every other 4xx is permanent and names
// Google's reason. The documented quota, 2,400 queries a minute per admin
// per project, counts reads too: Factory.Pace returns it, and every read
// the connector makes (and every write of a step after the first, which
// the worker paced) waits on Config.Pace; each answer is reported to
// Config.Observe.
package google
