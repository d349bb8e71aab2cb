package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one problem in a configuration file. Load and Parse return all
// of a file's problems at once, joined with errors.Join; match them with
// errors.As or walk them through Unwrap() []error.
type Error struct {
	File   string
	Line   int    // 1-based; 0 when the problem concerns the whole file
	Column int    // 1-based; 0 when unknown (YAML syntax errors)
	Field  string // e.g. "policy.rules[1].when"; "" for the document itself
	Msg    string
}

// Error formats e as "file:line:col: field: msg", leaving out the column
// when it is unknown, the line when there is none and the field when the
// problem is not tied to one.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			s += fmt.Sprintf(":%d", e.Column)
		}
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// joinErrors sorts errs by position and joins them; nil when empty.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
