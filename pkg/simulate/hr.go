package simulate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"keycard/pkg/bamboohr"
)

// ReadHR reads an HR export: CSV whose header row holds BambooHR's field
// aliases (id, firstName, lastName, workEmail, department, jobTitle,
// status, employmentHistoryStatus, hireDate, terminationDate,
// supervisorEId, … and any of fields' custom aliases), or JSON: an array
// of such records, or BambooHR's directory or custom-report shape (an
// object whose "employees" is that array). The format is sniffed from the
// first non-blank byte ('[' or '{' is JSON). Each record is decoded by
// bamboohr.DecodeRecord, the client's own rules, so an export and the
// live tenant read alike. A record without an id is an error naming its
// line or index. progress, if not nil, is told of every record.
func ReadHR(r io.Reader, fields bamboohr.Config, progress *Progress) ([]bamboohr.Employee, error) {
	br := bufio.NewReader(r)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	if first == '[' || first == '{' {
		return readJSON(br, fields, progress)
	}
	return readCSV(br, fields, progress)
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, errors.New("hr export is empty")
		}
		if err != nil {
			return 0, fmt.Errorf("read hr export: %w", err)
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // a UTF-8 byte-order mark, as spreadsheets write one
			_, _ = br.Discard(2)
			continue
		}
		return b, br.UnreadByte()
	}
}

func readCSV(r io.Reader, fields bamboohr.Config, progress *Progress) ([]bamboohr.Employee, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short row is blank trailing cells, as spreadsheets write them
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("hr export: header row: %w", err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
	}
	if !slices.Contains(header, "id") {
		return nil, fmt.Errorf("hr export: the header row has no id column (want BambooHR's field names: id, firstName, lastName, workEmail, …)")
	}
	var out []bamboohr.Employee
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("hr export: %w", err)
		}
		line, _ := cr.FieldPos(0)
		raw := make(map[string]json.RawMessage, len(header))
		for i, cell := range row {
			if i < len(header) && header[i] != "" {
				raw[header[i]], _ = json.Marshal(cell) // a string always marshals
			}
		}
		e, err := record(raw, fields)
		if err != nil {
			return nil, fmt.Errorf("hr export: line %d: %w", line, err)
		}
		out = append(out, e)
		progress.Add(1)
	}
	return out, nil
}

func readJSON(r io.Reader, fields bamboohr.Config, progress *Progress) ([]bamboohr.Employee, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read hr export: %w", err)
	}
	var list []map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		var doc struct {
			Employees []map[string]json.RawMessage `json:"employees"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("hr export: %w", err)
		}
		list = doc.Employees
	} else if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("hr export: %w", err)
	}
	out := make([]bamboohr.Employee, 0, len(list))
	for i, raw := range list {
		e, err := record(raw, fields)
		if err != nil {
			return nil, fmt.Errorf("hr export: record %d: %w", i, err)
		}
		out = append(out, e)
		progress.Add(1)
	}
	return out, nil
}

func record(raw map[string]json.RawMessage, fields bamboohr.Config) (bamboohr.Employee, error) {
	e, err := bamboohr.DecodeRecord(raw, fields)
	if err != nil {
		return e, err
	}
	if e.ID == "" {
		return e, errors.New("no id")
	}
	if e.Status == "" {
		e.Status = bamboohr.StatusActive // as the directory lists only active people
	}
	return e, nil
}

// Tenant is the part of the BambooHR client FetchHR reads with.
type Tenant interface {
	Directory(ctx context.Context) ([]bamboohr.Employee, error)
	Changed(ctx context.Context, since time.Time) (bamboohr.Changes, error)
	Employee(ctx context.Context, id string) (bamboohr.Employee, error)
}

// FetchHR reads the live tenant read-only, as the normalizer's sweep and
// poller do: the directory's active people and everyone changed since
// since (leavers and future hires, whom the directory does not list),
// then each one's full record. Someone who left before since is not read:
// an account of theirs shows up as an orphan. A record that 404s between
// the listing and its fetch is skipped.
func FetchHR(ctx context.Context, t Tenant, since time.Time, progress *Progress) ([]bamboohr.Employee, error) {
	dir, err := t.Directory(ctx)
	if err != nil {
		return nil, err
	}
	changed, err := t.Changed(ctx, since)
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range dir {
		if !seen[e.ID] {
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
	}
	for _, c := range changed.Employees {
		if !seen[c.ID] && c.Action != bamboohr.ActionDeleted {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	out := make([]bamboohr.Employee, 0, len(ids))
	for _, id := range ids {
		e, err := t.Employee(ctx, id)
		if errors.Is(err, bamboohr.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		progress.Add(1)
	}
	return out, nil
}
