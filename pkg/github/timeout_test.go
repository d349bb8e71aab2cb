package github

import (
	"testing"
	"time"

	"keycard/pkg/fakehttp"
	"keycard/pkg/fault"
	"keycard/pkg/github/githubtest"
)

// Every request is bounded by Timeout: an API that never answers costs a
// transient error after about Timeout, never a hang.
func TestHangingGitHubIsCut(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	hang := fakehttp.NewHanging()
	t.Cleanup(hang.Close)
	srv := githubtest.New()
	t.Cleanup(srv.Close)
	c := newConnector(t, srv, func(c *Config) { c.BaseURL, c.Timeout = hang.URL+"/", timeout })
	began := time.Now()
	_, err := c.Find(t.Context(), ada())
	took := time.Since(began)
	if err == nil || fault.IsPermanent(err) || took > timeout+2*time.Second {
		t.Fatalf("Find against a hanging API = %v after %s; want a transient error after about %s", err, took, timeout)
	}
	t.Logf("cut after %s (timeout %s): %v", took.Round(time.Millisecond), timeout, err)
}
