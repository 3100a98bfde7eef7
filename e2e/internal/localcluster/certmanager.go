package localcluster

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	// The controllers register themselves with controllerpkg.Known() in init().
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"

	"antrea.io/antrea-issuer/internal/testenv"
)

// CertManagerControllers are the cert-manager controllers an external issuer needs: the
// Certificate life cycle and the CertificateRequest approver.
var CertManagerControllers = []string{
	"certificates-trigger",
	"certificates-key-manager",
	"certificates-request-manager",
	"certificates-issuing",
	"certificates-readiness",
	"certificates-revision-manager",
	"certificaterequests-approver",
}

// CertManagerNamespace and CertManagerServiceAccount are where cert-manager's chart puts its
// controller.
const (
	CertManagerNamespace      = "cert-manager"
	CertManagerServiceAccount = "cert-manager"
)

// certManagerRBAC renders cert-manager's own Helm chart (shipped in its Go module) and returns its
// ServiceAccounts and RBAC objects, so the in-process controllers run with exactly the
// permissions a real installation gives them. Webhook configurations are left out: no
// cert-manager webhook runs locally and their failure policy would reject every object.
func certManagerRBAC() ([]*unstructured.Unstructured, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return nil, fmt.Errorf("locating the cert-manager module: %w", err)
	}
	chartDir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "charts", "cert-manager")
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading cert-manager's chart: %w", err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "cert-manager", CertManagerNamespace
	install.KubeVersion = &chartutil.KubeVersion{Version: "v" + testenv.KubernetesVersion, Major: "1", Minor: strings.Split(testenv.KubernetesVersion, ".")[1]}
	rel, err := install.Run(chrt, map[string]any{"crds": map[string]any{"enabled": false}})
	if err != nil {
		return nil, fmt.Errorf("rendering cert-manager's chart: %w", err)
	}
	objs, err := DecodeManifests([]byte(rel.Manifest))
	if err != nil {
		return nil, err
	}
	keep := []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return !slices.Contains(keep, o.GetKind()) }), nil
}

// runCertManager starts cert-manager's controllers in this process against kubeconfig (the
// cert-manager ServiceAccount's credentials) until ctx ends. They log to logw.
func runCertManager(ctx context.Context, kubeconfig string, logw io.Writer) error {
	// cert-manager takes its logger from the context, falling back to klog (stderr).
	ctx = logr.NewContext(ctx, funcr.New(func(prefix, args string) {
		fmt.Fprintln(logw, "cert-manager", prefix, args)
	}, funcr.Options{}))
	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: CertManagerNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		return fmt.Errorf("cert-manager context: %w", err)
	}
	return RunCertManagerControllers(ctx, factory, CertManagerControllers, 2)
}

// RunCertManagerControllers constructs the named cert-manager controllers from factory, starts
// the shared informers, and runs each controller with workers until ctx ends. Every controller
// is constructed before the informers start, so that their informers exist.
func RunCertManagerControllers(ctx context.Context, factory *controllerpkg.ContextFactory, names []string, workers int) error {
	var ctrls []controllerpkg.Interface
	for _, name := range names {
		construct, ok := controllerpkg.Known()[name]
		if !ok {
			return fmt.Errorf("cert-manager controller %q is not registered", name)
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("constructing %s: %w", name, err)
		}
		ctrls = append(ctrls, c)
	}
	built, err := factory.Build()
	if err != nil {
		return err
	}
	built.KubeSharedInformerFactory.Start(ctx.Done())
	built.SharedInformerFactory.Start(ctx.Done())
	for _, c := range ctrls {
		go func() { _ = c.Run(workers, ctx) }()
	}
	return nil
}
