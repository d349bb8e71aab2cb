package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Replay headers.
const (
	// headerReplayOf names the dead letter (HR_DLQ sequence) a replay
	// comes from.
	headerReplayOf = "Keycard-Replay-Of"
	// normalizerApp is the "app" of the normalizer's dead letters; they go
	// back to HR_INBOX rather than to HR_REPLAY.
	normalizerApp = "normalizer"
	// clockSkew widens a --since window on the stored time, which can
	// trail the failed-at time of another host's clock.
	clockSkew  = time.Minute
	errorWidth = 60
)

// deadLetter is one HR_DLQ entry, decoded from its subject and headers.
type deadLetter struct {
	Seq             uint64    `json:"seq"`
	Subject         string    `json:"subject"`
	App             string    `json:"app"`
	Kind            string    `json:"kind"`
	EmployeeKey     string    `json:"employee_key"`
	EmployeeID      string    `json:"employee_id,omitempty"`
	Class           string    `json:"class"`
	Attempts        int       `json:"attempts"`
	FailedAt        time.Time `json:"failed_at"`
	Error           string    `json:"error"`
	OriginalStream  string    `json:"original_stream"`
	OriginalSubject string    `json:"original_subject"`
	OriginalSeq     uint64    `json:"original_seq"`
	StoredAt        time.Time `json:"stored_at"`

	msg stored
}

// parseDeadLetter decodes m, stored on dlq.<app>.<kind>.<employeeKey>.
func parseDeadLetter(m stored) deadLetter {
	h := m.Header
	d := deadLetter{Seq: m.Seq, Subject: m.Subject, StoredAt: m.Time, msg: m,
		App:             h.Get(deadletter.HeaderApp),
		Class:           h.Get(deadletter.HeaderErrorClass),
		Error:           h.Get(deadletter.HeaderError),
		OriginalStream:  h.Get(deadletter.HeaderStream),
		OriginalSubject: h.Get(deadletter.HeaderSubject),
	}
	if tok := strings.Split(m.Subject, "."); len(tok) == 4 && tok[0] == "dlq" {
		d.App, d.Kind, d.EmployeeKey = tok[1], tok[2], tok[3]
	}
	d.Attempts, _ = strconv.Atoi(h.Get(deadletter.HeaderAttempts))
	d.OriginalSeq, _ = strconv.ParseUint(h.Get(deadletter.HeaderSequence), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, h.Get(deadletter.HeaderFailedAt)); err == nil {
		d.FailedAt = t
	} else {
		d.FailedAt = m.Time
	}
	if d.App != normalizerApp && d.EmployeeKey != "" {
		if id, err := event.ParseEmployeeKey(d.EmployeeKey); err == nil {
			d.EmployeeID = id
		}
	}
	return d
}

// employee is the person for a table: the HR id, else the subject key;
// the normalizer's dead letters are deliveries, not people.
func (d deadLetter) employee() string {
	switch {
	case d.App == normalizerApp:
		return "-"
	case d.EmployeeID != "":
		return d.EmployeeID
	}
	return d.EmployeeKey
}

// dlqFilter selects dead letters.
type dlqFilter struct {
	app, class   string
	since, until timeFlag
}

func (f *dlqFilter) register(fs *flag.FlagSet, now func() time.Time) {
	f.since.now, f.until.now = now, now
	fs.StringVar(&f.app, "app", "", "only this app's dead letters")
	fs.StringVar(&f.class, "class", "", "only this error class: permanent or exhausted")
	fs.Var(&f.since, "since", "failed at or after: RFC 3339 or a duration ago (2h, 7d)")
	fs.Var(&f.until, "until", "failed before: RFC 3339 or a duration ago")
}

func (f *dlqFilter) check() error {
	if err := checkApp(f.app); err != nil {
		return err
	}
	switch f.class {
	case "", deadletter.ClassPermanent, deadletter.ClassExhausted:
	default:
		return usageErrorf("--class %q: want %s or %s", f.class, deadletter.ClassPermanent, deadletter.ClassExhausted)
	}
	if !f.since.t.IsZero() && !f.until.t.IsZero() && !f.since.t.Before(f.until.t) {
		return usageErrorf("--since %s is not before --until %s", f.since.String(), f.until.String())
	}
	return nil
}

