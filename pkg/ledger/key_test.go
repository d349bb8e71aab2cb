package ledger

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// validKV is what JetStream KV accepts as a key.
var validKV = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// decodeKey inverts encodeKey; it exists to prove the encoding injective.
func decodeKey(t *testing.T, s string) string {
	t.Helper()
	if s == "_" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b.WriteByte(s[i])
			continue
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			t.Fatalf("decode %q at %d: %v", s, i, err)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String()
}

func TestEncodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"app and event id", "okta:E-1", "okta_3AE-1"},
		{"underscore escaped", "a_b", "a_5Fb"},
		{"escape lookalike", "okta_3AE-1", "okta_5F3AE-1"},
		{"dots and slashes", "a.b/c", "a_2Eb_2Fc"},
		{"empty", "", "_"},
		{"utf-8 bytes", "é", "_C3_A9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := encodeKey(tt.in)
			if got != tt.want {
				t.Fatalf("encodeKey(%q) = %q; want %q", tt.in, got, tt.want)
			}
			if !validKV.MatchString(got) {
				t.Fatalf("encodeKey(%q) = %q is not a valid KV key", tt.in, got)
			}
			if back := decodeKey(t, got); back != tt.in {
				t.Fatalf("decodeKey(%q) = %q; want %q", got, back, tt.in)
			}
		})
	}
}

func FuzzEncodeKey(f *testing.F) {
	for _, s := range []string{"", "_", "okta:E-1", "a.b", "..", "é😀", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := encodeKey(s)
		if !validKV.MatchString(got) {
			t.Fatalf("encodeKey(%q) = %q is not a valid KV key", s, got)
		}
		if back := decodeKey(t, got); back != s {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q", s, back)
		}
	})
}
