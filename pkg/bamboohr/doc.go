// Package bamboohr is a client for the parts of the BambooHR REST API that
// Keycard reads: one employee's record, the ids changed since a time, and the
// directory of active employees.
//
// # Base URL
//
// Requests go to {BaseURL}/api/v1/..., where BaseURL defaults to
// https://{Company}.bamboohr.com. A BaseURL whose path already ends in /v1,
// such as the legacy https://api.bamboohr.com/api/gateway.php/{company}/v1,
// is used as the API root as it is.
//
// # Current values only
//
// [Client.Employee] asks for onlyCurrent=true. Keycard's snapshots must say
// what is true now: with onlyCurrent=false BambooHR returns future-dated rows
// of the history tables (jobInfo, employmentStatus), so a move planned for
// next month would grant next month's department today. hireDate and
// terminationDate are plain date fields, returned with their (possibly
// future) value either way, which is what the scheduler needs. If a tenant
// turns out to hide a future termination until its effective date, BambooHR
// fires employee.updated on that date and the changed-since poller picks it
// up, so access is still removed within minutes of the termination taking
// effect.
//
// # Errors
//
// Every error from the client can be classified:
//   - [fault.IsPermanent] reports errors that a retry will not fix: 400, 401, 403,
//     404 and the other 4xx except 408 and 429, and invalid arguments.
//     errors.Is(err, [ErrNotFound]) matches a 404.
//   - 408, 429, 5xx, network failures and timeouts are transient. The client
//     retries them with exponential backoff, waiting at least as long as the
//     server's Retry-After asks. When it gives up, [fault.RetryAfterHint] returns the
//     server's last hint so a consumer can redeliver after that delay.
//   - Anything else (a body that is not the JSON we expect) is neither; treat
//     it as unknown: retry a bounded number of times, then dead-letter.
//
// Error messages carry BambooHR's x-bamboohr-error-message header, never
// the API key.
package bamboohr
