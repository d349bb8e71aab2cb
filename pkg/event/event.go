// Package event defines Keycard's canonical employee lifecycle event: the
// snapshot of one person as the HR system reports it now, the previous
// snapshot, and how the two differ.
//
// The normalizer publishes one [Event] per observed change to the HR_EVENTS
// stream on [Subject]; every worker consumes it. Events are level-triggered:
// Employee is the whole truth as of Sequence, so redelivery and replay are
// harmless and ordering only needs a stale check on Sequence.
//
// The wire format is fixed by the JSON Schema employee-event.v1.json
// (see [Validate]).
package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// SchemaVersion is the value of Event.Schema for this contract. A breaking
// change to the wire format gets a new schema file and a new version.
const SchemaVersion = "employee-event.v1"

// SourceBambooHR is the Source of events derived from BambooHR.
const SourceBambooHR = "bamboohr"

// Employee status values.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Employment types, derived by the normalizer from EmploymentStatus. The
// empty string means unknown.
const (
	EmploymentTypeEmployee   = "employee"
	EmploymentTypeContractor = "contractor"
)

// Employee is the snapshot of one person. Dates are calendar dates
// "YYYY-MM-DD" (the HR system's day, no time zone) or "" for none.
type Employee struct {
	ID            string `json:"id"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	PreferredName string `json:"preferred_name"`
	DisplayName   string `json:"display_name"`
	WorkEmail     string `json:"work_email"`
	// Status is StatusActive or StatusInactive.
	Status string `json:"status"`
	// EmploymentStatus is free text from HR ("Full-Time", "Contractor",
	// "Terminated", ...).
	EmploymentStatus string `json:"employment_status"`
	// EmploymentType is EmploymentTypeEmployee, EmploymentTypeContractor or "".
	EmploymentType  string `json:"employment_type"`
	Department      string `json:"department"`
	Division        string `json:"division"`
	JobTitle        string `json:"job_title"`
	Location        string `json:"location"`
	TimeZone        string `json:"time_zone"` // IANA name, or "" when unknown
	ManagerID       string `json:"manager_id"`
	HireDate        string `json:"hire_date"`
	TerminationDate string `json:"termination_date"`
	ContractEndDate string `json:"contract_end_date"`
	// Custom holds configured custom HR fields by name. Nil and empty are
	// equivalent; an empty map is omitted on the wire.
	Custom map[string]string `json:"custom,omitempty"`
}

// Kind classifies a change.
type Kind string

// The lifecycle kinds, also the <kind> token of the event subject.
const (
	Hired      Kind = "hired"
	Updated    Kind = "updated"
	Moved      Kind = "moved"
	Terminated Kind = "terminated"
	Rehired    Kind = "rehired"
)

// Kinds lists every Kind, in lifecycle order.
var Kinds = []Kind{Hired, Updated, Moved, Terminated, Rehired}

// ParseKind returns the Kind named s, which must be one of the constants
// exactly (lower case).
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("parse kind %q: unknown kind", s)
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Event is the canonical lifecycle event carried on HR_EVENTS.
type Event struct {
	// Schema is SchemaVersion; MarshalJSON fills it in when empty.
	Schema string `json:"schema"`
	// ID is deterministic, see [ID].
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// OccurredAt is when the change was observed.
	OccurredAt time.Time `json:"occurred_at"`
	// EffectiveAt is when it takes effect (OccurredAt unless future-dated).
	EffectiveAt time.Time `json:"effective_at"`
	Source      string    `json:"source"`
	// Sequence is the per-employee version, strictly increasing from 1.
	Sequence uint64   `json:"sequence"`
	Employee Employee `json:"employee"`
	// Previous is the last known snapshot, nil on first sighting.
	Previous *Employee `json:"previous"`
	// ChangedFields is Diff(*Previous, Employee); empty when Previous is nil.
	ChangedFields []string `json:"changed_fields"`
}

// MarshalJSON encodes e in the employee-event.v1 shape. It fills in Schema
// when empty and writes a nil ChangedFields as [] (the schema requires an
// array), so a zero-valued field never produces an invalid document.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // no methods: avoids recursing into MarshalJSON
	p := plain(e)
	if p.Schema == "" {
		p.Schema = SchemaVersion
	}
	if p.ChangedFields == nil {
		p.ChangedFields = []string{}
	}
	return json.Marshal(p)
}

// TookEffect is when e's change took effect: the later of when HR
// observed it and when it is dated, so a hire entered a week ahead is
// measured from its start, not from the typing (time-to-access and
// time-to-revoke: the worker's metric and provctl report activity).
func (e Event) TookEffect() time.Time {
	if e.EffectiveAt.After(e.OccurredAt) {
		return e.EffectiveAt
	}
	return e.OccurredAt
}

// Subject is the HR_EVENTS subject for e: Subject(e.Kind, EmployeeKey(e.Employee.ID)).
func (e Event) Subject() string {
	return Subject(e.Kind, EmployeeKey(e.Employee.ID))
}

// ID returns the deterministic event id "<source>:<employeeKey>:<seq>", where
// employeeKey is EmployeeKey(employeeID), so ID("bamboohr", "123", 7) is
// "bamboohr:123:7". The same snapshot version always gets the same id, which
// makes it usable as Nats-Msg-Id (publish dedup) and as the idempotency
// ledger key. The id is header-safe and unambiguous: source contains no ':',
// the key only [A-Za-z0-9_-], and seq is decimal.
func ID(source, employeeID string, seq uint64) string {
	return source + ":" + EmployeeKey(employeeID) + ":" + strconv.FormatUint(seq, 10)
}
