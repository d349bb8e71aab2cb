package scim_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"keycard/pkg/scim"
)

// The README's table of attributes and look-ups per profile says what the
// profiles do.
func TestREADMEProfileTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, p := range scim.Profiles() {
		by := []string{"stored id"}
		if _, ok := p.ByExternalID("x"); ok {
			by = append(by, "externalId")
		}
		if p.IDIsExternalID {
			by = append(by, "HR id (the vendor's id)")
		}
		if _, ok := p.ByEmail("x"); ok {
			by = append(by, "e-mail")
		}
		row := fmt.Sprintf("| `%s` | %s | %s |", p.Name, strings.ReplaceAll(p.Accepts.String(), ",", ", "), strings.Join(by, ", "))
		if !strings.Contains(readme, row+"\n") {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}
