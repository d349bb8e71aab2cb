package scimtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// SCIM error types (RFC 7644 §3.12, Table 9).
const (
	typeInvalidFilter = "invalidFilter"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
	typeTooMany       = "tooMany"
)

// scimError is an error answered as an RFC 7644 §3.12 error response.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.scimType, e.detail)
}

func errorf(status int, scimType, format string, args ...any) *scimError {
	return &scimError{status: status, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		raw = []byte(`{"schemas":["` + errorSchema + `"],"status":"500","detail":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, e *scimError) {
	body := map[string]any{
		"schemas": []string{errorSchema},
		"status":  strconv.Itoa(e.status),
		"detail":  e.detail,
	}
	if e.scimType != "" {
		body["scimType"] = e.scimType
	}
	writeJSON(w, e.status, body)
}
