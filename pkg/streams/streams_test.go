package streams_test

import (
	"testing"
	"time"

	"keycard/pkg/natstest"
	"keycard/pkg/streams"
)

// Ensure creates the streams, recognises them as defined the next time
// (so it does not update them again), and updates one whose definition
// changed.
func TestEnsure(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	o := streams.Options{InboxDuplicates: time.Hour}
	if err := streams.Ensure(t.Context(), js, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range streams.Configs(o) {
		s, err := js.Stream(t.Context(), want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !streams.AsDefined(s.CachedInfo().Config, want) {
			t.Errorf("%s as created is not as defined: %+v", want.Name, s.CachedInfo().Config)
		}
	}
	o.InboxDuplicates = 2 * time.Hour
	if err := streams.Ensure(t.Context(), js, o); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), streams.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d != 2*time.Hour {
		t.Fatalf("%s duplicates window %v after a changed definition; want 2h", streams.Inbox, d)
	}
}
