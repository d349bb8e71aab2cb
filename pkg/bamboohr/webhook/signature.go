// Package webhook verifies and decodes BambooHR webhook deliveries.
//
// BambooHR signs each delivery with HMAC-SHA256 over the raw body followed
// directly by the X-BambooHR-Timestamp header value (no separator, body
// first), keyed with the webhook's private key as raw bytes, hex-encoded.
// See shared/reference/bamboohr.md §2.2 and §6 for the evidence and the
// test vectors this package is checked against.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names BambooHR sets on every delivery.
const (
	HeaderSignature = "X-BambooHR-Signature"
	HeaderTimestamp = "X-BambooHR-Timestamp"
)

// Errors returned by Verify. They never contain the key or the signature.
var (
	ErrMissingSignature = errors.New("missing " + HeaderSignature + " header")
	ErrMissingTimestamp = errors.New("missing " + HeaderTimestamp + " header")
	ErrBadSignature     = errors.New("signature does not match")
	ErrBadTimestamp     = errors.New("timestamp is neither epoch seconds nor RFC 3339")
	ErrStaleTimestamp   = errors.New("timestamp outside the accepted window")
)

// Sign returns the lowercase hex signature BambooHR would send for body and
// the timestamp header value ts.
func Sign(key []byte, body []byte, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil))
}

// Verifier checks signatures and the freshness of the signed timestamp.
type Verifier struct {
	Key []byte
	// MaxAge is how far in the past the signed timestamp may lie; MaxFuture
	// how far ahead (clock skew). Zero MaxAge disables the freshness check.
	MaxAge    time.Duration
	MaxFuture time.Duration
	Now       func() time.Time
}

// Verify checks sig (the X-BambooHR-Signature value) for body and ts (the
// X-BambooHR-Timestamp value) in constant time, then the timestamp window.
// The signature is checked first so that an unsigned request learns nothing
// about the window.
func (v Verifier) Verify(body []byte, ts, sig string) error {
	if sig == "" {
		return ErrMissingSignature
	}
	if ts == "" {
		return ErrMissingTimestamp
	}
	want := Sign(v.Key, body, ts)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(strings.TrimSpace(sig)))) {
		return ErrBadSignature
	}
	if v.MaxAge <= 0 {
		return nil
	}
	at, err := ParseTimestamp(ts)
	if err != nil {
		return err
	}
	now := v.Now()
	if at.Before(now.Add(-v.MaxAge)) || at.After(now.Add(v.MaxFuture)) {
		return fmt.Errorf("%w (signed %s, now %s)", ErrStaleTimestamp,
			at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// ParseTimestamp reads the X-BambooHR-Timestamp header. The one verifiable
// sample is epoch seconds; RFC 3339 (with or without a colon in the offset)
// is accepted as a fallback because the format is undocumented.
func ParseTimestamp(ts string) (time.Time, error) {
	ts = strings.TrimSpace(ts)
	if secs, err := strconv.ParseInt(ts, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	if t, err := ParseTime(ts); err == nil {
		return t, nil
	}
	return time.Time{}, ErrBadTimestamp
}

// timeLayouts are the forms BambooHR uses in payload and header timestamps:
// the docs show "+0000" (no colon), which time.RFC3339 rejects.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05", // webhook management API: UTC, no zone
}

// ParseTime parses a BambooHR timestamp in any of the forms seen in
// payloads. Times without a zone are UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %.40q", s)
}
