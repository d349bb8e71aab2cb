package registry

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := New(Simulated{Name: "b"}, Simulated{Name: "a", Keys: []string{"org"}})
	if got := r.Types(); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("Types = %v, want registration order [b a]", got)
	}
	f, ok := r.Lookup("a")
	if !ok || !slices.Equal(f.Settings(), []string{"org"}) {
		t.Fatalf("Lookup(a) = %v, %v", f, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Error("Lookup(c) found a type nobody registered")
	}
	if _, err := f.New(context.Background(), App{}, Deps{}); !errors.Is(err, ErrNoConnector) {
		t.Errorf("a simulated type's New = %v, want ErrNoConnector", err)
	}
}

func TestRegistryRefusesTwoOfOneType(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted two factories of type a")
		}
	}()
	New(Simulated{Name: "a"}, Simulated{Name: "a"})
}
