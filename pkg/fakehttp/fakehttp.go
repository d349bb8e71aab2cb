// Package fakehttp holds what the vendor fakes (scimtest, googletest,
// githubtest, gitlabtest, pipedrivetest) share about serving HTTP: the
// status counter, fixed-window limits and injected failures.
package fakehttp

import (
	"net/http"
	"net/http/httptest"
	"sync"
)

// StatusWriter records the status a handler answered with, so a fake
// can count its answers by status.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hanging is a server on a loopback port that answers no request: each
// waits until its client gives up or the server closes. It shows that a
// client's timeouts hold. Close it when done.
type Hanging struct {
	*httptest.Server
	stop chan struct{}
	once sync.Once
}

// NewHanging starts a Hanging server.
func NewHanging() *Hanging {
	h := &Hanging{stop: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-h.stop:
		}
	}))
	return h
}

// Close releases the requests still waiting and stops the server.
func (h *Hanging) Close() {
	h.once.Do(func() { close(h.stop) })
	h.Server.Close()
}
