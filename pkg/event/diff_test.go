package event

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	base := Employee{
		ID: "1", FirstName: "Ada", LastName: "Lovelace", Status: StatusActive,
		Department: "Engineering", ManagerID: "9", HireDate: "2026-01-05",
		Custom: map[string]string{"shirt": "M", "cost_center": "CC-1"},
	}
	with := func(f func(*Employee)) Employee {
		e := base
		e.Custom = maps.Clone(base.Custom)
		f(&e)
		return e
	}
	tests := []struct {
		name       string
		prev, next Employee
		want       []string
	}{
		{name: "equal", prev: base, next: with(func(*Employee) {}), want: nil},
		{name: "zero values", prev: Employee{}, next: Employee{}, want: nil},
		{name: "nil and empty custom are equal", prev: Employee{}, next: Employee{Custom: map[string]string{}}, want: nil},
		{
			name: "move is sorted",
			prev: base,
			next: with(func(e *Employee) { e.ManagerID, e.Department, e.JobTitle = "7", "Security", "Engineer" }),
			want: []string{"department", "job_title", "manager_id"},
		},
		{
			name: "termination",
			prev: base,
			next: with(func(e *Employee) { e.Status, e.TerminationDate = StatusInactive, "2026-06-30" }),
			want: []string{"status", "termination_date"},
		},
		{
			name: "custom changed, added, removed",
			prev: base,
			next: with(func(e *Employee) {
				e.Custom["shirt"] = "L"
				delete(e.Custom, "cost_center")
				e.Custom["badge"] = "B-7"
			}),
			want: []string{"custom.badge", "custom.cost_center", "custom.shirt"},
		},
		{
			name: "custom key present with empty value differs from absent",
			prev: base,
			next: with(func(e *Employee) { e.Custom["nickname"] = "" }),
			want: []string{"custom.nickname"},
		},
		{
			name: "custom sorts among fields",
			prev: base,
			next: with(func(e *Employee) { e.Custom["shirt"], e.Department, e.ContractEndDate = "S", "Sales", "2026-12-31" }),
			want: []string{"contract_end_date", "custom.shirt", "department"},
		},
		{
			name: "first sighting against zero",
			prev: Employee{},
			next: Employee{ID: "1", Status: StatusActive},
			want: []string{"id", "status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Diff(tt.prev, tt.next)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Diff = %q, want %q", got, tt.want)
			}
			if back := Diff(tt.next, tt.prev); !slices.Equal(back, got) {
				t.Errorf("Diff is not symmetric: reverse = %q, forward = %q", back, got)
			}
		})
	}
}

// TestDiffCoversEveryField fails when a field is added to Employee without
// teaching Diff about it.
func TestDiffCoversEveryField(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[Employee]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := jsonName(t, f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var next Employee
			v := reflect.ValueOf(&next).Elem().Field(i)
			want := []string{name}
			switch f.Type.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Map:
				v.Set(reflect.ValueOf(map[string]string{"k": "x"}))
				want = []string{"custom.k"}
			default:
				t.Fatalf("field %s has kind %s; teach Diff and this test about it", f.Name, f.Type.Kind())
			}
			if got := Diff(Employee{}, next); !slices.Equal(got, want) {
				t.Errorf("Diff with only %s set = %q, want %q", f.Name, got, want)
			}
		})
	}
}

// jsonName returns the JSON object key of a struct field.
func jsonName(t *testing.T, f reflect.StructField) string {
	t.Helper()
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		t.Fatalf("field %s has no JSON name", f.Name)
	}
	return name
}
