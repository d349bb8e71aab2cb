package event

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"keycard/schemas"
)

// Validate checks that data is one JSON document conforming to the
// employee-event.v1 schema. A schema violation is returned wrapping a
// *jsonschema.ValidationError whose message names each failing location as
// a JSON pointer (e.g. "at '/employee/hire_date': ...").
func Validate(data []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if err := schemas.Event.Validate(doc); err != nil {
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
