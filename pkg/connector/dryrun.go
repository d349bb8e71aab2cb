package connector

import "context"

// DryRun reads through to a real app and writes nothing: the worker plans
// and audits every step (marked dry-run) so an operator sees what apply
// mode would do to the real accounts. An app without credentials has no
// real side to read; the worker simulates it with a Memory instead, so
// successive plans build on each other.
type DryRun struct{ Connector }

func (DryRun) Create(_ context.Context, p Person) (Account, error) {
	return Account{ExternalID: p.EmployeeID, Email: p.Email, Active: true, Memberships: map[Kind][]string{}}, nil
}

// LinksManagers is the wrapped connector's: a dry run plans manager links
// as the real one would.
func (d DryRun) LinksManagers() bool { return LinksManagers(d.Connector) }

func (DryRun) Update(context.Context, Account, Person) error                 { return nil }
func (DryRun) SetActive(context.Context, Account, bool) error                { return nil }
func (DryRun) AddMembership(context.Context, Account, Kind, string) error    { return nil }
func (DryRun) RemoveMembership(context.Context, Account, Kind, string) error { return nil }
