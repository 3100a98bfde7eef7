package localcluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/internal/testenv"
)

// Names of the installation, as the Helm chart makes them by default.
const (
	IssuerNamespace      = "antrea-issuer"
	IssuerServiceAccount = "antrea-issuer"
	AntreaNamespace      = antreasim.Namespace
	AntreaSecretName     = antreasim.SecretName
)

// Antrea's timings, scaled down for the local installation with their order kept: the CA bundle
// sync reacts within milliseconds, antrea-controller's files trail the Secret by AntreaFileLag
// (kubelet's refresh and Antrea's reload: about a minute in a cluster), and it republishes its
// CA bundle every AntreaResyncPeriod (2 minutes in Antrea). The CA bundle sync's settle period
// after a takeover is Antrea's resync period, as its 2-minute default is.
const (
	AntreaFileLag      = 2 * time.Second
	AntreaResyncPeriod = 3 * time.Second
	SettlePeriod       = AntreaResyncPeriod
	// ConfigRecheck is how often a request held while Antrea runs its default mode is looked at
	// again besides on a change of antrea-config (10 minutes by default), scaled down.
	ConfigRecheck = 15 * time.Second
)

// AntreaOptions tune the antrea-controller stand-in (antreasim.Controller).
type AntreaOptions struct {
	// SelfSignedCert starts it in Antrea's default mode (selfSignedCert: true): it creates the
	// Secret with its own pair, adopts a pair with at least 90 days left, rewrites tls.crt and
	// tls.key otherwise, and publishes the served tls.crt. By default it runs as this project
	// needs (selfSignedCert: false).
	SelfSignedCert bool
	// FileLag and ResyncPeriod replace AntreaFileLag and AntreaResyncPeriod when set.
	FileLag, ResyncPeriod time.Duration
}

// Options tune Start.
type Options struct {
	// CASecretNamespaces are extra namespaces where namespaced AntreaIssuers keep CA Secrets; each
	// gets the Role the chart would give it.
	CASecretNamespaces []string
	// IssuerArgs are extra flags for the antrea-issuer process.
	IssuerArgs []string
	// Log receives the output of antrea-issuer, cert-manager and the Antrea stand-in, and progress
	// lines; nil discards them.
	Log io.Writer
	// Progress, when set, is told about each step as it starts.
	Progress func(step string)
	// Antrea tunes the antrea-controller stand-in.
	Antrea AntreaOptions
}

