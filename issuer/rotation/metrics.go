package rotation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"antrea.io/antrea-issuer/internal/promreg"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/signer"
)

// Metrics are CA rotation's metrics, one series set per issuer (kind, namespace, name).
type Metrics struct {
	caNotAfter    *prometheus.GaugeVec
	phase         *prometheus.GaugeVec
	phaseSince    *prometheus.GaugeVec
	minPhase      *prometheus.GaugeVec
	remaining     *prometheus.GaugeVec
	phaseDuration *prometheus.HistogramVec
}

// NewMetrics registers CA rotation's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	issuerLabels := []string{"kind", "namespace", "name"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append(issuerLabels, labels...)))
	}
	return &Metrics{
		caNotAfter: gauge("antrea_issuer_ca_not_after_timestamp_seconds",
			"NotAfter of each CA generation an issuer holds (active, next, previous), as a Unix timestamp.", "generation"),
		phase: gauge("antrea_issuer_ca_rotation_phase",
			"1 for the CA rotation phase each issuer is in (Steady, Prepared, Activated), 0 for the others.", "phase"),
		phaseSince: gauge("antrea_issuer_ca_rotation_phase_since_timestamp_seconds",
			"When the current CA rotation phase began, as a Unix timestamp."),
		minPhase: gauge("antrea_issuer_ca_rotation_min_phase_duration_seconds",
			"The issuer's minimum phase duration: the least time each rotation phase lasts."),
		remaining: gauge("antrea_issuer_ca_rotation_remaining_seconds",
			"The least time the CA rotation still needs to complete (a whole rotation when Steady); the active CA must not expire sooner."),
		phaseDuration: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "antrea_issuer_ca_rotation_phase_duration_seconds",
			Help:    "Time spent in each CA rotation phase, observed when the phase ends.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 12),
		}, []string{"phase"})),
	}
}

func (m *Metrics) observe(cfg issuer.Config, gens signer.Generations, since, now time.Time) {
	kind, ns, name := cfg.Kind.Name, cfg.Issuer.Namespace, cfg.Issuer.Name
	m.caNotAfter.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": ns, "name": name})
	m.caNotAfter.WithLabelValues(kind, ns, name, "active").Set(float64(gens.Active.Cert.NotAfter.Unix()))
	if gens.Next != nil {
		m.caNotAfter.WithLabelValues(kind, ns, name, "next").Set(float64(gens.Next.Cert.NotAfter.Unix()))
	}
	if gens.Previous != nil {
		m.caNotAfter.WithLabelValues(kind, ns, name, "previous").Set(float64(gens.Previous.NotAfter.Unix()))
	}
	current := gens.Phase()
	for _, p := range []signer.Phase{signer.PhaseSteady, signer.PhasePrepared, signer.PhaseActivated} {
		v := 0.0
		if p == current {
			v = 1
		}
		m.phase.WithLabelValues(kind, ns, name, string(p)).Set(v)
	}
	m.phaseSince.WithLabelValues(kind, ns, name).Set(float64(since.Unix()))
	m.minPhase.WithLabelValues(kind, ns, name).Set(cfg.MinPhaseDuration.Seconds())
	m.remaining.WithLabelValues(kind, ns, name).Set(remainingNeeded(current, since, now, cfg.MinPhaseDuration).Seconds())
}

func (m *Metrics) observeTransition(from signer.Phase, spent time.Duration) {
	m.phaseDuration.WithLabelValues(string(from)).Observe(spent.Seconds())
}

// forget removes a deleted issuer's series: a CA expiry left behind would keep alerting on a CA
// nobody uses any more.
func (m *Metrics) forget(kind, ns, name string) {
	labels := prometheus.Labels{"kind": kind, "namespace": ns, "name": name}
	for _, g := range []*prometheus.GaugeVec{m.caNotAfter, m.phase, m.phaseSince, m.minPhase, m.remaining} {
		g.DeletePartialMatch(labels)
	}
}
