package event

import (
	"regexp"
	"strings"
	"testing"
)

func TestSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind Kind
		key  string
		want string
	}{
		{name: "hired", kind: Hired, key: "4821", want: "hr.employee.hired.4821"},
		{name: "terminated encoded key", kind: Terminated, key: EmployeeKey("a b"), want: "hr.employee.terminated._612062"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Subject(tt.kind, tt.key); got != tt.want {
				t.Errorf("Subject(%q, %q) = %q, want %q", tt.kind, tt.key, got, tt.want)
			}
		})
	}
}

func TestEmployeeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want string
	}{
		{name: "numeric", id: "4821", want: "4821"},
		{name: "letters digits dash underscore", id: "emp-42_X", want: "emp-42_X"},
		{name: "leading dash", id: "-1", want: "-1"},
		{name: "empty", id: "", want: "_"},
		{name: "dot", id: "a.b", want: "_612e62"},
		{name: "space", id: "a b", want: "_612062"},
		{name: "wildcard star", id: "*", want: "_2a"},
		{name: "wildcard gt", id: ">", want: "_3e"},
		{name: "unicode", id: "ü", want: "_c3bc"},
		{name: "leading underscore is encoded", id: "_x", want: "_5f78"},
		{name: "looks like an encoding", id: "_612e62", want: "_5f363132653632"},
		{name: "invalid utf-8", id: "\xff", want: "_ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := EmployeeKey(tt.id)
			if got != tt.want {
				t.Errorf("EmployeeKey(%q) = %q, want %q", tt.id, got, tt.want)
			}
			back, err := ParseEmployeeKey(got)
			if err != nil || back != tt.id {
				t.Errorf("ParseEmployeeKey(%q) = %q, %v, want %q", got, back, err, tt.id)
			}
		})
	}
}

func TestEmployeeKeyInjective(t *testing.T) {
	t.Parallel()
	ids := []string{
		"", "_", "__", "a", "A", "a.b", "a_b", "a-b", "_612e62", "612e62", "_5f",
		"a b", "a*", "a>", "*", ">", ".", "ü", "u", "\x00", "_00", "00", "4821", "04821",
	}
	seen := make(map[string]string, len(ids))
	for _, id := range ids {
		key := EmployeeKey(id)
		if prev, ok := seen[key]; ok {
			t.Errorf("EmployeeKey(%q) = EmployeeKey(%q) = %q", id, prev, key)
		}
		seen[key] = id
	}
}

func TestParseEmployeeKeyRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
	}{
		{name: "empty", key: ""},
		{name: "unsafe", key: "a.b"},
		{name: "odd hex", key: "_abc"},
		{name: "not hex", key: "_zz"},
		{name: "upper-case hex", key: "_2A"},
		{name: "encodes a verbatim id", key: "_6162"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if id, err := ParseEmployeeKey(tt.key); err == nil {
				t.Errorf("ParseEmployeeKey(%q) = %q, want error", tt.key, id)
			}
		})
	}
}

func FuzzEmployeeKey(f *testing.F) {
	for _, seed := range [][2]string{
		{"4821", "4821 "}, {"a.b", "_612e62"}, {"", "_"}, {"*", ">"},
		{"ü", "u"}, {"\xff", "_ff"}, {"a\nb", "hr.employee.>"},
	} {
		f.Add(seed[0], seed[1])
	}
	keyPattern := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	f.Fuzz(func(t *testing.T, a, b string) {
		ka := EmployeeKey(a)
		if !keyPattern.MatchString(ka) {
			t.Fatalf("EmployeeKey(%q) = %q, not a subject-safe token", a, ka)
		}
		if again := EmployeeKey(a); again != ka {
			t.Fatalf("EmployeeKey(%q) not deterministic: %q then %q", a, ka, again)
		}
		if back, err := ParseEmployeeKey(ka); err != nil || back != a {
			t.Fatalf("ParseEmployeeKey(EmployeeKey(%q)) = %q, %v", a, back, err)
		}
		if kb := EmployeeKey(b); a != b && ka == kb {
			t.Fatalf("EmployeeKey(%q) = EmployeeKey(%q) = %q", a, b, ka)
		}
		if tokens := strings.Split(Subject(Updated, ka), "."); len(tokens) != 4 {
			t.Fatalf("Subject with key %q has %d tokens, want 4", ka, len(tokens))
		}
	})
}
