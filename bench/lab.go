package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Names the benchmark uses in the cluster.
const (
	benchNamespace  = "bench"       // CertificateRequests of the throughput and latency runs
	benchIssuerName = "bench"       // the AntreaClusterIssuer every run signs with
	benchDNSPattern = "*.bench.svc" // what its policy allows: one DNS label under bench.svc
	benchDNSSuffix  = ".bench.svc"  // requests ask for <something>.bench.svc
	benchFieldOwner = "antrea-issuer-bench"
)

// lab is one control plane shared by every scenario of a run, with the RBAC of both charts
// installed, the antrea-issuer binary built and a kubeconfig for its ServiceAccount.
type lab struct {
	env *testenv.Env
	// admin is an admin configuration without client-side rate limits (the load generator's).
	admin *rest.Config
	c     client.Client
	kube  kubernetes.Interface
	cm    cmclient.Interface
	// issuerKube and issuerCM authenticate as antrea-issuer's ServiceAccount, unthrottled.
	issuerKube kubernetes.Interface
	issuerCM   cmclient.Interface

	dir              string
	bin              string
	issuerKubeconfig string
	// chartArgs are the container arguments antrea-issuer's chart renders by default.
	chartArgs []string
	// issuerLog receives every antrea-issuer process's output.
	issuerLog *os.File
	// cmLog receives cert-manager's logs.
	cmLog *os.File
}

func startLab(ctx context.Context, p *progress) (l *lab, err error) {
	l = &lab{}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
	if l.dir, err = os.MkdirTemp("", "antrea-issuer-bench-"); err != nil {
		return nil, err
	}
	if l.issuerLog, err = os.Create(filepath.Join(l.dir, "antrea-issuer.log")); err != nil {
		return nil, err
	}
	if l.cmLog, err = os.Create(filepath.Join(l.dir, "cert-manager.log")); err != nil {
		return nil, err
	}
	p.step("building the antrea-issuer binary")
	if l.bin, err = localcluster.BuildIssuer(ctx, l.dir); err != nil {
		return nil, err
	}
	p.step("starting etcd and kube-apiserver %s", testenv.KubernetesVersion)
	if l.env, err = testenv.New(testenv.Options{}); err != nil {
		return nil, err
	}
	l.admin = rest.CopyConfig(l.env.Config)
	l.admin.QPS, l.admin.Burst = -1, -1 // the load generator is never throttled on its side
	l.admin.UserAgent = "antrea-issuer-bench"
	if l.c, err = client.New(l.admin, client.Options{Scheme: l.env.Scheme}); err != nil {
		return nil, err
	}
	if l.kube, err = kubernetes.NewForConfig(l.admin); err != nil {
		return nil, err
	}
	if l.cm, err = cmclient.NewForConfig(l.admin); err != nil {
		return nil, err
	}

	p.step("installing the ServiceAccounts and RBAC of antrea-issuer's and cert-manager's charts")
	if err := l.installRBAC(ctx); err != nil {
		return nil, err
	}
	issuerCfg, err := localcluster.ServiceAccountConfig(ctx, l.env.Config, localcluster.IssuerNamespace, localcluster.IssuerServiceAccount)
	if err != nil {
		return nil, err
	}
	issuerCfg.QPS, issuerCfg.Burst = -1, -1
	if l.issuerKube, err = kubernetes.NewForConfig(issuerCfg); err != nil {
		return nil, err
	}
	if l.issuerCM, err = cmclient.NewForConfig(issuerCfg); err != nil {
		return nil, err
	}
	l.issuerKubeconfig = filepath.Join(l.dir, "antrea-issuer.kubeconfig")
	if err := testenv.WriteKubeconfig(issuerCfg, l.issuerKubeconfig); err != nil {
		return nil, err
	}
	if err := l.ensureNamespace(ctx, benchNamespace); err != nil {
		return nil, err
	}
	// An AntreaClusterIssuer with a generated ECDSA P-256 CA whose policy allows the bench's
	// names: "*" in a policy pattern stands for exactly one DNS label (signer/policy.go).
	iss := &v1alpha1.AntreaClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: benchIssuerName},
		Spec: v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{
			DNSNames: []string{benchDNSPattern, "antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
		}},
	}
	if err := localcluster.Apply(ctx, l.c, iss); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lab) stop() {
	if l.env != nil {
		_ = l.env.Stop()
	}
	if l.issuerLog != nil {
		_ = l.issuerLog.Close()
	}
	if l.cmLog != nil {
		_ = l.cmLog.Close()
	}
	if l.dir != "" && os.Getenv("BENCH_KEEP") == "" {
		_ = os.RemoveAll(l.dir)
	}
}

