package issuer

import (
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"antrea.io/antrea-issuer/signer"
)

type issuerMetrics struct {
	caNotAfter   *prometheus.GaugeVec
	signDuration *prometheus.HistogramVec
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
	}
	for _, c := range []prometheus.Collector{m.caNotAfter, m.signDuration} {
		if err := reg.Register(c); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				// Several controllers in one test process share the global registry.
				switch existing := are.ExistingCollector.(type) {
				case *prometheus.GaugeVec:
					m.caNotAfter = existing
				case *prometheus.HistogramVec:
					m.signDuration = existing
				}
			}
		}
	}
	return m
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
