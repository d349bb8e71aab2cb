package consume

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"keycard/pkg/fault"
)

type delivery struct{ *Delivery }

func TestDelay(t *testing.T) {
	t.Parallel()
	p := Pipeline[delivery]{Backoff: time.Second, MaxBackoff: 5 * time.Minute}
	transient := errors.New("503")
	tests := []struct {
		name      string
		delivered uint64
		err       error
		want      time.Duration
	}{
		{"first delivery", 1, transient, time.Second},
		{"doubles per delivery", 4, transient, 8 * time.Second},
		{"capped", 12, transient, 5 * time.Minute},
		{"no overflow on many deliveries", 1000, transient, 5 * time.Minute},
		{"a longer Retry-After wins", 1, fault.RetryAfter(30*time.Second, transient), 30 * time.Second},
		{"a shorter Retry-After does not", 6, fault.RetryAfter(time.Second, transient), 32 * time.Second},
		{"a Retry-After beyond the cap is honoured", 1, fault.RetryAfter(time.Hour, transient), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.delay(tt.delivered, tt.err); got != tt.want {
				t.Fatalf("delay(%d, %v) = %v, want %v", tt.delivered, tt.err, got, tt.want)
			}
		})
	}
}

func TestRecoverMakesAPanicPermanent(t *testing.T) {
	t.Parallel()
	h := Chain(func(context.Context, delivery) error { panic("boom") }, Recover)
	err := h(context.Background(), delivery{&Delivery{}})
	if !fault.IsPermanent(err) || !strings.HasPrefix(err.Error(), "panic: boom") || !strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("err = %v, want a permanent error with the panic and its stack", err)
	}
}
