package bamboohr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"keycard/pkg/fault"
)

// Employee status values.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Field aliases always requested by Client.Employee.
const (
	FieldFirstName        = "firstName"
	FieldLastName         = "lastName"
	FieldPreferredName    = "preferredName"
	FieldDisplayName      = "displayName"
	FieldWorkEmail        = "workEmail"
	FieldStatus           = "status"
	FieldEmploymentStatus = "employmentHistoryStatus"
	FieldDepartment       = "department"
	FieldDivision         = "division"
	FieldJobTitle         = "jobTitle"
	FieldLocation         = "location"
	FieldSupervisorID     = "supervisorEId" // the supervisor's employee id, not employee number
	FieldSupervisorEmail  = "supervisorEmail"
	FieldHireDate         = "hireDate"
	FieldTerminationDate  = "terminationDate"
)

var standardFields = []string{
	FieldFirstName, FieldLastName, FieldPreferredName, FieldDisplayName,
	FieldWorkEmail, FieldStatus, FieldEmploymentStatus, FieldDepartment,
	FieldDivision, FieldJobTitle, FieldLocation, FieldSupervisorID,
	FieldSupervisorEmail, FieldHireDate, FieldTerminationDate,
}

// Employee is one person's record as BambooHR returns it. A field the API
// key may not see, or that is empty, is "". Dates are "YYYY-MM-DD" or "".
type Employee struct {
	ID            string
	FirstName     string
	LastName      string
	PreferredName string
	DisplayName   string
	WorkEmail     string
	// Status is StatusActive or StatusInactive.
	Status string
	// EmploymentStatus is employmentHistoryStatus: the current employment
	// status, with options set per tenant (Full-Time, Contractor, ...).
	EmploymentStatus string
	Department       string
	Division         string
	JobTitle         string
	Location         string
	// TimeZone comes from Config.TimeZoneField.
	TimeZone string
	// SupervisorID is the current supervisor's employee id (supervisorEId).
	SupervisorID    string
	SupervisorEmail string
	HireDate        string
	TerminationDate string
	// ContractEndDate comes from Config.ContractEndField.
	ContractEndDate string
	// Custom holds Config.CustomFields that BambooHR returned, by alias;
	// nil when none did.
	Custom map[string]string
}

// Employee fetches one employee's current record. It returns an error
// matching ErrNotFound when BambooHR has no such employee.
//
// It asks for onlyCurrent=true: department, job title and the other
// history-tracked fields are today's values, never future-dated ones; see
// the package documentation.
func (c *Client) Employee(ctx context.Context, id string) (Employee, error) {
	if strings.TrimSpace(id) == "" {
		return Employee{}, fault.Permanent(errors.New("get employee: empty id"))
	}
	q := url.Values{"fields": {c.fields}, "onlyCurrent": {"true"}}
	body, err := c.get(ctx, "/employees/"+url.PathEscape(id), q)
	if err != nil {
		return Employee{}, fmt.Errorf("get employee %s: %w", id, err)
	}
	raw, err := decodeObject(body)
	if err != nil {
		return Employee{}, fmt.Errorf("get employee %s: %w", id, err)
	}
	e, err := decodeEmployee(raw, c.fieldMap)
	if err != nil {
		return Employee{}, fmt.Errorf("get employee %s: %w", id, err)
	}
	if e.ID == "" {
		e.ID = id
	}
	return e, nil
}

// DecodeRecord maps one record of field values by BambooHR alias (an
// object of the directory or of a custom report, or a row of an HR
// export with BambooHR's column names, each cell a JSON string) to an
// Employee exactly as Client.Employee decodes its answer: lenient values,
// "0000-00-00" as no date, dates checked. cfg's CustomFields,
// ContractEndField and TimeZoneField say which aliases fill Custom,
// ContractEndDate and TimeZone; the rest of cfg is not used. It exists so
// that a tool reading an export (provctl simulate) decodes it with the
// client's own rules rather than a copy of them.
func DecodeRecord(raw map[string]json.RawMessage, cfg Config) (Employee, error) {
	return decodeEmployee(raw, cfg.fieldMap())
}

