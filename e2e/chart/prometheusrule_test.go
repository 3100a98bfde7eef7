package charts_test

// Tests of the chart's PrometheusRule (prometheusRule.*): what it renders, that Helm's linter and
// the values schema accept and refuse what they should, that the runbook link points at a README
// heading, and that a real API server serving the Prometheus Operator's PrometheusRule CRD accepts
// it. What each alert does is tested with promtool in e2e/alerts.

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
)

// The alerts the chart ships, in order.
var wantAlerts = []string{
	"AntreaIssuerNotReady",
	"AntreaIssuerCAExpiresBeforeRotation",
	"AntreaIssuerCARotationStuck",
	"AntreaIssuerCABundleSourceProblem",
	"AntreaIssuerCABundleOutOfSync",
	"AntreaCertificateNotReady",
	"AntreaCertificateExpiresSoon",
}

// ruleAlerts returns the alerting rules of a rendered PrometheusRule.
func ruleAlerts(t *testing.T, pr *unstructured.Unstructured) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, g := range nested[[]any](t, pr, "spec", "groups") {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			out = append(out, r.(map[string]any))
		}
	}
	return out
}

func TestRenderPrometheusRule(t *testing.T) {
	t.Parallel()
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		if n := len(render(t, defaultRelease, defaultNamespace, nil).all("PrometheusRule")); n != 0 {
			t.Errorf("%d PrometheusRules rendered by default", n)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		r := render(t, defaultRelease, defaultNamespace, setValues(t, "prometheusRule.enabled=true"))
		pr := r.get(t, "PrometheusRule", defaultNamespace, "antrea-issuer")
		if pr.GetAPIVersion() != "monitoring.coreos.com/v1" || pr.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("PrometheusRule %s, labels %v", pr.GetAPIVersion(), pr.GetLabels())
		}
		var names []string
		for _, a := range ruleAlerts(t, pr) {
			name, _ := a["alert"].(string)
			names = append(names, name)
			ann, _ := a["annotations"].(map[string]any)
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if s, _ := ann[k].(string); strings.TrimSpace(s) == "" {
					t.Errorf("alert %s has no %s", name, k)
				}
			}
			if sev := a["labels"].(map[string]any)["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("alert %s severity %v", name, sev)
			}
			// The description names the object: from the series' labels, or the chart's values.
			desc := ann["description"].(string)
			if !strings.Contains(desc, "$labels.name") && !strings.Contains(desc, "kube-system/antrea-controller-tls") {
				t.Errorf("alert %s: the description names no object: %q", name, desc)
			}
		}
		if !slices.Equal(names, wantAlerts) {
			t.Errorf("alerts %v, want %v", names, wantAlerts)
		}
	})
	t.Run("namespace, labels and the Certificate's names", func(t *testing.T) {
		t.Parallel()
		r := render(t, defaultRelease, defaultNamespace, setValues(t, "prometheusRule.enabled=true",
			"prometheusRule.namespace=monitoring", "prometheusRule.labels.release=kube-prometheus-stack",
			"prometheusRule.alertLabels.team=network", "antrea.namespace=antrea-system", "antrea.secretName=antrea-tls"))
		pr := r.get(t, "PrometheusRule", "monitoring", "antrea-issuer")
		if pr.GetLabels()["release"] != "kube-prometheus-stack" {
			t.Errorf("labels %v", pr.GetLabels())
		}
		for _, a := range ruleAlerts(t, pr) {
			if a["labels"].(map[string]any)["team"] != "network" {
				t.Errorf("alert %s labels %v", a["alert"], a["labels"])
			}
			expr := a["expr"].(string)
			if strings.Contains(expr, "certmanager_") &&
				(!strings.Contains(expr, `name="antrea-tls", namespace="antrea-system"`) || !strings.Contains(expr, `exported_namespace="antrea-system"`)) {
				t.Errorf("alert %s does not follow antrea.namespace and antrea.secretName: %s", a["alert"], expr)
			}
		}
	})
}

