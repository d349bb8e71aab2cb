// Package fakehttp holds what the vendor fakes (scimtest, googletest,
// githubtest, pipedrivetest) share about serving HTTP: the status
// counter, fixed-window limits and injected failures.
package fakehttp

import "net/http"

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
