package localcluster

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/internal/testenv"
)

// Names of the installation, as the Helm chart makes them by default.
const (
	IssuerNamespace      = "antrea-issuer"
	IssuerServiceAccount = "antrea-issuer"
	AntreaNamespace      = "kube-system"
	AntreaSecretName     = "antrea-controller-tls"
)

// Options tune Start.
type Options struct {
	// CASecretNamespaces are extra namespaces where namespaced AntreaIssuers keep CA Secrets; each
	// gets the Role the chart would give it.
	CASecretNamespaces []string
	// IssuerArgs are extra flags for the antrea-issuer process.
	IssuerArgs []string
	// Log receives antrea-issuer's output and progress lines; nil discards them.
	Log io.Writer
	// Progress, when set, is told about each step as it starts.
	Progress func(step string)
}

// Cluster is a running local installation.
type Cluster struct {
	Env *testenv.Env
	// Kube is an admin clientset.
	Kube kubernetes.Interface
	// Issuer is the antrea-issuer process.
	Issuer *IssuerProcess
	// Antrea is the stand-in Antrea API server, serving the key pair of antrea-controller-tls.
	Antrea *antreasim.Server
	// Dir holds the kubeconfigs, the binary and logs.
	Dir string

	cancel context.CancelFunc
}

// Start brings up the whole installation. Stop it with Stop.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	ctx, cancel := context.WithCancel(ctx)
	c = &Cluster{cancel: cancel}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.Dir, err = os.MkdirTemp("", "antrea-issuer-local-"); err != nil {
		return nil, err
	}

	progress("building the antrea-issuer binary")
	bin, err := BuildIssuer(ctx, c.Dir)
	if err != nil {
		return nil, err
	}

	progress("starting etcd and kube-apiserver " + testenv.KubernetesVersion)
	if c.Env, err = testenv.New(testenv.Options{}); err != nil {
		return nil, err
	}
	if c.Kube, err = kubernetes.NewForConfig(c.Env.Config); err != nil {
		return nil, err
	}

	progress("installing the ServiceAccounts and RBAC of cert-manager's chart and antrea-issuer's chart")
	chartArgs, err := InstallRBAC(ctx, c.Env.Client, opts.CASecretNamespaces)
	if err != nil {
		return nil, err
	}

	progress("starting cert-manager's controllers as ServiceAccount cert-manager/cert-manager")
	cmCfg, err := ServiceAccountConfig(ctx, c.Env.Config, CertManagerNamespace, CertManagerServiceAccount)
	if err != nil {
		return nil, err
	}
	cmKubeconfig := filepath.Join(c.Dir, "cert-manager.kubeconfig")
	if err := testenv.WriteKubeconfig(cmCfg, cmKubeconfig); err != nil {
		return nil, err
	}
	if err := runCertManager(ctx, cmKubeconfig, logw); err != nil {
		return nil, err
	}

	progress("starting the Antrea stand-ins: API server, APIServices, webhooks, CRD")
	if c.Antrea, err = antreasim.NewServer(); err != nil {
		return nil, err
	}
	if _, err := antreasim.CreateAntreaTargets(ctx, c.Env.Client, AntreaNamespace, antreasim.WithoutAPIServices()); err != nil {
		return nil, err
	}
	if err := antreasim.RegisterWithAggregator(ctx, c.Env.Client, c.Antrea, AntreaNamespace); err != nil {
		return nil, err
	}
	go c.serveAntreaSecret(ctx)

	progress("starting antrea-issuer as ServiceAccount antrea-issuer/antrea-issuer")
	issuerCfg, err := ServiceAccountConfig(ctx, c.Env.Config, IssuerNamespace, IssuerServiceAccount)
	if err != nil {
		return nil, err
	}
	issuerKubeconfig := filepath.Join(c.Dir, "antrea-issuer.kubeconfig")
	if err := testenv.WriteKubeconfig(issuerCfg, issuerKubeconfig); err != nil {
		return nil, err
	}
	// The process runs with the arguments the chart's Deployment gives the container.
	c.Issuer = &IssuerProcess{Binary: bin, Kubeconfig: issuerKubeconfig, Args: append(chartArgs, opts.IssuerArgs...), Log: logw}
	if err := c.Issuer.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop ends everything Start started and removes its files.
func (c *Cluster) Stop() {
	if c.Issuer != nil {
		_ = c.Issuer.Stop(false)
	}
	if c.cancel != nil {
		c.cancel()
	}
	if c.Antrea != nil {
		_ = c.Antrea.Close()
	}
	if c.Env != nil {
		_ = c.Env.Stop()
	}
	if c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// InstallRBAC creates the namespaces and applies the ServiceAccounts and RBAC of cert-manager's
// chart and of antrea-issuer's chart (including the role letting cert-manager approve our
// requests), and returns the arguments antrea-issuer's chart gives its container.
func InstallRBAC(ctx context.Context, c client.Client, caSecretNamespaces []string) (args []string, err error) {
	for _, ns := range append([]string{CertManagerNamespace, IssuerNamespace}, caSecretNamespaces...) {
		if err := Apply(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
	}
	cmObjs, err := certManagerRBAC()
	if err != nil {
		return nil, err
	}
	ours, err := renderIssuerChart(caSecretNamespaces)
	if err != nil {
		return nil, err
	}
	var objs []client.Object
	for _, o := range append(cmObjs, ours.objects...) {
		objs = append(objs, o)
	}
	return ours.args, Apply(ctx, c, objs...)
}

// serveAntreaSecret makes the stand-in Antrea server serve the key pair of antrea-controller-tls
// whenever it changes, as antrea-controller reloads its mounted Secret.
func (c *Cluster) serveAntreaSecret(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := c.Kube.CoreV1().Secrets(AntreaNamespace).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", AntreaSecretName).String(),
		})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if s, ok := ev.Object.(*corev1.Secret); ok && len(s.Data["tls.crt"]) > 0 {
				_ = c.Antrea.SetKeyPair(s.Data["tls.crt"], s.Data["tls.key"])
			}
		}
		w.Stop()
	}
}
