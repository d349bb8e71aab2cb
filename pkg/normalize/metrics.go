package normalize

import (
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/event"
	"keycard/pkg/metrics"
)

type meters struct {
	messages  *prometheus.CounterVec
	events    *prometheus.CounterVec
	unchanged prometheus.Counter
	schedules *prometheus.CounterVec
	duration  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *meters {
	m := &meters{
		messages:  metrics.CounterVec(reg, "keycard_normalizer_messages_total", "Messages handled, by source (inbox, due) and outcome (done, retried, dead_lettered).", "source", "outcome"),
		events:    metrics.CounterVec(reg, "keycard_normalizer_events_total", "Lifecycle events published to HR_EVENTS, by kind.", "kind"),
		unchanged: metrics.Counter(reg, "keycard_normalizer_unchanged_total", "Rechecks that found nothing relevant changed (no event)."),
		schedules: metrics.CounterVec(reg, "keycard_normalizer_schedules_total", "Effective-date schedules set or cancelled.", "op"),
		duration:  metrics.Histogram(reg, "keycard_normalizer_message_duration_seconds", "Time to handle one message, including BambooHR API calls.", prometheus.ExponentialBuckets(0.001, 2, 14)), // 1ms … 8s
	}
	metrics.Zero(m.messages, []string{"inbox", "due"}, []string{"done", "retried", "dead_lettered"})
	kinds := make([]string, len(event.Kinds))
	for i, k := range event.Kinds {
		kinds[i] = string(k)
	}
	metrics.Zero(m.events, kinds)
	metrics.Zero(m.schedules, []string{"set", "cancelled"})
	return m
}
