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

// A retired type is looked up (so a file naming it gets its reason, not
// "unknown type") but not offered, and refuses every app of it.
func TestRetired(t *testing.T) {
	t.Parallel()
	r := New(Simulated{Name: "a"}, Retired{Name: "gone", Why: "the vendor shut down; see README"})
	if got := r.Types(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Types = %v; want the retired type left out", got)
	}
	f, ok := r.Lookup("gone")
	if !ok {
		t.Fatal("a retired type is not looked up")
	}
	var se *SettingError
	if err := f.Validate(App{Name: "x"}); !errors.As(err, &se) || se.Key != "type" || se.Msg != `app type "gone" is retired: the vendor shut down; see README` {
		t.Errorf("Validate = %v; want a SettingError at the type, with the reason", err)
	}
	if _, err := f.New(context.Background(), App{}, Deps{Credential: "x"}); !errors.Is(err, ErrRetired) {
		t.Errorf("New = %v", err)
	}
	if p := f.Probe(context.Background(), App{}, "x", 0); !errors.Is(p.Err, ErrRetired) {
		t.Errorf("Probe = %+v", p)
	}
}
