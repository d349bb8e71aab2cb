package ledger_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"keycard/pkg/ledger"
	"keycard/pkg/ledger/ledgertest"
	"keycard/pkg/redistest"
)

func newRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T) (ledger.Ledger, ledger.Versions) {
		l := ledger.NewRedis(newRedisClient(t), "keycard:idem:", ledgertest.DoneTTL)
		return l, l
	})
}