func (cfg Config) fieldMap() fieldMap {
	return fieldMap{custom: append([]string(nil), cfg.CustomFields...), contractEnd: cfg.ContractEndField, timeZone: cfg.TimeZoneField}
}

// fieldMap says which configured aliases fill Employee.TimeZone,
// ContractEndDate and Custom.
type fieldMap struct {
	custom      []string
	contractEnd string
	timeZone    string
}

// decodeEmployee maps one JSON object of field values to an Employee.
func decodeEmployee(raw map[string]json.RawMessage, fm fieldMap) (Employee, error) {
	s := func(alias string) string {
		if alias == "" {
			return ""
		}
		v, ok := raw[alias]
		if !ok {
			return ""
		}
		return normalizeEmpty(lenientString(v))
	}
	e := Employee{
		ID:               s("id"),
		FirstName:        s(FieldFirstName),
		LastName:         s(FieldLastName),
		PreferredName:    s(FieldPreferredName),
		DisplayName:      s(FieldDisplayName),
		WorkEmail:        s(FieldWorkEmail),
		Status:           s(FieldStatus),
		EmploymentStatus: s(FieldEmploymentStatus),
		Department:       s(FieldDepartment),
		Division:         s(FieldDivision),
		JobTitle:         s(FieldJobTitle),
		Location:         s(FieldLocation),
		TimeZone:         s(fm.timeZone),
		SupervisorID:     s(FieldSupervisorID),
		SupervisorEmail:  s(FieldSupervisorEmail),
	}
	var errs []error
	date := func(alias string) string {
		d, err := normalizeDate(s(alias))
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", alias, err))
		}
		return d
	}
	e.HireDate = date(FieldHireDate)
	e.TerminationDate = date(FieldTerminationDate)
	if fm.contractEnd != "" {
		e.ContractEndDate = date(fm.contractEnd)
	}
	for _, alias := range fm.custom {
		if v, ok := raw[alias]; ok {
			if e.Custom == nil {
				e.Custom = make(map[string]string, len(fm.custom))
			}
			e.Custom[alias] = normalizeEmpty(lenientString(v))
		}
	}
	return e, errors.Join(errs...)
}

// decodeObject decodes a JSON object into its raw members.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("bamboohr: response is null, want a JSON object")
	}
	return raw, nil
}

// decodeJSON decodes body into v, explaining XML or HTML answers (BambooHR
// answers XML when Accept is not honoured; proxies answer HTML).
func decodeJSON(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '<' {
		return errors.New("bamboohr: response is XML or HTML, not JSON")
	}
	d := json.NewDecoder(bytes.NewReader(trimmed))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("bamboohr: decode response: %w", err)
	}
	return nil
}

// lenientString turns a JSON value into text: strings as they are, numbers
// as written, null as "", booleans as "true"/"false", {"value": x} as x.
// Anything else keeps its compact JSON text.
func lenientString(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case 'n':
		return ""
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return strings.TrimSpace(s)
		}
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) == nil {
			if inner, ok := obj["value"]; ok {
				return lenientString(inner)
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

// normalizeEmpty maps BambooHR's empty date "0000-00-00" (optionally with a
// zero time) to "".
func normalizeEmpty(s string) string {
	if strings.HasPrefix(s, "0000-00-00") && strings.Trim(s[len("0000-00-00"):], " T0:") == "" {
		return ""
	}
	return s
}

// normalizeDate returns s as "YYYY-MM-DD". It accepts "", a date, or a date
// followed by a time ("2024-01-02T00:00:00+00:00", "2024-01-02 00:00:00").
func normalizeDate(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) >= 10 {
		if _, err := time.Parse(time.DateOnly, s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return s[:10], nil
		}
	}
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return "", fmt.Errorf("invalid date %q, want YYYY-MM-DD", s)
}
