// Package discord is the native connector of a Discord guild (server):
// app type "discord". It talks to Discord's REST API v10 with a bot
// token, through a small net/http client of its own (rest.go says why not
// discordgo's Session; discordgo's types decode the JSON).
//
// # What an account is
//
// Discord has no account creation: accounts belong to people, and a bot
// can add someone to a guild only with that person's own OAuth token. So
// Keycard invites, and links the member once HR knows who they are.
//
//   - Create makes a single-use invite (POST /channels/{channel.id}/invites
//     with max_uses 1, unique true, max_age from invite_max_age, default
//     and at most 7 days) on the app's channel_id and delivers its link:
//     by e-mail to the work address through an SMTP relay (net/smtp, TLS
//     required), or to a Slack channel through an incoming webhook. The
//     link is the invite (anyone holding it can join, once): it goes into
//     that message and nowhere else, never a log line or an error.
//   - The account id of an invite is "invite:<expiry>:<digest>", the
//     digest an HMAC of the code under the bot token. The worker stores
//     the id Create returns (its accounts bucket), and Find recognises the
//     invite among the channel's by it. That is how Keycard remembers an
//     invite was sent: a redelivered hire is skipped by the ledger
//     (app:event id), a retry after a later step failed finds the stored
//     invite and plans no second Create, and the invite is one step of
//     the plan like any other. If delivery fails the invite is revoked
//     before the step fails, so the retry's invite is the only one out.
//     What is not covered: a crash between delivery and the worker
//     storing the id sends a second invitation on retry.
//   - The person's Discord user id comes from HR: user_id_field names the
//     custom field (a BambooHR alias, fetched with BAMBOOHR_CUSTOM_FIELDS),
//     like GitHub's login_field; a pasted mention <@id> is read too. HR's
//     value wins over a stored id. Find reads GET
//     /guilds/{guild.id}/members/{user.id}: a member is the account (id =
//     user id, which the worker then stores). An id no Discord user has is
//     a permanent error naming the field.
//
// # Before the person has joined
//
// Discord does not say who used an invite. While the invite is listed
// (unused) the account is StateInvited; once it is gone before its expiry
// it was used (or revoked by hand), and Find returns the account
// "joined:…" (StateJoined), which the worker stores, so a later read
// still knows. Either way the account is Active (no second invite) and has
// no roles: a role grant is Partial with ErrNotJoined — the event is
// applied, audited with the warning, and not dead-lettered. The roles
// follow when HR's field holds the user id: the person's next HR update,
// or the scheduled reconcile (which lists the waiting invite, sees its
// roles missing and re-evaluates the person), finds the member and grants
// them. An invite that expired unused is no account: the next event or
// reconcile plans a new invite. If HR holds a user id that is not a member
// and the invite was used, whoever used it, that user is invited.
//
// # Roles
//
// Policy groups for a Discord app are roles (kind Role), named as in the
// guild, exactly. GET /guilds/{guild.id}/roles and the bot's own
// membership are read once a minute (RolesTTL) to resolve names to ids
// and to find the bot's highest role: Discord lets a bot grant only roles
// below it, and none an integration manages. Find reports only the
// member's roles the bot manages, so no plan tries to strip one it cannot;
// granting one it cannot, a name no role has, or one two roles share is a
// permanent error, refused here without the request (Discord counts 403s
// towards its invalid-request ban). AddMembership is PUT
// /guilds/{g}/members/{u}/roles/{r} and RemoveMembership the DELETE, both
// 204 and idempotent at Discord.
//
// # Leavers and re-hires
//
// SetActive(false) kicks a member (DELETE /guilds/{g}/members/{u}; not a
// member is done), after the plan removed their managed roles, and
// revokes an unused invite (DELETE /invites/{code}) so it cannot be used
// after they left. A leaver who joined with Keycard's invite while HR held
// no user id cannot be told from other members: ErrJoinedUnlinked,
// permanent, for an operator to kick by hand or fill in the id and replay.
// Find after a kick returns nil (contract feature DeactivateRemoves), so a
// re-hire is invited again; one still a member gets the roles back.
//
// # Listing
//
// List pages GET /guilds/{guild.id}/members 1000 at a time by the
// highest user id, paced, leaving out bots, then adds the bot's unused
// invites (one paced request) as invite accounts: reconcile matches both
// by the ids the worker stored. Listing members needs the Server Members
// privileged intent. The connector does not count accounts (no
// connector.Counter): a guild's member count includes bots and community
// members Keycard never manages, so the blast-radius guard's base is the
// accounts Keycard knows.
//
// # Limits and errors
//
// Discord documents a global limit of 50 requests a second per bot and
// per-route limits to be read from the answers' headers. The client keeps
// a 50/s bucket of its own (per process: replicas sharing a bot may still
// meet Discord's global 429, handled as below), records each route's X-RateLimit-Bucket,
// -Remaining and -Reset-After, and waits for a spent bucket at most
// maxInlineWait on the request's context; a longer wait, a 429 (its
// float retry_after, else Retry-After) and a global 429 (X-RateLimit-
// Global, which also holds every request here for its wait) come back as
// fault.RetryAfter, so the worker parks the message rather than a call
// sleeping. A 429 of the bot's (scope user or global) slows the app's
// adaptive pace; a shared one (the resource's) does not. A 401 and 403
// Missing Access (50001) are auth failures (the worker pauses the app);
// other 4xx are permanent; 5xx transient. Errors name the route template,
// never the path (an invite's path holds its code), and never the token.
package discord
