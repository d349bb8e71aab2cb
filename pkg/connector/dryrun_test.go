package connector

import (
	"context"
	"testing"
)

// notCounting is an app that cannot count its accounts.
type notCounting struct{ Connector }

// A dry run keeps what the real app declares: the guard's base (the
// app's count, or none) and its manager links are those of apply mode,
// and nothing is written.
func TestDryRunKeepsCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	real := NewMemory()
	for _, id := range []string{"1", "2", "3"} {
		if _, err := real.Create(ctx, Person{EmployeeID: id}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		app    Connector
		counts bool
	}{
		{"counting app", real, true},
		{"app without a count", notCounting{real}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dry := NewDryRun(tt.app)
			counter, ok := dry.(Counter)
			if ok != tt.counts {
				t.Fatalf("dry run is a Counter: %v, want %v (as in apply mode)", ok, tt.counts)
			}
			if ok {
				applied, _ := tt.app.(Counter).Count(ctx)
				if n, err := counter.Count(ctx); err != nil || n != applied {
					t.Fatalf("dry-run Count = %d, %v; apply mode counts %d", n, err, applied)
				}
			}
			if LinksManagers(dry) != LinksManagers(tt.app) {
				t.Fatal("dry run and apply mode disagree on manager links")
			}
			if _, err := dry.Create(ctx, Person{EmployeeID: "4"}); err != nil || real.Writes() != 3 {
				t.Fatalf("dry-run create: %v, %d writes; want none", err, real.Writes())
			}
		})
	}
}
