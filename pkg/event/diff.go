package event

import "slices"

// Diff returns the JSON names of the snapshot fields whose values differ
// between prev and next, sorted ascending. A custom field is reported as
// "custom.<key>" when its value differs or it is present in only one of the
// two. Diff returns nil when nothing differs.
func Diff(prev, next Employee) []string {
	var changed []string
	field := func(name, a, b string) {
		if a != b {
			changed = append(changed, name)
		}
	}
	field("id", prev.ID, next.ID)
	field("first_name", prev.FirstName, next.FirstName)
	field("last_name", prev.LastName, next.LastName)
	field("preferred_name", prev.PreferredName, next.PreferredName)
	field("display_name", prev.DisplayName, next.DisplayName)
	field("work_email", prev.WorkEmail, next.WorkEmail)
	field("status", prev.Status, next.Status)
	field("employment_status", prev.EmploymentStatus, next.EmploymentStatus)
	field("employment_type", prev.EmploymentType, next.EmploymentType)
	field("department", prev.Department, next.Department)
	field("division", prev.Division, next.Division)
	field("job_title", prev.JobTitle, next.JobTitle)
	field("location", prev.Location, next.Location)
	field("time_zone", prev.TimeZone, next.TimeZone)
	field("manager_id", prev.ManagerID, next.ManagerID)
	field("hire_date", prev.HireDate, next.HireDate)
	field("termination_date", prev.TerminationDate, next.TerminationDate)
	field("contract_end_date", prev.ContractEndDate, next.ContractEndDate)

	for k, a := range prev.Custom {
		if b, ok := next.Custom[k]; !ok || a != b {
			changed = append(changed, "custom."+k)
		}
	}
	for k := range next.Custom {
		if _, ok := prev.Custom[k]; !ok {
			changed = append(changed, "custom."+k)
		}
	}
	slices.Sort(changed)
	return changed
}
