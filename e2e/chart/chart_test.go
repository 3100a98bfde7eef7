package charts_test

// Tests of the antrea-issuer Helm chart with Helm's own Go SDK (the code the helm CLI runs): render
// it with default and varied values, lint it, check its schema, compare its RBAC with the rules
// controller-gen generates, create every rendered object on a real kube-apiserver, and install it
// with Helm on that API server.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/chartgen"
	"antrea.io/antrea-issuer/internal/testenv"
	issuerapi "antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

const (
	defaultRelease   = "antrea-issuer"
	defaultNamespace = "antrea-issuer"
)

var kubeVersion = &chartutil.KubeVersion{
	Version: "v" + testenv.KubernetesVersion,
	Major:   strings.Split(testenv.KubernetesVersion, ".")[0],
	Minor:   strings.Split(testenv.KubernetesVersion, ".")[1],
}

func chartDir() string { return filepath.Join(testenv.RepoRoot(), chartgen.ChartDir) }

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir())
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return c
}

// setValues parses helm --set style assignments ("a.b=c").
func setValues(t testing.TB, sets ...string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
	}
	return vals
}

// install is what `helm install --dry-run` (client only) does: values coalesced and validated
// against the schema, templates rendered, hooks split from the manifest.
func install(c *chart.Chart, releaseName, namespace string, vals map[string]any) (*release.Release, error) {
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	in := action.NewInstall(cfg)
	in.ClientOnly = true
	in.DryRun = true
	in.Replace = true
	in.ReleaseName = releaseName
	in.Namespace = namespace
	in.KubeVersion = kubeVersion
	return in.Run(c, vals)
}

// rendered is one render of the chart: every object, hooks included, in Helm's install order.
type rendered struct {
	rel     *release.Release
	objects []*unstructured.Unstructured // manifest objects, then hooks
	hooks   map[string]*release.Hook     // by "Kind/name"
}

func render(t testing.TB, releaseName, namespace string, vals map[string]any) *rendered {
	t.Helper()
	rel, err := install(loadChart(t), releaseName, namespace, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	r := &rendered{rel: rel, hooks: map[string]*release.Hook{}}
	r.objects = decodeAll(t, rel.Manifest)
	for _, h := range rel.Hooks {
		objs := decodeAll(t, h.Manifest)
		for _, o := range objs {
			r.hooks[o.GetKind()+"/"+o.GetName()] = h
		}
		r.objects = append(r.objects, objs...)
	}
	return r
}

func decodeAll(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decoding the rendered manifest: %v\n%s", err, manifest)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil { // integers stay int64
			t.Fatalf("decoding %s: %v", raw, err)
		}
		out = append(out, u)
	}
	return out
}

func (r *rendered) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r *rendered) get(t testing.TB, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range r.all(kind) {
		if o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s rendered; have %v", kind, namespace, name, r.names())
	return nil
}

func (r *rendered) names() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName()))
	}
	return out
}

// into converts an unstructured object into a typed one.
func into[T any](t testing.TB, o *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return &v
}

func deployment(t testing.TB, r *rendered) *appsv1.Deployment {
	t.Helper()
	ds := r.all("Deployment")
	if len(ds) != 1 {
		t.Fatalf("%d Deployments rendered", len(ds))
	}
	return into[appsv1.Deployment](t, ds[0])
}

func nested[T any](t testing.TB, o *unstructured.Unstructured, path ...string) T {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no field %s", o.GetKind(), o.GetName(), strings.Join(path, "."))
	}
	tv, ok := v.(T)
	if !ok {
		t.Fatalf("%s %s: field %s is %T", o.GetKind(), o.GetName(), strings.Join(path, "."), v)
	}
	return tv
}

// TestGeneratedFilesUpToDate fails when the CRD templates differ from config/crd or the README's
// values table from values.yaml.
func TestGeneratedFilesUpToDate(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot()
	files, err := chartgen.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := chartgen.Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("generated chart files are stale: run `make chart-docs` and commit:\n  %s", strings.Join(stale, "\n  "))
	}
}

// TestLint runs Helm's linter (what `helm lint --strict` checks) with the default values and with
// every optional part switched on.
func TestLint(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{
		"defaults": nil,
		"everything on": setValues(t, "replicas=3", "metrics.serviceMonitor.enabled=true",
			"caSecretNamespaces={team-a,team-b}", "image.digest=sha256:"+strings.Repeat("a", 64)),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			linter := lint.AllWithKubeVersion(chartDir(), vals, defaultNamespace, kubeVersion)
			for _, m := range linter.Messages {
				t.Log(m.Error())
			}
			if linter.HighestSeverity > support.InfoSev {
				t.Errorf("helm lint reported problems (highest severity %d)", linter.HighestSeverity)
			}
		})
	}
}

