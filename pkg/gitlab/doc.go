// Package gitlab is the native connector of a GitLab self-managed (or
// Dedicated) instance: app type "gitlab". It talks to the REST API v4
// through gitlab.com/gitlab-org/api/client-go with an administrator's
// personal access token (scope api), at base_url (the instance's root,
// https://gitlab.example.com). GitLab.com groups are provisioned over SCIM
// instead (the scim type, profile gitlab): on GitLab.com only the group's
// SCIM API can create accounts.
//
// # What an account is
//
// An instance user; the account id is the user's numeric id.
//
//   - Find reads GET /users/:id by the stored id, then, with an
//     identity_provider (the SAML or LDAP provider as gitlab.rb names it),
//     GET /users?extern_uid=&provider= with the person's extern_uid (the HR
//     id, or per extern_uid_field the e-mail or an HR custom field), then
//     GET /users?search= with the work e-mail, keeping only a user whose
//     primary address it is. Blocked and deactivated users are found too,
//     inactive: a re-hire comes back to the same user.
//   - Create adopts the user Find finds (linking the provider identity
//     when the user has none there; one naming someone else is left, and
//     logged), else POST /users: the username is HR's (username_field)
//     or the e-mail's local part made a valid username, suffixed 1, 2, …
//     when taken or reserved (checked with GET /users?username= first; a
//     409 "Username has already been taken" between the check and the
//     create moves on to the next; at most 10 tries); skip_confirmation;
//     with a provider a random password and the identity, without one
//     reset_password (GitLab e-mails a link to set one). GitLab answers
//     409 "Email has already been taken" for an address that is any
//     user's, primary or secondary: a user found then is adopted (another
//     delivery made it), and an address that is only someone's secondary
//     one fails Permanent.
//   - Update sets the name, the e-mail (skip_reconfirmation: confirmed at
//     once) and the job title. The username is never changed: a rename
//     moves every project URL and git remote of the namespace. GitLab has
//     no given or family name, department or manager: those read back as
//     the person has them.
//
// # Leavers and re-hires
//
// SetActive(false) blocks the user (POST /users/:id/block), after taking
// them out of any group in scope the plan did not (a membership below the
// configured level, added by hand). A blocked user cannot sign in or use
// their tokens and SSH keys, keeps their data and contributions, and takes
// no licence seat. Blocking, not deactivation: GitLab refuses to
// deactivate (403) anyone active in the last 90 days, and a deactivated
// user is reactivated by their next sign-in. A user blocked by LDAP
// synchronisation is blocked already. Nothing is ever deleted.
//
// SetActive(true) unblocks a blocked user, activates a deactivated one and
// approves one pending approval; a user blocked by LDAP or banned fails
// Permanent (ErrNotReversible): that is the directory's or an
// administrator's call.
//
// # Groups and access levels
//
// The membership kind is Group, named by the group's full path
// ("acme/eng/backend", as GitLab shows it). Every membership Keycard adds
// is at the app's access_level (default developer) or, for a group listed
// in group_access_levels ("acme/leads=maintainer, acme/support=reporter"),
// at that group's. The level is per group, not per person: a plan is a
// set of names, and GitLab holds one level per member and group, so two
// grants naming one group at two levels would undo each other. People who
// need more in a group (leads) get a group of their own at a higher level,
// shared into the group with GitLab's group sharing if need be.
//
//   - AddMembership is POST /groups/:id/members (the path URL-encoded). On
//     409 "Member already exists" a membership below the level is raised
//     (PUT); one at or above it (an owner or maintainer set by hand) is left
//     alone: Keycard never lowers a level. A membership GitLab refuses
//     because the user inherits more from an ancestor group is done: they
//     have the access.
//   - RemoveMembership is DELETE /groups/:id/members/:user_id with
//     skip_subresources, so the person's memberships of subgroups stay for
//     their own grants; not a member (404) is done.
//   - Find reads GET /users/:id/memberships?type=Namespace (direct
//     memberships) and each group's full path (GET /groups/:id, remembered
//     10 minutes) and reports the groups where the level is at least the
//     configured one: a lower one reads as missing, so the plan raises it.
//
// With org (the top-level group's path) the app manages that group and
// those below it only: a grant elsewhere fails Permanent, and memberships
// elsewhere are neither reported nor removed.
//
// # Listing and counting
//
// List reports every human user but the token's own (bots and internal
// users are not people; Keycard never blocks the administrator it works
// as), paced page by page: the users, then with org the org's groups and
// their direct members, without org each user's memberships. Count is the
// active human users but the token's own, the seats GitLab bills, from one
// request's X-Total (paged through above 10,000 users, where GitLab sends
// none).
//
// # Limits and errors
//
// GitLab's throttle for authenticated API requests is off by default on a
// self-managed instance; switched on, its documented default is 7,200
// requests an hour per user, reads included. The default pace (40 writes a
// minute, burst 10) leaves room for the reads around each write. Answers
// map to fault classes:
//
//   - 429 (the throttle's plain-text "Retry later", or an endpoint's own
//     limit): transient, retried after Retry-After, else RateLimit-Reset,
//     else a minute; the pacer is told, so the app's writes pause;
//   - 408 and 5xx: transient, with Retry-After when sent;
//   - 401, and the bare "403 Forbidden" of an administrator-only users
//     endpoint (a token that is not an admin's): Permanent and fault.Auth,
//     so the worker pauses the app rather than dead-letter every event;
//   - any other 4xx: Permanent, with GitLab's message.
//
// client-go's retryablehttp retries (5 by default, on 429 and 5xx, sleeping
// for RateLimit-Reset) and its header-driven limiter are switched off: the
// worker retries by fault class with the wait GitLab asked for, shared by
// every replica, and a sleep inside the client would hold a worker and
// fight the pace. Every request has a timeout (30 s by default). Errors
// never hold the token, a request body or an e-mail address taken from a
// request.
package gitlab
