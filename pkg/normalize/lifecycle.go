package normalize

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"keycard/pkg/bamboohr"
	"keycard/pkg/event"
)

// The states, from the one rule in pkg/event.
const (
	pending    = event.Pending
	active     = event.Active
	terminated = event.Gone
)

// moveFields are the snapshot fields whose change makes an update a move:
// they are what access rules key on.
var moveFields = map[string]bool{
	"department": true, "division": true, "job_title": true, "location": true,
	"manager_id": true, "employment_type": true,
}

// classify decides which event, if any, the change from prev to next is.
// prev is nil the first time a person is seen.
func classify(prev *Snapshot, next event.Employee, st event.State) (event.Kind, bool) {
	if prev == nil {
		switch st {
		case active:
			return event.Hired, true
		case terminated:
			// First sighting of someone already gone: say so, so that any
			// account that exists anyway is switched off.
			return event.Terminated, true
		}
		return "", false // a future hire: nothing to grant before the start date
	}
	switch {
	case st == active && prev.State != active:
		if prev.EverTerminated {
			return event.Rehired, true
		}
		return event.Hired, true
	case st == terminated && prev.State != terminated:
		// Includes an offer withdrawn before day one: nothing was granted,
		// but saying so keeps anything from being granted by mistake.
		return event.Terminated, true
	case st == pending:
		if prev.State == active {
			// A start date moved into the future: access must wait.
			return event.Updated, true
		}
		return "", false
	}
	changed := event.Diff(prev.Employee, next)
	if len(changed) == 0 {
		return "", false
	}
	if st == active {
		for _, f := range changed {
			if moveFields[f] {
				return event.Moved, true
			}
		}
	}
	return event.Updated, true
}

// mapping turns a BambooHR record into the canonical snapshot.
type mapping struct {
	zones              *event.Zones // falls back to the company zone
	contractorStatuses []string     // employment statuses that mean "contractor"
}

func (m mapping) employee(b bamboohr.Employee) event.Employee {
	e := event.Employee{
		ID:               b.ID,
		FirstName:        b.FirstName,
		LastName:         b.LastName,
		PreferredName:    b.PreferredName,
		DisplayName:      b.DisplayName,
		WorkEmail:        b.WorkEmail,
		Status:           event.StatusActive,
		EmploymentStatus: b.EmploymentStatus,
		Department:       b.Department,
		Division:         b.Division,
		JobTitle:         b.JobTitle,
		Location:         b.Location,
		TimeZone:         m.zone(b.TimeZone).String(),
		ManagerID:        b.SupervisorID,
		HireDate:         b.HireDate,
		TerminationDate:  b.TerminationDate,
		ContractEndDate:  b.ContractEndDate,
		Custom:           b.Custom,
	}
	if strings.EqualFold(b.Status, bamboohr.StatusInactive) {
		e.Status = event.StatusInactive
	}
	if b.EmploymentStatus != "" {
		e.EmploymentType = event.EmploymentTypeEmployee
		for _, s := range m.contractorStatuses {
			if strings.EqualFold(b.EmploymentStatus, s) {
				e.EmploymentType = event.EmploymentTypeContractor
			}
		}
	}
	if len(e.Custom) == 0 {
		e.Custom = nil
	}
	return e
}

// Mapping is the normalizer's own mapping of a BambooHR record to the
// canonical snapshot and its effective-time rules, for tools that read HR
// without running the normalizer (provctl simulate): the same zone
// fallback, contractor statuses and joiner/leaver clock times, so they see
// people exactly as the workers will.
type Mapping struct {
	m                      mapping
	joinerTime, leaverTime string
}

// NewMapping is the mapping of o's DefaultZone, ContractorStatuses,
// JoinerTime and LeaverTime, with New's defaults for those left zero.
func NewMapping(o Options) (Mapping, error) {
	o.defaults()
	for _, t := range []string{o.JoinerTime, o.LeaverTime} {
		if _, err := time.Parse("15:04", t); err != nil {
			return Mapping{}, fmt.Errorf("effective time %q: want HH:MM", t)
		}
	}
	return Mapping{
		m:          mapping{zones: &event.Zones{Fallback: o.DefaultZone}, contractorStatuses: o.ContractorStatuses},
		joinerTime: o.JoinerTime, leaverTime: o.LeaverTime,
	}, nil
}

// Employee is b as the normalizer snapshots it.
func (m Mapping) Employee(b bamboohr.Employee) event.Employee { return m.m.employee(b) }

// StartsAt is when e's start date takes effect (the joiner time on it in
// e's zone: when the normalizer's schedule fires the hire); zero without
// a start date.
func (m Mapping) StartsAt(e event.Employee) (time.Time, error) {
	return m.effective(e.HireDate, m.joinerTime, e.TimeZone)
}

// EndsAt is when e's termination date, else contract end date, takes
// effect (the leaver time on it in e's zone); zero without either.
func (m Mapping) EndsAt(e event.Employee) (time.Time, error) {
	return m.effective(cmp.Or(e.TerminationDate, e.ContractEndDate), m.leaverTime, e.TimeZone)
}

func (m Mapping) effective(date, hhmm, zone string) (time.Time, error) {
	if date == "" {
		return time.Time{}, nil
	}
	return at(date, hhmm, m.m.zone(zone))
}

// zone resolves an IANA name from HR, falling back to the company zone
// for an empty or unknown name.
func (m mapping) zone(name string) *time.Location { return m.zones.Get(name) }

// at is the instant of clock time hhmm ("18:00") on date in loc.
func at(date, hhmm string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02 15:04", date+" "+hhmm, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("effective date %q at %q: %w", date, hhmm, err)
	}
	return t, nil
}
