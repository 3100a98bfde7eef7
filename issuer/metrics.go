package issuer

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"

	"antrea.io/antrea-issuer/internal/promreg"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Metrics are the issuer controllers' metrics.
type Metrics struct {
	signDuration *prometheus.HistogramVec
}

// NewMetrics registers the issuer's metrics on reg: the signing time, and antrea_issuer_ready,
// read from the issuers in the cache at each scrape so that every issuer has exactly one series
// and a deleted issuer none.
func NewMetrics(reg prometheus.Registerer, issuers client.Reader) *Metrics {
	m := &Metrics{
		signDuration: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "antrea_issuer_sign_duration_seconds",
			Help:    "Time to sign one certificate request, from policy check to signed chain.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"kind"})),
	}
	promreg.Register(reg, &readyCollector{issuers: issuers})
	return m
}

var readyDesc = prometheus.NewDesc("antrea_issuer_ready",
	"1 when the issuer's Ready condition is True, else 0; one series per issuer.",
	[]string{"kind", "namespace", "name"}, nil)

// readyCollector reports each issuer's Ready condition from the cache at scrape time.
type readyCollector struct{ issuers client.Reader }

func (c *readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c *readyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, kind := range v1alpha1.Kinds {
		list := kind.NewList()
		if err := c.issuers.List(ctx, list); err != nil {
			continue // the cache is not started yet (or not leader): no series rather than wrong ones
		}
		for _, iss := range list.Issuers() {
			v := 0.0
			if meta.IsStatusConditionTrue(iss.GetConditions(), issuerlibapi.IssuerConditionTypeReady) {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, kind.Name, iss.GetNamespace(), iss.GetName())
		}
	}
}
