package bamboohr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Directory lists the employees in BambooHR's directory: Active employees
// only, with the directory's fields (names, work email, job title,
// department, division, location). Status is StatusActive for all of them;
// other fields, including SupervisorID and dates, are empty. The result is
// sorted by ID.
//
// BambooHR answers 404 when the directory is empty; Directory returns an
// empty list then. A 404 can also come from a wrong base URL, so do not take
// an empty directory as proof that everyone left.
func (c *Client) Directory(ctx context.Context) ([]Employee, error) {
	body, err := c.get(ctx, "/employees/directory", nil)
	if errors.Is(err, ErrNotFound) {
		return []Employee{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list directory: %w", err)
	}
	var resp struct {
		Employees []map[string]json.RawMessage `json:"employees"`
	}
	if err := decodeJSON(body, &resp); err != nil {
		return nil, fmt.Errorf("list directory: %w", err)
	}
	out := make([]Employee, 0, len(resp.Employees))
	for i, raw := range resp.Employees {
		e, err := decodeEmployee(raw, fieldMap{})
		if err != nil {
			return nil, fmt.Errorf("list directory: entry %d: %w", i, err)
		}
		if e.ID == "" {
			return nil, fmt.Errorf("list directory: entry %d has no id", i)
		}
		if e.Status == "" {
			e.Status = StatusActive
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Employee) int { return compareIDs(a.ID, b.ID) })
	return out, nil
}
