package worker

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/circuit"
	"keycard/pkg/event"
	"keycard/pkg/metrics"
	"keycard/pkg/ratelimit"
)

// Metrics are shared by every worker in a process; each app gets its own
// label values.
type Metrics struct {
	events      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	endToEnd    *prometheus.HistogramVec
	held        *prometheus.CounterVec
	limiterWait *prometheus.HistogramVec
	lag         *prometheus.GaugeVec
	replay      *prometheus.GaugeVec
	deadLetters *prometheus.GaugeVec
	heldNow     *prometheus.GaugeVec
	leasesLost  *prometheus.CounterVec
	pace        *prometheus.GaugeVec
	throttled   *prometheus.CounterVec
	paused      *prometheus.GaugeVec
	pauses      *prometheus.CounterVec
}

var outcomes = []string{"applied", "noop", "duplicate", "stale", "held", "dead_lettered", "retry", "paused"}

// NewMetrics registers the worker metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events:      metrics.CounterVec(reg, "keycard_worker_events_total", "Events handled, by app, kind and outcome (applied, noop, duplicate, stale, held, dead_lettered, retry, paused: handed back while the app is paused).", "app", "kind", "outcome"),
		duration:    metrics.HistogramVec(reg, "keycard_worker_handle_duration_seconds", "Time to handle one event, including the app's API calls.", prometheus.ExponentialBuckets(0.001, 2, 15), "app"), // 1ms … 16s
		endToEnd:    metrics.HistogramVec(reg, "keycard_worker_end_to_end_seconds", "From the HR change taking effect (the later of occurred_at and effective_at) to applied in the app, by kind: the time-to-access (hired, rehired) and time-to-revoke (terminated) SLO.", []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}, "app", "kind"),
		held:        metrics.CounterVec(reg, "keycard_worker_held_total", "Deactivations held by the blast-radius guard.", "app"),
		limiterWait: metrics.HistogramVec(reg, "keycard_worker_rate_limit_wait_seconds", "Time a write waited for the app's pacer.", prometheus.ExponentialBuckets(0.001, 4, 10), "app"), // 1ms … 4m
	}
	m.lag = metrics.GaugeVec(reg, "keycard_worker_consumer_lag_events", "Events in HR_EVENTS the app's worker has not received yet.", "app")
	m.replay = metrics.GaugeVec(reg, "keycard_worker_replay_pending", "Replays the app's worker has not finished (operator replays, reconcile fixes, a policy change's re-evaluation of everyone): the progress of a policy change.", "app")
	m.deadLetters = metrics.GaugeVec(reg, "keycard_dlq_messages", "Dead letters waiting in HR_DLQ for the app (replay or purge them with provctl).", "app")
	m.heldNow = metrics.GaugeVec(reg, "keycard_worker_held_pending", "Deactivations held by the blast-radius guard and not yet released or rejected.", "app")
	m.leasesLost = metrics.CounterVec(reg, "keycard_worker_leases_lost_total", "Applies stopped because a ledger lease could not be renewed (lost, or the store unreachable for 2/3 of a lease).", "app")
	m.pace = metrics.GaugeVec(reg, "keycard_app_pace_writes_per_minute", "The pace writes to the app are held to now: its fixed rate_limit, or where an adaptive one has got to.", "app")
	m.paused = metrics.GaugeVec(reg, "keycard_worker_app_paused", "1 while the app is paused by its circuit (reason auth, outage or store; cause: the first failing request's error). The series goes when the app resumes.", "app", "reason", "cause")
	m.pauses = metrics.CounterVec(reg, "keycard_worker_app_pauses_total", "Times the app's circuit opened, by reason.", "app", "reason")
	m.throttled = metrics.CounterVec(reg, "keycard_worker_throttled_total", "Answers in which the app throttled Keycard (a 429, or its rate-limit equivalent).", "app")
	return m
}

// appMetrics are one app's children.
type appMetrics struct {
	app         string
	m           *Metrics
	duration    prometheus.Observer
	held        prometheus.Counter
	limiterWait prometheus.Observer
	lag         prometheus.Gauge
	replay      prometheus.Gauge
	deadLetters prometheus.Gauge
	heldNow     prometheus.Gauge
	leasesLost  prometheus.Counter
}

func (m *Metrics) forApp(app string) *appMetrics {
	kinds := make([]string, len(event.Kinds))
	for i, k := range event.Kinds {
		kinds[i] = string(k)
	}
	metrics.Zero(m.events, []string{app}, kinds, outcomes)
	for _, k := range kinds {
		m.endToEnd.WithLabelValues(app, k) // a month without leavers shows 0, not nothing
	}
	return &appMetrics{app: app, m: m, duration: m.duration.WithLabelValues(app),
		held: m.held.WithLabelValues(app), limiterWait: m.limiterWait.WithLabelValues(app),
		lag: m.lag.WithLabelValues(app), replay: m.replay.WithLabelValues(app), deadLetters: m.deadLetters.WithLabelValues(app), heldNow: m.heldNow.WithLabelValues(app),
		leasesLost: m.leasesLost.WithLabelValues(app)}
}

// observe counts one handled event. effective is when its change took
// effect: a hire entered a week ahead is measured from its start date,
// as provctl report activity measures it.
func (a *appMetrics) observe(kind, outcome string, took time.Duration, effective, now time.Time) {
	a.m.events.WithLabelValues(a.app, kind, outcome).Inc()
	a.duration.Observe(took.Seconds())
	if outcome == "applied" && !effective.IsZero() {
		a.m.endToEnd.WithLabelValues(a.app, kind).Observe(max(now.Sub(effective), 0).Seconds())
	}
}

// CircuitChanged is app's circuit.Config.Changed: it shows the pause as
// keycard_worker_app_paused and counts each one.
func (m *Metrics) CircuitChanged(app string) func(circuit.State) {
	for _, r := range circuit.Reasons {
		m.pauses.WithLabelValues(app, string(r))
	}
	var mu sync.Mutex
	var shown circuit.State
	return func(st circuit.State) {
		mu.Lock()
		defer mu.Unlock()
		if shown.Open && (!st.Open || !st.Since.Equal(shown.Since)) {
			m.paused.DeleteLabelValues(app, string(shown.Reason), shown.Cause)
		}
		if st.Open && (!shown.Open || !st.Since.Equal(shown.Since)) {
			m.paused.WithLabelValues(app, string(st.Reason), st.Cause).Set(1)
			m.pauses.WithLabelValues(app, string(st.Reason)).Inc()
		}
		shown = st
	}
}

// Pacer is a Limiter that learns from the app's answers (pkg/ratelimit).
type Pacer interface {
	Observe(ctx context.Context, key string, o ratelimit.Outcome)
	Pace(key string) int
}

// Feedback is what app's connector calls with each answer the app gives
// (scim.Config.Observe): it feeds p, counts the throttled answers and
// shows p's pace.
func (m *Metrics) Feedback(app string, p Pacer) func(context.Context, ratelimit.Outcome) {
	pace, throttled := m.pace.WithLabelValues(app), m.throttled.WithLabelValues(app)
	pace.Set(float64(p.Pace(app)))
	return func(ctx context.Context, o ratelimit.Outcome) {
		p.Observe(ctx, app, o)
		if o.Throttled {
			throttled.Inc()
		}
		pace.Set(float64(p.Pace(app)))
	}
}
