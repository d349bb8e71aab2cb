package event

import (
	"fmt"
	"testing"
	"time"
)

func TestZones(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	z := &Zones{Fallback: berlin}
	// 23:30 UTC on 30 June is already 1 July in Berlin, still 30 June in New York.
	now := time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC)
	tests := []struct{ zone, want string }{
		{"America/New_York", "2026-06-30"},
		{"", "2026-07-01"},                 // the fallback
		{"Not/A_Zone", "2026-07-01"},       // unknown: the fallback
		{"America/New_York", "2026-06-30"}, // cached
	}
	for _, tt := range tests {
		if got := z.Today(Employee{TimeZone: tt.zone}, now); got != tt.want {
			t.Errorf("Today(%q) = %s, want %s", tt.zone, got, tt.want)
		}
	}
	for i := range 100 {
		z.Get(fmt.Sprintf("Not/A_Zone_%d", i))
	}
	if n := len(z.cache); n != 1 {
		t.Errorf("%d zones cached, want 1: a wrong name from HR must not grow the cache", n)
	}
	if got := (&Zones{}).Get(""); got != time.UTC {
		t.Errorf("zero Zones falls back to %s, want UTC", got)
	}
}
