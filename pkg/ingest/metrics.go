package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/metrics"
)

// Outcomes of a request, the only label on the request counter.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeUnauthorized = "unauthorized"
	outcomeTooLarge     = "too_large"
	outcomeBadRequest   = "bad_request"
	outcomeBadMethod    = "method_not_allowed"
	outcomeUnavailable  = "unavailable"
	outcomeOverloaded   = "overloaded"
)

var outcomes = []string{outcomeAccepted, outcomeDuplicate, outcomeUnauthorized, outcomeTooLarge,
	outcomeBadRequest, outcomeBadMethod, outcomeUnavailable, outcomeOverloaded}

type meters struct {
	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	publish   prometheus.Histogram
	bodyBytes prometheus.Histogram
	employees prometheus.Counter
	inFlight  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *meters {
	m := &meters{
		requests:  metrics.CounterVec(reg, "keycard_ingester_requests_total", "Webhook requests by outcome (accepted, duplicate, unauthorized, too_large, bad_request, method_not_allowed, unavailable, overloaded).", "outcome"),
		duration:  metrics.Histogram(reg, "keycard_ingester_request_duration_seconds", "Time from request start to response, all outcomes.", prometheus.ExponentialBuckets(0.0005, 2, 14)),              // 0.5ms … 4s
		publish:   metrics.Histogram(reg, "keycard_ingester_publish_duration_seconds", "Time to publish a delivery to HR_INBOX and receive the PubAck.", prometheus.ExponentialBuckets(0.00025, 2, 14)), // 0.25ms … 2s
		bodyBytes: metrics.Histogram(reg, "keycard_ingester_request_body_bytes", "Size of webhook bodies read (capped at the body limit).", prometheus.ExponentialBuckets(64, 4, 9)),                    // 64B … 4MiB
		employees: metrics.Counter(reg, "keycard_ingester_employees_total", "Employee changes carried by newly stored deliveries (a batch counts each employee)."),
		inFlight:  metrics.Gauge(reg, "keycard_ingester_requests_in_flight", "Webhook requests being handled now."),
	}
	metrics.Zero(m.requests, outcomes)
	return m
}
