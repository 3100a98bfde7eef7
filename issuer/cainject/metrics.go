package cainject

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Target states of the antrea_issuer_cainject_targets gauge.
const (
	StateInSync    = "in_sync"
	StateOutOfSync = "out_of_sync"
	StateSkipped   = "skipped"
)

var (
	targetsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "antrea_issuer_cainject_targets",
		Help: "Selected CA bundle targets after the last sync, by state: in_sync (carries the Secret's ca.crt), out_of_sync (differs and could not be written), skipped (selected but cannot carry a bundle, e.g. a CRD without a conversion webhook).",
	}, []string{"state"})

	lastSync = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "antrea_issuer_cainject_last_sync_timestamp_seconds",
		Help: "Unix time of the last sync after which every target carried the Secret's ca.crt.",
	})

	propagation = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "antrea_issuer_cainject_propagation_seconds",
		Help:    "Time from a new ca.crt in the source Secret being seen to every target carrying it.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	})

	sourceProblem = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "antrea_issuer_cainject_source_problem",
		Help: "1 for the reason the source Secret yields no bundle (nothing is written meanwhile), 0 for the others. SelfSignedMode and CertificateNotChained mean Antrea must run with selfSignedCert: false.",
	}, []string{"reason"})

	writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "antrea_issuer_cainject_writes_total",
		Help: "Server-side applies of a CA bundle, by target kind and result (success, error).",
	}, []string{"kind", "result"})
)

func init() {
	metrics.Registry.MustRegister(targetsGauge, lastSync, propagation, sourceProblem, writes)
	for _, s := range []string{StateInSync, StateOutOfSync, StateSkipped} {
		targetsGauge.WithLabelValues(s)
	}
	for _, r := range Reasons {
		sourceProblem.WithLabelValues(string(r))
	}
}

func setSourceProblem(current Reason) {
	for _, r := range Reasons {
		v := 0.0
		if r == current {
			v = 1
		}
		sourceProblem.WithLabelValues(string(r)).Set(v)
	}
}
