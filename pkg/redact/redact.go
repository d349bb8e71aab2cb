// Package redact makes what a vendor said safe to log and to put in an
// error: the text of an error body, which may echo the request's token.
package redact

import (
	"strings"
	"unicode"
)

// minSecret is the shortest secret removed: shorter ones (test fixtures)
// would redact ordinary words.
const minSecret = 6

// Secret removes secret from s.
func Secret(s, secret string) string {
	if len(secret) < minSecret {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// Text is s as valid UTF-8 on one line (control characters and line
// separators are spaces, runs of space one), at most maxRunes runes, and
// never secret.
func Text(s, secret string, maxRunes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = Secret(strings.Join(strings.Fields(s), " "), secret)
	if r := []rune(s); len(r) > maxRunes {
		s = Secret(string(r[:maxRunes])+"…", secret) // cannot grow a secret, but keep the invariant obvious
	}
	return s
}
