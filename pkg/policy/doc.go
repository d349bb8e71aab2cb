// Package policy loads Keycard's declarative configuration — the apps to
// provision and the access policy — and evaluates the policy for one
// person.
//
// The configuration is one YAML file (KEYCARD_CONFIG; example:
// deployments/keycard.example.yaml) whose shape is fixed by the JSON Schema
// keycard-config.v1.json. [Load] and [Parse] validate it against that
// schema, then check what a schema cannot say (unique app names, app
// types and their settings as the connector registry they are given has
// them, grants only for defined apps, CEL conditions that compile to bool
// over known employee fields), and report every problem at once as
// [*Error] values with file, line, column and field path:
//
//	keycard.yaml:14:11: policy.rules[1].when: undeclared reference to 'employe' (did you mean 'employee'?)
//
// Defaults are applied after validation (see [App], [RateLimit], [Guard]).
//
// The policy names no vendor: an app's type, its settings and its default
// pace are its connector's (keycard/pkg/connector/registry), so a new
// connector changes nothing here.
//
// [Config.Evaluate] turns one snapshot into the desired state of every
// configured app: only a person who is [event.Active] on the day gets
// anything; birthright grants apply to all of them, and each rule whose
// `when` holds adds its grants. Rule conditions are CEL expressions over
// the variable `employee`, the canonical snapshot [event.Employee] with its
// JSON field names (employee.department, employee.employment_type,
// employee.custom["cost_center"], ...), plus the CEL string extensions
// (lowerAscii, split, ...). They are compiled once, at load time; a loaded
// Config is immutable and safe for concurrent use.
package policy
