package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"keycard/pkg/deadletter"
	"keycard/pkg/event"
)

// FuzzParseWhen: any --since/--until text parses or is refused, never
// panics, and a duration is never in the future.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2h", "90m", "7d", "1.5d", "2h-ago", "2025-03-01T09:00:00Z", "-1h", "d", "", "9999999999999h"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen(s, now)
		if err != nil {
			return
		}
		if _, rfcErr := time.Parse(time.RFC3339Nano, s); rfcErr != nil && got.After(now) {
			t.Errorf("parseWhen(%q) = %v, after now", s, got)
		}
	})
}

// FuzzStoredMessages: whatever a stream holds (other tools publish to
// these subjects too), decoding it for a table or a timeline never panics.
func FuzzStoredMessages(f *testing.F) {
	f.Add("dlq.slack.hired.101", "3", "2025-03-01T09:00:00Z", []byte(`{"id":"bamboohr:101:1","kind":"hired"}`))
	f.Add("held.slack._612e62", "x", "", []byte(`{"employee":{"id":"a.b"}}`))
	f.Add("audit.slack.101", "", "", []byte(`{"actions":[{"op":"create"}],"at":"2025-03-01T09:00:00Z"}`))
	f.Add("hr.employee.moved.1", "", "", []byte(`{"previous":{},"changed_fields":["department","custom.x"]}`))
	f.Fuzz(func(t *testing.T, subject, attempts, failedAt string, data []byte) {
		m := stored{Seq: 1, Subject: subject, Data: data, Header: nats.Header{
			deadletter.HeaderAttempts: {attempts}, deadletter.HeaderFailedAt: {failedAt}, event.HeaderKind: {attempts},
		}}
		x := &explanation{}
		_ = parseDeadLetter(m).employee()
		_ = parseHeld(m)
		for _, moment := range []func(stored, *explanation) moment{hrMoment, auditMoment, dlqMoment, heldMoment} {
			_ = moment(m, x)
		}
		if d := parseDeadLetter(m); d.App != "" {
			_, _, _ = replayMessage(d)
		}
	})
}
