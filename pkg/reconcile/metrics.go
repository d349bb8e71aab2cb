package reconcile

import (
	"github.com/prometheus/client_golang/prometheus"

	"keycard/pkg/metrics"
)

// Metrics show each app's last reconcile and a policy change's spread.
// Every replica sets the drift gauges from the stored report, so a
// dashboard shows them whichever replica ran it.
type Metrics struct {
	drift     *prometheus.GaugeVec
	lastRun   *prometheus.GaugeVec
	duration  *prometheus.GaugeVec
	accounts  *prometheus.GaugeVec
	published *prometheus.CounterVec
}

// NewMetrics registers the reconcile metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		drift:     metrics.GaugeVec(reg, "keycard_drift_accounts", "Accounts the last reconcile found out of line with HR and the policy, by app and class (orphan, leaver_active, not_granted, missing, membership_missing, membership_extra, unmanaged).", "app", "class"),
		lastRun:   metrics.GaugeVec(reg, "keycard_reconcile_last_run_timestamp_seconds", "When the app's last reconcile ran (Unix time).", "app"),
		duration:  metrics.GaugeVec(reg, "keycard_reconcile_duration_seconds", "How long the app's last reconcile took to list and compare.", "app"),
		accounts:  metrics.GaugeVec(reg, "keycard_reconcile_accounts", "Accounts the app listed in its last reconcile.", "app"),
		published: metrics.CounterVec(reg, "keycard_reevaluations_published_total", "People handed back to the app's worker, by reason (reconcile: a drift fix; policy: a policy change).", "app", "reason"),
	}
}

// Observe shows rep.
func (m *Metrics) Observe(rep Report) {
	for c, n := range rep.Counts {
		m.drift.WithLabelValues(rep.App, string(c)).Set(float64(n))
	}
	m.lastRun.WithLabelValues(rep.App).Set(float64(rep.At.Unix()))
	m.duration.WithLabelValues(rep.App).Set(rep.Took.Seconds())
	m.accounts.WithLabelValues(rep.App).Set(float64(rep.Accounts))
}

// Published counts n re-evaluations published for app.
func (m *Metrics) Published(app, reason string, n int) {
	m.published.WithLabelValues(app, reason).Add(float64(n))
}
