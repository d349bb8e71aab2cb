package event

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Message header names every stage keeps (besides Nats-Msg-Id).
const (
	HeaderEventID     = "Keycard-Event-Id"
	HeaderKind        = "Keycard-Kind"
	HeaderOccurredAt  = "Keycard-Occurred-At" // RFC 3339
	HeaderTraceparent = "traceparent"         // W3C trace context
)

// SubjectAll matches every HR_EVENTS subject.
const SubjectAll = "hr.employee.>"

// Subject returns the HR_EVENTS subject "hr.employee.<kind>.<employeeKey>".
// employeeKey must come from EmployeeKey.
func Subject(kind Kind, employeeKey string) string {
	return "hr.employee." + string(kind) + "." + employeeKey
}

// encodedKeyPrefix starts every encoded key and no verbatim one.
const encodedKeyPrefix = "_"

// EmployeeKey maps an HR employee id to a NATS subject token that uses only
// [A-Za-z0-9_-] (no '.', '*', '>', spaces or other bytes that would change
// the meaning of a subject).
//
// An id that is non-empty, consists only of those characters and does not
// start with '_' is its own key, so BambooHR's numeric ids read naturally in
// subjects. Any other id (including "" and ids starting with '_') becomes
// "_" followed by the lower-case hex of its bytes: "a.b" → "_612e62".
//
// The mapping is injective: verbatim keys never start with '_' and encoded
// keys always do, and hex is injective; ParseEmployeeKey inverts it. So
// "a.b" and an id that merely looks like its encoding ("_612e62") get
// different keys ("_612e62" and "_5f363132653632").
func EmployeeKey(id string) string {
	if isVerbatimKey(id) {
		return id
	}
	return encodedKeyPrefix + hex.EncodeToString([]byte(id))
}

// ParseEmployeeKey returns the id that EmployeeKey mapped to key. It rejects
// keys EmployeeKey never produces.
func ParseEmployeeKey(key string) (string, error) {
	if isVerbatimKey(key) {
		return key, nil
	}
	enc, ok := strings.CutPrefix(key, encodedKeyPrefix)
	if !ok {
		return "", fmt.Errorf("parse employee key %q: not a key", key)
	}
	raw, err := hex.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("parse employee key %q: %w", key, err)
	}
	id := string(raw)
	if EmployeeKey(id) != key { // upper-case hex, or an id that is kept verbatim
		return "", fmt.Errorf("parse employee key %q: not canonical", key)
	}
	return id, nil
}

func isVerbatimKey(id string) bool {
	if id == "" || strings.HasPrefix(id, encodedKeyPrefix) {
		return false
	}
	for i := range len(id) {
		if !isKeyByte(id[i]) {
			return false
		}
	}
	return true
}

func isKeyByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}
