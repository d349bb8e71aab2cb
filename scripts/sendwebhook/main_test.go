package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"keycard/pkg/bamboohr/webhook"
)

// Every kind and style the tool sends must be a delivery Keycard accepts:
// decodable, correctly signed, and naming the employee.
func TestSendsValidSignedDeliveries(t *testing.T) {
	t.Parallel()
	const key = "k"
	var got []webhook.Delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := webhook.Verifier{Key: []byte(key), MaxAge: time.Minute, Now: time.Now}
		if err := v.Verify(body, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature)); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		d, err := webhook.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, d)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	for _, style := range []string{"event", "fields"} {
		for _, kind := range []string{"hire", "update", "move", "terminate", "delete"} {
			var out bytes.Buffer
			err := run(context.Background(), []string{"-url", srv.URL, "-key", key, "-style", style, kind, "77"}, func(string) string { return "" }, &out)
			if err != nil {
				t.Fatalf("%s/%s: %v\n%s", style, kind, err, out.String())
			}
			last := got[len(got)-1]
			if last.Changes[0].EmployeeID != "77" {
				t.Fatalf("%s/%s: employee %q", style, kind, last.Changes[0].EmployeeID)
			}
		}
	}
	if err := run(context.Background(), []string{"-url", srv.URL, "-key", "wrong", "hire"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("a refused delivery must be an error")
	}
	if err := run(context.Background(), []string{"-key", key, "promote"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("an unknown kind must be an error")
	}
}
