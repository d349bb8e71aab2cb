package opshttp

import (
	"net/http"
	"testing"
	"time"
)

func TestNewServerTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Timeouts
		want [4]time.Duration // read header, read, write, idle
	}{
		{"zero is the defaults", Timeouts{}, [4]time.Duration{5 * time.Second, 30 * time.Second, 30 * time.Second, 2 * time.Minute}},
		{"set fields kept, others default", Timeouts{Read: time.Second, Idle: 3 * time.Second},
			[4]time.Duration{5 * time.Second, time.Second, 30 * time.Second, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(http.NotFoundHandler(), tt.in)
			if got := [4]time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}; got != tt.want {
				t.Errorf("timeouts = %v, want %v", got, tt.want)
			}
			if srv.MaxHeaderBytes != 64<<10 {
				t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
			}
		})
	}
}
