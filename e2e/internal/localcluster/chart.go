package localcluster

import (
	"fmt"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"antrea.io/antrea-issuer/internal/testenv"
)

// renderChart renders a Helm chart offline, as `helm template` would, for the local control
// plane's Kubernetes version.
func renderChart(dir, release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", dir, err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = release, namespace
	install.KubeVersion = &chartutil.KubeVersion{Version: "v" + testenv.KubernetesVersion, Major: "1", Minor: strings.Split(testenv.KubernetesVersion, ".")[1]}
	rel, err := install.Run(chrt, values)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", dir, err)
	}
	manifest := rel.Manifest
	for _, h := range rel.Hooks {
		manifest += "\n---\n" + h.Manifest
	}
	return DecodeManifests([]byte(manifest))
}

// issuerInstallation is what antrea-issuer's own chart installs, split into what the local
// installation applies (ServiceAccount and RBAC) and the container arguments of its Deployment,
// which the local process runs with.
type issuerInstallation struct {
	objects []*unstructured.Unstructured
	args    []string
}

// renderIssuerChart renders charts/antrea-issuer for the local installation: the release in
// IssuerNamespace, without the example issuer and Certificate (tests apply the README's).
func renderIssuerChart(caSecretNamespaces []string) (issuerInstallation, error) {
	nss := make([]any, 0, len(caSecretNamespaces))
	for _, ns := range caSecretNamespaces {
		nss = append(nss, ns)
	}
	objs, err := renderChart(filepath.Join(testenv.RepoRoot(), "charts", "antrea-issuer"), "antrea-issuer", IssuerNamespace, map[string]any{
		"caSecretNamespaces": nss,
		"clusterIssuer":      map[string]any{"enabled": false},
		"certificate":        map[string]any{"enabled": false},
		// testenv installs the CRDs from config/crd, which the chart's tests prove identical.
		"crds": map[string]any{"enabled": false},
	})
	if err != nil {
		return issuerInstallation{}, err
	}
	var inst issuerInstallation
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			inst.objects = append(inst.objects, o)
		case "Deployment":
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				return issuerInstallation{}, err
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if c.Name == "antrea-issuer" || len(d.Spec.Template.Spec.Containers) == 1 {
					inst.args = c.Args
				}
			}
		}
	}
	if inst.args == nil {
		return issuerInstallation{}, fmt.Errorf("the chart rendered no antrea-issuer Deployment")
	}
	return inst, nil
}

// ChartAntreaObjects renders charts/antrea-issuer as `helm install` would for the local
// installation, with its default values merged with values, and returns what the chart creates
// for Antrea besides the controller: the AntreaClusterIssuer (a hook) and Antrea's Certificate.
// Applying them is what installing the chart adds to the running antrea-issuer.
func ChartAntreaObjects(values map[string]any) ([]*unstructured.Unstructured, error) {
	vals := map[string]any{"crds": map[string]any{"enabled": false}}
	for k, v := range values {
		vals[k] = v
	}
	objs, err := renderChart(filepath.Join(testenv.RepoRoot(), "charts", "antrea-issuer"), "antrea-issuer", IssuerNamespace, vals)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if k := o.GetKind(); k == "AntreaClusterIssuer" || k == "Certificate" {
			out = append(out, o)
		}
	}
	return out, nil
}
