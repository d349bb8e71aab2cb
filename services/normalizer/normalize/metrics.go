package normalize

import (
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/event"
)

type metrics struct {
	messages  *prometheus.CounterVec
	events    *prometheus.CounterVec
	unchanged prometheus.Counter
	schedules *prometheus.CounterVec
	duration  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_normalizer_messages_total",
			Help: "Messages handled, by source (inbox, due) and outcome (done, retried, dead_lettered).",
		}, []string{"source", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_normalizer_events_total",
			Help: "Lifecycle events published to HR_EVENTS, by kind.",
		}, []string{"kind"}),
		unchanged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keycard_normalizer_unchanged_total",
			Help: "Rechecks that found nothing relevant changed (no event).",
		}),
		schedules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_normalizer_schedules_total",
			Help: "Effective-date schedules set or cancelled.",
		}, []string{"op"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_normalizer_message_duration_seconds",
			Help:    "Time to handle one message, including BambooHR API calls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1ms … 8s
		}),
	}
	for _, s := range []string{"inbox", "due"} {
		for _, o := range []string{"done", "retried", "dead_lettered"} {
			m.messages.WithLabelValues(s, o)
		}
	}
	for _, k := range event.Kinds {
		m.events.WithLabelValues(string(k))
	}
	m.schedules.WithLabelValues("set")
	m.schedules.WithLabelValues("cancelled")
	reg.MustRegister(m.messages, m.events, m.unchanged, m.schedules, m.duration)
	return m
}
