package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegistersUnderItsName(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := CounterVec(reg, "keycard_test_things_total", "Things.", "kind")
	c.WithLabelValues("a").Add(2)
	h := Histogram(reg, "keycard_test_seconds", "Time.", prometheus.DefBuckets)
	h.Observe(0.1)
	want := `
# HELP keycard_test_things_total Things.
# TYPE keycard_test_things_total counter
keycard_test_things_total{kind="a"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "keycard_test_things_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(h); n != 1 {
		t.Fatalf("histogram collected %d series", n)
	}
}

func TestNameOutsideTheNamespacePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "namespace") {
			t.Fatalf("recover() = %v, want a namespace panic", r)
		}
	}()
	Gauge(prometheus.NewRegistry(), "worker_lag", "Lag.")
}

func TestZeroMakesEveryCombination(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := CounterVec(reg, "keycard_test_zero_total", "Zero.", "source", "outcome")
	Zero(c, []string{"inbox", "due"}, []string{"done", "retried", "dead_lettered"})
	if n := testutil.CollectAndCount(c); n != 6 {
		t.Fatalf("%d series, want 2×3", n)
	}
	if v := testutil.ToFloat64(c.WithLabelValues("due", "retried")); v != 0 {
		t.Fatalf("a zeroed series is %v", v)
	}
}
