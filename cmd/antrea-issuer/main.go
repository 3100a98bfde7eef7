// Command antrea-issuer runs the AntreaIssuer/AntreaClusterIssuer cert-manager external issuer
// and the controller that keeps Antrea's CA bundles in sync with its certificate Secret.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"antrea.io/antrea-issuer/internal/logfilter"
	"antrea.io/antrea-issuer/internal/profiling"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/cainject"
	"antrea.io/antrea-issuer/issuer/handover"
	"antrea.io/antrea-issuer/issuer/rotation"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "diagnose" {
		os.Exit(runDiagnose(os.Args[2:]))
	}
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	opts := newOptions(fs)
	announceVersion := versionFlag(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: never returns an error
	// Expected refusals are logged once, as one line, where they are decided: the filter drops
	// the error lines (with stack traces) issuer-lib and controller-runtime add for them.
	ctrl.SetLogger(logfilter.New(zap.New(zap.UseFlagOptions(&opts.Zap))))
	announceVersion()

	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(defaultGOMAXPROCS)
	}

	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		// One line that says what is wrong: a stack trace would only point at this call.
		fmt.Fprintln(os.Stderr, "antrea-issuer:", err)
		os.Exit(1)
	}
}

// defaultGOMAXPROCS is how many threads run the controller's Go code at once unless the
// environment sets GOMAXPROCS. The controller spends a few milliseconds of CPU per signed request
// and waits on the API server the rest of the time; with more than one, the Go scheduler keeps
// waking and spinning threads to hand each watch event, work item and HTTP/2 frame over, which
// cost more CPU than the parallelism saved (measured in docs/benchmarks.md). One thread signs
// hundreds of requests per second, far more than the API server accepts.
const defaultGOMAXPROCS = 1

func newScheme() (*k8sruntime.Scheme, error) {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		clientgoscheme.AddToScheme, cmapi.AddToScheme, v1alpha1.AddToScheme,
		apiregistrationv1.AddToScheme, apiextensionsv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// run starts the manager with the enabled controllers and blocks until ctx ends.
func run(ctx context.Context, opts *Options) error {
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	log := ctrl.Log.WithName("antrea-issuer")
	ctx = ctrl.LoggerInto(ctx, log)

	restCfg, err := loadRESTConfig(opts.Kubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = opts.clientRateLimit()
	restCfg.UserAgent = "antrea-issuer"

	scheme, err := newScheme()
	if err != nil {
		return err
	}

	// Secrets are cached only where CA Secrets live: a cluster-wide Secret cache would cost
	// memory in proportion to every Secret of the cluster, and needs cluster-wide read access.
	// The CA bundle sync controller keeps its own narrow caches.
	// In the namespaces of --ca-secret-namespaces, only Secrets their owners labelled for
	// antrea-issuer: a tenant cannot point an AntreaIssuer at any other Secret there.
	byNS := map[string]cache.Config{opts.Issuer.ClusterResourceNamespace: {}}
	for _, ns := range opts.Issuer.LabelledSecretNamespaces() {
		byNS[ns] = cache.Config{LabelSelector: labels.SelectorFromSet(labels.Set{issuer.LabelCASecret: "true"})}
	}
	byObject := map[client.Object]cache.ByObject{&corev1.Secret{}: {Namespaces: byNS}}
	if opts.EnableIssuer && opts.AntreaConfigMap != "" {
		// Only Antrea's configuration: watched to sign a held request at once, and read from
		// this cache by the handover gate (issuer/handover).
		byObject[&corev1.ConfigMap{}] = opts.handoverOptions().CacheByObject()
	}
	cacheOpts := cache.Options{
		ByObject: byObject,
		// Nothing reads managedFields from the cache (writes are server-side applies, or
		// updates, which keep the stored managedFields when none are sent); dropping them
		// makes cached CertificateRequests and Certificates smaller to keep and to copy.
		DefaultTransform: cache.TransformStripManagedFields(),
	}

	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "antrea-issuer-leader",
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		Client: client.Options{Cache: &client.CacheOptions{
			// The issuer reads ConfigMaps only through the cache restricted to Antrea's
			// configuration; a Get through the default client must never start a cluster-wide
			// ConfigMap informer.
			DisableFor: []client.Object{&corev1.ConfigMap{}},
		}},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	// Ready once the caches have synced: before that, a replica cannot sign or answer for its
	// issuers.
	if err := mgr.AddReadyzCheck("caches", cachesSynced(mgr.GetCache())); err != nil {
		return err
	}
	if opts.ProfilerAddress != "" {
		if err := mgr.Add(&profiling.Server{Address: opts.ProfilerAddress}); err != nil {
			return err
		}
	}

	if opts.EnableIssuer {
		if err := issuer.CheckNamespace(ctx, mgr.GetAPIReader(), opts.Issuer.ClusterResourceNamespace); err != nil {
			return err
		}
		if opts.AntreaConfigMap != "" {
			gate, err := handover.New(mgr.GetAPIReader(), mgr.GetCache(), opts.handoverOptions())
			if err != nil {
				return err
			}
			opts.Issuer.Handover = gate
		}
		iss, err := issuer.New(mgr, opts.Issuer)
		if err != nil {
			return fmt.Errorf("setting up the issuer controllers: %w", err)
		}
		if err := iss.SetupWithManager(ctx, mgr); err != nil {
			return fmt.Errorf("setting up the issuer controllers: %w", err)
		}
		rotationOpts := rotation.Options{
			ClusterResourceNamespace: opts.Issuer.ClusterResourceNamespace,
			Workers:                  opts.Issuer.Workers,
			CAStore:                  iss.CAStore(),
		}
		if opts.EnableCABundleSync {
			// CA rotation waits for Antrea's CA bundles to carry a new CA before its next step.
			opts.CABundleSync.Synced = &cainject.SyncedBundle{}
			rotationOpts.PublishedBundle = opts.CABundleSync.Synced
		}
		if err := rotation.SetupWithManager(ctx, mgr, rotationOpts); err != nil {
			return fmt.Errorf("setting up CA rotation: %w", err)
		}
	}
	if opts.EnableCABundleSync {
		if err := cainject.SetupWithManager(ctx, mgr, opts.CABundleSync); err != nil {
			return fmt.Errorf("setting up the CA bundle sync controller: %w", err)
		}
	}
	log.Info("starting", "issuer", opts.EnableIssuer, "caBundleSync", opts.EnableCABundleSync, "gomaxprocs", runtime.GOMAXPROCS(0),
		"clusterResourceNamespace", opts.Issuer.ClusterResourceNamespace,
		"caSecretNamespaces", opts.Issuer.LabelledSecretNamespaces(), "antreaNamespace", opts.CABundleSync.Namespace)
	return mgr.Start(ctx)
}

// loadRESTConfig uses --kubeconfig, then $KUBECONFIG, then the in-cluster configuration.
func loadRESTConfig(path string) (*rest.Config, error) {
	if path == "" {
		return ctrl.GetConfig()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
