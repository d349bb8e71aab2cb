// Package github is the native connector of a GitHub organisation whose
// members use their own (personal) accounts: app type "github". It talks
// to the REST API through go-github, with a fine-grained personal access
// token or a GitHub App installation token (organisation "Members: read
// and write"), to https://api.github.com/ or, with base_url, a GitHub
// Enterprise Server's https://HOST/api/v3/. GitHub Enterprise Managed
// Users are provisioned over SCIM instead (the scim type, profile
// github-emu).
//
// # What an account is
//
// Keycard cannot create, change or switch off a GitHub account: people own
// theirs. What it manages is their membership of the organisation and its
// teams, and the account id is the person's login.
//
//   - The login comes from HR: the app's login_field names the custom
//     field (a BambooHR alias, fetched with BAMBOOHR_CUSTOM_FIELDS) that
//     holds it. HR's value wins over a login stored earlier (HR corrects a
//     typo; a renamed GitHub user keeps their membership under the new
//     name). A membership under a login HR no longer names is left alone.
//   - Find reads GET /orgs/{org}/memberships/{login}: state "active" or
//     "pending" (invited, not accepted yet). Both are Active: Keycard has
//     done all it can, and a plan must not invite again while the person
//     has an invitation to accept. AttrState says which.
//   - An invitation that expired (GitHub expires them after 7 days) or
//     failed is listed by GET /orgs/{org}/failed_invitations: Find reports
//     it as an inactive account, so the plan reactivates it, and
//     SetActive(true) (or Create) cancels the failed invitation, which
//     GitHub otherwise refuses to invite over, and invites again.
//   - Create invites with PUT /orgs/{org}/memberships/{login} and the
//     app's role (member by default). A membership that exists, active or
//     pending, is adopted untouched: the PUT would set its role, and demote
//     an owner.
//   - Without a login, Create invites the work e-mail (POST
//     /orgs/{org}/invitations); the account id is "invitation:ID" and Find
//     looks for the invitation by that id, then by address. Such an
//     invitation gets no teams (GitHub adds an invitee to a team by login
//     only; the step is Partial and says so), and once it is accepted GitHub
//     does not say by whom: Find then fails Permanent (ErrInvitationGone)
//     until HR holds the login, because Keycard could no longer remove the
//     person. When the login arrives, Create by login cancels the e-mail
//     invitation, so one invitation stands.
//
// # Teams
//
// The only membership kind is Team, named by the team's slug. AddMembership
// is PUT /orgs/{org}/teams/{slug}/memberships/{login} after a GET that
// leaves an existing membership (a maintainer's) alone. For a pending
// member GitHub makes the team membership pending too, and it becomes
// active when the invitation is accepted: nothing to track or retry.
// RemoveMembership is the DELETE; 404 (not a member) is done.
//
// GitHub lists a user's teams only for the token's own user, so Find reads
// the org's teams (one request per 100) and then one team membership per
// team, four at a time: 2 + T requests for an org of T teams, against the
// token's primary limit (5,000 an hour for a user's token; GitHub Apps get
// more). Writes cost one request each; Create and SetActive(false) also
// read the pending invitations (a request per 100) to cancel e-mail
// invitations to the person's address.
//
// # Leavers and re-hires
//
// SetActive(false) is DELETE /orgs/{org}/memberships/{login}: the person
// leaves every team and the org, a pending invitation is cancelled, the
// seat is freed; an e-mail invitation to their address is cancelled too.
// There is no inactive member to come back to: Find then returns nil
// (contract feature DeactivateRemoves) and a re-hire is invited again. A
// leaver's outside-collaborator access to repositories is not touched.
//
// # Listing and counting
//
// List reads, paced page by page with the worker's pacer: the members,
// the pending and failed invitations, the outside collaborators (reported
// inactive with AttrState "outside_collaborator": access org removal does
// not take away), the teams, and for each team its members and its pending
// invitations. That is about (M + I + F + O + T)/100 + 2·T requests. Count
// is members plus pending invitations, the seats GitHub bills and the base
// of the blast-radius guard, in two requests (one item a page: the Link
// header's last page is the count).
//
// # Limits and errors
//
// GitHub's secondary limits allow no more than 80 content-creating
// requests a minute and 500 an hour; the default pace (PacePerMinute,
// PaceBurst) stays under both. Answers map to fault classes:
//
//   - 403 or 429 with x-ratelimit-remaining 0: the primary limit, retried
//     at x-ratelimit-reset;
//   - 403 or 429 with retry-after, or GitHub's secondary-limit message: a
//     secondary limit, retried after retry-after or a minute;
//
// both pause the app's writes (the pacer is told). Then:
//
//   - 422 "Over invitation rate limit" (50 invitations in 24 hours for a
//     new free organisation, 500 otherwise): transient, retried after
//     InvitationCapWait, without pausing the app's other writes;
//   - 408 and 5xx: transient, with retry-after when sent;
//   - any other 4xx: Permanent, with GitHub's message (401 says the token
//     was rejected).
//
// go-github's own rate-limit bookkeeping is off: it would refuse requests
// from its memory of one answer, which the other replicas' shared pacer
// knows nothing of. Errors never hold the token, a request body or an
// e-mail address taken from a request.
package github
