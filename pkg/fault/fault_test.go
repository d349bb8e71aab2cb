package fault

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// typed is a client error that knows its class, as *bamboohr.APIError does.
type typed struct {
	status int
	after  time.Duration
}

func (e typed) Error() string            { return fmt.Sprintf("status %d", e.status) }
func (e typed) Permanent() bool          { return e.status >= 400 && e.status < 500 && e.status != 429 }
func (e typed) RetryHint() time.Duration { return e.after }
func (e typed) Auth() bool               { return e.status == 401 }

func TestClasses(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		permanent bool
		partial   bool
		hint      time.Duration
		auth      bool
	}{
		{"nil", nil, false, false, 0, false},
		{"bare error is transient", base, false, false, 0, false},
		{"permanent", Permanent(base), true, false, 0, false},
		{"permanent wrapped by fmt", fmt.Errorf("create: %w", Permanent(base)), true, false, 0, false},
		{"retry after", RetryAfter(3*time.Second, base), false, false, 3 * time.Second, false},
		{"zero retry after is no hint", RetryAfter(0, base), false, false, 0, false},
		{"partial", Partial(base), false, true, 0, false},
		{"typed 404 is permanent", typed{status: 404}, true, false, 0, false},
		{"typed 429 carries its hint", fmt.Errorf("get: %w", typed{status: 429, after: time.Minute}), false, false, time.Minute, false},
		{"typed 429 marked permanent by the caller", Permanent(typed{status: 429}), true, false, 0, false},
		{"joined with a permanent one", errors.Join(base, Permanent(base)), true, false, 0, false},
		{"a transient typed error before a permanent one", errors.Join(typed{status: 503}, Permanent(base)), true, false, 0, false},
		{"a hint behind a part without one", fmt.Errorf("x: %w", errors.Join(typed{status: 503}, RetryAfter(time.Second, base))), false, false, time.Second, false},
		{"auth", Auth(base), false, false, 0, true},
		{"auth keeps permanent", fmt.Errorf("list: %w", Auth(Permanent(base))), true, false, 0, true},
		{"typed 401 is auth and permanent", fmt.Errorf("get: %w", typed{status: 401}), true, false, 0, true},
		{"an auth part in a join", errors.Join(base, typed{status: 401}), true, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := IsPartial(tt.err); got != tt.partial {
				t.Errorf("IsPartial = %v, want %v", got, tt.partial)
			}
			if got := IsAuth(tt.err); got != tt.auth {
				t.Errorf("IsAuth = %v, want %v", got, tt.auth)
			}
			hint, ok := RetryAfterHint(tt.err)
			if hint != tt.hint || ok != (tt.hint > 0) {
				t.Errorf("RetryAfterHint = %s, %v, want %s", hint, ok, tt.hint)
			}
		})
	}
}

// The wrappers keep the text of what they wrap: a typed error prints its
// own delay and a hint must not appear twice.
func TestTextUnchanged(t *testing.T) {
	t.Parallel()
	base := errors.New("429 Too Many Requests (retry after 2s)")
	for _, err := range []error{Permanent(base), RetryAfter(2*time.Second, base), Partial(base), Auth(base)} {
		if err.Error() != base.Error() {
			t.Errorf("%q, want %q", err.Error(), base.Error())
		}
		if !errors.Is(err, base) {
			t.Errorf("%q does not unwrap to its cause", err)
		}
	}
}

func TestNilStaysNil(t *testing.T) {
	t.Parallel()
	if Permanent(nil) != nil || RetryAfter(time.Second, nil) != nil || Partial(nil) != nil || Auth(nil) != nil {
		t.Fatal("a class around nil must be nil")
	}
}
