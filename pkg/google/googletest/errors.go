package googletest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Google's error reasons (the errors[].reason of a JSON error body) that
// the fake answers with.
const (
	ReasonNotFound          = "notFound"
	ReasonDuplicate         = "duplicate"
	ReasonInvalid           = "invalid"
	ReasonRequired          = "required"
	ReasonForbidden         = "forbidden"
	ReasonBadRequest        = "badRequest"
	ReasonConditionNotMet   = "conditionNotMet"
	ReasonInsufficientScope = "insufficientPermissions"
	ReasonUserRateLimit     = "userRateLimitExceeded"
	ReasonRateLimit         = "rateLimitExceeded"
	ReasonBackendError      = "backendError"
	ReasonAuthError         = "authError"
)

// apiError is an answer in Google's JSON error shape:
//
//	{"error":{"code":403,"message":"…","errors":[{"message":"…","domain":"global","reason":"userRateLimitExceeded"}],"status":"PERMISSION_DENIED"}}
type apiError struct {
	code    int
	reason  string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errorf(code int, reason, format string, args ...any) *apiError {
	return &apiError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

// The answers Google gives for the common cases, word for word where its
// documentation or issue threads show them.
func notFound(what string) *apiError {
	return errorf(http.StatusNotFound, ReasonNotFound, "Resource Not Found: %s", what)
}

func entityExists() *apiError {
	return errorf(http.StatusConflict, ReasonDuplicate, "Entity already exists.")
}

func memberExists() *apiError {
	return errorf(http.StatusConflict, ReasonDuplicate, "Member already exists.")
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, ReasonInvalid, format, args...)
}

// grpcStatus is the "status" Google's newer error bodies carry.
func grpcStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		raw = []byte(`{"error":{"code":500,"message":"encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, e *apiError) {
	item := map[string]any{"message": e.message, "domain": "global"}
	if e.reason != "" {
		item["reason"] = e.reason
	}
	body := map[string]any{"code": e.code, "message": e.message, "errors": []any{item}}
	if s := grpcStatus(e.code); s != "" {
		body["status"] = s
	}
	writeJSON(w, e.code, map[string]any{"error": body})
}
