package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
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
	if l.env, err = testenv.New(testenv.Options{EtcdProfiling: true}); err != nil {
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
	if l.chartArgs, err = localcluster.InstallRBAC(ctx, l.c, nil); err != nil {
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
	if err := localcluster.Apply(ctx, l.c, benchIssuer()); err != nil {
		return nil, err
	}
	return l, nil
}

// benchIssuer is the AntreaClusterIssuer every run signs with: a generated ECDSA P-256 CA whose
// policy allows the bench's names ("*" in a policy pattern stands for exactly one DNS label,
// signer/policy.go; the common name must be one of the DNS names).
func benchIssuer() *v1alpha1.AntreaClusterIssuer {
	return &v1alpha1.AntreaClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: benchIssuerName},
		Spec: v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{
			DNSNames: []string{benchDNSPattern, "antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
		}},
	}
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
