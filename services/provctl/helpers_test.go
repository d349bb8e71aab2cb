package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/connectors"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/natstest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// harness is a real embedded NATS server with Keycard's streams, and
// provctl pointed at it.
type harness struct {
	t   *testing.T
	srv *natstest.Server
	js  jetstream.JetStream
	env map[string]string // more environment variables
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv, js := natstest.WithStreams(t)
	return &harness{t: t, srv: srv, js: js}
}

func (h *harness) getenv(k string) string {
	if v, ok := h.env[k]; ok {
		return v
	}
	switch k {
	case envNATSURL:
		if h.srv != nil {
			return h.srv.URL
		}
	case "USER":
		return "oncall"
	}
	return ""
}

// output is what one provctl run printed and returned.
type output struct {
	stdout, stderr string
	err            error
}

// run runs provctl through its real entry point, with no stdin answers.
func (h *harness) run(args ...string) output {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(h.ctx(), args, &stdout, &stderr, h.getenv)
	return output{stdout.String(), stderr.String(), err}
}

// runWith runs provctl with answers on stdin and a fixed clock.
func (h *harness) runWith(stdin string, now time.Time, args ...string) output {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: h.getenv, types: connectors.Registry(),
		now: func() time.Time { return now }}
	err := c.run(h.ctx(), args)
	return output{stdout.String(), stderr.String(), err}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// publish stores msg and returns its stream sequence.
func (h *harness) publish(msg *nats.Msg) uint64 {
	h.t.Helper()
	ack, err := h.js.PublishMsg(h.t.Context(), msg)
	if err != nil {
		h.t.Fatalf("publish %s: %v", msg.Subject, err)
	}
	return ack.Sequence
}

// deadLetterSpec is a dead letter as deadletter.Publish writes it.
type deadLetterSpec struct {
	app, kind, key string
	class          string
	attempts       int
	failedAt       time.Time
	err            string
	origStream     string
	origSubject    string
	origSeq        uint64
	body           []byte
	header         nats.Header // the original message's own headers
}

func (h *harness) deadLetter(d deadLetterSpec) uint64 {
	h.t.Helper()
	msg := nats.NewMsg("dlq." + d.app + "." + d.kind + "." + d.key)
	msg.Data = d.body
	for k, v := range d.header {
		msg.Header[k] = v
	}
	if d.origStream == "" {
		d.origStream = streams.Events
	}
	if d.origSubject == "" {
		d.origSubject = "hr.employee." + d.kind + "." + d.key
	}
	msg.Header.Set(jetstream.MsgIDHeader, d.app+":"+d.origStream+":"+strconv.FormatUint(d.origSeq, 10))
	msg.Header.Set(deadletter.HeaderApp, d.app)
	msg.Header.Set(deadletter.HeaderStream, d.origStream)
	msg.Header.Set(deadletter.HeaderSubject, d.origSubject)
	msg.Header.Set(deadletter.HeaderSequence, strconv.FormatUint(d.origSeq, 10))
	msg.Header.Set(deadletter.HeaderAttempts, strconv.Itoa(d.attempts))
	msg.Header.Set(deadletter.HeaderError, d.err)
	msg.Header.Set(deadletter.HeaderErrorClass, d.class)
	msg.Header.Set(deadletter.HeaderFailedAt, d.failedAt.UTC().Format(time.RFC3339Nano))
	return h.publish(msg)
}

// employee is an active engineer with the given id.
func employee(id string) event.Employee {
	return event.Employee{ID: id, FirstName: "Ada", LastName: "Lovelace", DisplayName: "Ada Lovelace",
		WorkEmail: "ada@example.com", Status: event.StatusActive, EmploymentStatus: "Full-Time",
		EmploymentType: event.EmploymentTypeEmployee, Department: "Engineering", JobTitle: "Engineer",
		TimeZone: "Europe/Berlin", HireDate: "2020-01-06"}
}

func newEvent(kind event.Kind, seq uint64, at time.Time, emp event.Employee, prev *event.Employee) event.Event {
	e := event.Event{ID: event.ID(event.SourceBambooHR, emp.ID, seq), Kind: kind, OccurredAt: at, EffectiveAt: at,
		Source: event.SourceBambooHR, Sequence: seq, Employee: emp, Previous: prev}
	if prev != nil {
		e.ChangedFields = event.Diff(*prev, emp)
	}
	return e
}

// eventMsg is e as the normalizer publishes it, on subject.
func eventMsg(t *testing.T, subject string, e event.Event) *nats.Msg {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Validate(data); err != nil {
		t.Fatalf("fixture is not a valid event: %v", err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, e.ID)
	msg.Header.Set(event.HeaderEventID, e.ID)
	msg.Header.Set(event.HeaderKind, string(e.Kind))
	msg.Header.Set(event.HeaderOccurredAt, e.OccurredAt.UTC().Format(time.RFC3339Nano))
	msg.Header.Set(event.HeaderTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return msg
}

func (h *harness) hrEvent(e event.Event) uint64 {
	h.t.Helper()
	return h.publish(eventMsg(h.t, e.Subject(), e))
}

// held parks e for app as the worker's guard does.
func (h *harness) held(app string, e event.Event) uint64 {
	h.t.Helper()
	msg := eventMsg(h.t, streams.HeldSubject(app, event.EmployeeKey(e.Employee.ID)), e)
	msg.Header.Set(jetstream.MsgIDHeader, "held:"+app+":"+e.ID)
	return h.publish(msg)
}

func (h *harness) audit(r worker.Record) uint64 {
	h.t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		h.t.Fatal(err)
	}
	msg := nats.NewMsg("audit." + r.App + "." + event.EmployeeKey(r.EmployeeID))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, r.App+":"+r.EventID+":"+r.Outcome)
	return h.publish(msg)
}

// messages returns what stream holds.
func (h *harness) messages(stream string) []*jetstream.RawStreamMsg {
	h.t.Helper()
	return natstest.Messages(h.t, h.js, stream)
}

// exists reports whether stream still holds message seq.
func (h *harness) exists(stream string, seq uint64) bool {
	h.t.Helper()
	s, err := h.js.Stream(h.t.Context(), stream)
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = s.GetMsg(h.t.Context(), seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return true
}

// column returns the first column of a table's data rows.
func column(table string) []string {
	var out []string
	for i, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if i == 0 || line == "" {
			continue
		}
		out = append(out, strings.Fields(line)[0])
	}
	return out
}

// rows returns a table's data rows split into fields.
func rows(table string) [][]string {
	var out [][]string
	for i, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if i == 0 || line == "" {
			continue
		}
		out = append(out, strings.Fields(line))
	}
	return out
}

func seqs(ns ...uint64) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.FormatUint(n, 10)
	}
	return out
}

func wantOK(t *testing.T, o output) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("err = %v\nstdout:\n%s\nstderr:\n%s", o.err, o.stdout, o.stderr)
	}
}
