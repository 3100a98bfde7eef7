package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/cainject"
	"antrea.io/antrea-issuer/issuer/handover"
)

// Options is everything the command line sets; run takes nothing else.
type Options struct {
	Kubeconfig              string
	LeaderElect             bool
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod time the leader election; the defaults are
	// cert-manager's own (60 s, 40 s, 15 s).
	LeaseDuration          time.Duration
	RenewDeadline          time.Duration
	RetryPeriod            time.Duration
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// ProfilerAddress serves Go's pprof endpoints there; empty disables them.
	ProfilerAddress string
	QPS             float32
	Burst           int

	EnableIssuer bool
	Issuer       issuer.Options

	EnableCABundleSync bool
	CABundleSync       cainject.Options

	// AntreaConfigMap is Antrea's configuration, read to hold back the first certificate while
	// Antrea runs its default mode (issuer/handover); empty turns that off.
	AntreaConfigMap string
	// AntreaConfigRecheck is how often a held request is looked at again.
	AntreaConfigRecheck time.Duration

	Zap zap.Options
}

// The leader election's timing is cert-manager's (its controller and cainjector): a renewal every
// 15 s instead of controller-runtime's every 2 s is a seventh of the Lease writes each replica
// makes the API server and etcd serve forever, and an outage of the API server up to 40 s no
// longer ends the leader. The price is a slower takeover after a leader dies without releasing
// its Lease (60 s after its last renewal, then a candidate's jittered retry of 15-33 s), which
// delays signing, not trust.
const (
	DefaultLeaseDuration = 60 * time.Second
	DefaultRenewDeadline = 40 * time.Second
	DefaultRetryPeriod   = 15 * time.Second
)

// controllerNamespace is where the controller runs (POD_NAMESPACE from the downward API).
func controllerNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "antrea-issuer"
}

