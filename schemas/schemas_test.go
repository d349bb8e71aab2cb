package schemas

import (
	"encoding/json"
	"testing"
)

// Each schema compiles, says its own $id, and rejects what it must.
func TestSchemas(t *testing.T) {
	t.Parallel()
	for _, s := range []*Schema{Event, Config} {
		var doc struct {
			ID string `json:"$id"`
		}
		if err := json.Unmarshal(s.JSON(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ID != s.ID {
			t.Errorf("$id %q, loaded as %q", doc.ID, s.ID)
		}
		if _, err := s.Compiled(); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		if err := s.Validate("not an object"); err == nil {
			t.Errorf("%s accepts a string", s.ID)
		}
	}
	b := Event.JSON()
	b[0] = 'x'
	if Event.JSON()[0] == 'x' {
		t.Error("JSON hands out the embedded document itself")
	}
}