// TestRender renders the chart with default values and variations and checks what each renders.
func TestRender(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for name, tc := range map[string]struct {
		sets  []string
		check func(t *testing.T, r *rendered)
	}{
		"defaults": {check: func(t *testing.T, r *rendered) {
			wantKinds := []string{"AntreaClusterIssuer", "Certificate", "ClusterRole", "ClusterRoleBinding",
				"CustomResourceDefinition", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"}
			var kinds []string
			for _, o := range r.objects {
				if !slices.Contains(kinds, o.GetKind()) {
					kinds = append(kinds, o.GetKind())
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("kinds = %v, want %v", kinds, wantKinds)
			}
			d := deployment(t, r)
			if *d.Spec.Replicas != 1 {
				t.Errorf("replicas = %d, want 1", *d.Spec.Replicas)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != "antrea-issuer:v0.1.0" {
				t.Errorf("image = %q, want the appVersion tag", c.Image)
			}
			wantArgs := []string{
				"--leader-elect=true",
				"--leader-election-lease-duration=60s",
				"--leader-election-renew-deadline=40s",
				"--leader-election-retry-period=15s",
				"--metrics-bind-address=:8080",
				"--health-probe-bind-address=:8081",
				"--kube-api-qps=0",
				"--kube-api-burst=0",
				"--cluster-resource-namespace=antrea-issuer",
				"--workers=4",
				"--enable-ca-bundle-sync=true",
				"--antrea-namespace=kube-system",
				"--antrea-secret-name=antrea-controller-tls",
				"--antrea-ca-configmap=antrea-ca",
				"--antrea-config-map=antrea-config",
				"--antrea-target-selector=app=antrea,served-by=antrea-controller",
				"--zap-log-level=info",
			}
			if !slices.Equal(c.Args, wantArgs) {
				t.Errorf("args:\n got %q\nwant %q", c.Args, wantArgs)
			}
			if len(c.Env) != 1 || c.Env[0].Name != "POD_NAMESPACE" || c.Env[0].ValueFrom == nil ||
				c.Env[0].ValueFrom.FieldRef == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("env = %+v, want POD_NAMESPACE from metadata.namespace", c.Env)
			}
			sc := c.SecurityContext
			psc := d.Spec.Template.Spec.SecurityContext
			switch {
			case sc == nil || psc == nil:
				t.Fatal("no security context")
			case !*sc.RunAsNonRoot || *sc.RunAsUser != 65532 || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation,
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}),
				sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault",
				!*psc.RunAsNonRoot || *psc.RunAsUser != 65532:
				t.Errorf("security context not hardened: pod %+v container %+v", psc, sc)
			}
			if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "healthz" {
				t.Errorf("liveness probe = %+v", p)
			}
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "healthz" {
				t.Errorf("readiness probe = %+v", p)
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if !maps.Equal(ports, map[string]int32{"metrics": 8080, "healthz": 8081}) {
				t.Errorf("ports = %v", ports)
			}
			if c.Resources.Limits.Memory().String() != "256Mi" {
				t.Errorf("resources = %+v", c.Resources)
			}
			for _, crd := range r.all("CustomResourceDefinition") {
				if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
					t.Errorf("CRD %s is not kept on uninstall", crd.GetName())
				}
			}
			// The issuer is a hook (built after its CRD exists); the Certificate is not.
			if h := r.hooks["AntreaClusterIssuer/antrea"]; h == nil ||
				!slices.Equal(h.Events, []release.HookEvent{release.HookPostInstall, release.HookPostUpgrade}) {
				t.Errorf("AntreaClusterIssuer antrea is not a post-install/post-upgrade hook: %+v", h)
			}
			if r.hooks["Certificate/antrea-controller-tls"] != nil {
				t.Error("the Certificate should be a release resource, not a hook")
			}
			iss := r.get(t, "AntreaClusterIssuer", "", "antrea")
			wantSpec := map[string]any{
				"ca":     map[string]any{"generated": map[string]any{"keyAlgorithm": "ECDSAP256", "duration": "43800h", "renewBefore": "8760h"}},
				"policy": map[string]any{"antreaNamespace": "kube-system", "clusterDomain": "cluster.local"},
			}
			if got := iss.Object["spec"]; !jsonEqual(got, wantSpec) {
				t.Errorf("issuer spec = %v, want %v", got, wantSpec)
			}
			cert := r.get(t, "Certificate", "kube-system", "antrea-controller-tls")
			wantCert := map[string]any{
				"secretName":  "antrea-controller-tls",
				"commonName":  "antrea.kube-system.svc",
				"dnsNames":    []any{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
				"usages":      []any{"digital signature", "key encipherment", "server auth"},
				"privateKey":  map[string]any{"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
				"duration":    "8760h",
				"renewBefore": "2880h",
				"issuerRef":   map[string]any{"group": "certificates.antrea.io", "kind": "AntreaClusterIssuer", "name": "antrea"},
			}
			if got := cert.Object["spec"]; !jsonEqual(got, wantCert) {
				t.Errorf("certificate spec = %v, want %v", got, wantCert)
			}
			if len(r.all("PodDisruptionBudget")) != 0 || len(r.all("ServiceMonitor")) != 0 {
				t.Error("PodDisruptionBudget or ServiceMonitor rendered by default")
			}
			svc := r.get(t, "Service", defaultNamespace, "antrea-issuer-metrics")
			if got := nested[[]any](t, svc, "spec", "ports"); len(got) != 1 || got[0].(map[string]any)["targetPort"] != "metrics" {
				t.Errorf("metrics Service ports = %v", got)
			}
			notes := r.rel.Info.Notes
			for _, want := range []string{"selfSignedCert: false", "controller.selfSignedCert=false",
				"kubectl -n kube-system describe certificate antrea-controller-tls", "kubectl get antreaclusterissuers"} {
				if !strings.Contains(notes, want) {
					t.Errorf("NOTES.txt lacks %q:\n%s", want, notes)
				}
			}
		}},
		"replicas 3 adds a PodDisruptionBudget": {sets: []string{"replicas=3"}, check: func(t *testing.T, r *rendered) {
			if got := *deployment(t, r).Spec.Replicas; got != 3 {
				t.Errorf("replicas = %d", got)
			}
			pdb := r.get(t, "PodDisruptionBudget", defaultNamespace, "antrea-issuer")
			if got := nested[int64](t, pdb, "spec", "minAvailable"); got != 1 {
				t.Errorf("minAvailable = %d", got)
			}
			want := map[string]any{"app.kubernetes.io/name": "antrea-issuer", "app.kubernetes.io/instance": defaultRelease}
			if got := nested[map[string]any](t, pdb, "spec", "selector", "matchLabels"); !jsonEqual(got, want) {
				t.Errorf("PDB selector = %v, want %v", got, want)
			}
		}},
		"crds.enabled=false": {sets: []string{"crds.enabled=false"}, check: func(t *testing.T, r *rendered) {
			if n := len(r.all("CustomResourceDefinition")); n != 0 {
				t.Errorf("%d CRDs rendered", n)
			}
		}},
		"crds.keep=false": {sets: []string{"crds.keep=false"}, check: func(t *testing.T, r *rendered) {
			crds := r.all("CustomResourceDefinition")
			if len(crds) != 2 {
				t.Fatalf("%d CRDs rendered, want 2", len(crds))
			}
			for _, crd := range crds {
				if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
					t.Errorf("CRD %s still has a resource policy", crd.GetName())
				}
			}
		}},
		"issuer and certificate disabled": {sets: []string{"clusterIssuer.enabled=false", "certificate.enabled=false"}, check: func(t *testing.T, r *rendered) {
			if n := len(r.all("AntreaClusterIssuer")) + len(r.all("Certificate")); n != 0 {
				t.Errorf("%d issuers/certificates rendered", n)
			}
			if len(r.rel.Hooks) != 0 {
				t.Errorf("hooks rendered: %v", r.rel.Hooks)
			}
		}},
		"custom antrea namespace and cluster domain": {
			sets: []string{"antrea.namespace=antrea-system", "clusterDomain=corp.example", "antrea.secretName=antrea-tls",
				"antrea.configMapName=antrea-bundle", "clusterIssuer.name=antrea-ca-issuer"},
			check: func(t *testing.T, r *rendered) {
				cert := r.get(t, "Certificate", "antrea-system", "antrea-tls")
				if got := nested[[]any](t, cert, "spec", "dnsNames"); !jsonEqual(got, []any{"antrea.antrea-system.svc", "antrea.antrea-system.svc.corp.example"}) {
					t.Errorf("dnsNames = %v", got)
				}
				if got := nested[string](t, cert, "spec", "commonName"); got != "antrea.antrea-system.svc" {
					t.Errorf("commonName = %q", got)
				}
				if got := nested[string](t, cert, "spec", "secretName"); got != "antrea-tls" {
					t.Errorf("secretName = %q", got)
				}
				if got := nested[string](t, cert, "spec", "issuerRef", "name"); got != "antrea-ca-issuer" {
					t.Errorf("issuerRef.name = %q", got)
				}
				iss := r.get(t, "AntreaClusterIssuer", "", "antrea-ca-issuer")
				if got := nested[map[string]any](t, iss, "spec", "policy"); !jsonEqual(got, map[string]any{"antreaNamespace": "antrea-system", "clusterDomain": "corp.example"}) {
					t.Errorf("policy = %v", got)
				}
				role := into[rbacv1.Role](t, r.get(t, "Role", "antrea-system", "antrea-issuer:ca-bundle-sync"))
				names := map[string][]string{}
				for _, rule := range role.Rules {
					for _, res := range rule.Resources {
						names[res] = append(names[res], rule.ResourceNames...)
					}
				}
				if !slices.Equal(names["secrets"], []string{"antrea-tls"}) || !slices.Equal(names["configmaps"], []string{"antrea-bundle", "antrea-config"}) {
					t.Errorf("Role in antrea-system names %v", names)
				}
				if len(r.all("Role")) != 2 {
					t.Errorf("Roles: %v, want one in the release namespace and one in antrea-system", r.names())
				}
				args := deployment(t, r).Spec.Template.Spec.Containers[0].Args
				for _, want := range []string{"--antrea-namespace=antrea-system", "--antrea-secret-name=antrea-tls", "--antrea-ca-configmap=antrea-bundle"} {
					if !slices.Contains(args, want) {
						t.Errorf("args %q lack %q", args, want)
					}
				}
			}},
		"caSecretNamespaces [team-a]": {sets: []string{"caSecretNamespaces={team-a}"}, check: func(t *testing.T, r *rendered) {
			role := into[rbacv1.Role](t, r.get(t, "Role", "team-a", "antrea-issuer:ca-secrets"))
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "list", "update", "watch"}}}
			if !jsonEqual(role.Rules, want) {
				t.Errorf("team-a Role rules = %+v", role.Rules)
			}
			rb := into[rbacv1.RoleBinding](t, r.get(t, "RoleBinding", "team-a", "antrea-issuer:ca-secrets"))
			if rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "antrea-issuer" || rb.Subjects[0].Namespace != defaultNamespace {
				t.Errorf("team-a RoleBinding = %+v", rb)
			}
			if args := deployment(t, r).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--ca-secret-namespaces=team-a") {
				t.Errorf("args %q lack --ca-secret-namespaces=team-a", args)
			}
		}},
		"clusterResourceNamespace elsewhere": {sets: []string{"clusterResourceNamespace=issuer-cas", "caSecretNamespaces={issuer-cas,antrea-issuer,team-b}"}, check: func(t *testing.T, r *rendered) {
			// The release namespace keeps only leader election (its Lease and events); the CA
			// Secrets move, once per namespace.
			own := into[rbacv1.Role](t, r.get(t, "Role", defaultNamespace, "antrea-issuer"))
			for _, rule := range own.Rules {
				if res := rule.Resources[0]; res != "leases" && res != "events" {
					t.Errorf("release namespace Role = %+v, want leader election only", own.Rules)
				}
			}
			var secretNS []string
			for _, o := range r.all("Role") {
				if o.GetName() == "antrea-issuer:ca-secrets" {
					secretNS = append(secretNS, o.GetNamespace())
				}
			}
			if want := []string{"issuer-cas", "team-b"}; !slices.Equal(secretNS, want) {
				t.Errorf("CA Secret Roles in %v, want %v (antrea-issuer is the release namespace: no Secret access there now)", secretNS, want)
			}
			if args := deployment(t, r).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--cluster-resource-namespace=issuer-cas") {
				t.Errorf("args %q", args)
			}
		}},
		"serviceMonitor on": {sets: []string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus"}, check: func(t *testing.T, r *rendered) {
			sm := r.get(t, "ServiceMonitor", defaultNamespace, "antrea-issuer")
			if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetLabels()["release"] != "prometheus" {
				t.Errorf("ServiceMonitor = %v", sm.Object)
			}
			ep := nested[[]any](t, sm, "spec", "endpoints")[0].(map[string]any)
			if ep["port"] != "metrics" || ep["path"] != "/metrics" || ep["interval"] != "60s" {
				t.Errorf("endpoint = %v", ep)
			}
			svc := r.get(t, "Service", defaultNamespace, "antrea-issuer-metrics")
			for k, v := range nested[map[string]any](t, sm, "spec", "selector", "matchLabels") {
				if svc.GetLabels()[k] != v {
					t.Errorf("ServiceMonitor selects %s=%v; the metrics Service has %v", k, v, svc.GetLabels())
				}
			}
		}},
		"image digest": {sets: []string{"image.repository=registry.example/antrea-issuer", "image.tag=v9", "image.digest=" + digest}, check: func(t *testing.T, r *rendered) {
			if got := deployment(t, r).Spec.Template.Spec.Containers[0].Image; got != "registry.example/antrea-issuer@"+digest {
				t.Errorf("image = %q", got)
			}
		}},
		"caBundleSync disabled drops its RBAC": {sets: []string{"caBundleSync.enabled=false"}, check: func(t *testing.T, r *rendered) {
			cr := into[rbacv1.ClusterRole](t, r.get(t, "ClusterRole", "", "antrea-issuer"))
			for _, rule := range cr.Rules {
				for _, g := range rule.APIGroups {
					if g == "apiregistration.k8s.io" || g == "admissionregistration.k8s.io" || g == "apiextensions.k8s.io" {
						t.Errorf("rule %+v kept without the CA bundle sync", rule)
					}
				}
			}
			// What remains in kube-system is what the hold of Antrea's first certificate reads.
			role := into[rbacv1.Role](t, r.get(t, "Role", "kube-system", "antrea-issuer:antrea-mode"))
			want := []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"antrea-config"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"antrea-controller-tls"}, Verbs: []string{"get"}},
			}
			if !jsonEqual(role.Rules, want) {
				t.Errorf("kube-system Role rules without the CA bundle sync = %+v", role.Rules)
			}
			if args := deployment(t, r).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--enable-ca-bundle-sync=false") {
				t.Errorf("args %q", args)
			}
		}},
		"caBundleSync disabled and no hold: nothing in Antrea's namespace": {sets: []string{"caBundleSync.enabled=false", "antrea.controllerConfigMapName="}, check: func(t *testing.T, r *rendered) {
			for _, o := range r.all("Role") {
				if o.GetNamespace() == "kube-system" {
					t.Errorf("Role %s in kube-system rendered", o.GetName())
				}
			}
			if args := deployment(t, r).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--antrea-config-map=") {
				t.Errorf("args %q", args)
			}
		}},
		"empty target lists grant no patch at all": {sets: []string{"antrea.apiServices=null", "antrea.mutatingWebhooks=null", "antrea.validatingWebhooks=null", "antrea.conversionCRDs=null"}, check: func(t *testing.T, r *rendered) {
			// An empty resourceNames list would grant patch on every object of the resource.
			cr := into[rbacv1.ClusterRole](t, r.get(t, "ClusterRole", "", "antrea-issuer"))
			for _, rule := range cr.Rules {
				targets := []string{"apiservices", "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "customresourcedefinitions"}
				if slices.Contains(rule.Verbs, "patch") && len(rule.ResourceNames) == 0 && slices.ContainsFunc(rule.Resources, func(s string) bool { return slices.Contains(targets, s) }) {
					t.Errorf("unrestricted patch rule: %+v", rule)
				}
			}
		}},
		// --set gives qps as the string "7.5": the schema takes numeric strings for it.
		"leader election timing": {sets: []string{"leaderElection.leaseDuration=15s", "leaderElection.renewDeadline=10s", "leaderElection.retryPeriod=2s"}, check: func(t *testing.T, r *rendered) {
			args := deployment(t, r).Spec.Template.Spec.Containers[0].Args
			for _, want := range []string{"--leader-election-lease-duration=15s", "--leader-election-renew-deadline=10s", "--leader-election-retry-period=2s"} {
				if !slices.Contains(args, want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
		}},
		"no leader election, no timing": {sets: []string{"leaderElection.enabled=false"}, check: func(t *testing.T, r *rendered) {
			for _, arg := range deployment(t, r).Spec.Template.Spec.Containers[0].Args {
				if strings.HasPrefix(arg, "--leader-election-") {
					t.Errorf("args carry %q without leader election", arg)
				}
			}
		}},
		"extra args, log level and API limits": {sets: []string{"extraArgs={--max-retry-duration=10m}", "logLevel=3", "kubeAPI.qps=7.5", "kubeAPI.burst=1000000", "workers=16"}, check: func(t *testing.T, r *rendered) {
			args := deployment(t, r).Spec.Template.Spec.Containers[0].Args
			for _, want := range []string{"--max-retry-duration=10m", "--zap-log-level=3", "--kube-api-qps=7.5", "--kube-api-burst=1000000", "--workers=16"} {
				if !slices.Contains(args, want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, render(t, defaultRelease, defaultNamespace, setValues(t, tc.sets...)))
		})
	}
}

// TestRenderFails checks the combinations the templates refuse.
func TestRenderFails(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		sets []string
		want string
	}{
		"replicas without leader election": {[]string{"replicas=2", "leaderElection.enabled=false"}, "replicas > 1 needs leaderElection.enabled"},
		"serviceMonitor without Service":   {[]string{"metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"}, "needs metrics.service.enabled"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := install(loadChart(t), defaultRelease, defaultNamespace, setValues(t, tc.sets...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// jsonEqual compares two values by their JSON form (so int64 256 equals float64 256, and map key
// order does not matter).
func jsonEqual(a, b any) bool {
	norm := func(v any) ([]byte, error) {
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var generic any
		if err := json.Unmarshal(j, &generic); err != nil {
			return nil, err
		}
		return json.Marshal(generic) // map keys sorted
	}
	ja, errA := norm(a)
	jb, errB := norm(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// TestCRDsMatchConfig proves that the CRDs the chart renders are the generated ones in config/crd,
// field for field, with only the chart's labels and the keep annotation added.
func TestCRDsMatchConfig(t *testing.T) {
	t.Parallel()
	r := render(t, defaultRelease, defaultNamespace, nil)
	srcs, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "*.yaml"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no CRDs in config/crd: %v", err)
	}
	if n := len(r.all("CustomResourceDefinition")); n != len(srcs) {
		t.Errorf("the chart renders %d CRDs, config/crd has %d", n, len(srcs))
	}
	for _, src := range srcs {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want := decodeAll(t, string(data))[0]
		got := r.get(t, "CustomResourceDefinition", "", want.GetName())
		if !jsonEqual(got.Object["spec"], want.Object["spec"]) {
			t.Errorf("CRD %s: the chart's spec differs from %s", want.GetName(), filepath.Base(src))
		}
		wantAnn := maps.Clone(want.GetAnnotations())
		wantAnn["helm.sh/resource-policy"] = "keep"
		if !maps.Equal(got.GetAnnotations(), wantAnn) {
			t.Errorf("CRD %s annotations = %v, want %v", want.GetName(), got.GetAnnotations(), wantAnn)
		}
		if got.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("CRD %s labels = %v", want.GetName(), got.GetLabels())
		}
	}
}

// TestInstallOrderPutsCRDsFirst records what Helm's kind sort order does with this chart: CRDs are
// created before the rest of the manifest, and kinds Helm does not know (the AntreaClusterIssuer)
// would go last. Creation order alone is not enough for a CR of a CRD in the same release (see
// TestHelmInstall): the whole manifest is mapped to API resources before anything is created.
func TestInstallOrderPutsCRDsFirst(t *testing.T) {
	t.Parallel()
	r := render(t, defaultRelease, defaultNamespace, nil)
	manifests := releaseutil.SplitManifests(r.rel.Manifest)
	var kinds []string
	_, sorted, err := releaseutil.SortManifests(manifests, nil, releaseutil.InstallOrder)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sorted {
		kinds = append(kinds, m.Head.Kind)
	}
	// Only kinds InstallOrder places before CRDs may precede them; kinds Helm does not know (the
	// Certificate) come after every known one.
	before := []string{"PodDisruptionBudget", "ServiceAccount", "CustomResourceDefinition"}
	lastCRD := slices.Index(kinds, "CustomResourceDefinition") + 1
	for lastCRD < len(kinds) && kinds[lastCRD] == "CustomResourceDefinition" {
		lastCRD++
	}
	if slices.ContainsFunc(kinds[:lastCRD], func(k string) bool { return !slices.Contains(before, k) }) {
		t.Errorf("install order %v creates something else before the CRDs", kinds)
	}
	if slices.Index(kinds, "Certificate") != len(kinds)-1 {
		t.Errorf("install order %v: the Certificate (a kind Helm does not know) is not last", kinds)
	}
}

// TestSchemaMatchesValues proves that values.schema.json and values.yaml name the same keys: every
// documented value has a schema property, every schema property is a value, and every object
// between them refuses unknown keys. With it, the hand-written schema cannot drift.
func TestSchemaMatchesValues(t *testing.T) {
	t.Parallel()
	values, err := os.ReadFile(filepath.Join(chartDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chartgen.ValuesRows(values)
	if err != nil {
		t.Fatal(err)
	}
	leaves := map[string]bool{}
	parents := map[string]bool{"": true}
	for _, r := range rows {
		leaves[r.Key] = true
		parts := strings.Split(r.Key, ".")
		for i := 1; i < len(parts); i++ {
			parents[strings.Join(parts[:i], ".")] = true
		}
	}
	var schema map[string]any
	data, err := os.ReadFile(filepath.Join(chartDir(), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if s["additionalProperties"] != false {
			t.Errorf("schema object %q accepts unknown keys: set additionalProperties: false", path)
		}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			p := strings.TrimPrefix(path+"."+k, ".")
			seen[p] = true
			switch {
			case leaves[p]:
				if _, ok := v.(map[string]any)["type"]; !ok && v.(map[string]any)["anyOf"] == nil {
					t.Errorf("schema property %q has no type", p)
				}
			case parents[p]:
				walk(p, v.(map[string]any))
			case p == "global": // set by a parent chart when this one is a subchart
			default:
				t.Errorf("schema property %q is not a value in values.yaml", p)
			}
		}
	}
	walk("", schema)
	for p := range leaves {
		if !seen[p] {
			t.Errorf("value %q has no property in values.schema.json", p)
		}
	}
}

// TestSchemaRejectsBadValues checks that wrong types and unknown keys fail the install with a
// message that names the value.
func TestSchemaRejectsBadValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vals map[string]any
		want []string
	}{
		"replicas as a word":    {map[string]any{"replicas": "three"}, []string{"replicas", "got string, want integer"}},
		"replicas zero":         {map[string]any{"replicas": 0}, []string{"replicas", "minimum"}},
		"unknown top-level key": {map[string]any{"replica": 2}, []string{"additional properties 'replica' not allowed"}},
		"unknown nested key":    {map[string]any{"image": map[string]any{"tags": "v1"}}, []string{"image", "additional properties 'tags' not allowed"}},
		"bool as a string":      {map[string]any{"crds": map[string]any{"enabled": "yes"}}, []string{"crds/enabled", "got string, want boolean"}},
		"list as a string":      {map[string]any{"caSecretNamespaces": "team-a"}, []string{"caSecretNamespaces", "got string, want array"}},
		"bad namespace name":    {map[string]any{"caSecretNamespaces": []any{"Team_A"}}, []string{"caSecretNamespaces", "does not match pattern"}},
		"unknown log level":     {map[string]any{"logLevel": "verbose"}, []string{"logLevel"}},
		"duration without unit": {map[string]any{"leaderElection": map[string]any{"retryPeriod": "15"}}, []string{"leaderElection/retryPeriod", "does not match pattern"}},
		"duration in words":     {map[string]any{"certificate": map[string]any{"duration": "90 days"}}, []string{"certificate/duration", "does not match pattern"}},
		// What the CRDs refuse, the values refuse before anything is installed.
		"CA duration banana":       {map[string]any{"clusterIssuer": map[string]any{"ca": map[string]any{"duration": "banana"}}}, []string{"clusterIssuer/ca/duration", "does not match pattern"}},
		"CA renewBefore zero":      {map[string]any{"clusterIssuer": map[string]any{"ca": map[string]any{"renewBefore": "0s"}}}, []string{"clusterIssuer/ca/renewBefore", "not"}},
		"negative duration":        {map[string]any{"certificate": map[string]any{"renewBefore": "-5m"}}, []string{"certificate/renewBefore", "does not match pattern"}},
		"overlong duration":        {map[string]any{"certificate": map[string]any{"duration": strings.Repeat("9", 40) + "h"}}, []string{"certificate/duration", "maxLength"}},
		"unknown key algorithm":    {map[string]any{"clusterIssuer": map[string]any{"ca": map[string]any{"keyAlgorithm": "DSA"}}}, []string{"keyAlgorithm", "value must be one of"}},
		"bad digest":               {map[string]any{"image": map[string]any{"digest": "latest"}}, []string{"image/digest", "does not match pattern"}},
		"unknown pull policy":      {map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, []string{"pullPolicy"}},
		"resources with a typo":    {map[string]any{"resources": map[string]any{"limit": map[string]any{"cpu": "1"}}}, []string{"resources", "additional properties 'limit' not allowed"}},
		"qps not a number":         {map[string]any{"kubeAPI": map[string]any{"qps": "fast"}}, []string{"kubeAPI/qps", "want number"}},
		"negative qps":             {map[string]any{"kubeAPI": map[string]any{"qps": -1}}, []string{"kubeAPI/qps", "minimum"}},
		"negative burst":           {map[string]any{"kubeAPI": map[string]any{"burst": -1}}, []string{"kubeAPI/burst", "minimum"}},
		"antrea namespace as list": {map[string]any{"antrea": map[string]any{"namespace": []any{"kube-system"}}}, []string{"antrea/namespace", "want string"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := install(loadChart(t), defaultRelease, defaultNamespace, tc.vals)
			if err == nil {
				t.Fatal("the chart accepted the values")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") {
				t.Errorf("not a schema error: %v", err)
			}
		})
	}
}

// access is one thing a rule grants: verb on group/resource (optionally one name) in a namespace
// ("" for cluster-wide).
type access struct {
	namespace, group, resource, verb, name string
}

func (a access) String() string {
	s := fmt.Sprintf("%s %s.%s", a.verb, a.resource, a.group)
	if a.name != "" {
		s += "/" + a.name
	}
	if a.namespace != "" {
		s += " in " + a.namespace
	}
	return s
}

func expand(namespace string, rules []rbacv1.PolicyRule) map[access]bool {
	out := map[access]bool{}
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					for _, n := range names {
						out[access{namespace, g, res, v, n}] = true
					}
				}
			}
		}
	}
	return out
}

func diffAccess(t *testing.T, what string, got, want map[access]bool) {
	t.Helper()
	for a := range want {
		if !got[a] {
			t.Errorf("%s: the chart does not grant %s", what, a)
		}
	}
	for a := range got {
		if !want[a] {
			t.Errorf("%s: the chart grants %s, which config/rbac does not", what, a)
		}
	}
}

// generatedRBAC reads config/rbac: what controller-gen generates for the controller (role.yaml)
// and the approval role for cert-manager (cert-manager-approver.yaml).
func generatedRBAC(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, f := range []string{"role.yaml", "cert-manager-approver.yaml"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodeAll(t, string(data))...)
	}
	return out
}

// grants is everything bound to the subject (kind/namespace/name) by the given objects.
func grants(t *testing.T, objs []*unstructured.Unstructured, subject rbacv1.Subject) map[access]bool {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{} // "namespace/name" ("" namespace for ClusterRoles)
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			roles["/"+o.GetName()] = into[rbacv1.ClusterRole](t, o).Rules
		case "Role":
			roles[o.GetNamespace()+"/"+o.GetName()] = into[rbacv1.Role](t, o).Rules
		}
	}
	out := map[access]bool{}
	for _, o := range objs {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		switch o.GetKind() {
		case "ClusterRoleBinding":
			b := into[rbacv1.ClusterRoleBinding](t, o)
			ref, subjects = b.RoleRef, b.Subjects
		case "RoleBinding":
			b := into[rbacv1.RoleBinding](t, o)
			ref, subjects = b.RoleRef, b.Subjects
		default:
			continue
		}
		if !slices.Contains(subjects, subject) {
			continue
		}
		key := "/" + ref.Name
		if ref.Kind == "Role" {
			key = o.GetNamespace() + "/" + ref.Name
		}
		rules, ok := roles[key]
		if !ok {
			t.Errorf("%s %s refers to %s %s, which is not there", o.GetKind(), o.GetName(), ref.Kind, key)
		}
		maps.Copy(out, expand(o.GetNamespace(), rules))
	}
	return out
}

