package redistest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keycard/pkg/redistest"
)

func TestStart(t *testing.T) {
	t.Parallel()
	var addr string
	t.Run("serves", func(t *testing.T) {
		url := redistest.Start(t)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", url, err)
		}
		addr = opts.Addr
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx := context.Background()
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("GET = %q, %v; want v", got, err)
		}
		if got, err := rdb.ConfigGet(ctx, "save").Result(); err != nil || got["save"] != "" {
			t.Fatalf("CONFIG GET save = %v, %v; want empty", got, err)
		}
	})
	// The subtest's cleanup killed the server.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("redis-server at %s still accepts connections after cleanup", addr)
	}
}

func TestStartIsolated(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	if a == b {
		t.Fatalf("two servers share %s", a)
	}
}
