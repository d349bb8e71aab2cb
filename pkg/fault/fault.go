// Package fault is Keycard's one error vocabulary. Every outbound client
// (BambooHR, the SCIM vendors, the native connectors) and every consumer
// (the normalizer, the workers) says what kind of failure an error is in
// these words, and the consumer runtime acts on them:
//
//   - permanent: no retry can fix it (a 400, a 404 on a required parent,
//     rejected credentials); the message goes to the dead-letter stream;
//   - transient with a retry-after: the server asked for a delay (a 429, a
//     503 with Retry-After, Google's rate-limit 403s);
//   - partial: the step did what it is for but left out something that
//     grants or removes no access; the plan goes on and reports it;
//   - auth: the app refused Keycard's credential (a 401, a 403 saying the
//     token lacks the rights it needs): nothing about the event is wrong,
//     so the worker pauses the app instead of dead-lettering events one by
//     one. An auth error is usually permanent too; the worker asks IsAuth
//     first;
//   - anything else is transient without a hint and retried with backoff.
//
// An error can carry its class in two ways: wrapped by [Permanent],
// [RetryAfter], [Partial] or [Auth], or by having the method itself (a typed
// client error such as *bamboohr.APIError knows its class from its
// status code). The predicates look through wrapping for both.
package fault

import (
	"errors"
	"time"
)

// Permanent marks err as one no retry can fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or anything it wraps, is permanent: made
// by [Permanent] or an error whose Permanent method says so. One permanent
// part makes a joined error permanent, whatever the parts before it say
// (errors.As would stop at the first part with the method).
func IsPermanent(err error) bool {
	return find(err, func(e error) bool {
		p, ok := e.(interface{ Permanent() bool })
		return ok && p.Permanent()
	}) != nil
}

// RetryAfter marks err as transient with the delay the server asked for.
// The text of err is kept as it is: a typed client error usually says the
// delay itself, and a hint should not be printed twice.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return retryAfterError{d, err}
}

// RetryAfterHint returns the delay a transient error asked for: set by
// [RetryAfter] or by an error's RetryHint method, positive only.
func RetryAfterHint(err error) (time.Duration, bool) {
	e := find(err, func(e error) bool {
		r, ok := e.(interface{ RetryHint() time.Duration })
		return ok && r.RetryHint() > 0
	})
	if e == nil {
		return 0, false
	}
	return e.(interface{ RetryHint() time.Duration }).RetryHint(), true
}

// Partial marks err as a step that did what it is for but left out
// something that grants or removes no access (an attribute the app
// refused). Wrap the whole error of a step, never one joined with a
// failure.
func Partial(err error) error {
	if err == nil {
		return nil
	}
	return partialError{err}
}

// IsPartial reports whether err is, or wraps, a [Partial] one.
func IsPartial(err error) bool {
	var p partialError
	return errors.As(err, &p)
}

// find returns the first error in err's tree (err, then what it wraps,
// depth first through joins) for which match is true, or nil.
func find(err error, match func(error) bool) error {
	for err != nil {
		if match(err) {
			return err
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if f := find(e, match); f != nil {
					return f
				}
			}
			return nil
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// Auth marks err as the app refusing Keycard's credential. The error stays
// permanent if it was.
func Auth(err error) error {
	if err == nil {
		return nil
	}
	return authError{err}
}

// IsAuth reports whether err, or anything it wraps, is an auth failure:
// made by [Auth] or an error whose Auth method says so (a vendor client's
// typed error knows it from its status code).
func IsAuth(err error) bool {
	return find(err, func(e error) bool {
		a, ok := e.(interface{ Auth() bool })
		return ok && a.Auth()
	}) != nil
}

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

type retryAfterError struct {
	after time.Duration
	err   error
}

func (e retryAfterError) Error() string            { return e.err.Error() }
func (e retryAfterError) Unwrap() error            { return e.err }
func (e retryAfterError) RetryHint() time.Duration { return e.after }

type partialError struct{ err error }

func (e partialError) Error() string { return e.err.Error() }
func (e partialError) Unwrap() error { return e.err }

type authError struct{ err error }

func (e authError) Error() string { return e.err.Error() }
func (e authError) Unwrap() error { return e.err }
func (e authError) Auth() bool    { return true }
