package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"keycard/schemas"
)

// secretKeys are keys people write when they mean token_env.
var secretKeys = map[string]bool{
	"token": true, "api_key": true, "apikey": true, "key": true, "secret": true,
	"password": true, "credentials": true, "client_secret": true, "bearer": true,
}

// unknownKey is the message for a key nothing takes.
func unknownKey(k string) string {
	if secretKeys[strings.ToLower(k)] {
		return "unknown key; secrets never go in this file: name the environment variable that holds it with token_env"
	}
	return "unknown key"
}

// validateSchema checks the decoded document against the schema and
// records one *Error per failing location.
func (v *validator) validateSchema(doc any) {
	err := schemas.Config.Validate(doc)
	var ve *jsonschema.ValidationError
	if err == nil {
		return
	}
	if !errors.As(err, &ve) {
		v.errs = append(v.errs, &Error{File: v.file, Msg: err.Error()})
		return
	}
	v.schemaError(ve, message.NewPrinter(language.English))
}

func (v *validator) schemaError(ve *jsonschema.ValidationError, p *message.Printer) {
	path := ve.InstanceLocation
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, prop := range k.Properties {
			v.keyErrorf(appendPath(path, prop), "%s", unknownKey(prop))
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			v.errorf(path, "missing required key %q", m)
		}
		return
	case *kind.PropertyNames:
		var msgs []string
		for _, leaf := range leaves(ve) {
			msgs = append(msgs, leafMessage(leaf, p))
		}
		sort.Strings(msgs)
		v.keyErrorf(appendPath(path, k.Property), "invalid app name %s", strings.Join(msgs, "; "))
		return
	}
	if len(ve.Causes) == 0 {
		v.errorf(path, "%s", leafMessage(ve, p))
		return
	}
	for _, c := range ve.Causes {
		v.schemaError(c, p)
	}
}

// patternHints replace the regular expression in pattern errors, by the
// schema location that failed.
var patternHints = map[string]string{
	"/$defs/appName":  "want lower-case letters, digits and '-', starting with a letter, at most 32 characters",
	"/$defs/envName":  "want an environment variable name (A-Z, 0-9, _, starting with a letter), not its value",
	"/$defs/duration": "want a duration such as 30s, 10m or 1h30m",
}

// leafMessage describes an error without causes.
func leafMessage(ve *jsonschema.ValidationError, p *message.Printer) string {
	if k, ok := ve.ErrorKind.(*kind.Pattern); ok {
		_, frag, _ := strings.Cut(ve.SchemaURL, "#")
		if hint, ok := patternHints[frag]; ok {
			return fmt.Sprintf("%q: %s", k.Got, hint)
		}
	}
	return ve.ErrorKind.LocalizedString(p)
}

// leaves returns the errors without causes below ve.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}
