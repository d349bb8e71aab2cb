package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/policy"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// headerOperator names who rejected a held action (the operator's login),
// on the AUDIT record's message.
const headerOperator = "Keycard-Operator"

// heldEntry is one HR_HELD message: an event whose deactivation the
// blast-radius guard stopped, on held.<app>.<employeeKey>.
type heldEntry struct {
	Seq         uint64    `json:"seq"`
	Subject     string    `json:"subject"`
	App         string    `json:"app"`
	EmployeeKey string    `json:"employee_key"`
	EmployeeID  string    `json:"employee_id"`
	Kind        string    `json:"kind"`
	EventID     string    `json:"event_id"`
	HeldAt      time.Time `json:"held_at"`

	ev  event.Event // zero when the body is not an event
	msg stored
}

func parseHeld(m stored) heldEntry {
	h := heldEntry{Seq: m.Seq, Subject: m.Subject, HeldAt: m.Time, msg: m,
		Kind: m.Header.Get(event.HeaderKind), EventID: m.Header.Get(event.HeaderEventID)}
	if tok := strings.Split(m.Subject, "."); len(tok) == 3 && tok[0] == "held" {
		h.App, h.EmployeeKey = tok[1], tok[2]
	}
	if json.Unmarshal(m.Data, &h.ev) == nil {
		h.EmployeeID = h.ev.Employee.ID
		if h.Kind == "" {
			h.Kind = string(h.ev.Kind)
		}
		if h.EventID == "" {
			h.EventID = h.ev.ID
		}
	}
	if h.EmployeeID == "" {
		if id, err := event.ParseEmployeeKey(h.EmployeeKey); err == nil {
			h.EmployeeID = id
		} else {
			h.EmployeeID = h.EmployeeKey
		}
	}
	return h
}

func (c *cli) heldList(ctx context.Context, g globals, args []string) error {
	var app string
	var asJSON bool
	fs := c.newFlagSet("held list", "held list [--app A] [--json]", &g)
	fs.StringVar(&app, "app", "", "only this app's held actions")
	fs.BoolVar(&asJSON, "json", false, "print JSON lines")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("held list: unexpected argument %q", pos[0])
	}
	if err := checkApp(app); err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	list, err := findHeld(ctx, s, app)
	if err != nil {
		return err
	}
	if asJSON {
		return jsonLines(c.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stderr, "no held actions")
		return nil
	}
	t := newTable(c.stdout, "SEQ", "APP", "EMPLOYEE", "KIND", "EVENT ID", "HELD AT")
	for _, h := range list {
		t.row(strconv.FormatUint(h.Seq, 10), h.App, h.EmployeeID, h.Kind, h.EventID, when(h.HeldAt))
	}
	return t.flush()
}

func findHeld(ctx context.Context, s *session, app string) ([]heldEntry, error) {
	subject := "held.>"
	if app != "" {
		subject = "held." + app + ".>"
	}
	msgs, err := s.read(ctx, streams.Held, subject, time.Time{})
	if err != nil {
		return nil, err
	}
	out := make([]heldEntry, len(msgs))
	for i, m := range msgs {
		out[i] = parseHeld(m)
	}
	return out, nil
}

// heldAction is release or reject.
type heldAction int

const (
	heldRelease heldAction = iota
	heldReject
)

func (a heldAction) String() string {
	if a == heldRelease {
		return "release"
	}
	return "reject"
}

// heldTarget is one selected held action; h is nil when a sequence number
// named one that is no longer there.
type heldTarget struct {
	seq uint64
	h   *heldEntry
}

const goneHeld = "gone (already released or rejected)"

func (t heldTarget) result(text string, failed bool) result {
	r := result{Seq: t.seq, Result: text, Failed: failed}
	if t.h != nil {
		r.App, r.Employee = t.h.App, t.h.EmployeeID
	}
	return r
}

func (c *cli) heldResolve(ctx context.Context, g globals, args []string, action heldAction) error {
	name := "held " + action.String()
	var app string
	var all, yes, asJSON bool
	fs := c.newFlagSet(name, name+" (SEQ... | --app A | --all) [--yes] [--json]", &g)
	fs.StringVar(&app, "app", "", "every held action of this app")
	fs.BoolVar(&all, "all", false, "every held action")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&asJSON, "json", false, "print JSON lines")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	if err := checkApp(app); err != nil {
		return err
	}
	n := 0
	for _, given := range []bool{len(seqs) > 0, app != "", all} {
		if given {
			n++
		}
	}
	if n != 1 {
		return usageErrorf("%s: give sequence numbers, --app or --all; exactly one of them", name)
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	targets, err := heldTargets(ctx, s, seqs, app)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		fmt.Fprintln(c.stderr, "no held actions match")
		return nil
	}
	if !yes {
		q := fmt.Sprintf("release %d held deactivations (the accounts will be deactivated)?", len(targets))
		if action == heldReject {
			q = fmt.Sprintf("reject %d held deactivations (the accounts stay as they are)?", len(targets))
		}
		if err := c.confirm(q); err != nil {
			return err
		}
	}
	do := func(t heldTarget) result { return release(ctx, s, t) }
	verb := "released"
	if action == heldReject {
		operator := c.getenv("USER")
		now := c.now().UTC()
		do = func(t heldTarget) result { return reject(ctx, s, t, operator, now) }
		verb = "rejected"
	}
	results := each(c, ctx, targets, verb, do)
	return c.report(results, asJSON, name)
}

