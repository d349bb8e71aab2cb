package schemas

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
		var ve *jsonschema.ValidationError
		if err := s.Validate("not an object"); !errors.As(err, &ve) {
			t.Errorf("%s: a string is not rejected by the schema: %v", s.ID, err)
		}
	}
	b := Event.JSON()
	b[0] = 'x'
	if Event.JSON()[0] == 'x' {
		t.Error("JSON hands out the embedded document itself")
	}
}
