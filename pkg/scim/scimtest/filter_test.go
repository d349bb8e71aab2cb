package scimtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		filter  string
		wantErr bool
		value   any // the compared value, for single comparisons
	}{
		{name: "eq", filter: `userName eq "bjensen"`, value: "bjensen"},
		{name: "case-insensitive keywords", filter: `USERNAME EQ "x" AnD active Eq true`},
		{name: "escaped quote", filter: `userName eq "a\"b"`, value: `a"b`},
		{name: "escaped backslash", filter: `userName eq "a\\b"`, value: `a\b`},
		{name: "escaped solidus and controls", filter: `userName eq "\/\b\f\n\r\t"`, value: "/\b\f\n\r\t"},
		{name: "lower-case unicode escape", filter: `userName eq "Jos\u00e9"`, value: "José"},
		{name: "upper-case unicode escape", filter: `userName eq "Jos\u00E9"`, value: "José"},
		{name: "surrogate pair", filter: `userName eq "\ud83d\ude00"`, value: "😀"},
		{name: "raw unicode", filter: `userName eq "Zoë 😀"`, value: "Zoë 😀"},
		{name: "plus sign", filter: `userName eq "a+b@x.com"`, value: "a+b@x.com"},
		{name: "brackets and parens in string", filter: `userName eq "a[b](c) and d"`, value: "a[b](c) and d"},
		{name: "empty string", filter: `userName eq ""`, value: ""},
		{name: "number", filter: `x gt 12.5e3`, value: json.Number("12.5e3")},
		{name: "negative number", filter: `x le -1`, value: json.Number("-1")},
		{name: "null", filter: `title eq null`, value: nil},
		{name: "false", filter: `active ne false`, value: false},
		{name: "present", filter: `title pr`},
		{name: "sub-attribute", filter: `name.familyName co "O'Malley"`, value: "O'Malley"},
		{name: "schema URI", filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Ops"`, value: "Ops"},
		{name: "value path", filter: `emails[type eq "work" and value co "@example.com"]`},
		{name: "value path and more", filter: `emails[type eq "work"] or userName sw "a"`},
		{name: "not", filter: `not (userName eq "a")`},
		{name: "not without space", filter: `not(userName eq "a")`},
		{name: "nested groups", filter: `((a eq "1" or b eq "2") and c pr) or not (d eq "3")`},
		{name: "attribute with dash and digits", filter: `x-custom_2 eq "v"`, value: "v"},
		{name: "$ref", filter: `members.$ref eq "v"`, value: "v"},

		{name: "empty", filter: ``, wantErr: true},
		{name: "blank", filter: `   `, wantErr: true},
		{name: "attribute only", filter: `userName`, wantErr: true},
		{name: "missing value", filter: `userName eq`, wantErr: true},
		{name: "unquoted value", filter: `userName eq bjensen`, wantErr: true},
		{name: "single quotes", filter: `userName eq 'bjensen'`, wantErr: true},
		{name: "unterminated string", filter: `userName eq "bjensen`, wantErr: true},
		{name: "escape at end", filter: `userName eq "a\`, wantErr: true},
		{name: "invalid escape", filter: `userName eq "a\x41"`, wantErr: true},
		{name: "short unicode escape", filter: `userName eq "\u12"`, wantErr: true},
		{name: "non-hex unicode escape", filter: `userName eq "\u12G4"`, wantErr: true},
		{name: "raw control character", filter: "userName eq \"a\tb\"", wantErr: true},
		{name: "unknown operator", filter: `userName like "a"`, wantErr: true},
		{name: "upper-case literal", filter: `active eq TRUE`, wantErr: true},
		{name: "leading-zero number", filter: `x eq 01`, wantErr: true},
		{name: "bare minus", filter: `x eq -`, wantErr: true},
		{name: "dangling and", filter: `userName eq "x" and`, wantErr: true},
		{name: "unknown logical operator", filter: `a eq "x" xor b eq "y"`, wantErr: true},
		{name: "missing space before value", filter: `userName eq"x"`, wantErr: true},
		{name: "missing space before and", filter: `a eq "x"and b eq "y"`, wantErr: true},
		{name: "unclosed paren", filter: `(userName eq "x"`, wantErr: true},
		{name: "extra paren", filter: `userName eq "x")`, wantErr: true},
		{name: "trailing value", filter: `userName eq "x" "y"`, wantErr: true},
		{name: "not without parens", filter: `not userName eq "x"`, wantErr: true},
		{name: "gt on boolean", filter: `active gt true`, wantErr: true},
		{name: "co on number", filter: `x co 5`, wantErr: true},
		{name: "gt on null", filter: `x gt null`, wantErr: true},
		{name: "unclosed value path", filter: `emails[type eq "work"`, wantErr: true},
		{name: "nested value path", filter: `emails[type[x eq "1"] eq "2"]`, wantErr: true},
		{name: "space before bracket", filter: `emails [type eq "work"]`, wantErr: true},
		{name: "name starts with digit", filter: `1abc eq "x"`, wantErr: true},
		{name: "two sub-attributes", filter: `name.given.name eq "x"`, wantErr: true},
		{name: "URI without attribute", filter: `urn:ietf:params:scim:schemas:core:2.0:User: eq "x"`, wantErr: true},
		{name: "invalid UTF-8", filter: "userName eq \"\xff\"", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := parseFilter(tt.filter)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFilter(%q) error = %v, wantErr %v", tt.filter, err, tt.wantErr)
			}
			if err != nil {
				var fe *filterError
				if !errors.As(err, &fe) {
					t.Errorf("error %T is not a *filterError", err)
				}
				return
			}
			if c, ok := e.(compareExpr); ok && c.op != "pr" && !reflect.DeepEqual(c.value, tt.value) {
				t.Errorf("value = %#v, want %#v", c.value, tt.value)
			}
		})
	}
}

func TestParsePatchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		want    attrPath
		filter  bool
		wantErr bool
	}{
		{path: "active", want: attrPath{name: "active"}},
		{path: "name.givenName", want: attrPath{name: "name", sub: "givenName"}},
		{path: `members[value eq "2819c223"]`, want: attrPath{name: "members"}, filter: true},
		{path: `emails[type eq "work"].value`, want: attrPath{name: "emails", sub: "value"}, filter: true},
		{path: enterpriseSchema + ":manager.value", want: attrPath{uri: enterpriseSchema, name: "manager", sub: "value"}},
		{path: "", wantErr: true},
		{path: " active", wantErr: true},
		{path: "active extra", wantErr: true},
		{path: `members[value eq "x"]x`, wantErr: true},
		{path: `members[value eq "x"].`, wantErr: true},
		{path: `name.givenName[value eq "x"]`, wantErr: true},
		{path: `members[value eq "x"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, err := parsePatchPath(tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (got.attr != tt.want || (got.filter != nil) != tt.filter) {
				t.Errorf("got %+v filter %v", got.attr, got.filter != nil)
			}
		})
	}
}

// TestFilterOverHTTP sends filters the way a client must: the expression
// URL-encoded as one query parameter, string values JSON-escaped.
func TestFilterOverHTTP(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	seed := []User{
		{UserName: `a"b@example.com`, ExternalID: "EXT-1", Emails: []Email{{Value: `a"b@example.com`, Type: "work"}}},
		{UserName: `back\slash`, ExternalID: "EXT-2", DisplayName: "Backslash"},
		{UserName: "plus+tag@example.com", Emails: []Email{{Value: "plus+tag@example.com", Type: "home"}}},
		{UserName: "jose", DisplayName: "José Müller", Emails: []Email{{Value: "jose@example.org", Type: "work"}}},
		{UserName: "😀", DisplayName: "Emoji"},
		{UserName: "plus tag@example.com"},
	}
	for _, u := range seed {
		u.Active = true
		s.Seed(u)
	}
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{"quote", `userName eq "a\"b@example.com"`, []string{`a"b@example.com`}},
		{"backslash", `userName eq "back\\slash"`, []string{`back\slash`}},
		{"plus sign", `userName eq "plus+tag@example.com"`, []string{"plus+tag@example.com"}},
		{"space is not plus", `userName eq "plus tag@example.com"`, []string{"plus tag@example.com"}},
		{"email case-insensitive", `emails.value eq "PLUS+tag@EXAMPLE.com"`, []string{"plus+tag@example.com"}},
		{"emails without sub-attribute", `emails eq "jose@example.org"`, []string{"jose"}},
		{"unicode escape", `displayName eq "Jos\u00e9 M\u00fcller"`, []string{"jose"}},
		{"unicode case folding", `displayName eq "JOSÉ MÜLLER"`, []string{"jose"}},
		{"surrogate pair", `userName eq "\ud83d\ude00"`, []string{"😀"}},
		{"externalId case-exact", `externalId eq "ext-1"`, []string{}},
		{"externalId", `externalId eq "EXT-1"`, []string{`a"b@example.com`}},
		{"attribute and operator case", `USERNAME Eq "BACK\\SLASH"`, []string{`back\slash`}},
		{"or", `userName eq "jose" or externalId eq "EXT-2"`, []string{`back\slash`, "jose"}},
		{"and", `displayName pr and emails.value ew "@example.org"`, []string{"jose"}},
		{"and binds tighter than or", `userName eq "jose" or userName eq "😀" and displayName eq "nope"`, []string{"jose"}},
		{"value path", `emails[type eq "work" and value co "example.com"]`, []string{`a"b@example.com`}},
		{"not", `not (userName sw "plus") and not (displayName pr)`, []string{`a"b@example.com`}},
		{"no match", `userName eq "nobody"`, []string{}},
		{"core schema URI", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jose"`, []string{"jose"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := c.do(http.MethodGet, filterQuery(tt.filter), nil)
			if got := listUserNames(t, r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("filter %s = %q, want %q", tt.filter, got, tt.want)
			}
			if r.body["totalResults"] != float64(len(tt.want)) {
				t.Errorf("totalResults = %v", r.body["totalResults"])
			}
		})
	}

	t.Run("unencoded plus is a space", func(t *testing.T) {
		t.Parallel()
		// A client that forgets to escape "+" sends a space (form encoding).
		r := c.do(http.MethodGet, `/Users?filter=userName+eq+"plus+tag@example.com"`, nil)
		if got := listUserNames(t, r); !reflect.DeepEqual(got, []string{"plus tag@example.com"}) {
			t.Errorf("got %q", got)
		}
	})
	for _, bad := range []string{`userName eq bjensen`, `userName eq "x`, ``, `userName eq "\q"`} {
		t.Run("invalid "+bad, func(t *testing.T) {
			t.Parallel()
			c.do(http.MethodGet, filterQuery(bad), nil).wantError(t, http.StatusBadRequest, typeInvalidFilter)
		})
	}
}