var (
	controllerSA  = rbacv1.Subject{Kind: "ServiceAccount", Name: "antrea-issuer", Namespace: defaultNamespace}
	certManagerSA = rbacv1.Subject{Kind: "ServiceAccount", Name: "cert-manager", Namespace: "cert-manager"}
)

// TestRBACMatchesGenerated proves that with default values the chart grants the controller's
// ServiceAccount exactly what controller-gen generated in config/rbac/role.yaml (released in the
// antrea-issuer namespace, as the generated Role assumes) and cert-manager exactly what
// config/rbac/cert-manager-approver.yaml grants; and that no variation of the values grants
// Secrets or ConfigMaps cluster-wide, or any wildcard.
func TestRBACMatchesGenerated(t *testing.T) {
	t.Parallel()
	generated := generatedRBAC(t)
	// role.yaml has no bindings: bind each generated role to the controller, as the chart must.
	want := map[access]bool{}
	for _, o := range generated {
		switch {
		case o.GetKind() == "ClusterRole" && o.GetName() == "antrea-issuer":
			maps.Copy(want, expand("", into[rbacv1.ClusterRole](t, o).Rules))
		case o.GetKind() == "Role":
			maps.Copy(want, expand(o.GetNamespace(), into[rbacv1.Role](t, o).Rules))
		}
	}
	if len(want) == 0 {
		t.Fatal("nothing read from config/rbac/role.yaml")
	}
	r := render(t, defaultRelease, defaultNamespace, nil)
	diffAccess(t, "controller", grants(t, r.objects, controllerSA), want)
	diffAccess(t, "cert-manager", grants(t, r.objects, certManagerSA), grants(t, generated, certManagerSA))

	t.Run("caSecretNamespaces get the generated CA Secret rule", func(t *testing.T) {
		r := render(t, defaultRelease, defaultNamespace, setValues(t, "caSecretNamespaces={team-a}"))
		got := grants(t, r.objects, controllerSA)
		for a := range want {
			if a.namespace == defaultNamespace && a.resource == "secrets" {
				a.namespace = "team-a"
				if !got[a] {
					t.Errorf("no %s", a)
				}
			}
		}
	})

	for name, sets := range map[string][]string{
		"defaults":           nil,
		"caSecretNamespaces": {"caSecretNamespaces={team-a,team-b}", "clusterResourceNamespace=cas"},
		"other antrea names": {"antrea.namespace=antrea", "antrea.secretName=s", "antrea.configMapName=c"},
		"empty target lists": {"antrea.apiServices=null", "antrea.mutatingWebhooks=null", "antrea.validatingWebhooks=null", "antrea.conversionCRDs=null"},
	} {
		t.Run("nothing cluster-wide on secrets or configmaps: "+name, func(t *testing.T) {
			r := render(t, defaultRelease, defaultNamespace, setValues(t, sets...))
			for _, o := range r.all("ClusterRole") {
				for a := range expand("", into[rbacv1.ClusterRole](t, o).Rules) {
					if (a.group == "" || a.group == "*") && (a.resource == "secrets" || a.resource == "configmaps" || a.resource == "*") {
						t.Errorf("ClusterRole %s grants %s", o.GetName(), a)
					}
				}
			}
			for _, o := range r.all("ClusterRole") {
				rules := into[rbacv1.ClusterRole](t, o).Rules
				for _, o2 := range r.all("Role") {
					rules = append(rules, into[rbacv1.Role](t, o2).Rules...)
				}
				for a := range expand("", rules) {
					if a.group == "*" || a.resource == "*" || a.verb == "*" {
						t.Errorf("wildcard grant %s", a)
					}
					if a.name == "" && slices.Contains([]string{"patch", "update", "delete"}, a.verb) &&
						slices.Contains([]string{"apiservices", "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "customresourcedefinitions"}, a.resource) {
						t.Errorf("write without resourceNames: %s", a)
					}
				}
			}
		})
	}
}

// apiServerCase is one release created object by object on the real API server.
type apiServerCase struct {
	release, namespace string
	sets               []string
}

// TestCreateOnAPIServer creates every object the chart renders (hooks included), for the default
// values and variations, on a real kube-apiserver with strict field validation: CRDs first, then,
// once they are Established, the rest in Helm's install order. Each object is thereby checked
// against the real schemas (built-in kinds, cert-manager's Certificate, our CRDs with their CEL
// rules), and unknown or misspelt fields are errors, not silently dropped. The ServiceMonitor is
// skipped unless its CRD is served. Then a SubjectAccessReview for every generated permission
// proves that the created RBAC grants what the controller needs, through the real authorizer.
func TestCreateOnAPIServer(t *testing.T) {
	// The chart installs antrea-issuer's CRDs itself. (Deleting the ones testenv would install
	// instead could hang for minutes on a loaded machine: the CRD finalizer backs off.)
	env := testenv.Start(t, testenv.Options{WithoutProjectCRDs: true})
	ctx := testenv.Context(t)

	for _, tc := range []apiServerCase{
		{release: defaultRelease, namespace: defaultNamespace},
		{release: "ha", namespace: "ha", sets: []string{"replicas=3", "image.digest=sha256:" + strings.Repeat("f", 64),
			"clusterIssuer.name=ha", "antrea.namespace=ha-antrea"}},
		{release: "teams", namespace: "teams", sets: []string{"caSecretNamespaces={team-a}", "clusterResourceNamespace=issuer-cas",
			"clusterIssuer.name=teams", "antrea.namespace=teams-antrea"}},
		{release: "custom", namespace: "custom", sets: []string{"antrea.namespace=antrea-system", "clusterDomain=corp.example",
			"antrea.secretName=antrea-tls", "antrea.configMapName=antrea-bundle", "clusterIssuer.name=custom"}},
		{release: "monitored", namespace: "monitored", sets: []string{"metrics.serviceMonitor.enabled=true",
			"clusterIssuer.name=monitored", "antrea.namespace=monitored-antrea"}},
		{release: "minimal", namespace: "minimal", sets: []string{"crds.keep=false", "caBundleSync.enabled=false",
			"certManager.approverRBAC.enabled=false", "clusterIssuer.enabled=false", "certificate.enabled=false"}},
	} {
		t.Run(tc.release, func(t *testing.T) {
			r := render(t, tc.release, tc.namespace, setValues(t, tc.sets...))
			createAll(t, env, r)
		})
	}

	t.Run("SubjectAccessReview", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		sar := func(sa rbacv1.Subject, a access) bool {
			t.Helper()
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: a.namespace, Group: a.group, Verb: a.verb, Name: a.name,
					Resource: strings.Split(a.resource, "/")[0], Subresource: strings.TrimPrefix(a.resource, strings.Split(a.resource, "/")[0]+"/"),
				},
			}}
			if !strings.Contains(a.resource, "/") {
				review.Spec.ResourceAttributes.Subresource = ""
			}
			res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return res.Status.Allowed
		}
		for _, o := range generatedRBAC(t) {
			var rules []rbacv1.PolicyRule
			switch o.GetKind() {
			case "ClusterRole":
				rules = into[rbacv1.ClusterRole](t, o).Rules
			case "Role":
				rules = into[rbacv1.Role](t, o).Rules
			default:
				continue
			}
			sa := controllerSA
			if strings.HasSuffix(o.GetName(), "cert-manager-approver") {
				sa = certManagerSA
			}
			for a := range expand(o.GetNamespace(), rules) {
				if !sar(sa, a) {
					t.Errorf("%s/%s may not %s (config/rbac grants it)", sa.Namespace, sa.Name, a)
				}
			}
		}
		for _, a := range []access{
			{namespace: "", resource: "secrets", verb: "list"},
			{namespace: "kube-system", resource: "secrets", verb: "get", name: "other"},
			{namespace: "kube-system", resource: "secrets", verb: "update", name: "antrea-controller-tls"},
			{namespace: "default", resource: "secrets", verb: "get"},
			{namespace: "team-a", resource: "secrets", verb: "get"}, // only the "teams" release's SA has it
			{namespace: "kube-system", resource: "configmaps", verb: "patch", name: "kube-proxy"},
			{group: "apiregistration.k8s.io", resource: "apiservices", verb: "patch", name: "v1.apps"},
			{group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", verb: "patch", name: "other"},
			{group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "patch", name: "certificates.cert-manager.io"},
			{group: "cert-manager.io", resource: "signers", verb: "approve", name: "antreaclusterissuers.certificates.antrea.io/antrea"},
		} {
			if sar(controllerSA, a) {
				t.Errorf("the controller may %s", a)
			}
		}
		// cert-manager's webhook lets a user approve a request when it may approve "signers" named
		// "<plural>.<group>/*" or the request's own signer name (RBAC has no wildcard names).
		mayApprove := func(signer string) bool {
			for _, name := range []string{strings.Split(signer, "/")[0] + "/*", signer} {
				if sar(certManagerSA, access{group: "cert-manager.io", resource: "signers", verb: "approve", name: name}) {
					return true
				}
			}
			return false
		}
		for _, signer := range []string{"antreaclusterissuers.certificates.antrea.io/antrea", "antreaissuers.certificates.antrea.io/team-a.issuer"} {
			if !mayApprove(signer) {
				t.Errorf("cert-manager may not approve for signer %s", signer)
			}
		}
		for _, signer := range []string{"issuers.cert-manager.io/team-a.other", "clusterissuers.example.com/x"} {
			if mayApprove(signer) {
				t.Errorf("cert-manager may approve for signer %s, which is not antrea-issuer's", signer)
			}
		}
		teams := rbacv1.Subject{Kind: "ServiceAccount", Name: "teams-antrea-issuer", Namespace: "teams"}
		for _, ns := range []string{"team-a", "issuer-cas"} {
			if !sar(teams, access{namespace: ns, resource: "secrets", verb: "create"}) {
				t.Errorf("the teams release's controller may not create Secrets in %s", ns)
			}
		}
		if sar(teams, access{namespace: "teams", resource: "secrets", verb: "get"}) {
			t.Error("the teams release's controller may read Secrets in its own namespace though its CA Secrets are elsewhere")
		}
	})
}

