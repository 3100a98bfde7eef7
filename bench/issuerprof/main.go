// Command issuerprof runs antrea-issuer's controllers set up as cmd/antrea-issuer's run() sets
// them up (same scheme, cache restrictions, client options and controllers; leader election off)
// and writes a CPU profile when it stops. antrea-issuer has no pprof endpoint: `go run ./bench
// -profile-issuer=FILE` runs one throughput run with this binary to show where its CPU goes.
// Keep it in step with cmd/antrea-issuer/main.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/cainject"
)

func main() {
	// A flag set of its own: controller-runtime registers --kubeconfig on the global one.
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	metrics := fs.String("metrics-bind-address", "0", "metrics address")
	health := fs.String("health-probe-bind-address", "0", "health address")
	profile := fs.String("cpuprofile", "", "CPU profile written when the process stops")
	workers := fs.Int("workers", 4, "workers")
	qps := fs.Float64("kube-api-qps", 50, "client QPS")
	burst := fs.Int("kube-api-burst", 100, "client burst")
	ns := fs.String("cluster-resource-namespace", "antrea-issuer", "cluster resource namespace")
	_ = fs.Parse(os.Args[1:])
	ctrl.SetLogger(zap.New())
	if err := run(ctrl.SetupSignalHandler(), *kubeconfig, *metrics, *health, *profile, *workers, float32(*qps), *burst, *ns); err != nil {
		fmt.Fprintln(os.Stderr, "issuerprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, metrics, health, profile string, workers int, qps float32, burst int, ns string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst, restCfg.UserAgent = qps, burst, "antrea-issuer"
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		clientgoscheme.AddToScheme, cmapi.AddToScheme, v1alpha1.AddToScheme,
		apiregistrationv1.AddToScheme, apiextensionsv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	opts := issuer.Options{ClusterResourceNamespace: ns, MaxRetryDuration: issuer.DefaultMaxRetryDuration, Workers: workers}
	sync := cainject.DefaultOptions()
	// As cmd/antrea-issuer wires them: CA rotation waits for Antrea's CA bundles.
	sync.Synced = &cainject.SyncedBundle{}
	opts.AntreaSecret = types.NamespacedName{Namespace: sync.Namespace, Name: sync.SecretName}
	opts.AntreaBundle = sync.Synced.Get
	byNS := map[string]cache.Config{}
	for _, n := range opts.SecretNamespaces() {
		byNS[n] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: {Namespaces: byNS}}},
		Metrics:                metricsserver.Options{BindAddress: metrics},
		HealthProbeBindAddress: health,
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}}}},
	})
	if err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := issuer.SetupWithManager(ctx, mgr, opts); err != nil {
		return err
	}
	if err := cainject.SetupWithManager(ctx, mgr, sync); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
