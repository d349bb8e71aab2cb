package registry

import "testing"

func TestCheckBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw string
		ok  bool
	}{
		{"https://api.github.com/", true},
		{"https://ghe.example.com/api/v3/", true},
		{"http://127.0.0.1:8080/", true},
		{"http://[::1]:8080/", true},
		{"http://localhost/", true},
		{"http://ghe.example.com/", false},
		{"ftp://example.com/", false},
		{"/relative", false},
		{"https://user:pass@example.com/", false},
		{"https://example.com/?q=1", false},
		{"https://example.com/#top", false},
	}
	for _, tt := range tests {
		if msg := CheckBaseURL(tt.raw); (msg == "") != tt.ok {
			t.Errorf("CheckBaseURL(%q) = %q; want ok %v", tt.raw, msg, tt.ok)
		}
	}
}
