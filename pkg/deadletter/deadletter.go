// Package deadletter moves a message that will not succeed to HR_DLQ with
// the reason attached, so on-call can see why and replay it once fixed.
package deadletter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/streams"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderApp        = "Keycard-Dlq-App"
	HeaderStream     = "Keycard-Dlq-Stream"
	HeaderSubject    = "Keycard-Dlq-Subject"
	HeaderSequence   = "Keycard-Dlq-Sequence"
	HeaderAttempts   = "Keycard-Dlq-Attempts"
	HeaderError      = "Keycard-Dlq-Error"
	HeaderErrorClass = "Keycard-Dlq-Error-Class"
	HeaderFailedAt   = "Keycard-Dlq-Failed-At"
)

// Error classes.
const (
	ClassPermanent = "permanent" // will never succeed as it is
	ClassExhausted = "exhausted" // transient, but retried MaxDeliver times
)

// maxErrorLen keeps a reason readable and the header small.
const maxErrorLen = 1000

// Publisher is the part of jetstream.JetStream used here.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Letter is one message on its way to HR_DLQ and why it is going there.
type Letter struct {
	Msg jetstream.Msg
	// App, Kind and EmployeeKey make the subject,
	// dlq.<app>.<kind>.<employee key>, so on-call can filter by them.
	App, Kind, EmployeeKey string
	Class                  string // ClassPermanent or ClassExhausted
	Cause                  error
	At                     time.Time
}

// Publish stores a copy of l.Msg on its dead-letter subject and waits for
// the PubAck; only then may the caller terminate the original. The dedup
// id (app + original stream and sequence) makes a repeat harmless.
func Publish(ctx context.Context, js Publisher, l Letter) error {
	msg := l.Msg
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("dead-letter: metadata: %w", err)
	}
	dl := nats.NewMsg(fmt.Sprintf("dlq.%s.%s.%s", l.App, l.Kind, l.EmployeeKey))
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	reason := l.Cause.Error()
	if len(reason) > maxErrorLen {
		reason = reason[:maxErrorLen] + "…"
	}
	dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s:%s:%d", l.App, md.Stream, md.Sequence.Stream))
	dl.Header.Set(HeaderApp, l.App)
	dl.Header.Set(HeaderStream, md.Stream)
	dl.Header.Set(HeaderSubject, msg.Subject())
	dl.Header.Set(HeaderSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	dl.Header.Set(HeaderAttempts, strconv.FormatUint(md.NumDelivered, 10))
	dl.Header.Set(HeaderError, reason)
	dl.Header.Set(HeaderErrorClass, l.Class)
	dl.Header.Set(HeaderFailedAt, l.At.UTC().Format(time.RFC3339Nano))
	if _, err := js.PublishMsg(ctx, dl, jetstream.WithExpectStream(streams.DLQ)); err != nil {
		return fmt.Errorf("dead-letter to %s: %w", streams.DLQ, err)
	}
	return nil
}
