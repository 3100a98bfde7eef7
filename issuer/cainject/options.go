package cainject

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
)

// Defaults: Antrea's own names and labels.
const (
	DefaultNamespace      = "kube-system"
	DefaultSecretName     = "antrea-controller-tls"
	DefaultSecretKey      = "ca.crt"
	DefaultConfigMapName  = "antrea-ca"
	DefaultTargetSelector = "app=antrea,served-by=antrea-controller"
	DefaultFieldOwner     = "antrea-issuer-cainject"

	// DefaultSettlePeriod is how long a Secret must stay usable after a takeover before it is
	// published: antrea-controller's resync period, so that it has seen the Secret too.
	DefaultSettlePeriod = 2 * time.Minute

	// ConfigMapKey is the key of the bundle in the ConfigMap: antrea-agent and antctl always
	// read ca.crt, whatever key the Secret uses.
	ConfigMapKey = "ca.crt"
)

// Options configure the CA bundle sync.
type Options struct {
	Namespace      string // Antrea's namespace, default "kube-system"
	SecretName     string // default "antrea-controller-tls"
	SecretKey      string // default "ca.crt"
	ConfigMapName  string // default "antrea-ca"
	TargetSelector string // label selector, default "app=antrea,served-by=antrea-controller"
	FieldOwner     string // default "antrea-issuer-cainject"
	// SettlePeriod: once a takeover was seen (SelfSignedMode, CertificateNotChained), a usable
	// Secret is published only after no takeover has been seen for this long, so the sync never
	// takes part while the Secret keeps changing hands. Default DefaultSettlePeriod; 0 publishes
	// at once.
	SettlePeriod time.Duration
	// Synced, when set, is updated with the bundle after every complete sync (optional).
	Synced *SyncedBundle
	// Metrics, when nil, are NewMetrics(controller-runtime's metrics.Registry).
	Metrics *Metrics
	// Clock, when nil, is the real clock.
	Clock clock.PassiveClock
}

// DefaultOptions are Antrea's defaults.
func DefaultOptions() Options {
	return Options{
		Namespace:      DefaultNamespace,
		SecretName:     DefaultSecretName,
		SecretKey:      DefaultSecretKey,
		ConfigMapName:  DefaultConfigMapName,
		TargetSelector: DefaultTargetSelector,
		FieldOwner:     DefaultFieldOwner,
		SettlePeriod:   DefaultSettlePeriod,
	}
}

// Validate reports every invalid option.
func (o Options) Validate() error {
	var errs []error
	check := func(field string, msgs []string) {
		for _, m := range msgs {
			errs = append(errs, fmt.Errorf("%s: %s", field, m))
		}
	}
	check("namespace", validation.IsDNS1123Label(o.Namespace))
	check("secret name", validation.IsDNS1123Subdomain(o.SecretName))
	check("secret key", validation.IsConfigMapKey(o.SecretKey))
	check("configmap name", validation.IsDNS1123Subdomain(o.ConfigMapName))
	if _, err := o.selector(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case o.FieldOwner == "":
		errs = append(errs, errors.New("field owner: must not be empty"))
	case len(o.FieldOwner) > 128:
		errs = append(errs, errors.New("field owner: must be at most 128 characters"))
	}
	if o.SettlePeriod < 0 {
		errs = append(errs, fmt.Errorf("settle period: must not be negative, got %s", o.SettlePeriod))
	}
	return errors.Join(errs...)
}

// selector parses TargetSelector. An empty selector would select every APIService, webhook
// configuration and CRD of the cluster, so it is refused.
func (o Options) selector() (labels.Selector, error) {
	sel, err := labels.Parse(o.TargetSelector)
	if err != nil {
		return nil, fmt.Errorf("target selector %q: %w", o.TargetSelector, err)
	}
	if sel.Empty() {
		return nil, fmt.Errorf("target selector %q: must select something (it would match every object)", o.TargetSelector)
	}
	return sel, nil
}
