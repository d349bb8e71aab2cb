package worker

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The end-to-end histogram is split by kind (time-to-access apart from
// time-to-revoke, as the monthly dashboard reads it), measured from when
// the change took effect, and shows every kind from the start.
func TestEndToEndByKind(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg).forApp("slack")
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	m.observe("terminated", "applied", time.Millisecond, now.Add(-2*time.Second), now)
	m.observe("hired", "noop", time.Millisecond, now.Add(-time.Hour), now) // nothing applied: not measured
	n, err := testutil.GatherAndCount(reg, "keycard_worker_end_to_end_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 { // one series per kind
		t.Errorf("%d end-to-end series, want 5 (one per kind)", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	sums := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "keycard_worker_end_to_end_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "kind" {
					got[l.GetValue()] = s.GetHistogram().GetSampleCount()
					sums[l.GetValue()] = s.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	if got["terminated"] != 1 || sums["terminated"] != 2 || got["hired"] != 0 {
		t.Errorf("counts %v sums %v, want one terminated of 2 s and no hired", got, sums)
	}
}
