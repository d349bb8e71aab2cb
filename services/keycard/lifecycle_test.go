package main

import (
	"testing"
	"time"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/deadletter"
	"keycard/pkg/streams"
)

// What the native connectors' lifecycle tests share.

// expectState waits up to within for state to read want, and fails the
// step with both otherwise: the lifecycle tests' one way to wait for an
// app to converge.
func expectState(t *testing.T, step, want string, within time.Duration, state func() string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = state(); got == want {
			return
		}
	}
	t.Fatalf("%s:\n got  %s\n want %s", step, got, want)
}

// deadLetter waits for the dead letter on subject and returns its error;
// it fails unless the letter is permanent, after one attempt.
func deadLetter(t *testing.T, natsURL, subject string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range streamMsgs(t, natsURL, streams.DLQ) {
			if m.Subject != subject {
				continue
			}
			if m.Header.Get(deadletter.HeaderErrorClass) != deadletter.ClassPermanent || m.Header.Get(deadletter.HeaderAttempts) != "1" {
				t.Fatalf("dead letter %v; want permanent after 1 attempt", m.Header)
			}
			return m.Header.Get(deadletter.HeaderError)
		}
	}
	t.Fatalf("no dead letter on %s", subject)
	return ""
}

// hrTerminates makes employee id a leaver as of today in the fake HR.
func hrTerminates(fake *bamboohrtest.Server, id string) {
	fake.Update(id, func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate = "Inactive", time.Now().UTC().Format(time.DateOnly)
	})
}

// hrRehires makes employee id active again, hired today.
func hrRehires(fake *bamboohrtest.Server, id string) {
	fake.Update(id, func(e *bamboohrtest.Employee) {
		e.Status, e.TerminationDate, e.HireDate = "Active", "", time.Now().UTC().Format(time.DateOnly)
	})
}
