package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/event"
	"keycard/pkg/report"
	"keycard/pkg/worker"
)

// The activity report over a seeded HR_EVENTS and AUDIT: slack applied
// four joiners 10, 20, 30 and 40 s after they took effect (one entered
// three days ahead of its start, counted from the start), one mover and
// two leavers 1 and 3 s after; an operator replayed one joiner (counted
// once), one joiner was dead-lettered, github ran dry and a record from
// the month before is left out. The period is the current month: the
// streams are read by the time they stored the messages, which is now.
func TestReportActivity(t *testing.T) {
	h := newHarness(t)
	p, err := report.Month(time.Now().UTC().Format("2006-01"))
	if err != nil {
		t.Fatal(err)
	}
	base := p.Start.Add(36 * time.Hour)
	publishAudit := func(r worker.Record, id string) {
		t.Helper()
		data, _ := json.Marshal(r)
		msg := nats.NewMsg("audit." + r.App + "." + event.EmployeeKey(r.EmployeeID))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, id)
		h.publish(msg)
	}
	applied := func(app string, e event.Event, after time.Duration) worker.Record {
		return worker.Record{App: app, EventID: e.ID, EmployeeID: e.Employee.ID, Kind: e.Kind, Sequence: e.Sequence,
			Mode: "apply", Outcome: "applied", OccurredAt: e.OccurredAt, At: e.TookEffect().Add(after)}
	}
	for i, after := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second} {
		e := newEvent(event.Hired, 1, base, employee("h"+string(rune('1'+i))), nil)
		if i == 2 { // entered three days ahead of the start date
			e.OccurredAt = base.Add(-72 * time.Hour)
		}
		h.hrEvent(e)
		publishAudit(applied("slack", e, after), "slack:"+e.ID)
		if i == 1 {
			r := applied("slack", e, time.Hour)
			r.Replay = true
			publishAudit(r, "slack:"+e.ID+":replay")
		}
		if i == 0 {
			r := applied("github", e, time.Second)
			r.Mode = "dry-run"
			publishAudit(r, "github:"+e.ID)
		}
	}
	for i, after := range []time.Duration{time.Second, 3 * time.Second} {
		emp := employee("t" + string(rune('1'+i)))
		e := newEvent(event.Terminated, 2, base.Add(time.Hour), emp, nil)
		h.hrEvent(e)
		publishAudit(applied("slack", e, after), "slack:"+e.ID)
	}
	mover := newEvent(event.Moved, 2, base, employee("m1"), nil)
	h.hrEvent(mover)
	publishAudit(applied("slack", mover, time.Minute), "slack:"+mover.ID)
	dead := newEvent(event.Hired, 1, base, employee("d1"), nil)
	h.hrEvent(dead)
	publishAudit(worker.Record{App: "slack", EventID: dead.ID, EmployeeID: "d1", Kind: event.Hired, Mode: "apply", Outcome: "dead_lettered",
		At: base.Add(time.Minute)}, "slack:"+dead.ID+":dead")
	before := newEvent(event.Hired, 1, p.Start.Add(-time.Hour), employee("old"), nil)
	publishAudit(applied("slack", before, time.Minute), "slack:"+before.ID) // applied the month before

	dir := t.TempDir()
	csvPath, svgPath := filepath.Join(dir, "activity.csv"), filepath.Join(dir, "activity.svg")
	out := h.run("report", "activity", "--month", p.Name, "--json", "--csv", csvPath, "--svg", svgPath)
	wantOK(t, out)
	var res activityResult
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatal(err, out.stdout)
	}
	if len(res.Apps) != 2 || res.Apps[0].App != "github" || res.Apps[1].App != "slack" {
		t.Fatalf("apps = %+v", res.Apps)
	}
	if g := res.Apps[0]; g.Joiners != 0 || g.Access.N != 0 {
		t.Errorf("github ran dry, counted %+v", g)
	}
	s := res.Apps[1]
	wantAccess := report.Latency{N: 4, P50: 20 * time.Second, P95: 40 * time.Second, Max: 40 * time.Second}
	wantRevoke := report.Latency{N: 2, P50: time.Second, P95: 3 * time.Second, Max: 3 * time.Second}
	if s.Joiners != 4 || s.Movers != 1 || s.Leavers != 2 || s.Failures != 1 || s.Replays != 1 || s.Reevaluations != 0 {
		t.Errorf("slack counts = %+v, want 4 joiners, 1 mover, 2 leavers, 1 failure, 1 replay", s)
	}
	if s.Access != wantAccess || s.Revoke != wantRevoke {
		t.Errorf("slack access %+v revoke %+v, want %+v and %+v", s.Access, s.Revoke, wantAccess, wantRevoke)
	}

	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if want := p.Name + ",slack,4,1,2,4,20,40,40,2,1,3,3,1,1,0"; len(lines) != 3 || lines[0] != strings.Join(activityCSVHeader, ",") || lines[2] != want {
		t.Errorf("csv:\n%s\nwant the header, github and %s", data, want)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "joiners", "movers", "leavers", "slack", "github", p.Name} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("svg lacks %q", want)
		}
	}

	out = h.run("report", "activity", "--month", p.Name)
	wantOK(t, out)
	if !strings.Contains(out.stdout, "slack   4        1       2        20s         40s  40s  1s          3s   3s   1         1        0") {
		t.Errorf("table:\n%s", out.stdout)
	}
	if out := h.run("report", "activity", "--month", p.Name, "--year", "2026"); exitCode(out.err) != 2 {
		t.Errorf("two periods: err = %v, want a usage error", out.err)
	}
}
