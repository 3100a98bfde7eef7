package e2e

// What an operator sees of the running binary (issues 13 item 8 and 14 item 3): its log, its
// readiness, its start-up errors and its columns.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// issuerLog returns antrea-issuer's log so far (local mode).
func issuerLog(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(suite.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")
}

// isErrorLine reports whether a log line is at error level, in zap's console or JSON encoding.
func isErrorLine(line string) bool {
	return strings.Contains(line, "\tERROR\t") || strings.Contains(line, `"level":"error"`) || strings.Contains(line, "stacktrace")
}

// TestRefusalIsOneLogLine: a request the policy refuses is one info line in the log, naming the
// request and the reason, with no error line and no stack trace.
func TestRefusalIsOneLogLine(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")
	crt := antreaCertificate("kube-system", "antrea-quiet-refusal",
		cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: "antrea"},
		"antrea.kube-system.svc", "quiet.example.com")
	if err := suite.client.Create(ctx, crt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), crt) })
	waitCertificate(ctx, t, client.ObjectKeyFromObject(crt), cmapi.CertificateConditionIssuing, cmmeta.ConditionFalse, nil)

	var crs cmapi.CertificateRequestList
	if err := suite.client.List(ctx, &crs, client.InNamespace(crt.Namespace)); err != nil {
		t.Fatal(err)
	}
	var crName string
	for _, cr := range crs.Items {
		for _, o := range cr.OwnerReferences {
			if o.Name == crt.Name {
				crName = cr.Name
			}
		}
	}
	if crName == "" {
		t.Fatal("no CertificateRequest for the Certificate")
	}
	var mentions, refusals []string
	testenv.Eventually(t, 10*time.Second, "the refusal in the log", func() error {
		mentions, refusals = nil, nil
		for _, line := range issuerLog(t) {
			if !strings.Contains(line, crName) {
				continue
			}
			mentions = append(mentions, line)
			if strings.Contains(line, "certificate request refused") {
				refusals = append(refusals, line)
			}
		}
		if len(refusals) == 0 {
			return fmt.Errorf("no refusal line among %d lines naming %s", len(mentions), crName)
		}
		return nil
	})
	if len(refusals) != 1 || !strings.Contains(refusals[0], "quiet.example.com") {
		t.Errorf("refusal lines = %q, want one naming the refused name", refusals)
	}
	for _, line := range mentions {
		if isErrorLine(line) {
			t.Errorf("an error line for an ordinary refusal: %s", line)
		}
	}
}

// TestNoForbiddenRequests: with the chart's RBAC and leader election, nothing the binary does is
// forbidden (leader election records core events; the CA bundle sync and the issuer use only
// what they are granted).
func TestNoForbiddenRequests(t *testing.T) {
	needLocal(t)
	for _, line := range issuerLog(t) {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			t.Errorf("forbidden in the log: %s", line)
		}
	}
}

// TestReadyzWaitsForCaches: /readyz is served by a check of the caches, not a ping.
func TestReadyzWaitsForCaches(t *testing.T) {
	needLocal(t)
	resp, err := http.Get("http://" + suite.local.Issuer.HealthAddress() + "/readyz?verbose")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "[+]caches ok") {
		t.Errorf("/readyz = %d %q, want 200 with the caches check", resp.StatusCode, body)
	}
}

// TestMissingClusterResourceNamespaceFailsAtStart: the binary stops at once with one line naming
// the namespace, not a cache that waits forever.
func TestMissingClusterResourceNamespaceFailsAtStart(t *testing.T) {
	needLocal(t)
	ctx, cancel := context.WithTimeout(testenv.Context(t), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.local.Issuer.Binary, "--kubeconfig", suite.local.Env.KubeconfigPath,
		"--cluster-resource-namespace", "does-not-exist", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	if ctx.Err() != nil || err == nil {
		t.Fatalf("antrea-issuer did not exit with an error (err %v, ctx %v)", err, ctx.Err())
	}
	want := `antrea-issuer: the cluster resource namespace "does-not-exist" does not exist`
	if !strings.Contains(stderr.String(), want) || strings.Contains(stderr.String(), "stacktrace") {
		t.Errorf("stderr = %q, want one line containing %q", stderr.String(), want)
	}
}

// TestCAExpiryColumnIsReadable: `kubectl get` prints the CA expiry as a time; a date column would
// print a future time as <invalid>.
func TestCAExpiryColumnIsReadable(t *testing.T) {
	ctx := testenv.Context(t)
	for _, kind := range v1alpha1.Kinds {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		plural := strings.ToLower(kind.Name) + "s"
		if err := suite.client.Get(ctx, client.ObjectKey{Name: plural + "." + v1alpha1.GroupName}, crd); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			if c.Name == "CA Expiry" {
				found = true
				if c.Type != "string" {
					t.Errorf("%s: CA Expiry column type %s, want string", kind.Name, c.Type)
				}
			}
		}
		if !found {
			t.Errorf("%s: no CA Expiry column", kind.Name)
		}
	}
}
