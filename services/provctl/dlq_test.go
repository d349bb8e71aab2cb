package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"keycard/pkg/deadletter"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

func TestDLQList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	longErr := "scim: 400 Bad Request: " + strings.Repeat("userName must be unique; ", 10)
	slackOld := h.deadLetter(deadLetterSpec{app: "slack", kind: "hired", key: "101", class: deadletter.ClassPermanent,
		attempts: 1, failedAt: now.Add(-3 * time.Hour), err: longErr, origSeq: 1})
	slackNew := h.deadLetter(deadLetterSpec{app: "slack", kind: "moved", key: "102", class: deadletter.ClassExhausted,
		attempts: 12, failedAt: now.Add(-time.Hour), err: "slack: 503 Service Unavailable", origSeq: 2})
	github := h.deadLetter(deadLetterSpec{app: "github", kind: "terminated", key: "_612e62", class: deadletter.ClassPermanent,
		attempts: 1, failedAt: now.Add(-30 * time.Minute), err: "github: 404 team not found", origSeq: 3})
	normalizer := h.deadLetter(deadLetterSpec{app: "normalizer", kind: "bamboohr", key: "delivery", class: deadletter.ClassPermanent,
		attempts: 1, failedAt: now.Add(-10 * time.Minute), err: "poison message: bad JSON", origStream: streams.Inbox,
		origSubject: "hr.inbox.bamboohr", origSeq: 9, body: []byte("{not json")})

	tests := []struct {
		name string
		args []string
		want []string // sequence numbers listed, in order
	}{
		{name: "all", args: nil, want: seqs(slackOld, slackNew, github, normalizer)},
		{name: "app", args: []string{"--app", "slack"}, want: seqs(slackOld, slackNew)},
		{name: "class", args: []string{"--class", "permanent"}, want: seqs(slackOld, github, normalizer)},
		{name: "since duration", args: []string{"--since", "2h"}, want: seqs(slackNew, github, normalizer)},
		{name: "since and until", args: []string{"--since", "2h", "--until", "20m"}, want: seqs(slackNew, github)},
		{name: "since RFC 3339", args: []string{"--since", now.Add(-45 * time.Minute).UTC().Format(time.RFC3339)}, want: seqs(github, normalizer)},
		{name: "app and class", args: []string{"--app", "slack", "--class", "exhausted"}, want: seqs(slackNew)},
		{name: "nothing", args: []string{"--app", "zoom"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := h.run(append([]string{"dlq", "list"}, tt.args...)...)
			wantOK(t, o)
			if got := column(o.stdout); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v\n%s", got, tt.want, o.stdout)
			}

			o = h.run(append([]string{"dlq", "list", "--json"}, tt.args...)...)
			wantOK(t, o)
			var got []string
			for line := range strings.Lines(o.stdout) {
				var d deadLetter
				if err := json.Unmarshal([]byte(line), &d); err != nil {
					t.Fatalf("JSON line %q: %v", line, err)
				}
				got = append(got, strconv.FormatUint(d.Seq, 10))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("--json listed %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("columns", func(t *testing.T) {
		t.Parallel()
		o := h.run("dlq", "list")
		wantOK(t, o)
		lines := strings.Split(o.stdout, "\n")
		for _, col := range []string{"SEQ", "APP", "KIND", "EMPLOYEE", "CLASS", "ATTEMPTS", "FAILED AT", "ERROR"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header %q lacks %s", lines[0], col)
			}
		}
		r := rows(o.stdout)
		if want := []string{seqs(slackNew)[0], "slack", "moved", "102", "exhausted", "12"}; !slices.Equal(r[1][:6], want) {
			t.Errorf("row %v, want it to start %v", r[1], want)
		}
		if r[2][3] != "a.b" {
			t.Errorf("employee %q, want the HR id a.b decoded from key _612e62", r[2][3])
		}
		if r[3][3] != "-" {
			t.Errorf("normalizer dead letter employee %q, want -", r[3][3])
		}
		errCol := lines[1][strings.Index(lines[0], "ERROR"):]
		if n := utf8.RuneCountInString(errCol); n > errorWidth || !strings.HasSuffix(errCol, "…") {
			t.Errorf("error column %q (%d runes): want it cut to %d with …", errCol, n, errorWidth)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"dlq", "list", "--class", "sometimes"},
			{"dlq", "list", "--since", "yesterday-ish"},
			{"dlq", "list", "--app", "sl.ack"},
			{"dlq", "list", "--since", "1h", "--until", "2h"},
			{"dlq", "frobnicate"},
		} {
			o := h.run(args...)
			if o.err == nil || exitCode(o.err) != 2 {
				t.Errorf("%v: err = %v, want a usage error (exit 2)", args, o.err)
			}
		}
	})
}

