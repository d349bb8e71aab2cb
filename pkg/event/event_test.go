package event

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Kind
		wantErr bool
	}{
		{name: "hired", in: "hired", want: Hired},
		{name: "updated", in: "updated", want: Updated},
		{name: "moved", in: "moved", want: Moved},
		{name: "terminated", in: "terminated", want: Terminated},
		{name: "rehired", in: "rehired", want: Rehired},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "Hired", wantErr: true},
		{name: "unknown", in: "fired", wantErr: true},
		{name: "padded", in: " moved", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKind(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseKind(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseKind(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		source     string
		employeeID string
		seq        uint64
		want       string
	}{
		{name: "numeric id", source: SourceBambooHR, employeeID: "4821", seq: 1, want: "bamboohr:4821:1"},
		{name: "id with dot is keyed", source: SourceBambooHR, employeeID: "a.b", seq: 2, want: "bamboohr:_612e62:2"},
		{name: "id with colon stays unambiguous", source: SourceBambooHR, employeeID: "x:1", seq: 3, want: "bamboohr:_783a31:3"},
		{name: "max sequence", source: SourceBambooHR, employeeID: "7", seq: math.MaxUint64, want: "bamboohr:7:18446744073709551615"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ID(tt.source, tt.employeeID, tt.seq); got != tt.want {
				t.Errorf("ID(%q, %q, %d) = %q, want %q", tt.source, tt.employeeID, tt.seq, got, tt.want)
			}
		})
	}
}

func TestEventSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{name: "safe id", ev: Event{Kind: Moved, Employee: Employee{ID: "4821"}}, want: "hr.employee.moved.4821"},
		{name: "wildcard id", ev: Event{Kind: Hired, Employee: Employee{ID: "a.>"}}, want: "hr.employee.hired._612e3e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.ev.Subject(); got != tt.want {
				t.Errorf("Subject() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMarshalJSONDefaults(t *testing.T) {
	t.Parallel()
	ev := Event{ID: "bamboohr:1:1", Kind: Hired, Source: SourceBambooHR, Sequence: 1, Employee: Employee{ID: "1"}}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	for _, want := range []string{`"schema":"employee-event.v1"`, `"changed_fields":[]`, `"previous":null`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("Marshal = %s, want it to contain %s", data, want)
		}
	}
	if strings.Contains(string(data), `"custom"`) {
		t.Errorf("Marshal = %s, want nil custom omitted", data)
	}
	// Pointer receivers take the same path.
	pdata, err := json.Marshal(&ev)
	if err != nil {
		t.Fatalf("Marshal pointer: %v", err)
	}
	if string(pdata) != string(data) {
		t.Errorf("Marshal(&ev) = %s, want %s", pdata, data)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 15, 4, 123456789, time.UTC)
	hire := Employee{
		ID: "4821", FirstName: "Amara", LastName: "Okafor", DisplayName: "Amara Okafor",
		Status: StatusActive, EmploymentStatus: "Full-Time", EmploymentType: EmploymentTypeEmployee,
		Department: "Engineering", Division: "Product", JobTitle: "Software Engineer",
		Location: "Berlin", TimeZone: "Europe/Berlin", ManagerID: "1907", HireDate: "2026-03-16",
		Custom: map[string]string{"github_username": "amara-o"},
	}
	moved := hire
	moved.Department, moved.ManagerID = "Security", "2210"
	moved.Custom = map[string]string{"github_username": "amara-o", "cost_center": "CC-305"}
	gone := Employee{
		ID: "ü.5133 >", FirstName: "Diego", LastName: "Ramírez", Status: StatusInactive,
		EmploymentStatus: "Terminated", EmploymentType: EmploymentTypeContractor,
		HireDate: "2025-01-06", TerminationDate: "2026-10-31", ContractEndDate: "2026-12-31",
	}
	goneBefore := gone
	goneBefore.Status, goneBefore.TerminationDate = StatusActive, ""

	tests := []struct {
		name string
		ev   Event
	}{
		{
			name: "hired first sighting",
			ev: Event{
				ID: ID(SourceBambooHR, hire.ID, 1), Kind: Hired, OccurredAt: at,
				EffectiveAt: time.Date(2026, 3, 16, 7, 0, 0, 0, time.UTC),
				Source:      SourceBambooHR, Sequence: 1, Employee: hire,
			},
		},
		{
			name: "moved",
			ev: Event{
				Schema: SchemaVersion, ID: ID(SourceBambooHR, moved.ID, 5), Kind: Moved,
				OccurredAt: at, EffectiveAt: at, Source: SourceBambooHR, Sequence: 5,
				Employee: moved, Previous: &hire, ChangedFields: Diff(hire, moved),
			},
		},
		{
			name: "terminated with unsafe id",
			ev: Event{
				ID: ID(SourceBambooHR, gone.ID, math.MaxUint64), Kind: Terminated,
				OccurredAt: at, EffectiveAt: at.Add(24 * time.Hour), Source: SourceBambooHR,
				Sequence: math.MaxUint64, Employee: gone, Previous: &goneBefore,
				ChangedFields: Diff(goneBefore, gone),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if err := Validate(data); err != nil {
				t.Fatalf("Validate(%s): %v", data, err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.ev
			want.Schema = SchemaVersion
			if want.ChangedFields == nil {
				want.ChangedFields = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip mismatch\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}