// TestPrometheusRuleRunbookAnchor proves that the default runbook link points at a heading of
// the README (GitHub's anchor for it), so renaming the heading breaks this test, not the alerts.
func TestPrometheusRuleRunbookAnchor(t *testing.T) {
	t.Parallel()
	r := render(t, defaultRelease, defaultNamespace, setValues(t, "prometheusRule.enabled=true"))
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	punct := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, l := range strings.Split(string(readme), "\n") {
		if h, ok := strings.CutPrefix(l, "#"); ok {
			h = strings.TrimSpace(strings.TrimLeft(h, "#"))
			anchors[strings.ReplaceAll(punct.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
		}
	}
	for _, a := range ruleAlerts(t, r.get(t, "PrometheusRule", defaultNamespace, "antrea-issuer")) {
		url := a["annotations"].(map[string]any)["runbook_url"].(string)
		base, anchor, _ := strings.Cut(url, "#")
		if base != "https://github.com/antrea-io/antrea-issuer" || !anchors[anchor] {
			t.Errorf("alert %s: runbook %s is not a heading of README.md", a["alert"], url)
		}
	}
}

func TestLintPrometheusRule(t *testing.T) {
	t.Parallel()
	linter := lint.AllWithKubeVersion(chartDir(), setValues(t, "prometheusRule.enabled=true", "metrics.serviceMonitor.enabled=true"),
		defaultNamespace, kubeVersion)
	for _, m := range linter.Messages {
		t.Log(m.Error())
	}
	if linter.HighestSeverity > support.InfoSev {
		t.Errorf("helm lint reported problems (highest severity %d)", linter.HighestSeverity)
	}
}

func TestSchemaRejectsBadPrometheusRuleValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		sets []string
		want string
	}{
		"margin with two units":    {[]string{"prometheusRule.caExpiry.margin=1h30m"}, "prometheusRule/caExpiry/margin"},
		"expiresWithin in words":   {[]string{"prometheusRule.certificate.expiresWithin=a week"}, "prometheusRule/certificate/expiresWithin"},
		"for without a unit":       {[]string{"prometheusRule.issuerNotReady.for=300"}, "prometheusRule/issuerNotReady/for"},
		"factor below 1":           {[]string{"prometheusRule.rotationStuck.factor=0.5"}, "prometheusRule/rotationStuck/factor"},
		"unknown key":              {[]string{"prometheusRule.severity=page"}, "additional properties 'severity' not allowed"},
		"label value not a string": {[]string{"prometheusRule.labels.x=1"}, "prometheusRule/labels/x"},
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

// TestPrometheusRuleOnAPIServer creates the rendered PrometheusRule with a server-side dry run
// and strict field validation on a real kube-apiserver that serves the Prometheus Operator's
// PrometheusRule CRD (generated from the operator's API module: `make prometheus-operator-crd`),
// which checks every field and the `for` durations against the operator's schema.
func TestPrometheusRuleOnAPIServer(t *testing.T) {
	env := testenv.Start(t, testenv.Options{WithoutProjectCRDs: true, WithoutCertManagerCRDs: true,
		ExtraCRDDirs: []string{filepath.Join(testenv.RepoRoot(), "e2e", "testdata", "crds", "prometheus-operator")}})
	ctx := testenv.Context(t)
	dryRun := []client.CreateOption{client.DryRunAll, client.FieldValidation("Strict")}

	for name, sets := range map[string][]string{
		"defaults": {"prometheusRule.enabled=true"},
		"custom": {"prometheusRule.enabled=true", "prometheusRule.namespace=monitoring",
			"prometheusRule.labels.release=kube-prometheus-stack", "prometheusRule.alertLabels.team=network",
			"prometheusRule.issuerNotReady.for=1h30m", "prometheusRule.certificate.notReadyFor=90s",
			"prometheusRule.caBundleSync.for=2d", "prometheusRule.certificate.namespace=certs"},
	} {
		t.Run(name, func(t *testing.T) {
			r := render(t, defaultRelease, defaultNamespace, setValues(t, sets...))
			prs := r.all("PrometheusRule")
			if len(prs) != 1 {
				t.Fatalf("%d PrometheusRules rendered", len(prs))
			}
			pr := prs[0]
			err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pr.GetNamespace()}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			if err := env.Client.Create(ctx, pr.DeepCopy(), dryRun...); err != nil {
				t.Fatalf("the API server refused the PrometheusRule: %v", err)
			}
		})
	}

	// The dry run does judge: the same object with a bad duration or an unknown field is refused.
	t.Run("the CRD's schema refuses a broken rule", func(t *testing.T) {
		pr := render(t, defaultRelease, defaultNamespace, setValues(t, "prometheusRule.enabled=true")).
			get(t, "PrometheusRule", defaultNamespace, "antrea-issuer")
		_ = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultNamespace}})
		for what, mutate := range map[string]func(rule map[string]any){
			"for: 5 minutes": func(rule map[string]any) { rule["for"] = "5 minutes" },
			"unknown field":  func(rule map[string]any) { rule["severity"] = "warning" },
		} {
			bad := pr.DeepCopy()
			groups := nested[[]any](t, bad, "spec", "groups")
			mutate(groups[0].(map[string]any)["rules"].([]any)[0].(map[string]any))
			if err := env.Client.Create(ctx, bad, dryRun...); err == nil {
				t.Errorf("%s: the API server accepted it", what)
			} else {
				t.Logf("%s: refused as expected: %v", what, err)
			}
		}
	})
}

