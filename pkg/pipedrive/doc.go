// Package pipedrive is the native connector of a Pipedrive company: app
// type "pipedrive". It talks to Pipedrive's REST API v1
// (https://COMPANY.pipedrive.com/api/v1/, company_domain; base_url
// overrides it) with a small net/http client (Pipedrive publishes no Go
// SDK), authenticated by an admin user's API token in the x-api-token
// header, never the api_token query parameter, so the token stays out of
// URLs and logs. Every request has a deadline (Config.Timeout).
//
// # What an account is
//
// A Pipedrive user of the company, by its numeric id. Pipedrive has no
// SCIM and no external id, so the work e-mail is the identity:
//
//   - Find reads GET /users/{id} for a stored id, else GET /users/find
//     with search_by_email=1 and keeps the user whose address is the
//     person's (the term also matches parts of addresses), deactivated
//     users included.
//   - Create adopts the company's user under the address, active or not
//     (moved to the org_unit's role; the plan then reactivates it), else
//     adds one (POST /users with
//     email, access [{app: "sales", permission_set_id}] and active_flag
//     true): Pipedrive e-mails the person an invitation (AttrActivated is
//     "false" until they accept). A 400 on add (Pipedrive documents no
//     answer for an address it has) is adopted when the address is then
//     found.
//   - Pipedrive's PUT /users/{id} changes active_flag only: a user's name
//     is their own, and no API changes their login e-mail or permission
//     set once they are added. The account reads HR's attributes as the
//     person has them, except the three Pipedrive holds: e-mail, licence
//     and org unit (below). An HR e-mail other than the login address, or
//     a licence other than the one the user holds, makes Update Partial,
//     saying what an admin must change by hand; it is reported on every
//     event for the person until they do.
//
// # Licence and org unit
//
// A grant's license names the sales app's permission set (by name, such
// as "Regular user" or a custom "Sales manager", or by id) given when the
// user is added; the app's permission_set setting is the default, else
// Pipedrive's own. A grant's org_unit names the visibility role (Pipedrive
// "roles", the hierarchy of visibility groups): a user holds exactly one,
// so Create and Update move them with POST /roles/{id}/assignments. The
// policy's multi-valued roles are not used: a Pipedrive user cannot hold
// two.
//
// # Teams
//
// The one membership kind is Team, by the team's name: GET
// /legacyTeams/user/{id} (Find), POST and DELETE /legacyTeams/{id}/users
// (Pipedrive moved Teams to legacyTeams; the old /teams path is the same
// API). Teams are made in Pipedrive; a grant naming one that does not
// exist is a permanent error. Team names are read (GET /legacyTeams) at
// most every ten minutes, and again at once when a name is not known.
//
// # Leavers, re-hires and seats
//
// SetActive(false) sets active_flag false: the user cannot log in (open
// sessions may last until they expire) but stays in the company, in their
// teams, and on a billed seat: Pipedrive bills every seat until an admin
// removes it from the subscription. SetActive(true) brings the same user
// back. The seat is visible to the cost report: every account carries
// AttrSeat (SeatActive or SeatBilledInactive), and Seats counts active and
// deactivated users. Keycard refuses to deactivate the user whose token it
// uses, and List leaves that user out, so a reconcile never takes away
// Keycard's own access.
//
// # Limits and errors
//
// Each request spends tokens of the company's daily budget (30,000 × plan
// multiplier × seats; GET one 2, a list 20, find 40, a write 10), reset at
// midnight server time; and a token may make 20 requests per 2-second
// window on the lowest plan (the burst limit), reads and its user's own
// clicks included. So every request waits on the pacer (Config.Pace),
// but the first write of a step, which the worker paced, and the default
// pace (PacePerMinute, PaceBurst) keeps any 2 seconds at 16. Answers map
// to fault classes:
//
//   - 429 with x-daily-ratelimit-token-remaining (or x-daily-requests-left)
//     0: the daily budget; retried at the next midnight UTC (at least a
//     minute), not dead-lettered;
//   - any other 429: the burst limit, retried after retry-after or
//     x-ratelimit-reset (2 s without either);
//   - 403 that is not JSON: the block page Pipedrive's edge answers to a
//     token that ignored 429s, retried after BlockedWait;
//
// all three pause the app's writes (the pacer is told). Then:
//
//   - 401 (a regenerated token, or its user deactivated) and a 403
//     permission refusal (the token's user is no admin) are fault.Auth:
//     the worker pauses the app;
//   - 408 and 5xx: transient, with retry-after when sent;
//   - any other 4xx: Permanent, with Pipedrive's error and error_info.
//
// Errors never hold the token or a query (which holds the address
// searched for).
package pipedrive