func (f *dlqFilter) isSet() bool {
	return f.app != "" || f.class != "" || !f.since.t.IsZero() || !f.until.t.IsZero()
}

func (f *dlqFilter) match(d deadLetter) bool {
	return (f.app == "" || d.App == f.app) &&
		(f.class == "" || d.Class == f.class) &&
		(f.since.t.IsZero() || !d.FailedAt.Before(f.since.t)) &&
		(f.until.t.IsZero() || d.FailedAt.Before(f.until.t))
}

// find reads the dead letters f selects, oldest first.
func (f *dlqFilter) find(ctx context.Context, s *session) ([]deadLetter, error) {
	subject := "dlq.>"
	if f.app != "" {
		subject = "dlq." + f.app + ".>"
	}
	var start time.Time
	if !f.since.t.IsZero() {
		start = f.since.t.Add(-clockSkew)
	}
	msgs, err := s.read(ctx, streams.DLQ, subject, start)
	if err != nil {
		return nil, err
	}
	var out []deadLetter
	for _, m := range msgs {
		if d := parseDeadLetter(m); f.match(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *cli) dlqList(ctx context.Context, g globals, args []string) error {
	var f dlqFilter
	var asJSON bool
	fs := c.newFlagSet("dlq list", "dlq list [--app A] [--class permanent|exhausted] [--since T] [--until T] [--json]", &g)
	f.register(fs, c.now)
	fs.BoolVar(&asJSON, "json", false, "print JSON lines")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("dlq list: unexpected argument %q", pos[0])
	}
	if err := f.check(); err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	list, err := f.find(ctx, s)
	if err != nil {
		return err
	}
	if asJSON {
		return jsonLines(c.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stderr, "no dead letters")
		return nil
	}
	t := newTable(c.stdout, "SEQ", "APP", "KIND", "EMPLOYEE", "CLASS", "ATTEMPTS", "FAILED AT", "ERROR")
	for _, d := range list {
		t.row(strconv.FormatUint(d.Seq, 10), d.App, d.Kind, d.employee(), d.Class,
			strconv.Itoa(d.Attempts), when(d.FailedAt), truncate(d.Error, errorWidth))
	}
	return t.flush()
}

func (c *cli) dlqShow(ctx context.Context, g globals, args []string) error {
	var asJSON bool
	fs := c.newFlagSet("dlq show", "dlq show SEQ [--json]", &g)
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("dlq show: want exactly one SEQ")
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	m, err := s.get(ctx, streams.DLQ, seqs[0])
	if errors.Is(err, errGone) {
		return fmt.Errorf("dead letter %d not found (replayed or purged?)", seqs[0])
	}
	if err != nil {
		return err
	}
	d := parseDeadLetter(m)
	if asJSON {
		return writeJSON(c.stdout, struct {
			deadLetter
			Headers nats.Header `json:"headers"`
			Body    any         `json:"body"`
		}{d, m.Header, rawBody(m.Data)})
	}
	return showDeadLetter(c.stdout, d)
}

func showDeadLetter(w io.Writer, d deadLetter) error {
	t := newTable(w, "Sequence:", strconv.FormatUint(d.Seq, 10))
	for _, kv := range [][2]string{
		{"Subject:", d.Subject},
		{"Stored at:", when(d.StoredAt)},
		{"App:", d.App},
		{"Kind:", d.Kind},
		{"Employee:", d.employee()},
		{"Error class:", d.Class},
		{"Attempts:", strconv.Itoa(d.Attempts)},
		{"Failed at:", when(d.FailedAt)},
		{"Error:", d.Error},
		{"Original stream:", d.OriginalStream},
		{"Original subject:", d.OriginalSubject},
		{"Original sequence:", strconv.FormatUint(d.OriginalSeq, 10)},
	} {
		t.row(kv[0], kv[1])
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nHeaders:")
	keys := make([]string, 0, len(d.msg.Header))
	for k := range d.msg.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range d.msg.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w, "\nBody:")
	_, err := fmt.Fprintln(w, body(d.msg.Data))
	return err
}

// selection is what a bulk command acts on: sequence numbers, a filter,
// or everything (exactly one of them).
type selection struct {
	filter dlqFilter
	all    bool
	yes    bool
	asJSON bool
	seqs   []uint64
}

func (c *cli) parseSelection(name, synopsis string, g *globals, args []string) (*selection, error) {
	sel := &selection{}
	fs := c.newFlagSet(name, synopsis, g)
	sel.filter.register(fs, c.now)
	fs.BoolVar(&sel.all, "all", false, "every dead letter")
	fs.BoolVar(&sel.yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&sel.asJSON, "json", false, "print JSON lines")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if sel.seqs, err = parseSeqs(pos); err != nil {
		return nil, err
	}
	if err := sel.filter.check(); err != nil {
		return nil, err
	}
	n := 0
	for _, given := range []bool{len(sel.seqs) > 0, sel.filter.isSet(), sel.all} {
		if given {
			n++
		}
	}
	if n != 1 {
		return nil, usageErrorf("%s: give sequence numbers, filters (--app, --class, --since, --until) or --all; exactly one of them", name)
	}
	return sel, nil
}

// target is one selected dead letter; dl is nil when a sequence number
// named one that is no longer there.
type target struct {
	seq uint64
	dl  *deadLetter
}

func (sel *selection) targets(ctx context.Context, s *session) ([]target, error) {
	if len(sel.seqs) == 0 {
		list, err := sel.filter.find(ctx, s)
		if err != nil {
			return nil, err
		}
		out := make([]target, len(list))
		for i := range list {
			out[i] = target{seq: list[i].Seq, dl: &list[i]}
		}
		return out, nil
	}
	var out []target
	for _, seq := range sel.seqs {
		m, err := s.get(ctx, streams.DLQ, seq)
		switch {
		case errors.Is(err, errGone):
			out = append(out, target{seq: seq})
		case err != nil:
			return nil, err
		default:
			d := parseDeadLetter(m)
			out = append(out, target{seq: seq, dl: &d})
		}
	}
	return out, nil
}

// result is what happened to one entry of a bulk command.
type result struct {
	Seq      uint64 `json:"seq"`
	App      string `json:"app,omitempty"`
	Employee string `json:"employee,omitempty"`
	Result   string `json:"result"`
	Failed   bool   `json:"failed"`
}

const goneDLQ = "gone (already replayed or purged)"

func (t target) result(text string, failed bool) result {
	r := result{Seq: t.seq, Result: text, Failed: failed}
	if t.dl != nil {
		r.App, r.Employee = t.dl.App, t.dl.employee()
	}
	return r
}

func (c *cli) dlqReplay(ctx context.Context, g globals, args []string) error {
	return c.dlqBulk(ctx, g, args, "replay", "replayed", "replay %d dead letters?", false, replay)
}

func (c *cli) dlqPurge(ctx context.Context, g globals, args []string) error {
	return c.dlqBulk(ctx, g, args, "purge", "purged", "delete %d dead letters for good?", true, purge)
}

// dlqBulk selects dead letters, asks before acting on many (or on any,
// when always), does one thing to each with progress, and reports.
func (c *cli) dlqBulk(ctx context.Context, g globals, args []string, cmd, verb, question string, always bool,
	do func(context.Context, *session, target) result) error {
	sel, err := c.parseSelection("dlq "+cmd, "dlq "+cmd+" (SEQ... | --app A [--class C] [--since T] [--until T] | --all) [--yes] [--json]", &g, args)
	if err != nil {
		return err
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	targets, err := sel.targets(ctx, s)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		fmt.Fprintln(c.stderr, "no dead letters match")
		return nil
	}
	if !sel.yes && (always || len(targets) > confirmThreshold) {
		if err := c.confirm(fmt.Sprintf(question, len(targets))); err != nil {
			return err
		}
	}
	results := each(c, ctx, targets, verb, func(t target) result { return do(ctx, s, t) })
	return c.report(results, sel.asJSON, cmd)
}

// purge deletes one dead letter.
func purge(ctx context.Context, s *session, t target) result {
	if t.dl == nil {
		return t.result(goneDLQ, false)
	}
	switch err := s.remove(ctx, streams.DLQ, t.seq); {
	case errors.Is(err, errGone):
		return t.result(goneDLQ, false)
	case err != nil:
		return t.result("failed: "+err.Error(), true)
	}
	return t.result("purged", false)
}

// replay republishes one dead letter, waits for the PubAck, then deletes
// it. The dedup id makes a second replay of the same entry (a double
// click, two operators) a duplicate the stream stores once.
func replay(ctx context.Context, s *session, t target) result {
	if t.dl == nil {
		return t.result(goneDLQ, false)
	}
	stream, msg, err := replayMessage(*t.dl)
	if err != nil {
		return t.result("failed: "+err.Error(), true)
	}
	ack, err := s.publish(ctx, stream, msg)
	if err != nil {
		return t.result("failed: "+err.Error(), true)
	}
	text := "replayed"
	if ack.Duplicate {
		text = "already replayed (duplicate)"
	}
	if err := s.remove(ctx, streams.DLQ, t.seq); err != nil && !errors.Is(err, errGone) {
		return t.result(fmt.Sprintf("failed: %s as %s seq %d, but the dead letter was not deleted: %v", text, ack.Stream, ack.Sequence, err), true)
	}
	return t.result(text, false)
}

// replayMessage builds the replay of d and names the stream it must land
// in. The normalizer's dead letters go back to their HR_INBOX subject;
// every app's go to replay.<app>.<employeeKey>, which only that app's
// worker reads.
func replayMessage(d deadLetter) (string, *nats.Msg, error) {
	var stream, subject string
	switch {
	case d.App == "":
		return "", nil, fmt.Errorf("dead letter on %q names no app", d.Subject)
	case d.App == normalizerApp:
		if !strings.HasPrefix(d.OriginalSubject, "hr.inbox.") {
			return "", nil, fmt.Errorf("original subject %q is not an hr.inbox subject", d.OriginalSubject)
		}
		stream, subject = streams.Inbox, d.OriginalSubject
	case d.EmployeeKey == "":
		return "", nil, fmt.Errorf("dead letter on %q names no employee", d.Subject)
	default:
		stream, subject = streams.Replay, streams.ReplaySubject(d.App, d.EmployeeKey)
	}
	msg := nats.NewMsg(subject)
	msg.Data = d.msg.Data
	msg.Header = copyHeaders(d.msg.Header, func(k string) bool {
		return strings.HasPrefix(strings.ToLower(k), "keycard-dlq-") || strings.EqualFold(k, headerReplayOf)
	})
	seq := strconv.FormatUint(d.Seq, 10)
	msg.Header.Set(headerReplayOf, seq)
	msg.Header.Set(nats.MsgIdHdr, "replay:"+d.App+":"+seq)
	return stream, msg, nil
}

// entry is one selected item of a bulk command.
type entry interface {
	result(text string, failed bool) result
}

// each runs do for every target in order, showing progress on stderr
// when there are more than a few; once ctx ends it attempts no more.
func each[T entry](c *cli, ctx context.Context, targets []T, verb string, do func(T) result) []result {
	const few = 5
	step := max(1, len(targets)/20)
	out := make([]result, 0, len(targets))
	for i, t := range targets {
		if ctx.Err() != nil {
			out = append(out, t.result("not attempted: interrupted", true))
			continue
		}
		out = append(out, do(t))
		if n := i + 1; len(targets) > few && (n%step == 0 || n == len(targets)) {
			fmt.Fprintf(c.stderr, "%s %d/%d\n", verb, n, len(targets))
		}
	}
	return out
}

// report prints the results and fails when any entry failed.
func (c *cli) report(results []result, asJSON bool, what string) error {
	if asJSON {
		if err := jsonLines(c.stdout, results); err != nil {
			return err
		}
	} else {
		t := newTable(c.stdout, "SEQ", "APP", "EMPLOYEE", "RESULT")
		for _, r := range results {
			t.row(strconv.FormatUint(r.Seq, 10), r.App, r.Employee, r.Result)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	failed := 0
	for _, r := range results {
		if r.Failed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d failed", what, failed, len(results))
	}
	return nil
}
