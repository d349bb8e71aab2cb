package bamboohr

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustObject(t *testing.T, body string) map[string]json.RawMessage {
	t.Helper()
	raw, err := decodeObject([]byte(body))
	if err != nil {
		t.Fatalf("decodeObject(%s): %v", body, err)
	}
	return raw
}

func TestDecodeEmployee(t *testing.T) {
	t.Parallel()
	fm := fieldMap{
		custom:      []string{"customShirtSize", "4047", "customMissing"},
		contractEnd: "customContractEnd",
		timeZone:    "customTimeZone",
	}
	tests := []struct {
		name    string
		body    string
		fm      fieldMap
		want    Employee
		wantErr string
	}{
		{
			name: "full record from testdata",
			body: string(readTestdata(t, "employee.json")),
			fm:   fm,
			want: Employee{
				ID: "123", FirstName: "Jane", LastName: "Doe", DisplayName: "Jane Doe",
				WorkEmail: "jane.doe@example.com", Status: StatusActive, EmploymentStatus: "Full-Time",
				Department: "Engineering", Division: "Product", JobTitle: "Staff Engineer",
				Location: "Berlin", TimeZone: "Europe/Berlin", SupervisorID: "7",
				SupervisorEmail: "boss@example.com", HireDate: "2021-03-01",
				Custom: map[string]string{"customShirtSize": "M", "4047": "12.5"},
			},
		},
		{
			name: "numeric id and supervisor",
			body: `{"id": 42, "supervisorEId": 7}`,
			want: Employee{ID: "42", SupervisorID: "7"},
		},
		{
			name: "string id with spaces",
			body: `{"id": " 42 "}`,
			want: Employee{ID: "42"},
		},
		{
			name: "nulls everywhere",
			body: `{"id": null, "firstName": null, "hireDate": null, "terminationDate": null, "customShirtSize": null}`,
			fm:   fieldMap{custom: []string{"customShirtSize"}},
			want: Employee{Custom: map[string]string{"customShirtSize": ""}},
		},
		{
			name: "zero dates with and without time",
			body: `{"id": "1", "hireDate": "0000-00-00", "terminationDate": "0000-00-00 00:00:00", "customContractEnd": "0000-00-00T00:00:00"}`,
			fm:   fieldMap{contractEnd: "customContractEnd"},
			want: Employee{ID: "1"},
		},
		{
			name: "dates with a time part are cut to the day",
			body: `{"id": "1", "hireDate": "2024-02-29T00:00:00+00:00", "terminationDate": "2026-11-30 23:59:00"}`,
			want: Employee{ID: "1", HireDate: "2024-02-29", TerminationDate: "2026-11-30"},
		},
		{
			name: "value objects and booleans",
			body: `{"id": {"value": "8"}, "status": {"value": "Inactive"}, "customFlag": true}`,
			fm:   fieldMap{custom: []string{"customFlag"}},
			want: Employee{ID: "8", Status: StatusInactive, Custom: map[string]string{"customFlag": "true"}},
		},
		{
			name: "unconfigured fields are ignored",
			body: `{"id": "1", "customTimeZone": "UTC", "customShirtSize": "L"}`,
			want: Employee{ID: "1"},
		},
		{
			name:    "invalid date",
			body:    `{"id": "1", "hireDate": "01/02/2024"}`,
			wantErr: `field hireDate: invalid date "01/02/2024"`,
		},
		{
			name:    "invalid calendar day",
			body:    `{"id": "1", "terminationDate": "2025-02-30"}`,
			wantErr: `field terminationDate: invalid date`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeEmployee(mustObject(t, tt.body), tt.fm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeEmployee: %v", err)
			}
			assertEmployee(t, got, tt.want)
		})
	}
}

