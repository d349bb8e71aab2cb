package event

import (
	"cmp"
	"strings"
)

// State is where a person stands on a given day, derived from a snapshot.
// The normalizer classifies changes by it and the access policy grants by
// it, so both read one rule.
type State string

const (
	// Pending: hired, with a start date still in the future; no access yet.
	Pending State = "pending"
	Active  State = "active"
	// Gone: inactive in HR, or a termination or contract end date that is
	// today or past ("today acts now").
	Gone State = "terminated"
)

// StateOn derives e's state on day today ("YYYY-MM-DD" in the person's time
// zone). ISO dates order correctly as strings.
func (e Employee) StateOn(today string) State {
	switch {
	case e.Status == StatusInactive,
		strings.EqualFold(e.EmploymentStatus, "Terminated"),
		e.ends(e.TerminationDate, today),
		e.ends(e.ContractEndDate, today):
		return Gone
	case e.HireDate != "" && e.HireDate > today:
		return Pending
	}
	return Active
}

// ends says whether an end date has come. An end date before the hire date
// belongs to an earlier employment (HR may keep it after a rehire) and no
// longer counts.
func (e Employee) ends(date, today string) bool {
	return date != "" && date <= today && (e.HireDate == "" || date >= e.HireDate)
}

// Name is what people call e: the display name, else the preferred (or
// first) name and the last name.
func (e Employee) Name() string {
	return cmp.Or(e.DisplayName, strings.TrimSpace(cmp.Or(e.PreferredName, e.FirstName)+" "+e.LastName))
}