func (l *lab) ensureNamespace(ctx context.Context, name string) error {
	return localcluster.Apply(ctx, l.c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// waitIssuerReady waits until the bench AntreaClusterIssuer reports Ready (its CA generated).
func (l *lab) waitIssuerReady(ctx context.Context) error {
	return poll(ctx, 60*time.Second, "AntreaClusterIssuer "+benchIssuerName+" Ready", func() (bool, error) {
		iss := &v1alpha1.AntreaClusterIssuer{}
		if err := l.c.Get(ctx, client.ObjectKey{Name: benchIssuerName}, iss); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(iss.Status.Conditions, "Ready"), nil
	})
}

// installRBAC applies the ServiceAccounts and RBAC of both charts, rendered offline with Helm's
// SDK exactly as internal/localcluster does, and keeps antrea-issuer's container arguments.
func (l *lab) installRBAC(ctx context.Context) error {
	for _, ns := range []string{localcluster.CertManagerNamespace, localcluster.IssuerNamespace} {
		if err := l.ensureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	cmDir, err := moduleDir("github.com/cert-manager/cert-manager")
	if err != nil {
		return err
	}
	cmObjs, err := renderChart(filepath.Join(cmDir, "deploy", "charts", "cert-manager"), "cert-manager",
		localcluster.CertManagerNamespace, map[string]any{"crds": map[string]any{"enabled": false}})
	if err != nil {
		return err
	}
	ours, err := renderChart(filepath.Join(testenv.RepoRoot(), "charts", "antrea-issuer"), "antrea-issuer",
		localcluster.IssuerNamespace, map[string]any{
			"clusterIssuer": map[string]any{"enabled": false},
			"certificate":   map[string]any{"enabled": false},
			"crds":          map[string]any{"enabled": false},
		})
	if err != nil {
		return err
	}
	rbacKinds := []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
	var objs []client.Object
	for _, o := range append(cmObjs, ours...) {
		switch {
		case slices.Contains(rbacKinds, o.GetKind()):
			objs = append(objs, o)
		case o.GetKind() == "Deployment" && strings.Contains(o.GetName(), "antrea-issuer"):
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				return err
			}
			l.chartArgs = d.Spec.Template.Spec.Containers[0].Args
		}
	}
	if l.chartArgs == nil {
		return fmt.Errorf("antrea-issuer's chart rendered no Deployment")
	}
	return localcluster.Apply(ctx, l.c, objs...)
}

func renderChart(dir, release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", dir, err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = release, namespace
	minor := strings.Split(testenv.KubernetesVersion, ".")[1]
	install.KubeVersion = &chartutil.KubeVersion{Version: "v" + testenv.KubernetesVersion, Major: "1", Minor: minor}
	rel, err := install.Run(chrt, values)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", dir, err)
	}
	return localcluster.DecodeManifests([]byte(rel.Manifest))
}

func moduleDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// poll checks until ok, an error that is not NotFound, or the timeout; it never sleeps longer
// than 50 ms between checks.
func poll(ctx context.Context, timeout time.Duration, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := check()
		if ok && err == nil {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// progress prints timestamped progress lines so a user sees the run is alive.
type progress struct {
	out   io.Writer
	start time.Time
}

func (p *progress) step(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}
