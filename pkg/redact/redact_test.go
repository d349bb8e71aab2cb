package redact

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	t.Parallel()
	const token = "ghp_0123456789abcdef"
	tests := []struct {
		name, in, secret string
		max              int
		want             string
	}{
		{"plain", "Not Found", token, 300, "Not Found"},
		{"controls and lines", "Bad\r\ncredentials\u2028now\x00", token, 300, "Bad credentials now"},
		{"secret echoed", "token " + token + " is invalid", token, 300, "token [redacted] is invalid"},
		{"short secret kept", "the key abc", "abc", 300, "the key abc"},
		{"shortened", strings.Repeat("é", 10), token, 4, "éééé…"},
		{"invalid utf-8", "a\xffb", token, 300, "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Text(tt.in, tt.secret, tt.max); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	f.Add("message with ghp_0123456789abcdef inside", "ghp_0123456789abcdef")
	f.Fuzz(func(t *testing.T, s, secret string) {
		if strings.ContainsFunc(secret, func(r rune) bool {
			return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			t.Skip("tokens are letters, digits, '_' and '-'")
		}
		got := Text(s, secret, 300)
		if len(secret) >= minSecret && strings.Contains(got, secret) {
			t.Fatalf("Text kept the secret: %q", got)
		}
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("Text kept a control character: %q", got)
		}
	})
}
