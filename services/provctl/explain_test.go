package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/worker"
)

// seedTimeline stores one person's history across every stream, out of
// time order, plus a neighbour's that must not show up.
func seedTimeline(h *harness, id string) time.Time {
	t0 := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	sales := employee(id)
	sales.Department = "Sales"
	eng := employee(id)
	hired := newEvent(event.Hired, 1, t0, sales, nil)
	moved := newEvent(event.Moved, 2, t0.Add(2*time.Hour), eng, &sales)

	h.audit(worker.Record{App: "slack", EventID: moved.ID, EmployeeID: id, Kind: event.Moved, Sequence: 2, Mode: "apply",
		Outcome: "applied", Actions: []connector.Action{{Op: connector.OpUpdate}, {Op: connector.OpAdd, Kind: connector.Group, Name: "eng"}},
		Matched: []string{"birthright", "engineering"}, Warning: "update: department not updated: 400 invalidPath",
		OccurredAt: moved.OccurredAt, At: t0.Add(3 * time.Hour)})
	h.deadLetter(deadLetterSpec{app: "github", kind: "moved", key: event.EmployeeKey(id), class: deadletter.ClassPermanent,
		attempts: 1, failedAt: t0.Add(150 * time.Minute), err: "github: 404 team engineering not found", origSeq: 2})
	h.hrEvent(moved)
	h.hrEvent(hired)
	h.audit(worker.Record{App: "slack", EventID: hired.ID, EmployeeID: id, Kind: event.Hired, Sequence: 1, Mode: "apply",
		Outcome: "applied", Actions: []connector.Action{{Op: connector.OpCreate}, {Op: connector.OpAdd, Kind: connector.Group, Name: "everyone"}},
		Matched: []string{"birthright"}, OccurredAt: hired.OccurredAt, At: t0.Add(time.Hour)})
	h.held("google", leaver(id, 3)) // held now, after everything else

	neighbour := employee(id + "0")
	h.hrEvent(newEvent(event.Hired, 1, t0.Add(30*time.Minute), neighbour, nil))
	h.audit(worker.Record{App: "slack", EventID: "x", EmployeeID: neighbour.ID, Outcome: "applied", Mode: "apply", At: t0})
	return t0
}

