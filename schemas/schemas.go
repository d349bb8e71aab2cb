// Package schemas holds Keycard's JSON Schemas, the contracts between its
// services and with the people who write its configuration, and is the one
// place they are loaded and compiled:
//
//   - employee-event.v1.json: the canonical lifecycle event the normalizer
//     publishes and every worker consumes (package event validates it);
//   - keycard-config.v1.json: the apps-and-policy file (package policy
//     checks a file against it before its own rules).
//
// The files are this module's own, embedded as they are: there is no copy
// to keep in step. The module has one dependency, the validator, so it
// stands apart from pkg only for go:embed, which cannot reach outside a
// module.
package schemas

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	//go:embed employee-event.v1.json
	eventJSON []byte
	//go:embed keycard-config.v1.json
	configJSON []byte
)

// Schema is one JSON Schema document, compiled on first use.
type Schema struct {
	// ID is the document's $id.
	ID      string
	doc     []byte
	compile func() (*jsonschema.Schema, error)
}

// The schemas.
var (
	Event  = load("https://keycard.invalid/schemas/employee-event.v1.json", eventJSON)
	Config = load("https://keycard.invalid/schemas/keycard-config.v1.json", configJSON)
)

func load(id string, doc []byte) *Schema {
	return &Schema{ID: id, doc: doc, compile: sync.OnceValues(func() (*jsonschema.Schema, error) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			return nil, fmt.Errorf("decode schema %s: %w", id, err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat() // "date-time" and "date" are checked, not only annotations
		if err := c.AddResource(id, v); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", id, err)
		}
		return c.Compile(id)
	})}
}

// JSON returns a copy of the schema document.
func (s *Schema) JSON() []byte { return bytes.Clone(s.doc) }

// Validate checks that v, a document decoded by jsonschema.UnmarshalJSON
// (numbers as json.Number), conforms. A violation is a
// *jsonschema.ValidationError naming each failing location as a JSON
// pointer.
func (s *Schema) Validate(v any) error {
	sch, err := s.compile()
	if err != nil {
		return err
	}
	return sch.Validate(v)
}
