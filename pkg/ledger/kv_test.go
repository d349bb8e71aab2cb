package ledger_test

import (
	"testing"

	"keycard/pkg/ledger"
	"keycard/pkg/ledger/ledgertest"
	"keycard/pkg/natstest"
)

func TestKV(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T) (ledger.Ledger, ledger.Versions) {
		_, js := natstest.Start(t).Connect(t)
		l, err := ledger.NewKV(t.Context(), js, "IDEM", 1, ledgertest.DoneTTL)
		if err != nil {
			t.Fatal(err)
		}
		return l, l
	})
}
