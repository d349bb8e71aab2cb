package webhook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want Delivery
	}{
		{
			name: "vector A: field-based, {value} objects, no action or timestamp",
			body: string(readTestdata(t, "vector-a.json")),
			want: Delivery{Style: StyleFields, Type: "employee_with_fields", Changes: []Change{{
				EmployeeID: "5", Action: Updated, ChangedFields: []string{"First name"},
				Fields: map[string]string{"Employee #": "300", "First name": "Tefi", "Last name": "Adams"},
			}}},
		},
		{
			name: "vector B: event-based update with +0000",
			body: string(readTestdata(t, "vector-b.json")),
			want: Delivery{Style: StyleEvent, Type: "employee.updated", CompanyID: "12345", Changes: []Change{{
				EmployeeID: "67890", Action: Updated, Timestamp: ts, ChangedFields: []string{"jobTitle", "department"},
			}}},
		},
		{
			name: "vector C: field-based termination with plain strings",
			body: string(readTestdata(t, "vector-c.json")),
			want: Delivery{Style: StyleFields, Type: "employee_with_fields", Changes: []Change{{
				EmployeeID: "67890", Action: Updated, Timestamp: ts.Add(5 * time.Second),
				ChangedFields: []string{"Status", "Employment Status"},
				Fields:        map[string]string{"Status": "Inactive", "Employment Status": "Terminated", "Termination Date": "2026-11-30", "Work Email": "jane.doe@example.com"},
			}}},
		},
		{
			name: "event-based created, numeric ids, Z timestamp",
			body: `{"type":"employee.created","timestamp":"2026-11-25T18:00:00Z","data":{"companyId":12345,"employeeId":42}}`,
			want: Delivery{Style: StyleEvent, Type: "employee.created", CompanyID: "12345", Changes: []Change{{EmployeeID: "42", Action: Created, Timestamp: ts}}},
		},
		{
			name: "event-based deleted, unreadable timestamp kept as zero",
			body: `{"type":"employee.deleted","timestamp":"soon","data":{"companyId":"1","employeeId":"7"}}`,
			want: Delivery{Style: StyleEvent, Type: "employee.deleted", CompanyID: "1", Changes: []Change{{EmployeeID: "7", Action: Deleted}}},
		},
		{
			name: "legacy batch of three, mixed actions, number and null values",
			body: `{"employees":[
				{"id":"1","action":"Created","timestamp":"2026-11-25T18:00:00+0000","changedFields":[],"fields":{}},
				{"id":2,"action":"Updated","changedFields":["Department"],"fields":{"Department":{"value":"Sales"},"Employee #":300,"Nick":null,"Exempt":true}},
				{"id":"3","action":"deleted"}]}`,
			want: Delivery{Style: StyleFields, Type: "employee_with_fields", Changes: []Change{
				{EmployeeID: "1", Action: Created, Timestamp: ts, ChangedFields: []string{}, Fields: map[string]string{}},
				{EmployeeID: "2", Action: Updated, ChangedFields: []string{"Department"}, Fields: map[string]string{"Department": "Sales", "Employee #": "300", "Nick": "", "Exempt": "true"}},
				{EmployeeID: "3", Action: Deleted, Fields: map[string]string{}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			for i := range got.Changes {
				if !got.Changes[i].Timestamp.IsZero() {
					got.Changes[i].Timestamp = got.Changes[i].Timestamp.UTC()
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, wantMsg string }{
		{"empty body", ``, "unexpected end"},
		{"not JSON", `hello`, "invalid character"},
		{"form-encoded", `type=employee.updated&data[employeeId]=1`, "invalid character"},
		{"JSON array", `[1,2]`, "cannot unmarshal array"},
		{"trailing data", `{"employees":[{"id":"1"}]} {}`, "invalid character"},
		{"no style", `{"hello":"world"}`, "neither"},
		{"both styles", `{"type":"employee.updated","data":{"employeeId":"1"},"employees":[{"id":"1"}]}`, "both"},
		{"unknown type", `{"type":"company.updated","data":{"companyId":"1"}}`, "unsupported event type"},
		{"doc typo type", `{"type":"employee.update","data":{"employeeId":"1"}}`, "unsupported event type"},
		{"missing data", `{"type":"employee.created"}`, "employeeId is missing"},
		{"empty employee id", `{"type":"employee.created","data":{"employeeId":""}}`, "employeeId is missing"},
		{"bool employee id", `{"type":"employee.created","data":{"employeeId":true}}`, "neither a string nor a number"},
		{"empty batch", `{"employees":[]}`, "is empty"},
		{"null batch", `{"employees":null}`, "neither"},
		{"batch entry without id", `{"employees":[{"id":"1"},{"action":"Updated"}]}`, "employees[1].id is missing"},
		{"unknown action", `{"employees":[{"id":"1","action":"Exploded"}]}`, "unknown action"},
		{"array field value", `{"employees":[{"id":"1","fields":{"Tags":["a"]}}]}`, "not a string"},
		{"nested object value", `{"employees":[{"id":"1","fields":{"X":{"value":{"a":1}}}}]}`, "nested object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.body))
			if !errors.Is(err, ErrShape) {
				t.Fatalf("Decode = %v, want ErrShape", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Decode error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

// FuzzDecode: Decode never panics; on success every change names an
// employee and a known action, and errors are always ErrShape and short.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"vector-a.json", "vector-b.json", "vector-c.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`{"employees":[{"id":2,"fields":{"a":{"value":1},"b":null}}]}`))
	f.Add([]byte(`{"type":"employee.deleted","data":{"employeeId":7}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrShape) {
				t.Fatalf("error is not ErrShape: %v", err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error too long (%d bytes)", len(err.Error()))
			}
			return
		}
		if len(d.Changes) == 0 {
			t.Fatal("success with no changes")
		}
		for _, c := range d.Changes {
			if c.EmployeeID == "" {
				t.Fatal("change without employee id")
			}
			switch c.Action {
			case Created, Updated, Deleted:
			default:
				t.Fatalf("unknown action %q", c.Action)
			}
		}
	})
}