func TestExplain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTimeline(h, "42")
	config := writeFile(t, "keycard.yaml", testPolicy)
	now := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)

	wantTimeline := [][2]string{ // SOURCE, WHAT
		{"hr", "hired seq 1"},
		{"slack", "applied (apply)"},
		{"hr", "moved seq 2"},
		{"github", "dead letter (permanent)"},
		{"slack", "applied (apply)"},
		{"google", "held by guard"},
	}
	wantDetails := []string{
		"first snapshot: department=Sales, job_title=Engineer, status=active",
		"create, add group everyone; rules: birthright; event seq 1",
		`department: "Sales"→"Engineering"`,
		"moved after 1 attempt: github: 404 team engineering not found",
		"update, add group eng; rules: birthright, engineering; warning: update: department not updated: 400 invalidPath; event seq 2",
		"terminated event bamboohr:42:3 awaits an operator",
	}

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		o := h.runWith("", now, "explain", "42", "--config", config)
		wantOK(t, o)
		header, rest, _ := strings.Cut(o.stdout, "\n\n")
		if want := "Employee 42: Ada Lovelace <ada@example.com>, Engineering, Engineer; HR status active (snapshot seq 2)"; header != want {
			t.Errorf("header %q, want %q", header, want)
		}
		timeline, desired, ok := strings.Cut(rest, "\n\n")
		if !ok {
			t.Fatalf("no desired-state table:\n%s", o.stdout)
		}
		lines := strings.Split(strings.TrimSpace(timeline), "\n")
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"TIME", "SOURCE", "WHAT", "DETAIL"}) {
			t.Errorf("timeline header %v", got)
		}
		lines = lines[1:]
		if len(lines) != len(wantTimeline) {
			t.Fatalf("%d timeline rows, want %d:\n%s", len(lines), len(wantTimeline), timeline)
		}
		var prev time.Time
		for i, line := range lines {
			f := strings.Fields(line)
			at, err := time.Parse(time.RFC3339, f[0])
			if err != nil || at.Before(prev) {
				t.Errorf("row %d time %q (%v): not in time order", i, f[0], err)
			}
			prev = at
			if f[1] != wantTimeline[i][0] || !strings.Contains(line, wantTimeline[i][1]) || !strings.Contains(line, wantDetails[i]) {
				t.Errorf("row %d:\n%s\nwant source %s, %q, %q", i, line, wantTimeline[i][0], wantTimeline[i][1], wantDetails[i])
			}
		}
		if strings.Contains(o.stdout, "420") {
			t.Errorf("the neighbour 420 shows up:\n%s", o.stdout)
		}

		title, table, _ := strings.Cut(desired, "\n\n")
		if want := "Desired state on 2025-03-04 (Europe/Berlin), policy " + config + ", snapshot seq 2: active"; title != want {
			t.Errorf("title %q, want %q", title, want)
		}
		wantRows := [][]string{
			{"APP", "ACCOUNT", "GROUPS", "TEAMS", "CHANNELS", "ROLES", "MATCHED"},
			{"slack", "yes", "eng,everyone", "-", "-", "-", "birthright,engineering"},
			{"github", "yes", "-", "engineering", "-", "-", "engineering"},
		}
		got := strings.Split(strings.TrimSpace(table), "\n")
		if len(got) != len(wantRows) {
			t.Fatalf("desired state:\n%s", table)
		}
		for i := range got {
			if f := strings.Fields(got[i]); !slices.Equal(f, wantRows[i]) {
				t.Errorf("desired row %v, want %v", f, wantRows[i])
			}
		}
	})

	t.Run("json, config from KEYCARD_CONFIG", func(t *testing.T) {
		t.Parallel()
		hj := *h
		hj.t, hj.env = t, map[string]string{envConfig: config}
		o := hj.runWith("", now, "explain", "42", "--json")
		wantOK(t, o)
		var x explanation
		if err := json.Unmarshal([]byte(o.stdout), &x); err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		for _, m := range x.Timeline {
			got = append(got, [2]string{m.Source, m.What})
		}
		if !slices.Equal(got, wantTimeline) {
			t.Errorf("timeline %v, want %v", got, wantTimeline)
		}
		if x.Desired == nil || len(x.Desired.Apps) != 2 || !x.Desired.Apps[0].Account || x.Desired.Today != "2025-03-04" {
			t.Errorf("desired %+v", x.Desired)
		}
	})

	t.Run("without config", func(t *testing.T) {
		t.Parallel()
		o := h.run("explain", "42")
		wantOK(t, o)
		if strings.Contains(o.stdout, "Desired state") {
			t.Errorf("desired state without a config:\n%s", o.stdout)
		}
	})

	t.Run("nobody", func(t *testing.T) {
		t.Parallel()
		if o := h.run("explain", "999"); o.err == nil || !strings.Contains(o.err.Error(), "nothing recorded for employee 999") {
			t.Errorf("err = %v", o.err)
		}
	})
}

// TestExplainToday checks the desired state is for today in the person's
// time zone: a termination dated July 1 has taken effect in Berlin at
// 23:30 UTC on June 30, not yet in New York.
func TestExplainToday(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 30, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		tz          string
		wantToday   string
		wantAccount bool
	}{
		{tz: "Europe/Berlin", wantToday: "2025-07-01", wantAccount: false},
		{tz: "America/New_York", wantToday: "2025-06-30", wantAccount: true},
		{tz: "", wantToday: "2025-06-30", wantAccount: true},
	}
	for _, tt := range tests {
		t.Run(tt.tz, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := employee("7")
			p.TimeZone, p.TerminationDate = tt.tz, "2025-07-01"
			h.hrEvent(newEvent(event.Updated, 1, now.Add(-time.Hour), p, nil))
			o := h.runWith("", now, "explain", "7", "--json", "--config", writeFile(t, "k.yaml", testPolicy))
			wantOK(t, o)
			var x explanation
			if err := json.Unmarshal([]byte(o.stdout), &x); err != nil {
				t.Fatal(err)
			}
			if x.Desired.Today != tt.wantToday || x.Desired.Apps[0].App != "slack" || x.Desired.Apps[0].Account != tt.wantAccount {
				t.Errorf("today %s, slack %+v; want %s, account %v", x.Desired.Today, x.Desired.Apps[0], tt.wantToday, tt.wantAccount)
			}
		})
	}
}
