// Package opshttp serves the operational endpoints every Keycard service
// has (/healthz, /readyz, /metrics) and runs HTTP servers with a bounded,
// graceful shutdown.
package opshttp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyCheck reports whether the service can do its work now.
type ReadyCheck func(ctx context.Context) error

// Handler serves /healthz (the process is up), /readyz (every check passes
// within 2s) and /metrics from reg.
func Handler(reg *prometheus.Registry, checks map[string]ReadyCheck) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		failed := map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				failed[name] = err.Error()
			}
		}
		if len(failed) > 0 {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// Timeouts bound each phase of a request, so a slow or hostile client
// cannot hold a connection or a goroutine forever. A zero field takes its
// default (the envconfig default); the webhook listener reads them from
// the environment (README.md, Configuration).
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (a slowloris).
	ReadHeader time.Duration `envconfig:"KEYCARD_HTTP_READ_HEADER_TIMEOUT" default:"5s"`
	// Read bounds reading a whole request, body included (a client
	// dribbling its body).
	Read time.Duration `envconfig:"KEYCARD_HTTP_READ_TIMEOUT" default:"30s"`
	// Write bounds the time from the end of the headers to the end of the
	// response.
	Write time.Duration `envconfig:"KEYCARD_HTTP_WRITE_TIMEOUT" default:"30s"`
	// Idle bounds a keep-alive connection's wait for its next request.
	Idle time.Duration `envconfig:"KEYCARD_HTTP_IDLE_TIMEOUT" default:"2m"`
}

// orDefault is t with each zero field its default.
func (t Timeouts) orDefault() Timeouts {
	return Timeouts{
		ReadHeader: cmp.Or(t.ReadHeader, 5*time.Second),
		Read:       cmp.Or(t.Read, 30*time.Second),
		Write:      cmp.Or(t.Write, 30*time.Second),
		Idle:       cmp.Or(t.Idle, 2*time.Minute),
	}
}

// NewServer returns an http.Server for h with timeouts t on every phase
// and a 64 KiB cap on headers.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	t = t.orDefault()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// Listen opens addr (port 0 picks a free one) for h, returning the listener
// and the server (with timeouts t) to pass to Serve.
func Listen(addr string, h http.Handler, t Timeouts) (net.Listener, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, NewServer(h, t), nil
}

// Serve serves on ln until ctx is done, then shuts down, giving in-flight
// requests up to grace to finish.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
