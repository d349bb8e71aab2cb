package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"keycard/pkg/connector/registry"
	"keycard/pkg/connectors"
	"keycard/pkg/event"
)

const today = "2025-06-02"

// loadTestPolicy loads testdata/policy.yaml.
func loadTestPolicy(t testing.TB) *Config {
	t.Helper()
	cfg, err := Load("testdata/policy.yaml", connectors.Registry())
	if err != nil {
		t.Fatalf("load test policy: %v", err)
	}
	return cfg
}

// desired completes ds to one Desired per app of testdata/policy.yaml,
// the apps not in ds getting no account.
func desired(ds ...Desired) map[string]Desired {
	out := map[string]Desired{}
	for _, app := range []string{"slack", "google", "github", "zoom", "pipedrive", "notion"} {
		out[app] = Desired{App: app}
	}
	for _, d := range ds {
		d.Account = true
		out[d.App] = d
	}
	return out
}

// Fixture employees.
var (
	engineer = event.Employee{
		ID: "4821", FirstName: "Ada", LastName: "Lovelace", WorkEmail: "ada@example.com",
		Status: event.StatusActive, EmploymentStatus: "Full-Time", EmploymentType: event.EmploymentTypeEmployee,
		Department: "Engineering", JobTitle: "Software Engineer", HireDate: "2020-01-06",
	}
	contractor = event.Employee{
		ID: "5102", FirstName: "Cy", Status: event.StatusActive, EmploymentStatus: "Contractor",
		EmploymentType: event.EmploymentTypeContractor, Department: "Engineering",
		JobTitle: "Contract Engineer", HireDate: "2025-01-01", ContractEndDate: "2025-12-31",
	}
	salesManager = event.Employee{
		ID: "3310", Status: event.StatusActive, EmploymentType: event.EmploymentTypeEmployee,
		Department: "Sales", JobTitle: "Regional Sales Manager", HireDate: "2019-03-01",
	}
)

