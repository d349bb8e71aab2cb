package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycard/pkg/connector"
	"keycard/pkg/event"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// leaver is a terminated event for id, as the guard holds it.
func leaver(id string, seq uint64) event.Event {
	prev := employee(id)
	next := prev
	next.Status, next.TerminationDate = event.StatusInactive, "2025-03-01"
	return newEvent(event.Terminated, seq, time.Date(2025, 3, 1, 17, 0, 0, 0, time.UTC), next, &prev)
}

func TestHeldList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s1 := h.held("slack", leaver("101", 3))
	s2 := h.held("slack", leaver("a.b", 5))
	g1 := h.held("github", leaver("101", 3))

	tests := []struct {
		name string
		args []string
		want [][]string // SEQ APP EMPLOYEE KIND EVENT-ID
	}{
		{name: "all", want: [][]string{
			{seqs(s1)[0], "slack", "101", "terminated", "bamboohr:101:3"},
			{seqs(s2)[0], "slack", "a.b", "terminated", "bamboohr:_612e62:5"},
			{seqs(g1)[0], "github", "101", "terminated", "bamboohr:101:3"},
		}},
		{name: "one app", args: []string{"--app", "github"}, want: [][]string{
			{seqs(g1)[0], "github", "101", "terminated", "bamboohr:101:3"},
		}},
		{name: "none", args: []string{"--app", "zoom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := h.run(append([]string{"held", "list"}, tt.args...)...)
			wantOK(t, o)
			got := rows(o.stdout)
			if len(got) != len(tt.want) {
				t.Fatalf("%d rows, want %d:\n%s", len(got), len(tt.want), o.stdout)
			}
			for i := range got {
				if !slices.Equal(got[i][:5], tt.want[i]) {
					t.Errorf("row %v, want it to start %v", got[i], tt.want[i])
				}
				if _, err := time.Parse(time.RFC3339, got[i][5]); err != nil {
					t.Errorf("HELD AT %q: %v", got[i][5], err)
				}
			}
			if header := strings.Fields(strings.SplitN(o.stdout, "\n", 2)[0]); len(tt.want) > 0 &&
				!slices.Equal(header, []string{"SEQ", "APP", "EMPLOYEE", "KIND", "EVENT", "ID", "HELD", "AT"}) {
				t.Errorf("header %q", header)
			}

			o = h.run(append([]string{"held", "list", "--json"}, tt.args...)...)
			wantOK(t, o)
			if n := strings.Count(o.stdout, "\n"); n != len(tt.want) {
				t.Errorf("--json printed %d lines, want %d", n, len(tt.want))
			}
		})
	}
}

func TestHeldRelease(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ev := leaver("a.b", 5)
	seq := h.held("slack", ev)
	other := h.held("github", leaver("102", 2))

	if o := h.run("held", "release", strconv.FormatUint(seq, 10)); o.err == nil || !strings.Contains(o.err.Error(), "aborted") {
		t.Fatalf("release without --yes and no answer: err = %v, want aborted", o.err)
	}
	tests := []struct {
		want string // RESULT
	}{
		{want: "released"},
		{want: "gone (already released or rejected)"},
	}
	for i, tt := range tests {
		o := h.run("held", "release", strconv.FormatUint(seq, 10), "--yes")
		wantOK(t, o)
		r := rows(o.stdout)
		if got := strings.Join(r[0][3:], " "); len(r) != 1 || got != tt.want {
			t.Errorf("release %d: rows %v, want one %q", i+1, r, tt.want)
		}
	}

	got := h.messages(streams.Replay)
	if len(got) != 1 {
		t.Fatalf("HR_REPLAY holds %d messages, want 1", len(got))
	}
	m := got[0]
	if m.Subject != "replay.slack._612e62" {
		t.Errorf("subject %q, want replay.slack._612e62", m.Subject)
	}
	for k, want := range map[string]string{
		worker.HeaderGuardBypass: "true",
		"Nats-Msg-Id":            fmt.Sprintf("release:slack:%d", seq),
		event.HeaderEventID:      ev.ID,
		event.HeaderKind:         "terminated",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if e, err := event.Parse(m.Data); err != nil || e.ID != ev.ID {
		t.Errorf("body: %v, id %q; want the held event %s", err, e.ID, ev.ID)
	}
	if h.exists(streams.Held, seq) {
		t.Error("the released entry is still in HR_HELD")
	}
	if !h.exists(streams.Held, other) {
		t.Error("another held entry was deleted")
	}
}

func TestHeldReject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     func(seq uint64) []string
		wantRows []string
	}{
		{name: "by sequence", args: func(seq uint64) []string { return []string{strconv.FormatUint(seq, 10), "--yes"} },
			wantRows: []string{"rejected"}},
		{name: "by app", args: func(uint64) []string { return []string{"--app", "github", "--yes"} },
			wantRows: []string{"rejected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ev := leaver("101", 7)
			seq := h.held("github", ev)
			keep := h.held("slack", leaver("101", 7))
			now := time.Date(2025, 3, 1, 18, 0, 0, 0, time.UTC)

			o := h.runWith("", now, append([]string{"held", "reject"}, tt.args(seq)...)...)
			wantOK(t, o)
			var results []string
			for _, r := range rows(o.stdout) {
				results = append(results, strings.Join(r[3:], " "))
			}
			if !slices.Equal(results, tt.wantRows) {
				t.Errorf("results %v, want %v", results, tt.wantRows)
			}
			if h.exists(streams.Held, seq) {
				t.Error("the rejected entry is still in HR_HELD")
			}
			if !h.exists(streams.Held, keep) {
				t.Error("another app's held entry was deleted")
			}
			if n := len(h.messages(streams.Replay)); n != 0 {
				t.Errorf("a rejection replayed %d messages", n)
			}

			audit := h.messages(streams.Audit)
			if len(audit) != 1 {
				t.Fatalf("AUDIT holds %d records, want 1", len(audit))
			}
			m := audit[0]
			if m.Subject != "audit.github.101" {
				t.Errorf("subject %q, want audit.github.101", m.Subject)
			}
			if got, want := m.Header.Get("Nats-Msg-Id"), fmt.Sprintf("rejected:github:%d", seq); got != want {
				t.Errorf("Nats-Msg-Id %q, want %q", got, want)
			}
			var rec worker.Record
			if err := json.Unmarshal(m.Data, &rec); err != nil {
				t.Fatal(err)
			}
			want := worker.Record{App: "github", EventID: ev.ID, EmployeeID: "101", Kind: event.Terminated, Sequence: 7,
				Mode: "apply", Outcome: "rejected", Actions: []connector.Action{{Op: connector.OpDeactivate}},
				OccurredAt: ev.OccurredAt, At: now}
			if got, _ := json.Marshal(rec); string(got) != string(mustJSON(t, want)) {
				t.Errorf("record\n%s\nwant\n%s", got, mustJSON(t, want))
			}
			if op := m.Header.Get(headerOperator); op != "oncall" {
				t.Errorf("%s %q, want the operator's login", headerOperator, op)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
