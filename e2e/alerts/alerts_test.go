// Package alerts_test runs Prometheus' own rule tester, `promtool test rules`, on the alerts the
// chart's PrometheusRule renders: each file in testdata gives series that break each alert's
// condition and healthy ones, and says which alerts fire, with which labels and annotations.
// promtool is built from the Prometheus module by hack/build-promtool.sh (`make promtool`).
package alerts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"antrea.io/antrea-issuer/internal/chartgen"
	"antrea.io/antrea-issuer/internal/testenv"
)

// testFiles maps each promtool test file to the chart values its rules are rendered with.
var testFiles = map[string][]string{
	"defaults_test.yaml": nil,
	"custom_values_test.yaml": {
		"antrea.namespace=antrea-system", "antrea.secretName=antrea-tls",
		"prometheusRule.certificate.namespace=certs", "prometheusRule.certificate.name=antrea-serving",
		"prometheusRule.certificate.expiresWithin=30d", "prometheusRule.certificate.notReadyFor=1m",
		"prometheusRule.issuerNotReady.for=1m", "prometheusRule.caBundleSync.for=10m",
		"prometheusRule.caExpiry.margin=2h", "prometheusRule.rotationStuck.factor=2",
		"prometheusRule.rotationStuck.atLeast=10m", "prometheusRule.alertLabels.team=network",
		"prometheusRule.runbookURL=https://runbooks.example/antrea-issuer",
	},
}

// promtool returns the promtool binary: $PROMTOOL, else the one `make promtool` builds.
func promtool(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PROMTOOL")
	if p == "" {
		p = filepath.Join(testenv.RepoRoot(), "bin", "promtool")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("promtool not found at %s: run `make promtool` (or `make test`), which builds it from the Prometheus module", p)
	}
	return p
}

// renderRuleGroups renders the chart's PrometheusRule with prometheusRule.enabled and the given
// --set assignments, and returns its spec (the rule groups, in Prometheus' rule file format).
func renderRuleGroups(t *testing.T, sets ...string) map[string]any {
	t.Helper()
	c, err := loader.Load(filepath.Join(testenv.RepoRoot(), chartgen.ChartDir))
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	for _, s := range append([]string{"prometheusRule.enabled=true"}, sets...) {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ClientOnly, in.DryRun, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = "antrea-issuer", "antrea-issuer"
	in.KubeVersion = &chartutil.KubeVersion{Version: "v" + testenv.KubernetesVersion, Major: "1", Minor: strings.Split(testenv.KubernetesVersion, ".")[1]}
	rel, err := in.Run(c, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rel.Manifest), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if len(raw) == 0 || string(raw) == "null" || u.UnmarshalJSON(raw) != nil || u.GetKind() != "PrometheusRule" {
			continue
		}
		spec, _, _ := unstructured.NestedMap(u.Object, "spec")
		return spec
	}
	t.Fatal("no PrometheusRule rendered with prometheusRule.enabled=true")
	return nil
}

// alertNames lists the alerts of rendered rule groups.
func alertNames(t *testing.T, groups map[string]any) []string {
	t.Helper()
	var names []string
	gs, _, _ := unstructured.NestedSlice(groups, "groups")
	for _, g := range gs {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			if a, ok := r.(map[string]any)["alert"].(string); ok {
				names = append(names, a)
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("the PrometheusRule has no alerts")
	}
	return names
}

// TestAlerts runs `promtool check rules` and `promtool test rules` for each test file, on the
// rules rendered with that file's values.
func TestAlerts(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for file, sets := range testFiles {
		t.Run(strings.TrimSuffix(file, "_test.yaml"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// JSON is YAML: promtool reads it as a rule file.
			rules, err := json.MarshalIndent(renderRuleGroups(t, sets...), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
				t.Fatal(err)
			}
			test, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, file), test, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", file}} {
				cmd := exec.Command(bin, args...)
				cmd.Dir = dir
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					t.Errorf("promtool %s: %v\n%s\nrules:\n%s", strings.Join(args, " "), err, out.String(), rules)
				}
			}
		})
	}
}

// TestEveryAlertIsTested proves that the default test file makes every alert of the chart fire
// in some test, and keeps it silent in another (an eval with no expected alerts for it).
func TestEveryAlertIsTested(t *testing.T) {
	t.Parallel()
	var file struct {
		Tests []struct {
			AlertRuleTests []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "defaults_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Only the fields above are read; the rest of the format is promtool's to check.
	if err := utilyaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range file.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	names := alertNames(t, renderRuleGroups(t))
	for _, name := range names {
		if !fires[name] {
			t.Errorf("alert %s never fires in testdata/defaults_test.yaml", name)
		}
		if !silent[name] {
			t.Errorf("alert %s is never shown silent in testdata/defaults_test.yaml", name)
		}
	}
	for name := range fires {
		if !slices.Contains(names, name) {
			t.Errorf("testdata/defaults_test.yaml tests alert %s, which the chart does not have", name)
		}
	}
}
