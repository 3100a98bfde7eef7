// Package testenv starts the real control plane (etcd and kube-apiserver built by
// hack/build-control-plane.sh) with antrea-issuer's and cert-manager's CRDs, for every integration
// and end-to-end test in this repository.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	issuerapi "antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// KubernetesVersion is the version of the control plane the tests run against; it must match
// K8S_VERSION in the Makefile.
const KubernetesVersion = "1.36.3"

// Env is a running control plane.
type Env struct {
	// Config is an admin configuration for the API server.
	Config *rest.Config
	// Client is an admin client with Scheme.
	Client client.Client
	// Scheme knows core Kubernetes, apiextensions, apiregistration, cert-manager and
	// antrea-issuer types.
	Scheme *k8sruntime.Scheme
	// KubeconfigPath is an admin kubeconfig file for processes started by a test.
	KubeconfigPath string

	env *envtest.Environment
	dir string
}

// Options tune the control plane.
type Options struct {
	// WithoutProjectCRDs skips installing antrea-issuer's CRDs (config/crd), for tests that
	// install them another way (the chart).
	WithoutProjectCRDs bool
	// WithoutCertManagerCRDs skips installing cert-manager's CRDs.
	WithoutCertManagerCRDs bool
	// ExtraCRDDirs are more directories of CRD manifests to install.
	ExtraCRDDirs []string
	// EtcdProfiling makes etcd serve /debug/pprof on its client URL (EtcdURL), for benchmarks
	// that profile the control plane; kube-apiserver serves it to an admin client already.
	EtcdProfiling bool
}

// Scheme returns a new scheme with every type the tests use.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		apiregistrationv1.AddToScheme,
		cmapi.AddToScheme,
		issuerapi.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // static registration only: cannot fail at run time
		}
	}
	return s
}

// RepoRoot is the root of this repository, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir is where the control plane binaries are: KUBEBUILDER_ASSETS if set, else the cache
// folder hack/build-control-plane.sh fills.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin", "k8s", KubernetesVersion)
}

// ErrNoAssets tells that the control plane binaries have not been built.
var ErrNoAssets = errors.New("control plane binaries not found")

func checkAssets(dir string) error {
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("%w: %s is missing from %s; run `make test` (or `make envtest-assets`) to build them",
				ErrNoAssets, bin, dir)
		}
	}
	return nil
}

var certManagerCRDs = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return "", fmt.Errorf("locating the cert-manager module (go list -m): %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found: %w", err)
	}
	return dir, nil
})

// CertManagerCRDDir is the directory holding cert-manager's CRDs in the module cache.
func CertManagerCRDDir() (string, error) { return certManagerCRDs() }

// New starts a control plane. Stop it with Stop.
func New(opts Options) (*Env, error) {
	assets := AssetsDir()
	if err := checkAssets(assets); err != nil {
		return nil, err
	}
	var crdDirs []string
	if !opts.WithoutProjectCRDs {
		crdDirs = append(crdDirs, filepath.Join(RepoRoot(), "config", "crd"))
	}
	if !opts.WithoutCertManagerCRDs {
		dir, err := CertManagerCRDDir()
		if err != nil {
			return nil, err
		}
		crdDirs = append(crdDirs, dir)
	}
	crdDirs = append(crdDirs, opts.ExtraCRDDirs...)

	scheme := Scheme()
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	dir, err := os.MkdirTemp("", "antrea-issuer-testenv-")
	if err != nil {
		return nil, err
	}
	// Fixed directories, removed by Stop: envtest would otherwise pick temporary ones and forget
	// them on a stop, so a restarted API server would get a new serving CA and a new
	// ServiceAccount signing key (every client and token rejected) and a restarted etcd would
	// start empty. See RestartControlPlane.
	if err := fixControlPlaneDirs(te, dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// Lets the aggregator dial an APIService's backend through its Service's endpoints (the
	// stand-in Antrea server on 127.0.0.1), so the aggregator judges injected caBundles.
	te.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
	if opts.EtcdProfiling {
		te.ControlPlane.Etcd.Configure().Set("enable-pprof", "true")
	}

	cfg, err := te.Start()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the control plane from %s: %w", assets, err)
	}
	e := &Env{Config: cfg, Scheme: scheme, env: te, dir: dir}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		_ = e.Stop()
		return nil, err
	}
	e.KubeconfigPath = filepath.Join(e.dir, "kubeconfig")
	if err := WriteKubeconfig(cfg, e.KubeconfigPath); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// Start starts a control plane for one test and stops it when the test ends.
func Start(t testing.TB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return e
}

// EtcdURL is etcd's client URL (plain HTTP on the loopback interface).
func (e *Env) EtcdURL() string {
	if e.env.ControlPlane.Etcd == nil || e.env.ControlPlane.Etcd.URL == nil {
		return ""
	}
	return e.env.ControlPlane.Etcd.URL.String()
}

// Stop stops the control plane and removes its files.
func (e *Env) Stop() error {
	err := e.env.Stop()
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
	return err
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// WriteKubeconfig writes cfg (certificate, token or basic credentials) as a kubeconfig file.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
	}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		ClientCertificate:     cfg.CertFile,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "user"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// Eventually polls check until it returns nil or timeout passes, then fails the test with the
// last error check returned: tests wait on state, never on sleeps. The interval grows from 20 ms to
// 500 ms.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	poll(t, timeout, what, check, 20*time.Millisecond, func(d time.Duration) time.Duration { return min(d*2, 500*time.Millisecond) })
}

// EventuallyEvery is Eventually at a fixed interval, for tests that also time what they wait
// for (the time seen is then within one interval of the truth).
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, what string, check func() error) {
	t.Helper()
	poll(t, timeout, what, check, interval, func(d time.Duration) time.Duration { return d })
}

func poll(t testing.TB, timeout time.Duration, what string, check func() error, interval time.Duration, next func(time.Duration) time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: last seen: %v", timeout, what, err)
		}
		time.Sleep(interval)
		interval = next(interval)
	}
}

// WaitIssuerReady waits until an issuer's Ready condition, for its current generation, has status
// want and a message containing msg; iss is refreshed in place.
func WaitIssuerReady(ctx context.Context, t testing.TB, c client.Client, iss client.Object, want metav1.ConditionStatus, msg string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, fmt.Sprintf("%s Ready=%s %q", iss.GetName(), want, msg), func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
			return err
		}
		conds := iss.(issuerlibapi.Issuer).GetConditions()
		cond := meta.FindStatusCondition(conds, issuerlibapi.IssuerConditionTypeReady)
		if cond == nil || cond.Status != want || !strings.Contains(cond.Message, msg) || cond.ObservedGeneration != iss.GetGeneration() {
			return fmt.Errorf("conditions %+v", conds)
		}
		return nil
	})
}
