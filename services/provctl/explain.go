package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/policy"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// moment is one line of a person's timeline.
type moment struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"` // "hr" or the app
	What    string    `json:"what"`
	Detail  string    `json:"detail"`
	Stream  string    `json:"stream"`
	Seq     uint64    `json:"seq"`
	Subject string    `json:"subject"`
}

// desiredState is the policy's answer for the latest snapshot.
type desiredState struct {
	Config   string           `json:"config"`
	Today    string           `json:"today"`
	TimeZone string           `json:"time_zone"`
	Sequence uint64           `json:"snapshot_sequence"`
	State    event.State      `json:"state"`
	Apps     []policy.Desired `json:"apps"`
	Warnings []string         `json:"warnings,omitempty"`
}

type explanation struct {
	EmployeeID  string        `json:"employee_id"`
	EmployeeKey string        `json:"employee_key"`
	Timeline    []moment      `json:"timeline"`
	Desired     *desiredState `json:"desired,omitempty"`

	latest *event.Event
}

// explainSource is one stream a timeline reads, in tie-break order.
type explainSource struct {
	stream, filter string
	moment         func(stored, *explanation) moment
}

func (c *cli) explain(ctx context.Context, g globals, args []string) error {
	var configPath string
	var asJSON bool
	fs := c.newFlagSet("explain", "explain EMPLOYEE_ID [--config FILE] [--json]", &g)
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file for the desired state (env KEYCARD_CONFIG)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("explain: want exactly one EMPLOYEE_ID")
	}
	var cfg *policy.Config
	if configPath != "" {
		if cfg, err = c.loadPolicy(configPath); err != nil {
			return err
		}
	}
	id := pos[0]
	key := event.EmployeeKey(id)
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()

	x := &explanation{EmployeeID: id, EmployeeKey: key}
	sources := []explainSource{
		{streams.Events, "hr.employee.*." + key, hrMoment},
		{streams.Audit, "audit.*." + key, auditMoment},
		{streams.DLQ, "dlq.*.*." + key, dlqMoment},
		{streams.Held, streams.HeldSubject("*", key), heldMoment},
	}
	for _, src := range sources {
		msgs, err := s.read(ctx, src.stream, src.filter, time.Time{})
		if err != nil {
			return err
		}
		for _, m := range msgs {
			x.Timeline = append(x.Timeline, src.moment(m, x))
		}
	}
	if len(x.Timeline) == 0 {
		return fmt.Errorf("nothing recorded for employee %s (subject key %s)", id, key)
	}
	order := map[string]int{}
	for i, src := range sources {
		order[src.stream] = i
	}
	slices.SortStableFunc(x.Timeline, func(a, b moment) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(order[a.Stream], order[b.Stream]), cmp.Compare(a.Seq, b.Seq))
	})
	if cfg != nil && x.latest != nil {
		x.Desired = desire(cfg, x.latest, c.now())
	}
	if asJSON {
		return writeJSON(c.stdout, x)
	}
	return c.printExplanation(x, cfg != nil)
}