// createAll creates the rendered objects: CRDs, wait until Established, then the rest in order.
func createAll(t *testing.T, env *testenv.Env, r *rendered) {
	t.Helper()
	ctx := testenv.Context(t)
	namespaces := map[string]bool{}
	for _, o := range r.objects {
		if ns := o.GetNamespace(); ns != "" && !namespaces[ns] {
			namespaces[ns] = true
			err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	strict := client.FieldValidation("Strict")
	var rest []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() != "CustomResourceDefinition" {
			rest = append(rest, o)
			continue
		}
		err := env.Client.Create(ctx, o.DeepCopy(), strict)
		switch {
		case apierrors.IsAlreadyExists(err):
			t.Logf("CRD %s exists already (created by an earlier case)", o.GetName())
			continue
		case err != nil:
			t.Fatalf("creating CRD %s: %v", o.GetName(), err)
		}
		name := o.GetName()
		testenv.Eventually(t, 30*time.Second, "CRD "+name+" Established", func() error {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v", crd.Status.Conditions)
		})
	}
	for _, o := range rest {
		gvk := o.GroupVersionKind()
		if _, err := env.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if meta.IsNoMatchError(err) && gvk.Group == "monitoring.coreos.com" {
				t.Logf("skipping %s %s: %s is not served here", gvk.Kind, o.GetName(), gvk.GroupVersion())
				continue
			}
			t.Fatalf("%s %s: %v", gvk.Kind, o.GetName(), err)
		}
		if err := env.Client.Create(ctx, o.DeepCopy(), strict); err != nil {
			t.Errorf("creating %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// helmConfig is a Helm action configuration talking to the test API server (what the helm CLI
// builds from --kubeconfig and --namespace), with releases kept in memory.
func helmConfig(t *testing.T, env *testenv.Env, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &env.KubeconfigPath
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "memory", t.Logf); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHelmInstall installs, upgrades and uninstalls the chart with Helm on a real API server that
// has cert-manager's CRDs but not antrea-issuer's, as `helm install` would on a fresh cluster.
// It also shows why the AntreaClusterIssuer is a hook: as a plain template next to its CRD, the
// install fails before creating anything.
func TestHelmInstall(t *testing.T) {
	// The chart installs antrea-issuer's CRDs itself. (Deleting the ones testenv would install
	// instead could hang for minutes on a loaded machine: the CRD finalizer backs off.)
	env := testenv.Start(t, testenv.Options{WithoutProjectCRDs: true})
	ctx := testenv.Context(t)
	cfg := helmConfig(t, env, defaultNamespace)
	newInstall := func() *action.Install {
		in := action.NewInstall(cfg)
		in.ReleaseName = defaultRelease
		in.Namespace = defaultNamespace
		in.CreateNamespace = true
		in.Timeout = time.Minute
		return in
	}
	get := func(obj client.Object, namespace, name string) error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj)
	}

	t.Run("without the hook a fresh install fails", func(t *testing.T) {
		c := loadChart(t)
		for _, tmpl := range c.Templates {
			if tmpl.Name == "templates/clusterissuer.yaml" {
				var kept []string
				for _, l := range strings.Split(string(tmpl.Data), "\n") {
					if !strings.Contains(l, "helm.sh/hook") {
						kept = append(kept, l)
					}
				}
				tmpl.Data = []byte(strings.Join(kept, "\n"))
			}
		}
		_, err := newInstall().Run(c, nil)
		if err == nil || !strings.Contains(err.Error(), `no matches for kind "AntreaClusterIssuer"`) {
			t.Fatalf("install error = %v, want a resource mapping error for AntreaClusterIssuer", err)
		}
		t.Logf("as expected: %v", err)
		if err := get(&apiextensionsv1.CustomResourceDefinition{}, "", "antreaclusterissuers.certificates.antrea.io"); !apierrors.IsNotFound(err) {
			t.Errorf("the failed install created the CRD (err %v)", err)
		}
	})

	t.Run("install", func(t *testing.T) {
		rel, err := newInstall().Run(loadChart(t), nil)
		if err != nil {
			t.Fatalf("helm install: %v", err)
		}
		if rel.Info.Status != release.StatusDeployed {
			t.Fatalf("release status %s", rel.Info.Status)
		}
		iss := &issuerapi.AntreaClusterIssuer{}
		if err := get(iss, "", "antrea"); err != nil {
			t.Fatalf("the AntreaClusterIssuer hook: %v", err)
		}
		if got := iss.Spec.Policy.AntreaNamespace; got != "kube-system" {
			t.Errorf("issuer policy namespace %q", got)
		}
		cert := &cmapi.Certificate{}
		if err := get(cert, "kube-system", "antrea-controller-tls"); err != nil {
			t.Fatalf("the Certificate: %v", err)
		}
		if err := get(&appsv1.Deployment{}, defaultNamespace, defaultRelease); err != nil {
			t.Fatalf("the Deployment: %v", err)
		}
	})

	t.Run("upgrade re-creates the issuer with the new values", func(t *testing.T) {
		up := action.NewUpgrade(cfg)
		up.Namespace = defaultNamespace
		up.Timeout = time.Minute
		rel, err := up.Run(defaultRelease, loadChart(t), setValues(t, "clusterIssuer.ca.duration=26280h"))
		if err != nil {
			t.Fatalf("helm upgrade: %v", err)
		}
		if rel.Version != 2 || rel.Info.Status != release.StatusDeployed {
			t.Fatalf("release version %d status %s", rel.Version, rel.Info.Status)
		}
		iss := &issuerapi.AntreaClusterIssuer{}
		if err := get(iss, "", "antrea"); err != nil {
			t.Fatal(err)
		}
		if d := iss.Spec.CA.Generated.Duration; d != "26280h" {
			t.Errorf("issuer CA duration %v, want 26280h", d)
		}
	})

	t.Run("uninstall keeps the CRDs", func(t *testing.T) {
		if _, err := action.NewUninstall(cfg).Run(defaultRelease); err != nil {
			t.Fatalf("helm uninstall: %v", err)
		}
		testenv.Eventually(t, 2*time.Minute, "Deployment and Certificate deleted", func() error {
			if err := get(&appsv1.Deployment{}, defaultNamespace, defaultRelease); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Deployment: %v", err)
			}
			if err := get(&cmapi.Certificate{}, "kube-system", "antrea-controller-tls"); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Certificate: %v", err)
			}
			return nil
		})
		for _, name := range []string{"antreaissuers.certificates.antrea.io", "antreaclusterissuers.certificates.antrea.io"} {
			if err := get(&apiextensionsv1.CustomResourceDefinition{}, "", name); err != nil {
				t.Errorf("CRD %s not kept: %v", name, err)
			}
		}
		// Hook resources are not part of the release: the issuer stays (docs/install.md says so).
		if err := get(&issuerapi.AntreaClusterIssuer{}, "", "antrea"); err != nil {
			t.Errorf("AntreaClusterIssuer after uninstall: %v", err)
		}
	})
}
