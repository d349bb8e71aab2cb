package poll

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of a poll.
const (
	pollOK           = "ok"
	pollConflict     = "conflict"      // rechecks stored; another replica moved the cursor
	pollAPIError     = "api_error"     // transient or unknown BambooHR failure
	pollAPIPermanent = "api_permanent" // 401/403/...: needs an operator
	pollPublishError = "publish_error"
	pollStateError   = "state_error" // KV read or write
)

// Outcomes of a sweep.
const (
	sweepOK           = "ok"
	sweepGuardTripped = "guard_tripped"
	sweepFailed       = "failed"
)

// Outcomes of a published recheck.
const (
	recheckStored    = "stored"
	recheckDuplicate = "duplicate"
)

type metrics struct {
	polls           *prometheus.CounterVec
	pollDuration    prometheus.Histogram
	pollLastSuccess prometheus.Gauge
	pollCursor      prometheus.Gauge
	rechecks        *prometheus.CounterVec

	sweeps           *prometheus.CounterVec
	sweepDuration    prometheus.Histogram
	sweepLastSuccess prometheus.Gauge
	sweepDirectory   prometheus.Gauge
	guardTrips       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_poller_polls_total",
			Help: "Changed-since polls by outcome (ok, conflict, api_error, api_permanent, publish_error, state_error).",
		}, []string{"outcome"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_poller_poll_duration_seconds",
			Help:    "Time of one changed-since poll, from reading the cursor to writing it, all outcomes.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12), // 10ms … 20s
		}),
		pollLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keycard_poller_last_success_timestamp_seconds",
			Help: "Unix time of the last successful changed-since poll.",
		}),
		pollCursor: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keycard_poller_cursor_timestamp_seconds",
			Help: "The changed-since cursor (BambooHR's latest change seen), as Unix time.",
		}),
		rechecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_poller_rechecks_published_total",
			Help: "Recheck messages acknowledged by HR_INBOX, by kind (poll, sweep) and outcome (stored, duplicate).",
		}, []string{"kind", "outcome"}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_sweep_runs_total",
			Help: "Directory sweeps by outcome (ok, guard_tripped, failed).",
		}, []string{"outcome"}),
		sweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keycard_sweep_duration_seconds",
			Help:    "Time of one directory sweep, all outcomes.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 12), // 100ms … 200s
		}),
		sweepLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keycard_sweep_last_success_timestamp_seconds",
			Help: "Unix time of the last completed directory sweep (guard trips included).",
		}),
		sweepDirectory: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keycard_sweep_directory_employees",
			Help: "Active employees listed by the directory at the last sweep.",
		}),
		guardTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keycard_sweep_guard_trips_total",
			Help: "Sweeps whose absentee rechecks were withheld because the directory was too small.",
		}),
	}
	for _, o := range []string{pollOK, pollConflict, pollAPIError, pollAPIPermanent, pollPublishError, pollStateError} {
		m.polls.WithLabelValues(o) // show zero, not nothing
	}
	for _, o := range []string{sweepOK, sweepGuardTripped, sweepFailed} {
		m.sweeps.WithLabelValues(o)
	}
	for _, k := range []string{KindPoll, KindSweep} {
		for _, o := range []string{recheckStored, recheckDuplicate} {
			m.rechecks.WithLabelValues(k, o)
		}
	}
	reg.MustRegister(m.polls, m.pollDuration, m.pollLastSuccess, m.pollCursor, m.rechecks,
		m.sweeps, m.sweepDuration, m.sweepLastSuccess, m.sweepDirectory, m.guardTrips)
	return m
}

func (m *metrics) countRecheck(kind string, duplicate bool) {
	o := recheckStored
	if duplicate {
		o = recheckDuplicate
	}
	m.rechecks.WithLabelValues(kind, o).Inc()
}
