package connector

import "context"

// NewDryRun reads through to c, a real app, and writes nothing: the worker
// plans and audits every step (marked dry-run) so an operator sees what
// apply mode would do to the real accounts. An app without credentials has
// no real side to read; the worker simulates it with a Memory instead, so
// successive plans build on each other.
//
// The dry run keeps what c declares it can do, as apply mode would use
// it: its manager links (the same plans) and its account count (the
// blast-radius guard's base, so a dry run holds the same leavers apply
// mode would). It does not coalesce: it writes nothing, so there is
// nothing to gather, and each step is planned on its own.
func NewDryRun(c Connector) Connector {
	d := dryRun{c}
	if counter, ok := c.(Counter); ok {
		return countingDryRun{d, counter}
	}
	return d
}

type dryRun struct{ Connector }

// countingDryRun is a dry run of an app that counts its accounts.
type countingDryRun struct {
	dryRun
	counter Counter
}

func (d countingDryRun) Count(ctx context.Context) (int, error) { return d.counter.Count(ctx) }

func (dryRun) Create(_ context.Context, p Person) (Account, error) {
	return Account{ExternalID: p.EmployeeID, Email: p.Email, Active: true, Memberships: map[Kind][]string{}}, nil
}

func (d dryRun) LinksManagers() bool { return LinksManagers(d.Connector) }

func (dryRun) Update(context.Context, Account, Person) error                 { return nil }
func (dryRun) SetActive(context.Context, Account, bool) error                { return nil }
func (dryRun) AddMembership(context.Context, Account, Kind, string) error    { return nil }
func (dryRun) RemoveMembership(context.Context, Account, Kind, string) error { return nil }