func heldTargets(ctx context.Context, s *session, seqs []uint64, app string) ([]heldTarget, error) {
	if len(seqs) == 0 {
		list, err := findHeld(ctx, s, app)
		if err != nil {
			return nil, err
		}
		out := make([]heldTarget, len(list))
		for i := range list {
			out[i] = heldTarget{seq: list[i].Seq, h: &list[i]}
		}
		return out, nil
	}
	var out []heldTarget
	for _, seq := range seqs {
		m, err := s.get(ctx, streams.Held, seq)
		switch {
		case errors.Is(err, errGone):
			out = append(out, heldTarget{seq: seq})
		case err != nil:
			return nil, err
		default:
			h := parseHeld(m)
			out = append(out, heldTarget{seq: seq, h: &h})
		}
	}
	return out, nil
}

// release sends the held event to its app's replay subject marked as
// released (the worker's guard lets it through), waits for the PubAck,
// then deletes the held entry.
func release(ctx context.Context, s *session, t heldTarget) result {
	if t.h == nil {
		return t.result(goneHeld, false)
	}
	h := t.h
	if h.App == "" || h.EmployeeKey == "" {
		return t.result(fmt.Sprintf("failed: subject %q is not held.<app>.<employee>", h.Subject), true)
	}
	msg := nats.NewMsg(streams.ReplaySubject(h.App, h.EmployeeKey))
	msg.Data = h.msg.Data
	msg.Header = copyHeaders(h.msg.Header, func(k string) bool { return strings.EqualFold(k, worker.HeaderGuardBypass) })
	msg.Header.Set(worker.HeaderGuardBypass, "true")
	msg.Header.Set(nats.MsgIdHdr, "release:"+h.App+":"+strconv.FormatUint(h.Seq, 10))
	ack, err := s.publish(ctx, streams.Replay, msg)
	if err != nil {
		return t.result("failed: "+err.Error(), true)
	}
	text := "released"
	if ack.Duplicate {
		text = "already released (duplicate)"
	}
	if err := s.remove(ctx, streams.Held, h.Seq); err != nil && !errors.Is(err, errGone) {
		return t.result(fmt.Sprintf("failed: %s, but the held entry was not deleted: %v", text, err), true)
	}
	return t.result(text, false)
}

// reject records the refusal in AUDIT, then deletes the held entry. The
// record comes first: a rejection that was not audited must not happen,
// and a repeat after a failed delete is a duplicate AUDIT stores once.
func reject(ctx context.Context, s *session, t heldTarget, operator string, now time.Time) result {
	if t.h == nil {
		return t.result(goneHeld, false)
	}
	h := t.h
	if h.App == "" || h.EmployeeKey == "" {
		return t.result(fmt.Sprintf("failed: subject %q is not held.<app>.<employee>", h.Subject), true)
	}
	rec := worker.Record{
		App: h.App, EventID: h.EventID, EmployeeID: h.EmployeeID, Kind: event.Kind(h.Kind),
		Sequence: h.ev.Sequence, Mode: policy.ModeApply, Outcome: "rejected",
		Actions:    []connector.Action{{Op: connector.OpDeactivate}},
		OccurredAt: h.ev.OccurredAt, At: now,
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return t.result("failed: "+err.Error(), true)
	}
	msg := nats.NewMsg("audit." + h.App + "." + h.EmployeeKey)
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, "rejected:"+h.App+":"+strconv.FormatUint(h.Seq, 10))
	if h.EventID != "" {
		msg.Header.Set(event.HeaderEventID, h.EventID)
	}
	if operator != "" {
		msg.Header.Set(headerOperator, operator)
	}
	ack, err := s.publish(ctx, streams.Audit, msg)
	if err != nil {
		return t.result("failed: audit record: "+err.Error(), true)
	}
	text := "rejected"
	if ack.Duplicate {
		text = "already rejected (duplicate)"
	}
	if err := s.remove(ctx, streams.Held, h.Seq); err != nil && !errors.Is(err, errGone) {
		return t.result(fmt.Sprintf("failed: %s and audited, but the held entry was not deleted: %v", text, err), true)
	}
	return t.result(text, false)
}
