package scim_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"keycard/pkg/connector"
	"keycard/pkg/fault"
	"keycard/pkg/scim"
)

// How Update classifies a refused PATCH: attribute refusals are partial
// (the second PATCH without the extension), anything else is an error.
func TestUpdateRefusals(t *testing.T) {
	t.Parallel()
	const user = `{"id":"u1","userName":"ada@example.com","active":true,"title":"Engineer",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering"}}`
	type answer struct {
		status   int
		scimType string
	}
	tests := []struct {
		name        string
		answers     []answer // to successive PATCHes; then 204
		wantPartial bool
		wantErr     bool
		wantPatches int
	}{
		{"accepted", nil, false, false, 1},
		{"extension refused", []answer{{400, "invalidPath"}}, true, true, 2},
		{"refused without scimType", []answer{{400, ""}}, true, true, 2},
		{"core refused too", []answer{{400, "invalidValue"}, {400, "mutability"}}, true, true, 2},
		{"malformed request", []answer{{400, "invalidSyntax"}}, false, true, 1},
		{"server error", []answer{{500, ""}}, false, true, 1},
		{"core retry fails otherwise", []answer{{400, "invalidPath"}, {503, ""}}, false, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var patches [][]byte
			var mu sync.Mutex
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if r.Method == http.MethodGet {
					_, _ = io.WriteString(w, user)
					return
				}
				mu.Lock()
				n := len(patches)
				patches = append(patches, body)
				mu.Unlock()
				if n < len(tt.answers) {
					scimError(w, tt.answers[n].status, tt.answers[n].scimType, "refused")
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			k := scim.NewConnector(newClient(t, s, scim.Generic()))
			p := connector.Person{EmployeeID: "1", UserName: "ada@example.com", Email: "ada@example.com", Title: "Lead", Department: "Sales"}
			err := k.Update(context.Background(), connector.Account{ID: "u1"}, p)
			if (err != nil) != tt.wantErr || fault.IsPartial(err) != tt.wantPartial {
				t.Fatalf("Update = %v; want error %v, partial %v", err, tt.wantErr, tt.wantPartial)
			}
			if len(patches) != tt.wantPatches {
				t.Fatalf("%d PATCHes, want %d", len(patches), tt.wantPatches)
			}
			if len(patches) == 2 && (strings.Contains(string(patches[1]), scim.EnterpriseUserSchema) || !strings.Contains(string(patches[1]), `"title"`)) {
				t.Errorf("second PATCH %s, want the title without the extension", patches[1])
			}
		})
	}
}