// TestUpgradeFromAChartWithoutPrometheusRule records what docs/install.md says about upgrades
// (with Helm's own upgrade code; releases in memory, nothing applied): from a release of a chart
// that had no prometheusRule values, `--reset-then-reuse-values` keeps the user's values and takes
// the new defaults, while `--reuse-values` keeps the old chart's defaults and fails on the new template.
func TestUpgradeFromAChartWithoutPrometheusRule(t *testing.T) {
	t.Parallel()
	old := loadChart(t)
	delete(old.Values, "prometheusRule")
	old.Schema = nil // the old chart's schema would not know the key either way
	var kept []*chart.File
	for _, f := range old.Templates {
		if !strings.Contains(f.Name, "prometheusrule") {
			kept = append(kept, f)
		}
	}
	old.Templates = kept

	for name, tc := range map[string]struct {
		reuse, resetThenReuse bool
		wantErr               string
	}{
		"--reset-then-reuse-values": {resetThenReuse: true},
		"--reuse-values":            {reuse: true, wantErr: "prometheusRule"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := &action.Configuration{
				Releases:     storage.Init(driver.NewMemory()),
				KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
				Capabilities: &chartutil.Capabilities{KubeVersion: *kubeVersion, APIVersions: chartutil.DefaultVersionSet},
				Log:          func(string, ...any) {},
			}
			in := action.NewInstall(cfg)
			in.ReleaseName, in.Namespace = defaultRelease, defaultNamespace
			if _, err := in.Run(old, setValues(t, "image.tag=v0.0.1")); err != nil {
				t.Fatalf("installing the old chart: %v", err)
			}
			up := action.NewUpgrade(cfg)
			up.Namespace, up.ReuseValues, up.ResetThenReuseValues = defaultNamespace, tc.reuse, tc.resetThenReuse
			rel, err := up.Run(defaultRelease, loadChart(t), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("upgrade error = %v, want one about %s", err, tc.wantErr)
				}
				t.Logf("as docs/install.md says: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			if !strings.Contains(rel.Manifest, `image: "antrea-issuer:v0.0.1"`) {
				t.Error("the upgrade lost the user's image.tag")
			}
		})
	}
}
