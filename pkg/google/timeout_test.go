package google

import (
	"encoding/json"
	"testing"
	"time"

	"keycard/pkg/fakehttp"
	"keycard/pkg/fault"
)

// Every request is bounded by Timeout, the token request too: an API or
// token endpoint that never answers costs a transient error after about
// Timeout, never a hang.
func TestHangingGoogleIsCut(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	hang := fakehttp.NewHanging()
	t.Cleanup(hang.Close)
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"Directory API", func(c *Config) { c.BaseURL = hang.URL }},
		{"token endpoint", func(c *Config) {
			var key map[string]any
			if err := json.Unmarshal(c.Key, &key); err != nil {
				t.Fatal(err)
			}
			key["token_uri"] = hang.URL + "/token"
			c.Key, _ = json.Marshal(key)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestApp(t, func(c *Config) { c.Timeout = timeout; tt.edit(c) })
			began := time.Now()
			_, err := c.Find(t.Context(), ada())
			took := time.Since(began)
			if err == nil || fault.IsPermanent(err) || took > timeout+2*time.Second {
				t.Fatalf("Find against a hanging %s = %v after %s; want a transient error after about %s", tt.name, err, took, timeout)
			}
			t.Logf("cut after %s (timeout %s): %v", took.Round(time.Millisecond), timeout, err)
		})
	}
}
