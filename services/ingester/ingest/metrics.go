package ingest

import "github.com/prometheus/client_golang/prometheus"

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

type metrics struct {
	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	publish   prometheus.Histogram
	bodyBytes prometheus.Histogram
	employees prometheus.Counter
	inFlight  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_ingester_requests_total",
			Help: "Webhook requests by outcome (accepted, duplicate, unauthorized, too_large, bad_request, method_not_allowed, unavailable, overloaded).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_ingester_request_duration_seconds",
			Help:    "Time from request start to response, all outcomes.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms … 4s
		}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_ingester_publish_duration_seconds",
			Help:    "Time to publish a delivery to HR_INBOX and receive the PubAck.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14), // 0.25ms … 2s
		}),
		bodyBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_ingester_request_body_bytes",
			Help:    "Size of webhook bodies read (capped at the body limit).",
			Buckets: prometheus.ExponentialBuckets(64, 4, 9), // 64B … 4MiB
		}),
		employees: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keycard_ingester_employees_total",
			Help: "Employee changes carried by newly stored deliveries (a batch counts each employee).",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keycard_ingester_requests_in_flight",
			Help: "Webhook requests being handled now.",
		}),
	}
	for _, o := range outcomes {
		m.requests.WithLabelValues(o) // show zero, not nothing
	}
	reg.MustRegister(m.requests, m.duration, m.publish, m.bodyBytes, m.employees, m.inFlight)
	return m
}
