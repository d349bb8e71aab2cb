package bamboohr_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/fault"
)

func Example() {
	srv := bamboohrtest.New()
	defer srv.Close()
	srv.Put(bamboohrtest.Employee{
		ID: "5", FirstName: "Ada", LastName: "Lovelace", WorkEmail: "ada@example.com",
		Status: "Active", Department: "Engineering", HireDate: "2026-12-01",
		Fields: map[string]any{"customTimeZone": "Europe/London"},
	})

	// In production: bamboohr.Config{Company: "acme", APIKey: key}.
	client, err := bamboohr.New(bamboohr.Config{
		BaseURL:       srv.URL(),
		APIKey:        srv.APIKey(),
		TimeZoneField: "customTimeZone",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := client.Employee(context.Background(), "5")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.DisplayName, e.WorkEmail, e.Department, e.TimeZone)
	fmt.Printf("hired %s, terminated %q\n", e.HireDate, e.TerminationDate)
	// Output:
	// Ada Lovelace ada@example.com Engineering Europe/London
	// hired 2026-12-01, terminated ""
}

func ExampleClient_Changed() {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	srv := bamboohrtest.New(bamboohrtest.WithClock(func() time.Time { return now }))
	defer srv.Close()
	srv.Put(bamboohrtest.Employee{ID: "10", Status: "Active"})
	srv.Put(bamboohrtest.Employee{ID: "9", Status: "Active"})
	srv.Delete("9")

	client, err := bamboohr.New(srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	changes, err := client.Changed(context.Background(), now.Add(-time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range changes.Employees {
		fmt.Println(c.ID, c.Action, c.LastChanged.Format(time.RFC3339))
	}
	fmt.Println("next poll since", changes.Latest.Format(time.RFC3339))
	// Output:
	// 9 Deleted 2026-11-25T18:00:00Z
	// 10 Inserted 2026-11-25T18:00:00Z
	// next poll since 2026-11-25T18:00:00Z
}

func ExampleClient_Directory() {
	srv := bamboohrtest.New()
	defer srv.Close()
	client, err := bamboohr.New(srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}

	dir, err := client.Directory(context.Background())
	fmt.Println(len(dir), err) // BambooHR's 404 for an empty directory

	srv.Put(bamboohrtest.Employee{ID: "1", FirstName: "Ada", LastName: "Lovelace", Status: "Active"})
	srv.Put(bamboohrtest.Employee{ID: "2", FirstName: "Bo", LastName: "Li", Status: "Inactive"})
	dir, err = client.Directory(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range dir {
		fmt.Println(e.ID, e.DisplayName, e.Status)
	}
	// Output:
	// 0 <nil>
	// 1 Ada Lovelace Active
}

func ExampleIsPermanent() {
	srv := bamboohrtest.New()
	defer srv.Close()
	client, err := bamboohr.New(srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = client.Employee(context.Background(), "404")
	fmt.Println(err)
	fmt.Println("permanent:", fault.IsPermanent(err), "not found:", errors.Is(err, bamboohr.ErrNotFound))
	// Output:
	// get employee 404: bamboohr: 404 Not Found: Employee not found
	// permanent: true not found: true
}

func ExampleRetryAfter() {
	srv := bamboohrtest.New()
	defer srv.Close()
	srv.Put(bamboohrtest.Employee{ID: "5"})
	srv.Throttle(10, 90*time.Second) // longer than the client waits in-process

	client, err := bamboohr.New(srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.Employee(context.Background(), "5")
	if delay, ok := fault.RetryAfterHint(err); ok && !fault.IsPermanent(err) {
		fmt.Println("redeliver in", delay) // e.g. msg.NakWithDelay(delay)
	}
	// Output:
	// redeliver in 1m30s
}