func TestFilterGroups(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	alice := c.createUser("alice", nil)
	bob := c.createUser("bob", nil)
	eng := c.createGroup("Engineering", alice, bob)
	sales := c.createGroup("Sales", bob)
	tests := []struct {
		filter string
		want   []string
	}{
		{`displayName eq "engineering"`, []string{eng}},
		{`members.value eq "` + alice + `"`, []string{eng}},
		{`members[value eq "` + bob + `"]`, []string{eng, sales}},
		{`members.value eq "` + strings.ToUpper(alice) + `"`, []string{}},
	}
	for _, tt := range tests {
		r := c.do(http.MethodGet, "/Groups?filter="+url.QueryEscape(tt.filter), nil).want(t, http.StatusOK)
		got := []string{}
		for _, g := range r.body["Resources"].([]any) {
			got = append(got, g.(map[string]any)["id"].(string))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.filter, got, tt.want)
		}
	}
	// A user's groups can be filtered through the computed attribute.
	r := c.do(http.MethodGet, filterQuery(`groups.value eq "`+eng+`"`), nil)
	if got := listUserNames(t, r); !reflect.DeepEqual(got, []string{"alice", "bob"}) {
		t.Errorf("groups.value filter = %v", got)
	}
}

// FuzzFilter checks that the parsers never panic: every input is either
// rejected with a *filterError or parsed into an expression that evaluates.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`userName eq "a\"b\\c\u00e9\ud83d\ude00"`,
		`emails[type eq "work" and value co "@x"] or not (title pr)`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`,
		`members[value eq "x"].display`,
		`x ge -1.5E+3 and active eq false or y eq null`,
		`((((a eq "1"))))`,
		`"`, `\`, `[`, `]`, `(`, `not (`, "a eq \"\xff\"",
	} {
		f.Add(s)
	}
	doc := map[string]any{
		"userName": "bjensen", "active": true, "x": json.Number("3"), "title": "",
		"name":           map[string]any{"givenName": "Barbara"},
		"emails":         []any{map[string]any{"value": "b@x", "type": "work"}, "stray"},
		"members":        []any{map[string]any{"value": "x"}},
		enterpriseSchema: map[string]any{"manager": map[string]any{"value": "1"}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("parseFilter(%q): error %T", s, err)
			}
		} else {
			e.match(doc, "")
			walk(e, func(attrPath, *compareExpr) {})
		}
		if pp, err := parsePatchPath(s); err == nil {
			d := copyDoc(doc)
			for _, o := range []string{"add", "replace", "remove"} {
				_ = applyAt(d, pp, o, "v", true, kindUser)
			}
		}
	})
}

func BenchmarkFilter(b *testing.B) {
	doc := map[string]any{
		"userName": "bjensen@example.com", "active": true,
		"emails": []any{map[string]any{"value": "b@x", "type": "work"}, map[string]any{"value": "h@x", "type": "home"}},
	}
	const f = `userName eq "BJENSEN@example.com" and (emails[type eq "work" and value ew "@x"] or active eq false)`
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseFilter(f); err != nil {
				b.Fatal(err)
			}
		}
	})
	e, _ := parseFilter(f)
	b.Run("match", func(b *testing.B) {
		for b.Loop() {
			if !e.match(doc, "") {
				b.Fatal("no match")
			}
		}
	})
}
