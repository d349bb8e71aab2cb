package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// session is one connection to JetStream; every call on it is bounded by
// timeout.
type session struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
}

func connect(g globals) (*session, error) {
	if g.timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive")
	}
	nc, err := nats.Connect(g.natsURL, nats.Name("provctl"), nats.Timeout(g.timeout), nats.MaxReconnects(2))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", g.natsURL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(g.timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	return &session{nc: nc, js: js, timeout: g.timeout}, nil
}

func (s *session) close() { s.nc.Close() }

// stored is one message as a stream holds it.
type stored struct {
	Stream  string
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	Time    time.Time // when the stream stored it
}

// errGone is a message that is not (or no longer) in its stream.
var errGone = errors.New("not found")

// get reads message seq of stream; errGone when there is none.
func (s *session) get(ctx context.Context, stream string, seq uint64) (stored, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	str, err := s.js.Stream(ctx, stream)
	if err != nil {
		return stored{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	m, err := str.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, errGone
	}
	if err != nil {
		return stored{}, fmt.Errorf("get %s seq %d: %w", stream, seq, err)
	}
	h := m.Header
	if h == nil {
		h = nats.Header{}
	}
	return stored{Stream: stream, Seq: m.Sequence, Subject: m.Subject, Header: h, Data: m.Data, Time: m.Time}, nil
}

// read returns the messages of stream on subjects matching filter, stored
// at or after since (zero: from the start), oldest first. It reads with an
// ordered consumer and stops when the consumer has nothing pending, so
// it never waits for messages that do not exist.
func (s *session) read(ctx context.Context, stream, filter string, since time.Time) ([]stored, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	str, err := s.js.Stream(cctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute, // the server cleans up if we die
		MaxResetAttempts:  2,
	}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := str.OrderedConsumer(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s (%s): %w", stream, filter, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("read %s (%s): %w", stream, filter, err)
	}
	defer func() {
		it.Stop()
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
			_ = s.js.DeleteConsumer(dctx, stream, info.Name) // best effort; InactiveThreshold backs it up
			cancel()
		}
	}()
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil, nil
	}
	var out []stored
	for {
		nctx, cancel := context.WithTimeout(ctx, s.timeout)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read %s (%s) after %d messages: %w", stream, filter, len(out), err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("read %s: metadata: %w", stream, err)
		}
		h := m.Headers()
		if h == nil {
			h = nats.Header{}
		}
		out = append(out, stored{Stream: stream, Seq: md.Sequence.Stream, Subject: m.Subject(), Header: h, Data: m.Data(), Time: md.Timestamp})
		if md.NumPending == 0 {
			return out, nil
		}
	}
}

// remove deletes message seq of stream; errGone when it was already gone.
func (s *session) remove(ctx context.Context, stream string, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	str, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	err = str.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && missing(err) {
		return errGone
	}
	if err != nil {
		return fmt.Errorf("delete %s seq %d: %w", stream, seq, err)
	}
	return nil
}

// missing reports whether a failed delete says the message is not there.
// The server answers in words only: "no message found" for a deleted
// one, "stream store EOF" for a sequence past the end.
func missing(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "no message found") || strings.Contains(msg, "store eof")
}

// publish stores msg in stream and waits for the PubAck.
func (s *session) publish(ctx context.Context, stream string, msg *nats.Msg) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(stream))
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	return ack, nil
}

// copyHeaders copies h without the JetStream control headers (Nats-Msg-Id,
// Nats-Expected-*, ...) and without those for which drop says so.
func copyHeaders(h nats.Header, drop func(key string) bool) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "nats-") || drop != nil && drop(k) {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
