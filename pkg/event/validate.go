package event

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaID is the $id of the employee-event.v1 JSON Schema.
const SchemaID = "https://keycard.invalid/schemas/employee-event.v1.json"

// schemaJSON is a byte-identical copy of the workspace's canonical
// schemas/employee-event.v1.json. go:embed cannot reach outside this module,
// so the file is copied here; TestSchemaCopyMatchesCanonical fails when the
// two differ. Edit schemas/employee-event.v1.json, then copy it over.
//
//go:embed schema/employee-event.v1.json
var schemaJSON []byte

// compiledSchema compiles the embedded schema once, on first use.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat() // enforce "date-time" on occurred_at and effective_at
	if err := c.AddResource(SchemaID, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	return c.Compile(SchemaID)
})

// Validate checks that data is one JSON document conforming to the
// employee-event.v1 schema. A schema violation is returned wrapping a
// *jsonschema.ValidationError whose message names each failing location as
// a JSON pointer (e.g. "at '/employee/hire_date': ...").
func Validate(data []byte) error {
	sch, err := compiledSchema()
	if err != nil {
		return fmt.Errorf("compile event schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		return fmt.Errorf("validate event: %w", err)
	}
	return nil
}

// Parse validates data with Validate and decodes it.
func Parse(data []byte) (Event, error) {
	if err := Validate(data); err != nil {
		return Event{}, err
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}
