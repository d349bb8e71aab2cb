package scimtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIndexes checks that the indexed filter, uniqueness and groups paths
// follow updates, deletes and case rules.
func TestIndexes(t *testing.T) {
	t.Parallel()
	s, c := start(t, Quirks{Unique: []string{"userName", "emails.value"}})
	find := func(filter string) []string {
		t.Helper()
		r := c.do(http.MethodGet, "/Users?filter="+url.QueryEscape(filter), nil).want(t, http.StatusOK)
		var ids []string
		for _, v := range r.body["Resources"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		return ids
	}
	a := c.createUser("Alice", map[string]any{"emails": emails("Alice@Example.com"), "externalId": "X1"})
	b := c.createUser("bob", map[string]any{"emails": emails("bob@example.com")})
	for filter, want := range map[string]string{
		`userName eq "ALICE"`: a, `emails.value eq "alice@example.COM"`: a, `externalId eq "X1"`: a,
		`externalId eq "x1"`: "", `emails.value eq "bob@example.com"`: b, `userName eq "K"`: "",
	} {
		if got := strings.Join(find(filter), ","); got != want {
			t.Errorf("%s: got %q, want %q", filter, got, want)
		}
	}
	c.do(http.MethodPost, "/Users", userBody("carol", map[string]any{"emails": emails("ALICE@example.com")})).
		wantError(t, http.StatusConflict, typeUniqueness)
	c.do(http.MethodPut, "/Users/"+a, userBody("alice2", map[string]any{"emails": emails("a2@example.com")})).
		want(t, http.StatusOK)
	if got := find(`emails.value eq "alice@example.com"`); len(got) != 0 {
		t.Errorf("old e-mail still found: %v", got)
	}
	if got := find(`emails.value eq "A2@example.com"`); len(got) != 1 || got[0] != a {
		t.Errorf("new e-mail: %v", got)
	}
	c.createUser("carol", map[string]any{"emails": emails("alice@example.com")})
	g := c.createGroup("eng", a, b)
	if r := c.do(http.MethodGet, "/Users/"+a, nil).want(t, http.StatusOK); r.body["groups"] == nil {
		t.Error("groups missing")
	}
	c.do(http.MethodDelete, "/Users/"+b, nil).want(t, http.StatusNoContent)
	if m := s.Groups()[0].Members; len(m) != 1 || m[0] != a {
		t.Errorf("members = %v", m)
	}
	c.do(http.MethodDelete, "/Groups/"+g, nil).want(t, http.StatusNoContent)
	if r := c.do(http.MethodGet, "/Users/"+a, nil).want(t, http.StatusOK); r.body["groups"] != nil {
		t.Errorf("groups = %v after the group was deleted", r.body["groups"])
	}
	c.createUser("bob", map[string]any{"emails": emails("bob@example.com")})
}

func TestFoldKey(t *testing.T) {
	t.Parallel()
	words := []string{"k", "K", "\u212a", "s", "S", "\u017f", "İ", "i", "ß", "ẞ", "Straße", "STRASSE", "σ", "ς", "Σ", ""}
	for _, x := range words {
		for _, y := range words {
			if (foldKey(x) == foldKey(y)) != strings.EqualFold(x, y) {
				t.Errorf("foldKey(%q) vs foldKey(%q) disagrees with EqualFold", x, y)
			}
		}
	}
}
