package poll

import (
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/metrics"
)

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

type meters struct {
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

func newMetrics(reg prometheus.Registerer) *meters {
	m := &meters{
		polls:            metrics.CounterVec(reg, "keycard_poller_polls_total", "Changed-since polls by outcome (ok, conflict, api_error, api_permanent, publish_error, state_error).", "outcome"),
		pollDuration:     metrics.Histogram(reg, "keycard_poller_poll_duration_seconds", "Time of one changed-since poll, from reading the cursor to writing it, all outcomes.", prometheus.ExponentialBuckets(0.01, 2, 12)), // 10ms … 20s
		pollLastSuccess:  metrics.Gauge(reg, "keycard_poller_last_success_timestamp_seconds", "Unix time of the last successful changed-since poll."),
		pollCursor:       metrics.Gauge(reg, "keycard_poller_cursor_timestamp_seconds", "The changed-since cursor (BambooHR's latest change seen), as Unix time."),
		rechecks:         metrics.CounterVec(reg, "keycard_poller_rechecks_published_total", "Recheck messages acknowledged by HR_INBOX, by kind (poll, sweep) and outcome (stored, duplicate).", "kind", "outcome"),
		sweeps:           metrics.CounterVec(reg, "keycard_sweep_runs_total", "Directory sweeps by outcome (ok, guard_tripped, failed).", "outcome"),
		sweepDuration:    metrics.Histogram(reg, "keycard_sweep_duration_seconds", "Time of one directory sweep, all outcomes.", prometheus.ExponentialBuckets(0.1, 2, 12)), // 100ms … 200s
		sweepLastSuccess: metrics.Gauge(reg, "keycard_sweep_last_success_timestamp_seconds", "Unix time of the last completed directory sweep (guard trips included)."),
		sweepDirectory:   metrics.Gauge(reg, "keycard_sweep_directory_employees", "Active employees listed by the directory at the last sweep."),
		guardTrips:       metrics.Counter(reg, "keycard_sweep_guard_trips_total", "Sweeps whose absentee rechecks were withheld because the directory was too small."),
	}
	metrics.Zero(m.polls, []string{pollOK, pollConflict, pollAPIError, pollAPIPermanent, pollPublishError, pollStateError})
	metrics.Zero(m.sweeps, []string{sweepOK, sweepGuardTripped, sweepFailed})
	metrics.Zero(m.rechecks, []string{KindPoll, KindSweep}, []string{recheckStored, recheckDuplicate})
	return m
}

func (m *meters) countRecheck(kind string, duplicate bool) {
	o := recheckStored
	if duplicate {
		o = recheckDuplicate
	}
	m.rechecks.WithLabelValues(kind, o).Inc()
}
