package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Style is the payload style a webhook was configured with.
type Style string

const (
	// StyleEvent is the recommended event-based style: one employee per
	// POST, no field values.
	StyleEvent Style = "event"
	// StyleFields is the legacy field-based ("global") style: a batch of
	// employees with the monitored fields' values.
	StyleFields Style = "fields"
)

// Action is what happened to one employee record.
type Action string

const (
	Created Action = "created"
	Updated Action = "updated"
	Deleted Action = "deleted"
)

// Change is one employee mentioned by a delivery.
type Change struct {
	EmployeeID    string
	Action        Action
	Timestamp     time.Time // zero when the payload has none or an unreadable one
	ChangedFields []string
	Fields        map[string]string // field-based style only
}

// Delivery is a decoded webhook body.
type Delivery struct {
	Style     Style
	Type      string // "employee.updated" etc.; "employee_with_fields" for batches
	CompanyID string // event-based style only
	Changes   []Change
}

// ErrShape is wrapped by every Decode error: the body will never become
// valid, so the ingester answers 400 and BambooHR does not retry.
var ErrShape = errors.New("malformed BambooHR payload")

// eventTypes maps event-based type names to actions. The docs' prose spells
// one of them "employee.update"; the spec's enum is authoritative.
var eventTypes = map[string]Action{
	"employee.created": Created,
	"employee.updated": Updated,
	"employee.deleted": Deleted,
}

// wire is the union of both styles' top-level keys.
type wire struct {
	Type      *string         `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      *wireData       `json:"data"`
	Employees *[]wireEmployee `json:"employees"`
}

type wireData struct {
	CompanyID     flexString `json:"companyId"`
	EmployeeID    flexString `json:"employeeId"`
	ChangedFields []string   `json:"changedFields"`
}

type wireEmployee struct {
	ID            flexString                 `json:"id"`
	Action        string                     `json:"action"`
	Timestamp     string                     `json:"timestamp"`
	ChangedFields []string                   `json:"changedFields"`
	Fields        map[string]json.RawMessage `json:"fields"`
}

// Decode parses a JSON delivery of either style. It is lenient where
// BambooHR is inconsistent (ids as strings or numbers, field values as
// strings or {"value": …} objects, "+0000" offsets, missing timestamps) and
// strict about structure: an error means the body can never be processed.
func Decode(body []byte) (Delivery, error) {
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrShape, shortErr(err))
	}
	switch {
	case w.Type != nil && w.Employees != nil:
		return Delivery{}, fmt.Errorf("%w: both \"type\" and \"employees\" present", ErrShape)
	case w.Type != nil:
		return decodeEvent(w)
	case w.Employees != nil:
		return decodeFields(*w.Employees)
	default:
		return Delivery{}, fmt.Errorf("%w: neither \"type\" (event-based) nor \"employees\" (field-based) present", ErrShape)
	}
}

func decodeEvent(w wire) (Delivery, error) {
	action, ok := eventTypes[*w.Type]
	if !ok {
		return Delivery{}, fmt.Errorf("%w: unsupported event type %.40q", ErrShape, *w.Type)
	}
	if w.Data == nil || w.Data.EmployeeID == "" {
		return Delivery{}, fmt.Errorf("%w: data.employeeId is missing", ErrShape)
	}
	return Delivery{
		Style:     StyleEvent,
		Type:      *w.Type,
		CompanyID: string(w.Data.CompanyID),
		Changes: []Change{{
			EmployeeID:    string(w.Data.EmployeeID),
			Action:        action,
			Timestamp:     lenientTime(w.Timestamp),
			ChangedFields: w.Data.ChangedFields,
		}},
	}, nil
}

func decodeFields(emps []wireEmployee) (Delivery, error) {
	if len(emps) == 0 {
		return Delivery{}, fmt.Errorf("%w: \"employees\" is empty", ErrShape)
	}
	d := Delivery{Style: StyleFields, Type: "employee_with_fields", Changes: make([]Change, 0, len(emps))}
	for i, e := range emps {
		if e.ID == "" {
			return Delivery{}, fmt.Errorf("%w: employees[%d].id is missing", ErrShape, i)
		}
		action, err := fieldAction(e.Action)
		if err != nil {
			return Delivery{}, fmt.Errorf("%w: employees[%d].action: %v", ErrShape, i, err)
		}
		fields := make(map[string]string, len(e.Fields))
		for name, raw := range e.Fields {
			v, err := fieldValue(raw)
			if err != nil {
				return Delivery{}, fmt.Errorf("%w: employees[%d].fields[%.40q]: %v", ErrShape, i, name, err)
			}
			fields[name] = v
		}
		d.Changes = append(d.Changes, Change{
			EmployeeID:    string(e.ID),
			Action:        action,
			Timestamp:     lenientTime(e.Timestamp),
			ChangedFields: e.ChangedFields,
			Fields:        fields,
		})
	}
	return d, nil
}

// fieldAction maps "Created|Updated|Deleted". Some real payloads (the
// Fusebit fixture) carry no action at all; such an entry still says "this
// employee changed", so it is an update.
func fieldAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "", "updated":
		return Updated, nil
	case "created":
		return Created, nil
	case "deleted":
		return Deleted, nil
	}
	return "", fmt.Errorf("unknown action %.40q", s)
}

// fieldValue accepts a scalar or {"value": scalar}; null becomes "".
func fieldValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var obj struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", shortErr(err)
		}
		if len(bytes.TrimSpace(obj.Value)) > 0 && bytes.TrimSpace(obj.Value)[0] == '{' {
			return "", errors.New("nested object value")
		}
		raw = obj.Value
	}
	return scalar(raw)
}

func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", shortErr(err)
		}
		return s, nil
	case '[', '{':
		return "", errors.New("value is not a string, number, boolean or {\"value\": …}")
	}
	return string(raw), nil // number or boolean, as written
}

// lenientTime parses a payload timestamp; an unreadable one becomes the zero
// time rather than a rejection, because the normalizer re-reads the record
// anyway and refusing would make BambooHR drop the delivery for good.
func lenientTime(s string) time.Time {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// flexString decodes a JSON string or number (ids arrive as both).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
		return nil
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		return fmt.Errorf("id is neither a string nor a number")
	}
	*f = flexString(b)
	return nil
}

// shortErr keeps decoder errors (which may quote input) short.
func shortErr(err error) error {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return errors.New(msg)
}
