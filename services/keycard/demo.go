package main

import (
	"errors"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr/bamboohrtest"
)

// startDemo serves a fake BambooHR with a few sample people inside the
// process and points the normalizer at it, so `make demo` shows the whole
// flow (hire, contractor, leaver, future hire) without a real tenant. It is
// refused next to real credentials: a real webhook about someone the fake
// does not know would read as a deletion.
func startDemo(cfg *config, log zerolog.Logger) (stop func(), err error) {
	if cfg.APIKey != "" || cfg.APIURL != "" {
		return nil, errors.New("KEYCARD_DEMO cannot be combined with BAMBOOHR_API_KEY or BAMBOOHR_API_URL")
	}
	fake := bamboohrtest.New()
	today := time.Now().UTC()
	date := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }
	for _, e := range []bamboohrtest.Employee{
		{ID: "1001", FirstName: "Grace", LastName: "Hopper", Department: "Engineering", JobTitle: "Staff Engineer", HireDate: date(-400)},
		{ID: "1002", FirstName: "Alan", LastName: "Turing", Department: "Sales", JobTitle: "Account Executive", HireDate: date(-90), SupervisorEID: "1001"},
		{ID: "1003", FirstName: "Ada", LastName: "Lovelace", Department: "Engineering", JobTitle: "Contractor", EmploymentHistoryStatus: "Contractor", HireDate: date(-30)},
		{ID: "1004", FirstName: "Linus", LastName: "Torvalds", Department: "Engineering", JobTitle: "Engineer", HireDate: date(-700), TerminationDate: date(0)},
		{ID: "1005", FirstName: "Margaret", LastName: "Hamilton", Department: "Engineering", JobTitle: "Engineer", HireDate: date(7)},
	} {
		e.Status, e.WorkEmail = "Active", e.FirstName+"@demo.example"
		if e.EmploymentHistoryStatus == "" {
			e.EmploymentHistoryStatus = "Full-Time"
		}
		fake.Put(e)
	}
	cfg.APIURL, cfg.APIKey, cfg.Company = fake.URL(), fake.APIKey(), fake.Company()
	log.Warn().Str("bamboohr", fake.URL()).Msg("DEMO MODE: a fake BambooHR with 5 sample people (1001-1005); " +
		"every app runs dry-run. Try: provctl explain 1001")
	return fake.Close, nil
}
