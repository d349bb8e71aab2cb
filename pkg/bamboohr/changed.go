package bamboohr

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Action says what happened to an employee record.
type Action string

// Actions reported by Client.Changed. A termination is an Updated, not a
// Deleted: Deleted means the record itself was removed.
const (
	ActionInserted Action = "Inserted"
	ActionUpdated  Action = "Updated"
	ActionDeleted  Action = "Deleted"
)

// Change is one employee listed by Client.Changed.
type Change struct {
	ID          string
	Action      Action
	LastChanged time.Time
}

// Changes is the answer of Client.Changed.
type Changes struct {
	// Latest is BambooHR's "latest" timestamp: the newest change it reports.
	// It is zero when BambooHR reports none; keep the previous cursor then.
	Latest time.Time
	// Employees is sorted by ID (numerically when ids are numbers).
	Employees []Change
}

// Changed lists the employees inserted, updated or deleted since since. An
// employee appears after a change to any field, including rows of the
// employmentStatus, jobInfo and compensation tables. Timestamps have second
// resolution and BambooHR does not document whether since is inclusive, so
// poll from Latest (not later) and expect to see the last change again.
func (c *Client) Changed(ctx context.Context, since time.Time) (Changes, error) {
	q := url.Values{"since": {since.UTC().Format(time.RFC3339)}}
	body, err := c.get(ctx, "/employees/changed", q)
	if err != nil {
		return Changes{}, fmt.Errorf("list employees changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	ch, err := decodeChanges(body)
	if err != nil {
		return Changes{}, fmt.Errorf("list employees changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return ch, nil
}

type changeJSON struct {
	ID          json.RawMessage `json:"id"`
	Action      string          `json:"action"`
	LastChanged string          `json:"lastChanged"`
}

func decodeChanges(body []byte) (Changes, error) {
	var resp struct {
		Latest    *string         `json:"latest"`
		Employees json.RawMessage `json:"employees"`
	}
	if err := decodeJSON(body, &resp); err != nil {
		return Changes{}, err
	}
	var out Changes
	if resp.Latest != nil {
		t, err := parseTimestamp(*resp.Latest)
		if err != nil {
			return Changes{}, fmt.Errorf("bamboohr: latest: %w", err)
		}
		out.Latest = t
	}

	// BambooHR answers an object keyed by id; an empty set may come as [],
	// PHP's encoding of an empty array. Accept an array of entries as well.
	entries := map[string]changeJSON{}
	switch emp := bytes.TrimSpace(resp.Employees); {
	case len(emp) == 0 || string(emp) == "null":
	case emp[0] == '[':
		var list []changeJSON
		if err := json.Unmarshal(emp, &list); err != nil {
			return Changes{}, fmt.Errorf("bamboohr: decode employees: %w", err)
		}
		for i, e := range list {
			entries[strconv.Itoa(i)] = e
		}
	default:
		if err := json.Unmarshal(emp, &entries); err != nil {
			return Changes{}, fmt.Errorf("bamboohr: decode employees: %w", err)
		}
	}

	var errs []error
	out.Employees = make([]Change, 0, len(entries))
	for key, e := range entries {
		id := lenientString(e.ID)
		if id == "" {
			id = key
		}
		when, err := parseTimestamp(e.LastChanged)
		if err != nil {
			errs = append(errs, fmt.Errorf("employee %s: lastChanged: %w", id, err))
			continue
		}
		out.Employees = append(out.Employees, Change{ID: id, Action: parseAction(e.Action), LastChanged: when})
	}
	if err := errors.Join(errs...); err != nil {
		return Changes{}, fmt.Errorf("bamboohr: %w", err)
	}
	slices.SortFunc(out.Employees, func(a, b Change) int { return compareIDs(a.ID, b.ID) })
	return out, nil
}

func parseAction(s string) Action {
	for _, a := range []Action{ActionInserted, ActionUpdated, ActionDeleted} {
		if strings.EqualFold(s, string(a)) {
			return a
		}
	}
	return Action(s)
}

// compareIDs orders numeric ids by value, before any non-numeric id, which
// are ordered as strings.
func compareIDs(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		return cmp.Compare(an, bn)
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05-0700", // BambooHR's webhooks use +0000
	"2006-01-02T15:04:05-07",
	"2006-01-02T15:04:05",
	time.DateTime,
	"2006-01-02 15:04:05-07:00",
}

// parseTimestamp reads BambooHR's ISO 8601 timestamps. One without a zone
// is taken as UTC. The result is in UTC.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}