// newOptions registers every flag on fs and returns the Options they fill.
func newOptions(fs *flag.FlagSet) *Options {
	ns := controllerNamespace()
	o := &Options{
		EnableIssuer:       true,
		EnableCABundleSync: true,
		Issuer: issuer.Options{
			ClusterResourceNamespace: ns,
			MaxRetryDuration:         issuer.DefaultMaxRetryDuration,
			Workers:                  4,
		},
		LeaseDuration:       DefaultLeaseDuration,
		RenewDeadline:       DefaultRenewDeadline,
		RetryPeriod:         DefaultRetryPeriod,
		CABundleSync:        cainject.DefaultOptions(),
		AntreaConfigMap:     handover.DefaultConfigMapName,
		AntreaConfigRecheck: handover.DefaultRetryAfter,
	}
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig; defaults to $KUBECONFIG, then the in-cluster configuration.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader so that only one replica works at a time.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", ns, "Namespace of the leader election Lease.")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration, "How long a follower waits after the leader's last renewal before it takes the Lease (a leader that stops gracefully releases it at once).")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline, "How long the leader keeps trying to renew its Lease (an API server outage) before it gives up leading and exits.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod, "How often the leader renews its Lease and a follower tries to take it.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz; 0 disables them.")
	fs.StringVar(&o.ProfilerAddress, "profiler-address", "", "Address serving Go's pprof endpoints (/debug/pprof/), for example localhost:6060; empty (the default) disables them.")
	fs.Func("kube-api-qps", "Client-side limit of queries per second towards the API server; 0 (the default) sets none and leaves fairness to the API server's priority and fairness, as controller-runtime does.", func(s string) error {
		f, err := strconv.ParseFloat(s, 32)
		o.QPS = float32(f)
		return err
	})
	fs.IntVar(&o.Burst, "kube-api-burst", o.Burst, "Client-side burst with --kube-api-qps; 0 means twice the QPS.")

	fs.BoolVar(&o.EnableIssuer, "enable-issuer", o.EnableIssuer, "Run the AntreaIssuer and AntreaClusterIssuer controllers.")
	fs.StringVar(&o.Issuer.ClusterResourceNamespace, "cluster-resource-namespace", ns, "Namespace holding the CA Secrets of AntreaClusterIssuers (default: the controller's namespace).")
	fs.Func("ca-secret-namespaces", "Comma-separated namespaces where namespaced AntreaIssuers may keep CA Secrets (default none); only Secrets there and in the cluster resource namespace are read.", func(s string) error {
		o.Issuer.CASecretNamespaces = splitList(s)
		return nil
	})
	fs.DurationVar(&o.Issuer.MaxRetryDuration, "max-retry-duration", o.Issuer.MaxRetryDuration, "How long a CertificateRequest is retried on ordinary errors before it is failed.")
	fs.IntVar(&o.Issuer.Workers, "workers", o.Issuer.Workers, "Concurrent reconciles per controller.")

	fs.BoolVar(&o.EnableCABundleSync, "enable-ca-bundle-sync", o.EnableCABundleSync, "Run the controller that keeps antrea-ca and Antrea's caBundles equal to the Secret's ca.crt.")
	fs.StringVar(&o.CABundleSync.Namespace, "antrea-namespace", o.CABundleSync.Namespace, "Namespace Antrea runs in.")
	fs.StringVar(&o.CABundleSync.SecretName, "antrea-secret-name", o.CABundleSync.SecretName, "Secret with Antrea's controller certificate (written by cert-manager).")
	fs.StringVar(&o.CABundleSync.SecretKey, "antrea-secret-ca-key", o.CABundleSync.SecretKey, "Key of the CA bundle in that Secret.")
	fs.StringVar(&o.CABundleSync.ConfigMapName, "antrea-ca-configmap", o.CABundleSync.ConfigMapName, "ConfigMap Antrea's agents read the CA from.")
	fs.StringVar(&o.CABundleSync.TargetSelector, "antrea-target-selector", o.CABundleSync.TargetSelector, "Label selector of the APIServices, webhook configurations and CRDs that get the CA bundle.")
	fs.StringVar(&o.AntreaConfigMap, "antrea-config-map", o.AntreaConfigMap, "Antrea's ConfigMap holding antrea-controller.conf: while it says selfSignedCert: true, the first certificate for Antrea's Secret is held back (docs/migration.md); empty signs it regardless.")
	fs.DurationVar(&o.AntreaConfigRecheck, "antrea-config-recheck", o.AntreaConfigRecheck, "How often a certificate held back by --antrea-config-map is looked at again: at most this long between selfSignedCert: false and the certificate being signed.")
	fs.DurationVar(&o.CABundleSync.SettlePeriod, "antrea-settle-period", o.CABundleSync.SettlePeriod, "After Antrea's self-signed mode was seen rewriting the Secret, how long the Secret must stay usable before its ca.crt is published again; 0 publishes at once.")

	o.Zap.BindFlags(fs)
	return o
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate reports flag combinations that cannot work.
func (o *Options) Validate() error {
	var errs []error
	if !o.EnableIssuer && !o.EnableCABundleSync {
		errs = append(errs, errors.New("--enable-issuer and --enable-ca-bundle-sync are both false: nothing to run"))
	}
	if o.LeaderElect {
		errs = append(errs, validateLeaderElection(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod))
	}
	if o.QPS < 0 || o.Burst < 0 || math.IsNaN(float64(o.QPS)) || math.IsInf(float64(o.QPS), 0) {
		errs = append(errs, errors.New("--kube-api-qps and --kube-api-burst must not be negative"))
	}
	if o.EnableIssuer {
		errs = append(errs, o.Issuer.Validate())
		if o.AntreaConfigMap != "" {
			errs = append(errs, o.handoverOptions().Validate())
		}
	}
	if o.EnableCABundleSync {
		errs = append(errs, o.CABundleSync.Validate())
	}
	return errors.Join(errs...)
}

// validateLeaderElection refuses the timings client-go's leader election would refuse at start,
// naming the flags: the leader must give up before a follower may take over, and retry at least
// once (with client-go's jitter of 1.2) before it gives up.
func validateLeaderElection(lease, renew, retry time.Duration) error {
	switch {
	case lease <= 0 || renew <= 0 || retry <= 0:
		return errors.New("--leader-election-lease-duration, --leader-election-renew-deadline and --leader-election-retry-period must be positive")
	case renew >= lease:
		return fmt.Errorf("--leader-election-renew-deadline (%s) must be shorter than --leader-election-lease-duration (%s)", renew, lease)
	case float64(renew) <= leaderelection.JitterFactor*float64(retry):
		return fmt.Errorf("--leader-election-renew-deadline (%s) must be longer than %g × --leader-election-retry-period (%s)", renew, leaderelection.JitterFactor, retry)
	}
	return nil
}

// handoverOptions name Antrea's objects for the handover gate, with the CA bundle sync's names.
func (o *Options) handoverOptions() handover.Options {
	return handover.Options{
		Namespace:     o.CABundleSync.Namespace,
		SecretName:    o.CABundleSync.SecretName,
		ConfigMapName: o.AntreaConfigMap,
		ConfigKey:     handover.DefaultConfigKey,
		RetryAfter:    o.AntreaConfigRecheck,
	}
}

// clientRateLimit is the rest.Config QPS and Burst for the flags. With no --kube-api-qps the
// client sets no limit (QPS -1), as controller-runtime's GetConfig does: the API server's
// priority and fairness shares its capacity, and a fixed client limit only capped how fast
// CertificateRequests were signed (measured in docs/benchmarks.md).
func (o *Options) clientRateLimit() (qps float32, burst int) {
	if o.QPS == 0 {
		return -1, 0
	}
	if o.Burst > 0 {
		return o.QPS, o.Burst
	}
	return o.QPS, max(1, int(math.Ceil(2*float64(o.QPS))))
}
