package event

import "testing"

func TestStateOn(t *testing.T) {
	t.Parallel()
	const today = "2026-11-25"
	tests := []struct {
		name string
		e    Employee
		want State
	}{
		{"active", Employee{Status: StatusActive, HireDate: "2024-01-01"}, Active},
		{"starts today", Employee{Status: StatusActive, HireDate: today}, Active},
		{"starts tomorrow", Employee{Status: StatusActive, HireDate: "2026-11-26"}, Pending},
		{"inactive", Employee{Status: StatusInactive}, Gone},
		{"employment status terminated", Employee{Status: StatusActive, EmploymentStatus: "terminated"}, Gone},
		{"leaves today", Employee{Status: StatusActive, TerminationDate: today}, Gone},
		{"leaves tomorrow", Employee{Status: StatusActive, TerminationDate: "2026-11-26"}, Active},
		{"contract ended yesterday", Employee{Status: StatusActive, ContractEndDate: "2026-11-24"}, Gone},
		{"rehired, old termination date kept", Employee{Status: StatusActive, HireDate: "2026-11-01", TerminationDate: "2025-01-01"}, Active},
		{"rehire starting next week", Employee{Status: StatusActive, HireDate: "2026-11-30", TerminationDate: "2025-01-01"}, Pending},
		{"leaves on the first day", Employee{Status: StatusActive, HireDate: today, TerminationDate: today}, Gone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.e.StateOn(today); got != tt.want {
				t.Errorf("StateOn = %s, want %s", got, tt.want)
			}
		})
	}
}
