package scim_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"keycard/pkg/ratelimit"
	"keycard/pkg/scim"
)

// The pacer hears every answer that took a token or was throttled, and
// nothing else: each request below is answered with the status given.
func TestObserveReportsAnswers(t *testing.T) {
	t.Parallel()
	ok := ratelimit.Outcome{}
	tests := []struct {
		name    string
		profile scim.Profile
		status  int
		header  http.Header
		call    func(*scim.Client) error
		want    []ratelimit.Outcome
	}{
		{"accepted write", scim.Generic(), http.StatusCreated, nil, createUser, []ratelimit.Outcome{ok}},
		{"refused write is no throttle", scim.Generic(), http.StatusBadRequest, nil, createUser, []ratelimit.Outcome{ok}},
		{"429 with Retry-After", scim.Generic(), http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, createUser,
			[]ratelimit.Outcome{{Throttled: true, RetryAfter: 7 * time.Second}}},
		{"429 on a read", scim.Generic(), http.StatusTooManyRequests, nil, getUser, []ratelimit.Outcome{{Throttled: true}}},
		{"unpaced read", scim.Generic(), http.StatusOK, nil, getUser, nil},
		{"5xx says nothing", scim.Generic(), http.StatusServiceUnavailable, http.Header{"Retry-After": {"3"}}, createUser, nil},
		{"GitHub's rate-limit 403", scim.GitHubEMU(), http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}}, createUser,
			[]ratelimit.Outcome{{Throttled: true}}},
		{"GitHub's permission 403", scim.GitHubEMU(), http.StatusForbidden, nil, createUser, []ratelimit.Outcome{ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newStub(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.Header().Set("Content-Type", scim.ContentType)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"id":"1","userName":"a@example.com"}`))
			})
			var mu sync.Mutex
			var got []ratelimit.Outcome
			c, err := scim.New(scim.Config{BaseURL: srv.URL, Token: testToken, Profile: tt.profile,
				Observe: func(_ context.Context, o ratelimit.Outcome) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, o)
				}})
			if err != nil {
				t.Fatal(err)
			}
			_ = tt.call(c)
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("observed %+v; want %+v", got, tt.want)
			}
		})
	}
}

func createUser(c *scim.Client) error {
	_, err := c.CreateUser(context.Background(), scim.User{UserName: "a@example.com", ExternalID: "e1"})
	return err
}

func getUser(c *scim.Client) error {
	_, err := c.GetUser(context.Background(), "1")
	return err
}
