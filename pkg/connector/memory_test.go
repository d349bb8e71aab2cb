package connector_test

import (
	"fmt"
	"net/http"
	"testing"

	"keycard/pkg/connector"
	"keycard/pkg/connector/connectortest"
	"keycard/pkg/fault"
)

// The in-memory app keeps the contract: dry runs and the worker's tests
// stand on it behaving like a real app.
func TestMemoryContract(t *testing.T) {
	t.Parallel()
	f := connectortest.Features{
		Kinds:             connector.Kinds,
		FindsByEmployeeID: true,
		FindsByEmail:      true,
		Counts:            true,
	}
	connectortest.Run(t, f, func(*testing.T) connectortest.App {
		m := connector.NewMemory()
		return connectortest.App{Connector: m, Fail: func(f connectortest.Failure) { m.FailNext(vendorError(f)) }}
	})
}

// vendorError is the error a connector makes of the vendor's answer f;
// the Memory is told it directly.
func vendorError(f connectortest.Failure) error {
	err := fmt.Errorf("vendor answered %d", f.Status)
	switch {
	case f.Status < http.StatusInternalServerError && f.Status != http.StatusTooManyRequests:
		return fault.Permanent(err)
	case f.RetryAfter > 0:
		return fault.RetryAfter(f.RetryAfter, err)
	}
	return err
}
