package event_test

import (
	"fmt"

	"keycard/pkg/event"
)

func ExampleID() {
	fmt.Println(event.ID(event.SourceBambooHR, "4821", 7))
	fmt.Println(event.ID(event.SourceBambooHR, "a.b", 1))
	// Output:
	// bamboohr:4821:7
	// bamboohr:_612e62:1
}

func ExampleEmployeeKey() {
	for _, id := range []string{"4821", "a.b", "_612e62", "José *", ""} {
		key := event.EmployeeKey(id)
		fmt.Printf("%q -> %s -> %s\n", id, key, event.Subject(event.Hired, key))
	}
	// Output:
	// "4821" -> 4821 -> hr.employee.hired.4821
	// "a.b" -> _612e62 -> hr.employee.hired._612e62
	// "_612e62" -> _5f363132653632 -> hr.employee.hired._5f363132653632
	// "José *" -> _4a6f73c3a9202a -> hr.employee.hired._4a6f73c3a9202a
	// "" -> _ -> hr.employee.hired._
}

func ExampleDiff() {
	prev := event.Employee{
		ID: "4821", Department: "Engineering", ManagerID: "1907",
		Custom: map[string]string{"cost_center": "CC-210"},
	}
	next := prev
	next.Department, next.ManagerID = "Security", "2210"
	next.Custom = map[string]string{"cost_center": "CC-305"}
	fmt.Println(event.Diff(prev, next))
	fmt.Println(event.Diff(prev, prev))
	// Output:
	// [custom.cost_center department manager_id]
	// []
}

func ExampleValidate() {
	err := event.Validate([]byte(`{"schema":"employee-event.v1","kind":"fired"}`))
	fmt.Println(err != nil)
	// Output: true
}
