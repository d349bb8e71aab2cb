package streams

import (
	"testing"
	"time"

	"keycard/pkg/natstest"
)

// Ensure creates the streams, recognises them as defined the next time
// (so it does not update them again), and updates one whose definition
// changed.
func TestEnsure(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	o := Options{InboxDuplicates: time.Hour}
	if err := Ensure(t.Context(), js, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range Configs(o) {
		s, err := js.Stream(t.Context(), want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !asDefined(s.CachedInfo().Config, want) {
			t.Errorf("%s as created is not as defined: %+v", want.Name, s.CachedInfo().Config)
		}
	}
	o.InboxDuplicates = 2 * time.Hour
	if err := Ensure(t.Context(), js, o); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d != 2*time.Hour {
		t.Fatalf("%s duplicates window %v after a changed definition; want 2h", Inbox, d)
	}
}
