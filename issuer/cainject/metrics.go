package cainject

import (
	"github.com/prometheus/client_golang/prometheus"

	"antrea.io/antrea-issuer/internal/promreg"
)

// Target states of the antrea_issuer_cainject_targets gauge.
const (
	StateInSync    = "in_sync"
	StateOutOfSync = "out_of_sync"
	StateSkipped   = "skipped"
)

// Metrics are the CA bundle sync's Prometheus metrics. Build them with NewMetrics on the registry
// they must appear in (controller-runtime's in the binary, a fresh one per test).
type Metrics struct {
	targets       *prometheus.GaugeVec
	lastSync      prometheus.Gauge
	propagation   prometheus.Histogram
	sourceProblem *prometheus.GaugeVec
	refusals      *prometheus.CounterVec
	writes        *prometheus.CounterVec
}

// NewMetrics registers the CA bundle sync's metrics on reg. Registering twice on one registry
// returns the collectors registered first (promreg.Register), so two controllers in one process
// share them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		targets: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "antrea_issuer_cainject_targets",
			Help: "Selected CA bundle targets after the last sync, by state: in_sync (trusts exactly the Secret's ca.crt), out_of_sync (differs and could not be written), skipped (selected but cannot carry a bundle, e.g. a CRD without a conversion webhook).",
		}, []string{"state"})),
		lastSync: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "antrea_issuer_cainject_last_sync_timestamp_seconds",
			Help: "Unix time of the last sync after which every target trusted exactly the Secret's ca.crt.",
		})),
		propagation: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "antrea_issuer_cainject_propagation_seconds",
			Help:    "Time from a new ca.crt in the source Secret being seen to every target carrying it.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		})),
		sourceProblem: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "antrea_issuer_cainject_source_problem",
			Help: "1 for the reason nothing is published from the source Secret now, 0 for the others. SelfSignedMode and CertificateNotChained mean Antrea must run with selfSignedCert: false; CANonCertificateBlock means ca.crt holds something other than certificates (a private key?).",
		}, []string{"reason"})),
		refusals: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "antrea_issuer_cainject_source_refusals_total",
			Help: "Versions of the source Secret seen that could not be published, by reason. It grows fast while something keeps rewriting the Secret (Antrea in selfSignedCert: true mode against cert-manager).",
		}, []string{"reason"})),
		writes: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "antrea_issuer_cainject_writes_total",
			Help: "Server-side applies of a CA bundle, by target kind and result (success, conflict, error).",
		}, []string{"kind", "result"})),
	}
	for _, s := range []string{StateInSync, StateOutOfSync, StateSkipped} {
		m.targets.WithLabelValues(s)
	}
	for _, r := range Reasons {
		m.sourceProblem.WithLabelValues(string(r))
		m.refusals.WithLabelValues(string(r))
	}
	return m
}

// setSourceProblem sets the gauge of current to 1 and every other reason to 0 (none for "").
func (m *Metrics) setSourceProblem(current Reason) {
	for _, r := range Reasons {
		v := 0.0
		if r == current {
			v = 1
		}
		m.sourceProblem.WithLabelValues(string(r)).Set(v)
	}
}

func (m *Metrics) setTargets(st passStats) {
	m.targets.WithLabelValues(StateInSync).Set(float64(st.inSync))
	m.targets.WithLabelValues(StateOutOfSync).Set(float64(st.outOfSync))
	m.targets.WithLabelValues(StateSkipped).Set(float64(st.skipped))
}