func TestDLQShow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := newEvent(event.Hired, 1, time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), employee("101"), nil)
	body, _ := json.Marshal(e)
	seq := h.deadLetter(deadLetterSpec{app: "slack", kind: "hired", key: "101", class: deadletter.ClassPermanent,
		attempts: 3, failedAt: time.Date(2025, 3, 3, 9, 0, 5, 0, time.UTC), err: "scim: 400 invalid email",
		origSeq: 7, body: body, header: nats.Header{event.HeaderEventID: {e.ID}}})

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "text", args: []string{"dlq", "show", strconv.FormatUint(seq, 10)}, want: []string{
			"Error class:        permanent", "Attempts:           3", "Failed at:          2025-03-03T09:00:05Z",
			"Error:              scim: 400 invalid email", "Original stream:    HR_EVENTS",
			"Original subject:   hr.employee.hired.101", "Original sequence:  7",
			"  Keycard-Dlq-Error-Class: permanent", "  Keycard-Event-Id: bamboohr:101:1",
			"\n  \"kind\": \"hired\",", "\n    \"department\": \"Engineering\",",
		}},
		{name: "flags after the argument", args: []string{"dlq", "show", strconv.FormatUint(seq, 10), "--json"},
			want: []string{`"original_subject": "hr.employee.hired.101"`, `"Keycard-Dlq-Attempts": [`, `"kind": "hired"`}},
		{name: "gone", args: []string{"dlq", "show", "999"}, wantErr: "dead letter 999 not found"},
		{name: "not a number", args: []string{"dlq", "show", "x"}, wantErr: `"x" is not a sequence number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := h.run(tt.args...)
			if tt.wantErr != "" {
				if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", o.err, tt.wantErr)
				}
				return
			}
			wantOK(t, o)
			for _, w := range tt.want {
				if !strings.Contains(o.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, o.stdout)
				}
			}
		})
	}
}

func TestDLQReplay(t *testing.T) {
	t.Parallel()
	e := newEvent(event.Moved, 4, time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), employee("a.b"), nil)
	body, _ := json.Marshal(e)
	spec := deadLetterSpec{app: "slack", kind: "moved", key: event.EmployeeKey("a.b"), class: deadletter.ClassExhausted,
		attempts: 12, failedAt: time.Now(), err: "slack: 503", origSeq: 40, body: body,
		header: nats.Header{event.HeaderEventID: {e.ID}, event.HeaderKind: {"moved"}, event.HeaderTraceparent: {"00-abc-01"}}}

	tests := []struct {
		name string
		// prior runs provctl before the replays under test, as another
		// operator would have.
		prior   func(h *harness, seq uint64)
		replays int
		want    []string // each replay's row after SEQ, in order
	}{
		{name: "twice in a row", replays: 2,
			want: []string{"slack a.b replayed", "- - gone (already replayed or purged)"}},
		{name: "another operator's replay already stored", replays: 1,
			prior: func(h *harness, seq uint64) {
				d := parseDeadLetter(stored{Seq: seq, Subject: "dlq.slack.moved." + spec.key, Header: func() nats.Header {
					m, _ := h.js.Stream(h.t.Context(), streams.DLQ)
					raw, err := m.GetMsg(h.t.Context(), seq)
					if err != nil {
						h.t.Fatal(err)
					}
					return raw.Header
				}(), Data: body})
				_, msg, err := replayMessage(d)
				if err != nil {
					h.t.Fatal(err)
				}
				h.publish(msg)
			},
			want: []string{"slack a.b already replayed (duplicate)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			seq := h.deadLetter(spec)
			if tt.prior != nil {
				tt.prior(h, seq)
			}
			for i := range tt.replays {
				o := h.run("dlq", "replay", strconv.FormatUint(seq, 10))
				wantOK(t, o)
				r := rows(o.stdout)
				if len(r) != 1 {
					t.Fatalf("replay %d: %d rows, want 1:\n%s", i+1, len(r), o.stdout)
				}
				if got := strings.Join(r[0][1:], " "); got != tt.want[i] || r[0][0] != strconv.FormatUint(seq, 10) {
					t.Errorf("replay %d: row %v, want %d %s", i+1, r[0], seq, tt.want[i])
				}
			}

			if h.exists(streams.DLQ, seq) {
				t.Error("the dead letter is still in HR_DLQ")
			}
			got := h.messages(streams.Replay)
			if len(got) != 1 {
				t.Fatalf("HR_REPLAY holds %d messages, want exactly 1", len(got))
			}
			m := got[0]
			if want := "replay.slack._612e62"; m.Subject != want {
				t.Errorf("subject %q, want %q", m.Subject, want)
			}
			for k, want := range map[string]string{
				"Nats-Msg-Id":             fmt.Sprintf("replay:slack:%d", seq),
				headerReplayOf:            strconv.FormatUint(seq, 10),
				event.HeaderEventID:       e.ID,
				event.HeaderKind:          "moved",
				event.HeaderTraceparent:   "00-abc-01",
				deadletter.HeaderApp:      "",
				deadletter.HeaderError:    "",
				deadletter.HeaderSequence: "",
			} {
				if got := m.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if string(m.Data) != string(body) {
				t.Errorf("body changed:\n%s\nwant\n%s", m.Data, body)
			}
		})
	}
}

func TestDLQReplayNormalizer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delivery := []byte(`{"employees":[{"id":"101","action":"Updated"}]}`)
	seq := h.deadLetter(deadLetterSpec{app: "normalizer", kind: "bamboohr", key: "delivery", class: deadletter.ClassExhausted,
		attempts: 12, failedAt: time.Now(), err: "bamboohr: 503", origStream: streams.Inbox, origSubject: "hr.inbox.bamboohr",
		origSeq: 5, body: delivery, header: nats.Header{event.HeaderOccurredAt: {"2025-03-03T09:00:00Z"}}})

	o := h.run("dlq", "replay", strconv.FormatUint(seq, 10))
	wantOK(t, o)
	if r := rows(o.stdout); len(r) != 1 || r[0][1] != "normalizer" || r[0][3] != "replayed" {
		t.Fatalf("rows %v, want one replayed normalizer entry:\n%s", r, o.stdout)
	}
	got := h.messages(streams.Inbox)
	if len(got) != 1 {
		t.Fatalf("HR_INBOX holds %d messages, want 1", len(got))
	}
	m := got[0]
	if m.Subject != "hr.inbox.bamboohr" || string(m.Data) != string(delivery) {
		t.Errorf("got %s %s, want hr.inbox.bamboohr %s", m.Subject, m.Data, delivery)
	}
	if got, want := m.Header.Get("Nats-Msg-Id"), fmt.Sprintf("replay:normalizer:%d", seq); got != want {
		t.Errorf("Nats-Msg-Id %q, want %q", got, want)
	}
	if got := m.Header.Get(event.HeaderOccurredAt); got != "2025-03-03T09:00:00Z" {
		t.Errorf("%s %q, want the delivery's own header kept", event.HeaderOccurredAt, got)
	}
	if len(h.messages(streams.Replay)) != 0 {
		t.Error("a normalizer dead letter went to HR_REPLAY")
	}
	if h.exists(streams.DLQ, seq) {
		t.Error("the dead letter is still in HR_DLQ")
	}
}

func TestDLQReplayBulk(t *testing.T) {
	t.Parallel()
	const many = confirmThreshold + 5
	tests := []struct {
		name         string
		args         []string
		stdin        string
		wantErr      string
		wantReplayed int
		wantProgress bool
	}{
		{name: "many without an answer", args: []string{"--app", "google"}, stdin: "", wantErr: "aborted"},
		{name: "many, answered no", args: []string{"--app", "google"}, stdin: "n\n", wantErr: "aborted"},
		{name: "many, answered yes", args: []string{"--app", "google"}, stdin: "y\n", wantReplayed: many, wantProgress: true},
		{name: "many with --yes", args: []string{"--all", "--yes"}, wantReplayed: many + 1, wantProgress: true},
		{name: "a few need no answer", args: []string{"--app", "slack"}, wantReplayed: 1},
		{name: "filter by class", args: []string{"--class", "permanent", "--yes"}, wantReplayed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for i := range many {
				h.deadLetter(deadLetterSpec{app: "google", kind: "hired", key: strconv.Itoa(200 + i), class: deadletter.ClassExhausted,
					attempts: 12, failedAt: time.Now(), err: "google: 503", origSeq: uint64(i + 1), body: []byte("{}")})
			}
			h.deadLetter(deadLetterSpec{app: "slack", kind: "hired", key: "300", class: deadletter.ClassPermanent,
				attempts: 1, failedAt: time.Now(), err: "scim: 409", origSeq: 99, body: []byte("{}")})

			o := h.runWith(tt.stdin, time.Now(), append([]string{"dlq", "replay"}, tt.args...)...)
			if tt.wantErr != "" {
				if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", o.err, tt.wantErr)
				}
				if !strings.Contains(o.stderr, fmt.Sprintf("replay %d dead letters? [y/N]", many)) {
					t.Errorf("stderr lacks the question:\n%s", o.stderr)
				}
			} else {
				wantOK(t, o)
			}
			if got := len(h.messages(streams.Replay)); got != tt.wantReplayed {
				t.Errorf("HR_REPLAY holds %d, want %d", got, tt.wantReplayed)
			}
			if got := len(h.messages(streams.DLQ)); got != many+1-tt.wantReplayed {
				t.Errorf("HR_DLQ holds %d, want %d", got, many+1-tt.wantReplayed)
			}
			progress := fmt.Sprintf("replayed %d/%d", tt.wantReplayed, tt.wantReplayed)
			if got := strings.Contains(o.stderr, progress); got != tt.wantProgress {
				t.Errorf("stderr has %q: %v, want %v\n%s", progress, got, tt.wantProgress, o.stderr)
			}
		})
	}

	t.Run("selection", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, args := range [][]string{
			{"dlq", "replay"},
			{"dlq", "replay", "1", "--all"},
			{"dlq", "replay", "1", "--app", "slack"},
			{"dlq", "replay", "--all", "--class", "permanent"},
			{"dlq", "purge", "0"},
		} {
			if o := h.run(args...); o.err == nil || exitCode(o.err) != 2 {
				t.Errorf("%v: err = %v, want a usage error", args, o.err)
			}
		}
	})
}

func TestDLQPurge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantErr  string
		wantGone []int // indexes of the seeded entries deleted
		wantRows []string
	}{
		{name: "asks first", args: []string{"1"}, wantErr: "aborted"},
		{name: "answered yes", args: []string{"1"}, stdin: "yes\n", wantGone: []int{0}, wantRows: []string{"purged"}},
		{name: "by sequence", args: []string{"1", "3", "77", "--yes"}, wantGone: []int{0, 2},
			wantRows: []string{"purged", "purged", "gone (already replayed or purged)"}},
		{name: "by app", args: []string{"--app", "github", "--yes"}, wantGone: []int{2}, wantRows: []string{"purged"}},
		{name: "all", args: []string{"--all", "--yes"}, wantGone: []int{0, 1, 2}, wantRows: []string{"purged", "purged", "purged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var seeded []uint64
			for i, app := range []string{"slack", "slack", "github"} {
				seeded = append(seeded, h.deadLetter(deadLetterSpec{app: app, kind: "hired", key: strconv.Itoa(100 + i),
					class: deadletter.ClassPermanent, attempts: 1, failedAt: time.Now(), err: "x", origSeq: uint64(i + 1)}))
			}
			o := h.runWith(tt.stdin, time.Now(), append([]string{"dlq", "purge"}, tt.args...)...)
			if tt.wantErr != "" {
				if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", o.err, tt.wantErr)
				}
			} else {
				wantOK(t, o)
			}
			var results []string
			for _, r := range rows(o.stdout) {
				results = append(results, strings.Join(r[3:], " "))
			}
			if !slices.Equal(results, tt.wantRows) {
				t.Errorf("results %v, want %v\n%s", results, tt.wantRows, o.stdout)
			}
			for i, seq := range seeded {
				if gone := !h.exists(streams.DLQ, seq); gone != slices.Contains(tt.wantGone, i) {
					t.Errorf("entry %d (seq %d) deleted: %v, want %v", i, seq, gone, !gone)
				}
			}
		})
	}
}
