package issuer

import (
	"errors"
	"time"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"antrea.io/antrea-issuer/signer"
)

type issuerMetrics struct {
	caNotAfter    *prometheus.GaugeVec
	signDuration  *prometheus.HistogramVec
	rotationPhase *prometheus.GaugeVec
	phaseDuration *prometheus.HistogramVec
}

// newMetrics registers the issuer's metrics once per process on controller-runtime's registry,
// which the manager serves at /metrics.
func newMetrics(reg prometheus.Registerer) *issuerMetrics {
	m := &issuerMetrics{
		caNotAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "antrea_issuer_ca_not_after_timestamp_seconds",
			Help: "NotAfter of each CA generation an issuer holds, as a Unix timestamp.",
		}, []string{"kind", "namespace", "name", "generation"}),
		signDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "antrea_issuer_sign_duration_seconds",
			Help:    "Time to sign one certificate request, from policy check to signed chain.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"kind"}),
		rotationPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "antrea_issuer_ca_rotation_phase",
			Help: "1 for the CA rotation phase each issuer is in (Steady, Prepared, Activated).",
		}, []string{"kind", "namespace", "name", "phase"}),
		phaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "antrea_issuer_ca_rotation_phase_duration_seconds",
			Help:    "Time spent in each CA rotation phase, observed when the phase ends.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 12),
		}, []string{"phase"}),
	}
	m.caNotAfter = register(reg, m.caNotAfter)
	m.signDuration = register(reg, m.signDuration)
	m.rotationPhase = register(reg, m.rotationPhase)
	m.phaseDuration = register(reg, m.phaseDuration)
	return m
}

// register registers c, or returns the collector already registered under its name: several
// controllers in one test process share controller-runtime's global registry.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

func (m *issuerMetrics) observeRotation(iss issuerlibapi.Issuer, phase signer.Phase) {
	kind, ns, name := kindOf(iss), iss.GetNamespace(), iss.GetName()
	for _, p := range []signer.Phase{signer.PhaseSteady, signer.PhasePrepared, signer.PhaseActivated} {
		v := 0.0
		if p == phase {
			v = 1
		}
		m.rotationPhase.WithLabelValues(kind, ns, name, string(p)).Set(v)
	}
}

func (m *issuerMetrics) observeTransition(from signer.Phase, spent time.Duration) {
	m.phaseDuration.WithLabelValues(string(from)).Observe(spent.Seconds())
}

func defaultMetrics() *issuerMetrics { return newMetrics(metrics.Registry) }

func (m *issuerMetrics) observeCA(iss issuerlibapi.Issuer, gens signer.Generations) {
	kind, ns, name := kindOf(iss), iss.GetNamespace(), iss.GetName()
	m.caNotAfter.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": ns, "name": name})
	m.caNotAfter.WithLabelValues(kind, ns, name, "active").Set(float64(gens.Active.Cert.NotAfter.Unix()))
	if gens.Next != nil {
		m.caNotAfter.WithLabelValues(kind, ns, name, "next").Set(float64(gens.Next.Cert.NotAfter.Unix()))
	}
	if gens.Previous != nil {
		m.caNotAfter.WithLabelValues(kind, ns, name, "previous").Set(float64(gens.Previous.NotAfter.Unix()))
	}
}

// forgetIssuer removes a deleted issuer's series: a CA expiry left behind would keep alerting
// on a CA nobody uses any more.
func (m *issuerMetrics) forgetIssuer(kind, ns, name string) {
	labels := prometheus.Labels{"kind": kind, "namespace": ns, "name": name}
	m.caNotAfter.DeletePartialMatch(labels)
	m.rotationPhase.DeletePartialMatch(labels)
}
