// Package metrics builds and registers Keycard's Prometheus metrics, so
// every name is in one namespace (keycard_) and each metric is one line
// where it is used. Names are written out whole at the call, not pieced
// together: a name seen on a dashboard is found by grep, and the
// deployments tests read the calls to check every dashboard and alert
// against the metric's type and labels.
package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace begins every metric name.
const Namespace = "keycard_"

func checked(name string) string {
	if !strings.HasPrefix(name, Namespace) {
		panic(fmt.Sprintf("metrics: %q is outside the %s namespace", name, Namespace))
	}
	return name
}

// register registers c, or returns the collector of the same name and
// labels already registered: the workers register theirs again when a
// reloaded policy restarts them, and their series must carry on.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err)
	}
	return c
}

// Counter registers a counter.
func Counter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: checked(name), Help: help}))
}

// CounterVec registers a counter with labels.
func CounterVec(reg prometheus.Registerer, name, help string, labels ...string) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: checked(name), Help: help}, labels))
}

// Gauge registers a gauge.
func Gauge(reg prometheus.Registerer, name, help string) prometheus.Gauge {
	return register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: checked(name), Help: help}))
}

// GaugeVec registers a gauge with labels.
func GaugeVec(reg prometheus.Registerer, name, help string, labels ...string) *prometheus.GaugeVec {
	return register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: checked(name), Help: help}, labels))
}

// Histogram registers a histogram.
func Histogram(reg prometheus.Registerer, name, help string, buckets []float64) prometheus.Histogram {
	return register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{Name: checked(name), Help: help, Buckets: buckets}))
}

// HistogramVec registers a histogram with labels.
func HistogramVec(reg prometheus.Registerer, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: checked(name), Help: help, Buckets: buckets}, labels))
}

// Zero creates the series of every combination of values, one list per
// label, so a dashboard shows 0 rather than nothing before the first
// event.
func Zero(c *prometheus.CounterVec, values ...[]string) {
	combos := [][]string{nil}
	for _, vs := range values {
		var next [][]string
		for _, prefix := range combos {
			for _, v := range vs {
				next = append(next, append(slices.Clone(prefix), v))
			}
		}
		combos = next
	}
	for _, lv := range combos {
		c.WithLabelValues(lv...)
	}
}