func (c *cli) printExplanation(x *explanation, withConfig bool) error {
	w := c.stdout
	if e := x.latest; e != nil {
		p := e.Employee
		name := personName(p)
		fmt.Fprintf(w, "Employee %s: %s <%s>, %s, %s; HR status %s (snapshot seq %d)\n\n",
			x.EmployeeID, cmp.Or(name, "?"), cmp.Or(p.WorkEmail, "-"), cmp.Or(p.Department, "-"),
			cmp.Or(p.JobTitle, "-"), cmp.Or(p.Status, "-"), e.Sequence)
	} else {
		fmt.Fprintf(w, "Employee %s: no HR snapshot on %s\n\n", x.EmployeeID, streams.Events)
	}
	t := newTable(w, "TIME", "SOURCE", "WHAT", "DETAIL")
	for _, m := range x.Timeline {
		t.row(when(m.Time), m.Source, m.What, m.Detail)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !withConfig {
		return nil
	}
	d := x.Desired
	if d == nil {
		fmt.Fprintln(c.stderr, "no HR snapshot, so no desired state")
		return nil
	}
	fmt.Fprintf(w, "\nDesired state on %s (%s), policy %s, snapshot seq %d: %s\n\n", d.Today, d.TimeZone, d.Config, d.Sequence, d.State)
	t = newTable(w, "APP", "ACCOUNT", "GROUPS", "TEAMS", "CHANNELS", "ROLES", "MATCHED")
	for _, a := range d.Apps {
		account := "no"
		if a.Account {
			account = "yes"
		}
		t.row(a.App, account, joinOrDash(a.Groups), joinOrDash(a.Teams), joinOrDash(a.Channels), joinOrDash(a.Roles), joinOrDash(a.Matched))
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, warn := range d.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	return nil
}

// desire evaluates the policy for e on today's date in the person's time
// zone (UTC when the snapshot names none or an unknown one).
func desire(cfg *policy.Config, e *event.Event, now time.Time) *desiredState {
	loc := (&event.Zones{}).Get(e.Employee.TimeZone)
	today := now.In(loc).Format(time.DateOnly)
	res := cfg.Evaluate(e.Employee, today)
	d := &desiredState{Config: cfg.File, Today: today, TimeZone: loc.String(), Sequence: e.Sequence,
		State: e.Employee.StateOn(today), Warnings: res.Warnings}
	for _, app := range cfg.Apps {
		if a, ok := res.Apps[app.Name]; ok {
			d.Apps = append(d.Apps, a)
		}
	}
	return d
}

func hrMoment(m stored, x *explanation) moment {
	mo := moment{Time: m.Time, Source: "hr", Stream: m.Stream, Seq: m.Seq, Subject: m.Subject}
	var e event.Event
	if err := json.Unmarshal(m.Data, &e); err != nil {
		mo.What, mo.Detail = "unreadable event", err.Error()
		return mo
	}
	if !e.OccurredAt.IsZero() {
		mo.Time = e.OccurredAt
	}
	mo.What = fmt.Sprintf("%s seq %d", e.Kind, e.Sequence)
	mo.Detail = changes(e)
	if x.latest == nil || e.Sequence >= x.latest.Sequence {
		x.latest = &e
	}
	return mo
}

// changes says what an event changed: each field with its old and new
// value, or the essentials of a first snapshot.
func changes(e event.Event) string {
	next := fields(e.Employee)
	if e.Previous == nil {
		return fmt.Sprintf("first snapshot: department=%s, job_title=%s, status=%s",
			cmp.Or(next["department"], `""`), cmp.Or(next["job_title"], `""`), cmp.Or(next["status"], `""`))
	}
	if len(e.ChangedFields) == 0 {
		return "no field changed"
	}
	prev := fields(*e.Previous)
	parts := make([]string, 0, len(e.ChangedFields))
	for _, f := range e.ChangedFields {
		parts = append(parts, fmt.Sprintf("%s: %s→%s", f, strconv.Quote(prev[f]), strconv.Quote(next[f])))
	}
	return strings.Join(parts, ", ")
}

// fields maps a snapshot's JSON field names (custom fields as
// custom.<key>) to their values.
func fields(p event.Employee) map[string]string {
	out := map[string]string{}
	data, _ := json.Marshal(p)
	var raw map[string]any
	_ = json.Unmarshal(data, &raw)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	for k, v := range p.Custom {
		out["custom."+k] = v
	}
	return out
}

func auditMoment(m stored, _ *explanation) moment {
	mo := moment{Time: m.Time, Stream: m.Stream, Seq: m.Seq, Subject: m.Subject}
	if tok := strings.Split(m.Subject, "."); len(tok) == 3 {
		mo.Source = tok[1]
	}
	var r worker.Record
	if err := json.Unmarshal(m.Data, &r); err != nil {
		mo.What, mo.Detail = "unreadable audit record", err.Error()
		return mo
	}
	if !r.At.IsZero() {
		mo.Time = r.At
	}
	mo.Source = cmp.Or(r.App, mo.Source)
	mo.What = fmt.Sprintf("%s (%s)", r.Outcome, cmp.Or(r.Mode, "?"))
	if r.Replay {
		mo.What += " replay"
	}
	actions := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		actions[i] = a.String()
	}
	parts := []string{"no changes"}
	if len(actions) > 0 {
		parts[0] = strings.Join(actions, ", ")
	}
	if len(r.Matched) > 0 {
		parts = append(parts, "rules: "+strings.Join(r.Matched, ", "))
	}
	if r.Error != "" {
		parts = append(parts, "error: "+truncate(r.Error, 2*errorWidth))
	}
	if r.Warning != "" {
		parts = append(parts, "warning: "+truncate(r.Warning, 2*errorWidth))
	}
	if r.Sequence > 0 {
		parts = append(parts, fmt.Sprintf("event seq %d", r.Sequence))
	}
	if op := m.Header.Get(headerOperator); op != "" {
		parts = append(parts, "by "+op)
	}
	mo.Detail = strings.Join(parts, "; ")
	return mo
}

func dlqMoment(m stored, _ *explanation) moment {
	d := parseDeadLetter(m)
	return moment{Time: d.FailedAt, Source: d.App, Stream: m.Stream, Seq: m.Seq, Subject: m.Subject,
		What: fmt.Sprintf("dead letter (%s)", cmp.Or(d.Class, "?")),
		Detail: fmt.Sprintf("%s after %s: %s; provctl dlq show %d",
			d.Kind, plural(d.Attempts, "attempt"), truncate(d.Error, 2*errorWidth), d.Seq)}
}

func heldMoment(m stored, _ *explanation) moment {
	h := parseHeld(m)
	return moment{Time: h.HeldAt, Source: h.App, Stream: m.Stream, Seq: m.Seq, Subject: m.Subject,
		What:   "held by guard",
		Detail: fmt.Sprintf("%s event %s awaits an operator; provctl held release|reject %d", h.Kind, h.EventID, h.Seq)}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