func assertEmployee(t *testing.T, got, want Employee) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("employee =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeObjectRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, wantErr string
	}{
		{"xml", `<?xml version="1.0"?><employee id="1"/>`, "XML or HTML"},
		{"html", "  <html>maintenance</html>", "XML or HTML"},
		{"null", `null`, "null"},
		{"array", `[]`, "decode response"},
		{"empty", ``, "decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeObject([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeChanges(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		name    string
		body    string
		want    Changes
		wantErr string
	}{
		{
			name: "testdata, mixed id types and zone formats, sorted numerically",
			body: string(readTestdata(t, "changed.json")),
			want: Changes{
				Latest: at("2026-11-25T18:00:05Z"),
				Employees: []Change{
					{ID: "2", Action: ActionInserted, LastChanged: at("2026-11-25T16:00:00Z")},
					{ID: "9", Action: ActionDeleted, LastChanged: at("2026-11-25T17:59:00Z")},
					{ID: "10", Action: ActionUpdated, LastChanged: at("2026-11-25T18:00:05Z")},
				},
			},
		},
		{
			name: "empty set as PHP empty array",
			body: `{"latest": null, "employees": []}`,
			want: Changes{Employees: []Change{}},
		},
		{
			name: "missing employees",
			body: `{"latest": "2026-01-01T00:00:00+00:00"}`,
			want: Changes{Latest: at("2026-01-01T00:00:00Z"), Employees: []Change{}},
		},
		{
			name: "id taken from the key, lower-case action, offset converted to UTC",
			body: `{"employees": {"7": {"action": "updated", "lastChanged": "2026-01-01T02:00:00+02:00"}}}`,
			want: Changes{Employees: []Change{{ID: "7", Action: ActionUpdated, LastChanged: at("2026-01-01T00:00:00Z")}}},
		},
		{
			name: "array of entries, non-numeric ids after numeric",
			body: `{"employees": [{"id": "b", "action": "Inserted", "lastChanged": "2026-01-01 00:00:00"}, {"id": "a", "action": "Inserted", "lastChanged": "2026-01-01T00:00:00"}, {"id": 3, "action": "Inserted", "lastChanged": "2026-01-01T00:00:00Z"}]}`,
			want: Changes{Employees: []Change{
				{ID: "3", Action: ActionInserted, LastChanged: at("2026-01-01T00:00:00Z")},
				{ID: "a", Action: ActionInserted, LastChanged: at("2026-01-01T00:00:00Z")},
				{ID: "b", Action: ActionInserted, LastChanged: at("2026-01-01T00:00:00Z")},
			}},
		},
		{
			name:    "bad lastChanged",
			body:    `{"employees": {"7": {"id": "7", "action": "Updated", "lastChanged": "yesterday"}}}`,
			wantErr: `employee 7: lastChanged: invalid timestamp "yesterday"`,
		},
		{
			name:    "bad latest",
			body:    `{"latest": "soon", "employees": {}}`,
			wantErr: "latest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeChanges([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeChanges: %v", err)
			}
			if !got.Latest.Equal(tt.want.Latest) {
				t.Errorf("latest = %v, want %v", got.Latest, tt.want.Latest)
			}
			if len(got.Employees) != len(tt.want.Employees) {
				t.Fatalf("employees = %+v, want %+v", got.Employees, tt.want.Employees)
			}
			for i := range got.Employees {
				g, w := got.Employees[i], tt.want.Employees[i]
				if g.ID != w.ID || g.Action != w.Action || !g.LastChanged.Equal(w.LastChanged) {
					t.Errorf("employees[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, msg, key, want string
	}{
		{"plain", "Invalid API key", "k", "Invalid API key"},
		{"control characters", "bad\r\nX-Injected: 1\x00", "k", "bad  X-Injected: 1"},
		{"key redacted", "key 0123456789abcdef is not valid", "0123456789abcdef", "key [redacted] is not valid"},
		{"Basic credentials redacted", "denied (Authorization: Basic MDEyMzQ1Njc4OWFiY2RlZjp4)", "0123456789abcdef", "denied (Authorization: Basic [redacted])"},
		{"short key not redacted", "Invalid API key", "key", "Invalid API key"},
		{"long", strings.Repeat("é", 400), "k", strings.Repeat("é", 300) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanMessage(tt.msg, tt.key); got != tt.want {
				t.Errorf("cleanMessage = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		want    string
		wantErr string
	}{
		{"company", Config{Company: "Acme"}, "https://acme.bamboohr.com/api/v1", ""},
		{"base URL wins", Config{Company: "acme", BaseURL: "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080/api/v1", ""},
		{"base URL with prefix", Config{BaseURL: "https://proxy.internal/bamboo"}, "https://proxy.internal/bamboo/api/v1", ""},
		{"legacy gateway", Config{BaseURL: "https://api.bamboohr.com/api/gateway.php/acme/v1/"}, "https://api.bamboohr.com/api/gateway.php/acme/v1", ""},
		{"explicit api root", Config{BaseURL: "https://acme.bamboohr.com/api/v1"}, "https://acme.bamboohr.com/api/v1", ""},
		{"neither", Config{}, "", "company or base URL is required"},
		{"bad company", Config{Company: "acme.evil.com/x"}, "", "not a valid subdomain"},
		{"bad scheme", Config{BaseURL: "ftp://acme"}, "", "scheme must be http or https"},
		{"no host", Config{BaseURL: "https:///api"}, "", "no host"},
		{"credentials", Config{BaseURL: "https://key:x@acme.bamboohr.com"}, "", "must not carry credentials"},
		{"query", Config{BaseURL: "https://acme.bamboohr.com?x=1"}, "", "no query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.apiRoot()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("apiRoot = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEmployeeFields(t *testing.T) {
	t.Parallel()
	many := make([]string, maxFields)
	for i := range many {
		many[i] = "custom" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()
	}
	tests := []struct {
		name     string
		cfg      Config
		wantTail []string // fields after the standard ones
		wantErr  string
	}{
		{"standard only", Config{}, nil, ""},
		{
			"extras deduplicated",
			Config{CustomFields: []string{"customA", "department", "customA"}, ContractEndField: "customEnd", TimeZoneField: "customA"},
			[]string{"customA", "customEnd"}, "",
		},
		{"comma rejected", Config{CustomFields: []string{"a,b"}}, nil, `field alias "a,b"`},
		{"empty alias rejected", Config{CustomFields: []string{""}}, nil, `field alias ""`},
		{"over 400", Config{CustomFields: many}, nil, "at most 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.employeeFields()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]string(nil), standardFields...), tt.wantTail...)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("fields = %v, want %v", got, want)
			}
		})
	}
}
