package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// table writes aligned columns for people.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one line; a cell never contains a tab or a line break.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		c = strings.NewReplacer("\t", " ", "\r", " ", "\n", " ").Replace(c)
		if c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// jsonLines writes one JSON document per line, for scripts.
func jsonLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// when formats a time for a table: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func joinOrDash(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ",")
}

// body renders a message body for people: indented JSON when it is JSON,
// the text when it is text, a note otherwise.
func body(data []byte) string {
	if len(data) == 0 {
		return "(empty)"
	}
	var buf bytes.Buffer
	if json.Valid(data) && json.Indent(&buf, data, "", "  ") == nil {
		return buf.String()
	}
	if utf8.Valid(data) {
		return string(data)
	}
	return fmt.Sprintf("(%d bytes of binary data)", len(data))
}

// rawBody is a message body inside a JSON document: itself when it is
// JSON, a string otherwise.
func rawBody(data []byte) any {
	if len(data) > 0 && json.Valid(data) {
		return json.RawMessage(data)
	}
	return string(data)
}
