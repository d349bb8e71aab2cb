package retryafter

import (
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"seconds with spaces", " 120 ", 2 * time.Minute},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge seconds capped", "999999999", time.Hour},
		{"http date", "Wed, 25 Nov 2026 18:00:30 GMT", 30 * time.Second},
		{"http date in the past", "Wed, 25 Nov 2026 17:00:00 GMT", 0},
		{"http date far away capped", "Fri, 25 Dec 2026 18:00:00 GMT", time.Hour},
		{"garbage", "soon", 0},
		{"fraction is not allowed", "1.5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Parse(tt.value, now, time.Hour); got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "3", "-1", "Wed, 25 Nov 2026 18:00:30 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := Parse(v, now, time.Hour); d < 0 || d > time.Hour {
			t.Fatalf("Parse(%q) = %s, out of [0, 1h]", v, d)
		}
	})
}