// with returns e changed by f, leaving e alone.
func with(e event.Employee, f func(*event.Employee)) event.Employee {
	if e.Custom != nil {
		m := make(map[string]string, len(e.Custom))
		for k, v := range e.Custom {
			m[k] = v
		}
		e.Custom = m
	}
	f(&e)
	return e
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cfg := loadTestPolicy(t)
	everyoneZoom := Desired{App: "zoom", License: "basic", Matched: []string{"birthright"}}
	engineerWant := desired(
		Desired{App: "slack", Groups: []string{"eng", "everyone"}, Channels: []string{"eng-announce", "internal"},
			Matched: []string{"birthright", "engineering", "employees-only"}},
		Desired{App: "google", Groups: []string{"all-staff@example.com", "employees@example.com", "eng@example.com"}, OrgUnit: "/Engineering",
			Matched: []string{"birthright", "engineering", "employees-only"}},
		Desired{App: "github", Teams: []string{"engineering"}, Matched: []string{"engineering"}},
		everyoneZoom,
	)
	birthrightOnly := desired(
		Desired{App: "slack", Groups: []string{"everyone"}, Matched: []string{"birthright"}},
		Desired{App: "google", Groups: []string{"all-staff@example.com"}, Matched: []string{"birthright"}},
		everyoneZoom,
	)
	nothing := desired()
	futureHire := with(engineer, func(e *event.Employee) { e.HireDate = "2025-07-01" })

	tests := []struct {
		name     string
		employee event.Employee
		today    string
		want     map[string]Desired
	}{
		{name: "engineer gets birthright and engineering", employee: engineer, today: today, want: engineerWant},
		{
			name: "contractor gets contractor groups, not employee-only ones", employee: contractor, today: today,
			want: desired(
				Desired{App: "slack", Groups: []string{"contractors", "eng", "everyone"}, Channels: []string{"eng-announce"},
					Matched: []string{"birthright", "engineering", "contractors"}},
				Desired{App: "google", Groups: []string{"all-staff@example.com", "eng@example.com"}, OrgUnit: "/Engineering",
					Matched: []string{"birthright", "engineering"}},
				Desired{App: "github", Teams: []string{"engineering"}, Matched: []string{"engineering"}},
				everyoneZoom,
			),
		},
		{name: "contractor past contract end gets nothing", employee: contractor, today: "2025-12-31", want: nothing},
		{
			name:     "inactive in HR gets nothing",
			employee: with(engineer, func(e *event.Employee) { e.Status, e.TerminationDate = event.StatusInactive, "2025-05-30" }),
			today:    today, want: nothing,
		},
		{
			name:     "termination date reached gets nothing",
			employee: with(engineer, func(e *event.Employee) { e.TerminationDate = today }),
			today:    today, want: nothing,
		},
		{
			name:     "termination date ahead still has access",
			employee: with(engineer, func(e *event.Employee) { e.TerminationDate = "2025-06-30" }),
			today:    today, want: engineerWant,
		},
		{name: "future hire before the start date gets nothing", employee: futureHire, today: today, want: nothing},
		{name: "future hire on the start date gets access", employee: futureHire, today: "2025-07-01", want: engineerWant},
		{
			name:     "engineer moved to sales",
			employee: with(engineer, func(e *event.Employee) { e.Department, e.JobTitle = "Sales", "Account Executive" }),
			today:    today,
			want: desired(
				Desired{App: "slack", Groups: []string{"everyone"}, Channels: []string{"internal"},
					Matched: []string{"birthright", "employees-only"}},
				Desired{App: "google", Groups: []string{"all-staff@example.com", "employees@example.com"},
					Matched: []string{"birthright", "employees-only"}},
				Desired{App: "zoom", License: "pro", Matched: []string{"birthright", "sales"}},
				Desired{App: "pipedrive", Matched: []string{"sales"}},
			),
		},
		{
			name: "licence: last matching grant wins", employee: salesManager, today: today,
			want: desired(
				Desired{App: "slack", Groups: []string{"everyone", "managers"}, Channels: []string{"internal"},
					Matched: []string{"birthright", "employees-only", "managers"}},
				Desired{App: "google", Groups: []string{"all-staff@example.com", "employees@example.com"},
					Matched: []string{"birthright", "employees-only"}},
				Desired{App: "zoom", License: "business", Matched: []string{"birthright", "sales", "managers"}},
				Desired{App: "pipedrive", Matched: []string{"sales"}},
			),
		},
		{
			name: "custom field selects finance",
			employee: with(contractor, func(e *event.Employee) {
				e.Department, e.Custom = "Finance", map[string]string{"cost_center": "CC-210"}
			}),
			today: today,
			want: desired(
				Desired{App: "slack", Groups: []string{"contractors", "everyone"}, Matched: []string{"birthright", "contractors"}},
				Desired{App: "google", Groups: []string{"all-staff@example.com"}, Matched: []string{"birthright"}},
				everyoneZoom,
				Desired{App: "notion", Groups: []string{"finance"}, Matched: []string{"finance-cost-centers"}},
			),
		},
		{
			name: "other cost centre is not finance",
			employee: with(engineer, func(e *event.Employee) {
				e.Department, e.EmploymentType, e.Custom = "Operations", "", map[string]string{"cost_center": "CC-105"}
			}),
			today: today, want: birthrightOnly,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := cfg.Evaluate(tc.employee, tc.today)
			if len(got.Warnings) > 0 {
				t.Errorf("warnings: %q", got.Warnings)
			}
			for app, want := range tc.want {
				if !reflect.DeepEqual(got.Apps[app], want) {
					t.Errorf("%s:\n got  %+v\n want %+v", app, got.Apps[app], want)
				}
			}
			if len(got.Apps) != len(tc.want) {
				t.Errorf("got %d apps, want %d", len(got.Apps), len(tc.want))
			}
		})
	}
}