// Cluster is a running local installation.
type Cluster struct {
	Env *testenv.Env
	// Kube is an admin clientset.
	Kube kubernetes.Interface
	// Issuer is the antrea-issuer process.
	Issuer *IssuerProcess
	// Antrea is the antrea-controller stand-in: it serves Antrea's API (routed to by the real
	// aggregator through Antrea's APIServices) from a file view of antrea-controller-tls that
	// trails the Secret, and publishes its CA bundle to antrea-ca and the caBundles as
	// antrea-controller does, in either of Antrea's modes (Restart switches them).
	Antrea *antreasim.Controller
	// Dir holds the kubeconfigs, the binary and logs.
	Dir string

	// ctx lives as long as the installation: the stand-in's runs use it.
	ctx    context.Context
	cancel context.CancelFunc
	// logw receives the stand-in's log.
	logw io.Writer
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
	started := &Cluster{ctx: ctx, cancel: cancel, logw: logw}
	c = started
	defer func() {
		// Every failed return sets c to nil: stop what was started through its own pointer.
		if err != nil {
			started.Stop()
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

	mode := "selfSignedCert: false"
	if opts.Antrea.SelfSignedCert {
		mode = "selfSignedCert: true, Antrea's default"
	}
	progress("starting the Antrea stand-ins: antrea-controller (" + mode + "), APIServices, webhooks, CRD")
	if c.Antrea, err = antreasim.NewController(c.Env.Config, antreaControllerOptions(opts.Antrea, logw)); err != nil {
		return nil, err
	}
	if _, err := antreasim.CreateAntreaTargets(ctx, c.Env.Client, AntreaNamespace, antreasim.WithoutAPIServices()); err != nil {
		return nil, err
	}
	if err := antreasim.RegisterWithAggregator(ctx, c.Env.Client, c.Antrea, AntreaNamespace); err != nil {
		return nil, err
	}
	if err := antreasim.WriteConfig(ctx, c.Env.Client, AntreaNamespace, opts.Antrea.SelfSignedCert); err != nil {
		return nil, err
	}
	if err := c.Antrea.Start(ctx); err != nil {
		return nil, err
	}

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
	// The CA bundle sync's settle period is scaled like Antrea's resync period.
	args := append(append(chartArgs, "--antrea-settle-period="+SettlePeriod.String(),
		"--antrea-config-recheck="+ConfigRecheck.String()), opts.IssuerArgs...)
	c.Issuer = &IssuerProcess{Binary: bin, Kubeconfig: issuerKubeconfig, Args: args, Log: logw, MetricsBindAddress: "127.0.0.1:0"}
	if err := c.Issuer.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// RestartAntrea restarts antrea-controller as editing antrea-config and restarting its Deployment
// does: the running Pod stops (nothing listens), gap later (Antrea's Deployment is Recreate) a new
// one starts in the given mode and mounts the Secret as it is then. It returns once the new Pod
// runs; it serves once it has a certificate. The new Pod lives as long as the installation.
func (c *Cluster) RestartAntrea(gap time.Duration, selfSignedCert bool) error {
	if err := c.EditAntreaConfig(selfSignedCert); err != nil {
		return err
	}
	return c.Antrea.Restart(c.ctx, gap, selfSignedCert)
}

// EditAntreaConfig sets selfSignedCert in antrea-config, as editing it does: a running
// antrea-controller keeps its mode until it restarts.
func (c *Cluster) EditAntreaConfig(selfSignedCert bool) error {
	return antreasim.WriteConfig(c.ctx, c.Env.Client, AntreaNamespace, selfSignedCert)
}

// ReplaceAntrea replaces antrea-controller by one with other options, as redeploying Antrea with
// another configuration does (for example a ResyncPeriod long enough that a test's hand edit of a
// caBundle is not undone within the test): the running one stops, gap later the new one starts and
// the aggregator is routed to it. Antrea then runs with o until the next ReplaceAntrea.
func (c *Cluster) ReplaceAntrea(gap time.Duration, o AntreaOptions) error {
	sim, err := antreasim.NewController(c.Env.Config, antreaControllerOptions(o, c.logw))
	if err != nil {
		return err
	}
	c.Antrea.Stop()
	select {
	case <-c.ctx.Done():
		return c.ctx.Err()
	case <-time.After(gap):
	}
	if err := antreasim.RegisterWithAggregator(c.ctx, c.Env.Client, sim, AntreaNamespace); err != nil {
		return err
	}
	c.Antrea = sim
	return sim.Start(c.ctx)
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
		c.Antrea.Stop()
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

// antreaControllerOptions are the stand-in's options in the local installation: Antrea's own
// behaviour and thresholds (the real 90-day MinValidDuration, hourly self-signed check), its file
// lag and resync period scaled down (AntreaFileLag, AntreaResyncPeriod), and no give-up while the
// Secret lacks a key: antrea-controller exits after 2 minutes and Kubernetes restarts it until the
// Secret is complete, which ends the same way, only later. Its log lines go to logw.
func antreaControllerOptions(o AntreaOptions, logw io.Writer) antreasim.ControllerOptions {
	opts := antreasim.DefaultControllerOptions()
	opts.Namespace = AntreaNamespace
	opts.SelfSignedCert = o.SelfSignedCert
	opts.FileLag, opts.ResyncPeriod = AntreaFileLag, AntreaResyncPeriod
	if o.FileLag > 0 {
		opts.FileLag = o.FileLag
	}
	if o.ResyncPeriod > 0 {
		opts.ResyncPeriod = o.ResyncPeriod
	}
	opts.CertReadyTimeout = 0
	if logw != nil && logw != io.Discard {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(logw, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
	}
	return opts
}
