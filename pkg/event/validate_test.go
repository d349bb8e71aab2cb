package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"keycard/schemas"
)

// schemaDoc is the part of the schema the drift tests compare with the Go types.
type schemaDoc struct {
	ID         string                     `json:"$id"`
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	Defs       struct {
		Employee struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"employee"`
	} `json:"$defs"`
}

func loadSchemaDoc(t *testing.T) schemaDoc {
	t.Helper()
	var doc schemaDoc
	if err := json.Unmarshal(schemas.Event.JSON(), &doc); err != nil {
		t.Fatalf("decode schema: %v", err)
	}
	return doc
}

func jsonNames[T any](t *testing.T) []string {
	t.Helper()
	typ := reflect.TypeFor[T]()
	names := make([]string, 0, typ.NumField())
	for i := range typ.NumField() {
		names = append(names, jsonName(t, typ.Field(i)))
	}
	slices.Sort(names)
	return names
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestSchemaMatchesGoTypes fails when the schema and the Go types drift apart.
func TestSchemaMatchesGoTypes(t *testing.T) {
	t.Parallel()
	doc := loadSchemaDoc(t)
	if got, want := sortedKeys(doc.Properties), jsonNames[Event](t); !slices.Equal(got, want) {
		t.Errorf("event properties = %q, Event JSON fields = %q", got, want)
	}
	if got, want := slices.Sorted(slices.Values(doc.Required)), jsonNames[Event](t); !slices.Equal(got, want) {
		t.Errorf("event required = %q, want every Event field %q", got, want)
	}
	if got, want := sortedKeys(doc.Defs.Employee.Properties), jsonNames[Employee](t); !slices.Equal(got, want) {
		t.Errorf("employee properties = %q, Employee JSON fields = %q", got, want)
	}
	var version struct {
		Const string `json:"const"`
	}
	if err := json.Unmarshal(doc.Properties["schema"], &version); err != nil || version.Const != SchemaVersion {
		t.Errorf("schema.const = %q (%v), want %q", version.Const, err, SchemaVersion)
	}
	// Every name Diff can report (other than custom.*) is allowed in changed_fields.
	every := Diff(Employee{}, Employee{
		ID: "x", FirstName: "x", LastName: "x", PreferredName: "x", DisplayName: "x", WorkEmail: "x",
		Status: "x", EmploymentStatus: "x", EmploymentType: "x", Department: "x", Division: "x",
		JobTitle: "x", Location: "x", TimeZone: "x", ManagerID: "x", HireDate: "x",
		TerminationDate: "x", ContractEndDate: "x",
	})
	enum := string(doc.Properties["changed_fields"])
	for _, name := range every {
		if !strings.Contains(enum, `"`+name+`"`) {
			t.Errorf("changed_fields enum lacks %q", name)
		}
	}
}

func TestValidateGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/valid/*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("glob valid goldens: %v, %d files", err, len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data := readFile(t, file)
			if err := Validate(data); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ev, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// The goldens are also consistent with the Go helpers.
			if want := ID(ev.Source, ev.Employee.ID, ev.Sequence); ev.ID != want {
				t.Errorf("id = %q, want ID(...) = %q", ev.ID, want)
			}
			want := []string{}
			if ev.Previous != nil {
				want = Diff(*ev.Previous, ev.Employee)
			}
			if !slices.Equal(ev.ChangedFields, want) {
				t.Errorf("changed_fields = %q, want Diff = %q", ev.ChangedFields, want)
			}
			if _, err := ParseKind(string(ev.Kind)); err != nil {
				t.Errorf("kind: %v", err)
			}
		})
	}
}

func TestValidateInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // substrings of the error: the failing location, then what failed
	}{
		{file: "missing_id.json", want: []string{"at ''", "missing property 'id'"}},
		{file: "unknown_kind.json", want: []string{"at '/kind'", "must be one of"}},
		{file: "bad_date.json", want: []string{"at '/employee/hire_date'"}},
		{file: "bad_date_with_time.json", want: []string{"at '/employee/termination_date'"}},
		{file: "impossible_date.json", want: []string{"at '/employee/hire_date'", "not valid date"}},
		{file: "bad_occurred_at.json", want: []string{"at '/occurred_at'", "date-time"}},
		{file: "extra_property.json", want: []string{"at ''", "'priority' not allowed"}},
		{file: "extra_property_previous.json", want: []string{"at '/previous'", "'salary' not allowed"}},
		{file: "sequence_zero.json", want: []string{"at '/sequence'", "minimum"}},
		{file: "previous_wrong_type.json", want: []string{"at '/previous'", "got string, want object"}},
		{file: "previous_missing.json", want: []string{"at ''", "missing property 'previous'"}},
		{file: "unknown_status.json", want: []string{"at '/employee/status'"}},
		{file: "unknown_employment_type.json", want: []string{"at '/employee/employment_type'"}},
		{file: "custom_not_string.json", want: []string{"at '/employee/custom/badge'", "want string"}},
		{file: "changed_fields_duplicate.json", want: []string{"at '/changed_fields'", "equal"}},
		{file: "changed_fields_unknown.json", want: []string{"at '/changed_fields/0'"}},
		{file: "wrong_schema_version.json", want: []string{"at '/schema'", "employee-event.v1"}},
		{file: "bad_time_zone.json", want: []string{"at '/employee/time_zone'"}},
	}
	covered := make(map[string]bool, len(tests))
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			err := Validate(readFile(t, filepath.Join("testdata", "invalid", tt.file)))
			if err == nil {
				t.Fatal("Validate = nil, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in TestValidateInvalid", f)
		}
	}
}

func TestValidateNotAnEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
	}{
		{name: "empty", data: ""},
		{name: "not json", data: "{"},
		{name: "two documents", data: "{} {}"},
		{name: "array", data: "[]"},
		{name: "null", data: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := Validate([]byte(tt.data)); err == nil {
				t.Errorf("Validate(%q) = nil, want error", tt.data)
			}
			if _, err := Parse([]byte(tt.data)); err == nil {
				t.Errorf("Parse(%q) error = nil, want error", tt.data)
			}
		})
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}