func TestEvaluateRuntimeError(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("laptops.yaml", []byte(`
apps:
  - {name: slack, type: dryrun}
  - {name: laptops, type: dryrun}
policy:
  birthright: {slack: {groups: [everyone]}}
  rules:
    - name: mac-users
      when: 'employee.custom["laptop"] == "mac"'
      grant: {laptops: {groups: [mac]}, slack: {channels: [mac-users]}}
    - name: all
      when: 'true'
      grant: {slack: {groups: [all]}}
`), connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	const warning = "rule mac-users: when: no such key: laptop (counted as false)"
	tests := []struct {
		name     string
		custom   map[string]string
		want     map[string]Desired
		warnings []string
	}{
		{
			name: "missing custom key counts as false", custom: nil,
			want: map[string]Desired{
				"slack": {App: "slack", Account: true, Groups: []string{"all", "everyone"},
					Matched: []string{"birthright", "all"}, Warnings: []string{warning}},
				"laptops": {App: "laptops", Warnings: []string{warning}},
			},
			warnings: []string{warning},
		},
		{
			name: "present custom key", custom: map[string]string{"laptop": "mac"},
			want: map[string]Desired{
				"slack": {App: "slack", Account: true, Groups: []string{"all", "everyone"}, Channels: []string{"mac-users"},
					Matched: []string{"birthright", "mac-users", "all"}},
				"laptops": {App: "laptops", Account: true, Groups: []string{"mac"}, Matched: []string{"mac-users"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := with(engineer, func(e *event.Employee) { e.Custom = tc.custom })
			got := cfg.Evaluate(e, today)
			if !reflect.DeepEqual(got.Apps, tc.want) {
				t.Errorf("apps:\n got  %+v\n want %+v", got.Apps, tc.want)
			}
			if !reflect.DeepEqual(got.Warnings, tc.warnings) {
				t.Errorf("warnings = %q, want %q", got.Warnings, tc.warnings)
			}
		})
	}
}

func TestEvaluateExampleConfig(t *testing.T) {
	t.Parallel()
	cfg, err := Load(exampleConfig, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	manager := with(engineer, func(e *event.Employee) { e.JobTitle = "Engineering Manager" })
	tests := []struct {
		name     string
		employee event.Employee
		want     map[string]Desired
	}{
		{
			name: "engineer", employee: engineer,
			want: map[string]Desired{
				"slack": {App: "slack", Account: true, Groups: []string{"eng", "everyone"}, Matched: []string{"birthright", "rules[0]"}},
				"google": {App: "google", Account: true, Groups: []string{"all-staff", "eng"}, OrgUnit: "/Engineering", License: "1010020028",
					Matched: []string{"birthright", "rules[0]"}},
				"github":    {App: "github", Account: true, Teams: []string{"engineering"}, Matched: []string{"rules[0]"}},
				"gitlab":    {App: "gitlab", Account: true, Groups: []string{"example/engineering", "example/everyone"}, Matched: []string{"birthright", "rules[0]"}},
				"pipedrive": {App: "pipedrive"},
				"discord":   {App: "discord", Account: true, Roles: []string{"Engineering", "Staff"}, Matched: []string{"birthright", "rules[0]"}},
			},
		},
		{
			name: "engineering manager", employee: manager,
			want: map[string]Desired{
				"slack": {App: "slack", Account: true, Groups: []string{"eng", "everyone"}, Matched: []string{"birthright", "rules[0]"}},
				"google": {App: "google", Account: true, Groups: []string{"all-staff", "eng"}, OrgUnit: "/Engineering", License: "1010020028",
					Matched: []string{"birthright", "rules[0]"}},
				"github": {App: "github", Account: true, Teams: []string{"engineering", "engineering-managers"},
					Matched: []string{"rules[0]", "rules[1]"}},
				"gitlab": {App: "gitlab", Account: true, Groups: []string{"example/engineering", "example/engineering-leads", "example/everyone"},
					Matched: []string{"birthright", "rules[0]", "rules[1]"}},
				"pipedrive": {App: "pipedrive"},
				"discord":   {App: "discord", Account: true, Roles: []string{"Engineering", "Staff"}, Matched: []string{"birthright", "rules[0]"}},
			},
		},
		{
			name: "contractor outside engineering", employee: with(contractor, func(e *event.Employee) { e.Department = "Design" }),
			want: map[string]Desired{
				"slack": {App: "slack", Account: true, Groups: []string{"contractors", "everyone"}, Matched: []string{"birthright", "rules[2]"}},
				"google": {App: "google", Account: true, Groups: []string{"all-staff"}, License: "1010020027",
					Matched: []string{"birthright"}},
				"github":    {App: "github"},
				"gitlab":    {App: "gitlab", Account: true, Groups: []string{"example/everyone"}, Matched: []string{"birthright"}},
				"discord":   {App: "discord", Account: true, Roles: []string{"Staff"}, Matched: []string{"birthright"}},
				"pipedrive": {App: "pipedrive"},
			},
		},
		{
			name: "sales manager", employee: with(engineer, func(e *event.Employee) { e.Department, e.JobTitle = "Sales", "Sales Manager" }),
			want: map[string]Desired{
				"slack":  {App: "slack", Account: true, Groups: []string{"everyone"}, Matched: []string{"birthright"}},
				"google": {App: "google", Account: true, Groups: []string{"all-staff"}, License: "1010020027", Matched: []string{"birthright"}},
				"github": {App: "github"},
				"gitlab": {App: "gitlab", Account: true, Groups: []string{"example/everyone"}, Matched: []string{"birthright"}},
				"pipedrive": {App: "pipedrive", Account: true, Teams: []string{"closers"}, OrgUnit: "/Sales", License: "Sales manager",
					Matched: []string{"rules[3]", "rules[4]"}},
				"discord": {App: "discord", Account: true, Roles: []string{"Staff"}, Matched: []string{"birthright"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := cfg.Evaluate(tc.employee, today)
			if !reflect.DeepEqual(got, Result{Apps: tc.want}) {
				t.Errorf("got  %+v\nwant %+v", got, Result{Apps: tc.want})
			}
		})
	}
}

func TestEvaluateUnloadedConfig(t *testing.T) {
	t.Parallel()
	cfg := &Config{
		Apps: []App{{Name: "slack", Type: registry.TypeDryRun}},
		Policy: Policy{
			Birthright: map[string]Grant{"slack": {Groups: []string{"everyone"}}, "ghost": {}},
			Rules:      []Rule{{Name: "eng", When: "true", Grant: map[string]Grant{"slack": {Groups: []string{"eng"}}}}},
		},
	}
	got := cfg.Evaluate(engineer, today)
	if d := got.Apps["slack"]; !d.Account || !reflect.DeepEqual(d.Groups, []string{"everyone"}) || len(d.Warnings) != 1 {
		t.Errorf("slack = %+v, want birthright only and one warning", d)
	}
	if _, ok := got.Apps["ghost"]; ok {
		t.Error("Evaluate returned an app that is not configured")
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "Load or Parse") {
		t.Errorf("warnings = %q", got.Warnings)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	t.Parallel()
	cfg := loadTestPolicy(t)
	people := []event.Employee{engineer, contractor, salesManager,
		with(contractor, func(e *event.Employee) { e.Custom = map[string]string{"cost_center": "CC-200"} })}
	want := make([]Result, len(people))
	for i, p := range people {
		want[i] = cfg.Evaluate(p, today)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				p := (g + i) % len(people)
				if got := cfg.Evaluate(people[p], today); !reflect.DeepEqual(got, want[p]) {
					t.Errorf("concurrent Evaluate(%s) = %+v, want %+v", people[p].ID, got, want[p])
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchConfig has ten rules of the kinds a real policy has.
func benchConfig(b *testing.B) *Config {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("apps:\n")
	for _, app := range []string{"slack", "google", "github", "zoom", "notion"} {
		fmt.Fprintf(&sb, "  - {name: %s, type: dryrun}\n", app)
	}
	sb.WriteString(`policy:
  birthright:
    slack: {groups: [everyone]}
    google: {groups: [all-staff]}
  rules:
`)
	for i, when := range []string{
		`employee.department == "Engineering"`,
		`employee.department == "Sales"`,
		`employee.employment_type == "employee"`,
		`employee.employment_type == "contractor"`,
		`employee.job_title.lowerAscii().contains("manager")`,
		`employee.location in ["Berlin", "London", "Lisbon"]`,
		`employee.division == "EMEA" && employee.department != "Sales"`,
		`"cost_center" in employee.custom && employee.custom["cost_center"].startsWith("CC-2")`,
		`employee.hire_date >= "2025-01-01"`,
		`employee.manager_id == "" || employee.job_title.startsWith("VP")`,
	} {
		fmt.Fprintf(&sb, "    - {name: r%d, when: '%s', grant: {slack: {groups: [g%d]}, github: {teams: [t%d]}, zoom: {license: l%d}}}\n", i, when, i, i, i)
	}
	cfg, err := Parse("bench.yaml", []byte(sb.String()), connectors.Registry())
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func BenchmarkEvaluate(b *testing.B) {
	cfg := benchConfig(b)
	e := with(engineer, func(e *event.Employee) {
		e.JobTitle, e.Location, e.Division, e.Custom = "Engineering Manager", "Berlin", "EMEA", map[string]string{"cost_center": "CC-210"}
	})
	if r := cfg.Evaluate(e, today); len(r.Warnings) > 0 || !r.Apps["github"].Account {
		b.Fatalf("unexpected result %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg.Evaluate(e, today)
	}
}
