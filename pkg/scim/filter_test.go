package scim

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEq(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, attr, value, want string
	}{
		{"plain", "userName", "ada@example.com", `userName eq "ada@example.com"`},
		{"quote", "userName", `a"b`, `userName eq "a\"b"`},
		{"backslash", "userName", `a\b`, `userName eq "a\\b"`},
		{"backslash before quote", "userName", `\"`, `userName eq "\\\""`},
		{"plus kept", "emails.value", "ada+keycard@example.com", `emails.value eq "ada+keycard@example.com"`},
		{"unicode kept", "displayName", "Zoë 李", `displayName eq "Zoë 李"`},
		{"html not escaped", "title", "R&D <lead>", `title eq "R&D <lead>"`},
		{"control escaped", "title", "a\nb\x00", `title eq "a\nb\u0000"`},
		{"empty value", "externalId", "", `externalId eq ""`},
		{"extension attribute", EnterpriseUserSchema + ":department", "Ops", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Ops"`},
		{"injection stays a value", "userName", `x" or userName pr or userName eq "y`, `userName eq "x\" or userName pr or userName eq \"y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := Eq(tt.attr, tt.value)
			if f.Err() != nil {
				t.Fatalf("Eq: %v", f.Err())
			}
			if got := f.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			n, err := parseFilter(f.String())
			if err != nil {
				t.Fatalf("parse back: %v", err)
			}
			if want := (cmpNode{Attr: tt.attr, Op: "eq", Value: tt.value}); !reflect.DeepEqual(n, want) {
				t.Errorf("parsed %#v, want %#v", n, want)
			}
		})
	}
}

func TestEqRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, attr, value string }{
		{"space in attr", "user Name", "x"},
		{"quote in attr", `userName"`, "x"},
		{"bracket", "emails[type eq \"work\"]", "x"},
		{"empty attr", "", "x"},
		{"leading digit", "1userName", "x"},
		{"two dots", "name.given.name", "x"},
		{"invalid utf8", "userName", "a\xffb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := Eq(tt.attr, tt.value)
			if f.Err() == nil || f.String() != "" {
				t.Errorf("Eq(%q, %q) = %q, %v; want an error", tt.attr, tt.value, f.String(), f.Err())
			}
			if g := And(Eq("userName", "a"), f); g.Err() == nil {
				t.Errorf("And did not carry the error")
			}
		})
	}
}

func TestAndOr(t *testing.T) {
	t.Parallel()
	a, b, c := Eq("userName", "a"), Eq("externalId", "b"), Eq("emails.value", "c")
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"and", And(a, b), `userName eq "a" and externalId eq "b"`},
		{"or of and", Or(And(a, b), c), `(userName eq "a" and externalId eq "b") or emails.value eq "c"`},
		{"and of or", And(Or(a, b), c), `(userName eq "a" or externalId eq "b") and emails.value eq "c"`},
		{"single", And(a), `userName eq "a"`},
		{"zero skipped", Or(Filter{}, a, Filter{}), `userName eq "a"`},
		{"nothing", And(), ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if tt.want == "" {
				if !tt.f.IsZero() {
					t.Errorf("want the zero Filter")
				}
				return
			}
			if _, err := parseFilter(tt.f.String()); err != nil {
				t.Errorf("parse back: %v", err)
			}
		})
	}
	if got := Or(And(a, b), c).Attributes(); !reflect.DeepEqual(got, []string{"userName", "externalId", "emails.value"}) {
		t.Errorf("Attributes = %v", got)
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"rfc example", `userName Eq "john" and (emails co "example.com" or emails.value co "example.org")`, true},
		{"not", `not (userName eq "x")`, true},
		{"pr", `title pr`, true},
		{"value path", `emails[type eq "work" and value co "@example.com"]`, true},
		{"number", `meta.version gt 3`, true},
		{"bool null", `active eq true and title eq null`, true},
		{"unterminated", `userName eq "x`, false},
		{"bad escape", `userName eq "\x"`, false},
		{"raw control", "userName eq \"a\tb\"", false},
		{"trailing", `userName eq "x" y`, false},
		{"unknown op", `userName is "x"`, false},
		{"bare word value", `userName eq john`, false},
		{"missing paren", `(userName eq "x"`, false},
		{"deep", strings.Repeat("(", 100) + `a eq 1` + strings.Repeat(")", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFilter(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("parseFilter(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	elem := map[string]any{"value": "Ada@Example.com", "type": "work", "primary": true}
	tests := []struct {
		filter string
		want   bool
	}{
		{`type eq "work"`, true},
		{`type eq "WORK"`, true},
		{`type eq "home"`, false},
		{`value ew "example.com" and primary eq true`, true},
		{`not (primary eq true)`, false},
		{`display pr`, false},
		{`type ne "home" or value sw "zzz"`, true},
	}
	for _, tt := range tests {
		n, err := parseFilter(tt.filter)
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		if got := matches(n, elem); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// FuzzFilter checks that for any attribute values the built filter parses
// back, strictly, to the same values, and survives URL query encoding.
func FuzzFilter(f *testing.F) {
	f.Add(strings.Repeat("\x00", 400), "x")
	for _, s := range []string{"", "a\"b", `a\b`, `\"`, "x+y@example.com", "Zoë 李", "\x00\n\u2028", `") or (userName pr`, "]", "%2B"} {
		f.Add(s, "plain")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		built := Or(Eq("userName", a), And(Eq("emails.value", b), Eq("externalId", a)))
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			if built.Err() == nil {
				t.Fatalf("invalid UTF-8 accepted: %q %q", a, b)
			}
			return
		}
		if built.Err() != nil {
			if strings.Contains(built.Err().Error(), "longer than") {
				return // too long is a legitimate refusal
			}
			t.Fatalf("build: %v", built.Err())
		}
		// What the server receives after the client's query encoding.
		enc := strings.ReplaceAll(url.QueryEscape(built.String()), "+", "%20")
		q, err := url.ParseQuery("filter=" + enc)
		if err != nil || q.Get("filter") != built.String() {
			t.Fatalf("query round trip: %q → %q (%v)", built.String(), q.Get("filter"), err)
		}
		n, err := parseFilter(q.Get("filter"))
		if err != nil {
			t.Fatalf("parse %q: %v", built.String(), err)
		}
		want := logNode{Op: "or",
			L: cmpNode{Attr: "userName", Op: "eq", Value: a},
			R: logNode{Op: "and",
				L: cmpNode{Attr: "emails.value", Op: "eq", Value: b},
				R: cmpNode{Attr: "externalId", Op: "eq", Value: a}},
		}
		if !reflect.DeepEqual(n, want) {
			got, _ := json.Marshal(n)
			t.Fatalf("parsed %s from %q", got, built.String())
		}
	})
}
