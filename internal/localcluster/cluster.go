package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/antreasim"
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

	progress("installing cert-manager's RBAC (from its own chart) and antrea-issuer's (config/rbac)")
	if err := c.installRBAC(ctx, opts.CASecretNamespaces); err != nil {
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
	if err := runCertManager(ctx, cmKubeconfig); err != nil {
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
	args := []string{"--leader-elect", "--zap-log-level", "info"}
	if len(opts.CASecretNamespaces) > 0 {
		args = append(args, "--ca-secret-namespaces", strings.Join(opts.CASecretNamespaces, ","))
	}
	c.Issuer = &IssuerProcess{Binary: bin, Kubeconfig: issuerKubeconfig, Args: append(args, opts.IssuerArgs...), Log: logw}
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

// installRBAC applies cert-manager's chart RBAC, antrea-issuer's generated RBAC bound to its
// ServiceAccount, the approval ClusterRole for cert-manager, and a CA Secret Role in each extra
// namespace (as the chart renders for caSecretNamespaces).
func (c *Cluster) installRBAC(ctx context.Context, caSecretNamespaces []string) error {
	for _, ns := range append([]string{CertManagerNamespace, IssuerNamespace}, caSecretNamespaces...) {
		if err := Apply(ctx, c.Env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	cmObjs, err := certManagerRBAC()
	if err != nil {
		return err
	}
	root := testenv.RepoRoot()
	ours, err := ReadManifests(filepath.Join(root, "config", "rbac", "role.yaml"), filepath.Join(root, "config", "rbac", "cert-manager-approver.yaml"))
	if err != nil {
		return err
	}
	var objs []client.Object
	for _, o := range append(cmObjs, ours...) {
		objs = append(objs, o)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: IssuerNamespace, Name: IssuerServiceAccount}
	for _, o := range ours {
		if o.GetName() != "antrea-issuer" {
			continue
		}
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: o.GetKind(), Name: o.GetName()}
		switch o.GetKind() {
		case "ClusterRole":
			objs = append(objs, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: o.GetName()}, RoleRef: ref, Subjects: []rbacv1.Subject{subject}})
		case "Role":
			objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace()}, RoleRef: ref, Subjects: []rbacv1.Subject{subject}})
		}
	}
	for _, ns := range caSecretNamespaces {
		objs = append(objs,
			&rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "antrea-issuer-ca-secrets", Namespace: ns},
				Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create"}}},
			},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "antrea-issuer-ca-secrets", Namespace: ns},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "antrea-issuer-ca-secrets"},
				Subjects:   []rbacv1.Subject{subject},
			})
	}
	return Apply(ctx, c.Env.Client, objs...)
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

// ErrNotLocal is returned by operations that need the local installation.
var ErrNotLocal = errors.New("only available on the local control plane")

var _ = fmt.Sprintf
