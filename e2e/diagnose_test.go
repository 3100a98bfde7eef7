package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/diagnose"
	"antrea.io/antrea-issuer/internal/keyleak"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// TestDiagnose runs `antrea-issuer diagnose`, the real binary, against the healthy installation
// and against each broken state of the README's troubleshooting tables, as a cluster admin and
// as a namespace admin; no output may quote a private key.
//
// States that the running CA bundle sync would repair within a second (antrea-ca, a caBundle)
// are made with the suite's antrea-issuer stopped, as when it is down in a cluster. The others
// live in namespaces of their own, so that each subtest breaks exactly one thing and leaves the
// README's installation in kube-system untouched.
func TestDiagnose(t *testing.T) {
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")
	waitHealthy(ctx, t)
	admin := adminKubeconfig(t)
	nsAdmin := namespaceAdminKubeconfig(ctx, t)

	t.Run("healthy", func(t *testing.T) {
		r := runDiagnose(ctx, t, admin)
		r.wantExit(t, diagnose.ExitOK)
		for _, id := range checkIDs() {
			if len(r.all(id)) == 0 {
				t.Errorf("no %s line", id)
			}
		}
		r.want(t, diagnose.CheckApproval, "", diagnose.StatusOK, "SubjectAccessReview")
		r.want(t, diagnose.CheckServingCert, "Secret/kube-system/antrea-controller-tls", diagnose.StatusOK, "antrea.kube-system.svc.cluster.local")
	})

	t.Run("healthy, as a namespace admin", func(t *testing.T) {
		r := runDiagnose(ctx, t, nsAdmin)
		r.wantExit(t, diagnose.ExitOK)
		r.want(t, diagnose.CheckApproval, "", diagnose.StatusOK, "LocalSubjectAccessReview in namespace kube-system")
	})

	t.Run("healthy, with the least Roles", func(t *testing.T) {
		kc := diagnoseUser(ctx, t, "diagnose-least", func(sub rbacv1.Subject) []client.Object {
			return append(leastRoles(sub), clusterReads(t, sub)...)
		})
		runDiagnose(ctx, t, kc).wantExit(t, diagnose.ExitOK)
	})

	t.Run("as a namespace admin without the cluster-scoped reads", func(t *testing.T) {
		kc := diagnoseUser(ctx, t, "diagnose-ns-only", namespaceAdmin)
		r := runDiagnose(ctx, t, kc)
		r.wantExit(t, diagnose.ExitWarnings)
		for _, id := range []string{diagnose.CheckController, diagnose.CheckSecretKeys, diagnose.CheckServingCert, diagnose.CheckMode, diagnose.CheckConfigMap, diagnose.CheckApproval} {
			r.want(t, id, "", diagnose.StatusOK)
		}
		for _, id := range []string{diagnose.CheckIssuer, diagnose.CheckCertificate, diagnose.CheckBundle, diagnose.CheckAPIService} {
			r.want(t, id, "", diagnose.StatusSkipped, "forbidden: you may not read")
		}
	})

	t.Run("issuer with a provided CA Secret missing", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-missing-ca")
		iss := &v1alpha1.AntreaClusterIssuer{
			ObjectMeta: metav1.ObjectMeta{Name: "diag-missing-ca"},
			Spec:       v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "diag-missing-ca"}}},
		}
		createIssuerNotReady(ctx, t, iss, "CA Secret")
		createAntreaCertificate(ctx, t, ns, "AntreaClusterIssuer", iss.Name)
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.wantFix(t, r.want(t, diagnose.CheckIssuer, "AntreaClusterIssuer/diag-missing-ca", diagnose.StatusError, "CA Secret"),
			"tls.crt and tls.key", `README "Troubleshooting by condition reason"`)
		r.want(t, diagnose.CheckCertificate, "", diagnose.StatusError)
	})

	t.Run("CA Secret unusable", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-unusable-ca")
		// A serving certificate and its key: a matching pair, but not a CA.
		m, err := antreasim.NewMaterial("diag-unusable-ca", ns)
		if err != nil {
			t.Fatal(err)
		}
		caSecret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.IssuerNamespace, Name: "diag-unusable-ca"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": m.Serving.CertPEM, "tls.key": m.Serving.KeyPEM},
		}
		create(ctx, t, caSecret)
		iss := &v1alpha1.AntreaClusterIssuer{
			ObjectMeta: metav1.ObjectMeta{Name: "diag-unusable-ca"},
			Spec:       v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: caSecret.Name}}},
		}
		createIssuerNotReady(ctx, t, iss, "not usable")
		createAntreaCertificate(ctx, t, ns, "AntreaClusterIssuer", iss.Name)
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.wantFix(t, r.want(t, diagnose.CheckIssuer, "AntreaClusterIssuer/diag-unusable-ca", diagnose.StatusError, "not usable"),
			"fix the CA Secret", `"CA Secret is not usable: …"`)
	})

	t.Run("AntreaIssuer in a namespace not watched", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-unwatched")
		iss := &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "antrea"}}
		createIssuerNotReady(ctx, t, iss, "not watched")
		createAntreaCertificate(ctx, t, ns, "AntreaIssuer", iss.Name)
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.wantFix(t, r.want(t, diagnose.CheckIssuer, "AntreaIssuer/"+ns+"/antrea", diagnose.StatusError, "not watched"),
			"add namespace "+ns+" to the chart's caSecretNamespaces")
		r.want(t, diagnose.CheckCertificateIssuer, "", diagnose.StatusOK, "AntreaIssuer/"+ns+"/antrea exists")
	})

	t.Run("Certificate refused by policy", func(t *testing.T) {
		// Antrea in another namespace than the issuer's policy allows: a classic mistake.
		ns := isolatedAntrea(ctx, t, "diag-policy")
		crt := createAntreaCertificate(ctx, t, ns, "AntreaClusterIssuer", "antrea")
		waitCertificate(ctx, t, client.ObjectKeyFromObject(crt), cmapi.CertificateConditionIssuing, cmmeta.ConditionFalse, nil)
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.want(t, diagnose.CheckIssuer, "AntreaClusterIssuer/antrea", diagnose.StatusOK)
		r.want(t, diagnose.CheckCertificate, "Certificate/"+ns+"/antrea-controller-tls", diagnose.StatusError, "not allowed")
		r.wantFix(t, r.want(t, diagnose.CheckRequest, "", diagnose.StatusError, "violates the issuer's policy", "antrea."+ns+".svc"),
			`"request violates the issuer's policy: …"`)
		r.want(t, diagnose.CheckSecretKeys, "", diagnose.StatusError, "does not exist")
	})

	t.Run("Secret missing ca.crt: Antrea's self-signed shape", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-selfsigned")
		m, err := antreasim.NewMaterial(fmt.Sprintf("antrea-ca@%d", time.Now().Unix()), ns)
		if err != nil {
			t.Fatal(err)
		}
		secret := m.SelfSignedModeSecret(ns, localcluster.AntreaSecretName)
		create(ctx, t, secret)
		// What antrea-controller publishes in that mode: the served tls.crt, verbatim.
		create(ctx, t, antreasim.CAConfigMap(ns, secret.Data["tls.crt"]))
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.wantFix(t, r.want(t, diagnose.CheckSecretKeys, "", diagnose.StatusError, "missing ca.crt"), "antrea-mode")
		r.wantFix(t, r.want(t, diagnose.CheckMode, "", diagnose.StatusError, "SelfSignedMode", "antrea-ca@"), "selfSignedCert: false")
		r.want(t, diagnose.CheckServingCert, "", diagnose.StatusSkipped)
	})

	t.Run("tls.crt not chaining to ca.crt: Antrea's self-signed shape", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-notchained")
		certManager, err := antreasim.NewMaterial("cert-manager-issued", ns)
		if err != nil {
			t.Fatal(err)
		}
		antrea, err := antreasim.NewMaterial(fmt.Sprintf("antrea-ca@%d", time.Now().Unix()), ns)
		if err != nil {
			t.Fatal(err)
		}
		// Antrea rewrote tls.crt and tls.key; cert-manager's ca.crt stayed.
		secret := antrea.SelfSignedModeSecret(ns, localcluster.AntreaSecretName)
		secret.Data["ca.crt"] = certManager.CA.CertPEM
		create(ctx, t, secret)
		create(ctx, t, antreasim.CAConfigMap(ns, certManager.CA.CertPEM))
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors)
		r.want(t, diagnose.CheckSecretKeys, "", diagnose.StatusOK)
		r.want(t, diagnose.CheckServingCert, "", diagnose.StatusError, "x509: certificate signed by unknown authority")
		r.wantFix(t, r.want(t, diagnose.CheckMode, "", diagnose.StatusError, "CertificateNotChained", "antrea-ca@"), "selfSignedCert: false")
		r.want(t, diagnose.CheckConfigMap, "", diagnose.StatusOK)
	})

	t.Run("Antrea adopted the Secret in its self-signed mode", func(t *testing.T) {
		ns := isolatedAntrea(ctx, t, "diag-adopted")
		m, err := antreasim.NewMaterial("cert-manager-issued", ns)
		if err != nil {
			t.Fatal(err)
		}
		secret := m.CertManagerSecret(ns, localcluster.AntreaSecretName)
		secret.Data["tls.crt"] = append(append([]byte(nil), m.Serving.CertPEM...), m.CA.CertPEM...)
		create(ctx, t, secret)
		// What antrea-controller publishes with selfSignedCert: true: the served tls.crt.
		create(ctx, t, antreasim.CAConfigMap(ns, secret.Data["tls.crt"]))
		r := runDiagnose(ctx, t, admin, "--antrea-namespace", ns)
		r.wantExit(t, diagnose.ExitErrors) // no Certificate in this namespace
		r.want(t, diagnose.CheckConfigMap, "", diagnose.StatusOK, "trusts exactly the Secret's ca.crt")
		r.wantFix(t, r.want(t, diagnose.CheckMode, "", diagnose.StatusWarning, "is in ConfigMap/"+ns+"/antrea-ca", "Clients trust it"),
			"selfSignedCert: false")
	})

	t.Run("antrea-ca differing from ca.crt", func(t *testing.T) {
		needLocal(t)
		stopIssuerUntilRepaired(ctx, t)
		slowAntreaResync(t)
		other, err := antreasim.NewCA("some-other-ca")
		if err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{}
		key := client.ObjectKey{Namespace: "kube-system", Name: "antrea-ca"}
		if err := suite.client.Get(ctx, key, cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["ca.crt"] = string(other.CertPEM)
		if err := suite.client.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		r := runDiagnose(ctx, t, admin)
		r.wantExit(t, diagnose.ExitErrors)
		r.wantFix(t, r.want(t, diagnose.CheckConfigMap, "ConfigMap/kube-system/antrea-ca", diagnose.StatusError, `"some-other-ca"`), "CA bundle sync")
		r.want(t, diagnose.CheckController, "", diagnose.StatusError, "no replica of antrea-issuer holds the leader Lease")
		r.want(t, diagnose.CheckMode, "", diagnose.StatusOK)
	})

	t.Run("APIService with a wrong caBundle fails the aggregator's discovery check", func(t *testing.T) {
		needLocal(t)
		stopIssuerUntilRepaired(ctx, t)
		slowAntreaResync(t)
		other, err := antreasim.NewCA("some-other-ca")
		if err != nil {
			t.Fatal(err)
		}
		name := antreasim.APIServiceNames()[0]
		as := &apiregistrationv1.APIService{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			t.Fatal(err)
		}
		as.Spec.CABundle = other.CertPEM
		if err := suite.client.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
		if _, err := antreasim.WaitAPIServiceCondition(ctx, suite.client, name, apiregistrationv1.ConditionFalse, "x509", 60*time.Second); err != nil {
			t.Fatal(err)
		}
		r := runDiagnose(ctx, t, admin)
		r.wantExit(t, diagnose.ExitErrors)
		r.want(t, diagnose.CheckBundle, "APIService/"+name, diagnose.StatusError, `"some-other-ca"`)
		r.wantFix(t, r.want(t, diagnose.CheckAPIService, "APIService/"+name, diagnose.StatusError, "FailedDiscoveryCheck", "x509"), "does not trust")
		for _, other := range antreasim.APIServiceNames()[1:] {
			r.want(t, diagnose.CheckAPIService, "APIService/"+other, diagnose.StatusOK)
		}
	})

	t.Run("approval rule missing", func(t *testing.T) {
		removeApprovalBinding(ctx, t)
		for who, kc := range map[string]string{"SubjectAccessReview": admin, "LocalSubjectAccessReview": nsAdmin} {
			r := runDiagnose(ctx, t, kc)
			r.wantExit(t, diagnose.ExitErrors)
			r.wantFix(t, r.want(t, diagnose.CheckApproval, "", diagnose.StatusError, "may not approve signers antreaclusterissuers.certificates.antrea.io/*", who),
				"certManager.approverRBAC.enabled=true", "row False, Pending")
		}
	})

	t.Run("healthy again", func(t *testing.T) {
		waitHealthy(ctx, t)
		runDiagnose(ctx, t, admin).wantExit(t, diagnose.ExitOK)
	})
}

// waitHealthy waits until the README's installation is whole: Certificate Ready, every bundle
// equal to ca.crt and, locally, every APIService Available.
func waitHealthy(ctx context.Context, t *testing.T) {
	t.Helper()
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	secret := &corev1.Secret{}
	if err := suite.client.Get(ctx, antreaCert, secret); err != nil {
		t.Fatal(err)
	}
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
	if suite.local == nil {
		return
	}
	for _, name := range antreasim.APIServiceNames() {
		if err := antreasim.WaitAPIServiceAvailable(ctx, suite.client, name, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func checkIDs() []string {
	var ids []string
	for _, c := range diagnose.Checks {
		ids = append(ids, c.ID)
	}
	return ids
}

// diagnoseRun is one run of the binary: the report (-o json), the text output and the exit status.
type diagnoseRun struct {
	diagnose.Report
	text string
	exit int
}

var diagnoseBinary = sync.OnceValues(func() (string, error) {
	if suite.local != nil {
		return suite.local.Issuer.Binary, nil // the binary the local installation built and runs
	}
	dir, err := os.MkdirTemp("", "antrea-issuer-diagnose-")
	if err != nil {
		return "", err
	}
	return localcluster.BuildIssuer(context.Background(), dir)
})

// runDiagnose runs `antrea-issuer diagnose` with kubeconfig, in JSON and in text, checks that
// neither quotes a private key of the cluster, and logs the text.
func runDiagnose(ctx context.Context, t *testing.T, kubeconfig string, args ...string) diagnoseRun {
	t.Helper()
	bin, err := diagnoseBinary()
	if err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, append(append([]string{"diagnose", "--kubeconfig", kubeconfig}, args...), extra...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exitErr, isExit := errors.AsType[*exec.ExitError](err); isExit {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code == diagnose.ExitFailed || stderr.Len() > 0 {
			t.Fatalf("antrea-issuer diagnose %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, stderr.String())
		}
		return stdout.String(), code
	}
	var r diagnoseRun
	var jsonOut string
	jsonOut, r.exit = run("-o", "json")
	if err := json.Unmarshal([]byte(jsonOut), &r.Report); err != nil {
		t.Fatalf("-o json: %v\n%s", err, jsonOut)
	}
	var textExit int
	r.text, textExit = run()
	t.Logf("antrea-issuer diagnose %s (exit %d):\n%s", strings.Join(args, " "), r.exit, r.text)
	if textExit != r.exit || r.ExitCode != r.exit {
		t.Errorf("exit %d in JSON (report says %d), %d in text", r.exit, r.ExitCode, textExit)
	}
	if lines := strings.Count(r.text, "\n"); lines != len(r.Results)+2 {
		t.Errorf("%d text lines for %d checks: want one line per check, a header and a summary", lines, len(r.Results))
	}
	assertNoKeyMaterial(ctx, t, jsonOut+r.text)
	return r
}

// assertNoKeyMaterial fails when out quotes any private key held by any Secret of the cluster:
// Antrea's tls.key, the CA keys, everything.
func assertNoKeyMaterial(ctx context.Context, t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "-----BEGIN") {
		t.Error("the output quotes PEM")
	}
	var secrets corev1.SecretList
	if err := suite.client.List(ctx, &secrets); err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, s := range secrets.Items {
		for k, v := range s.Data {
			if !bytes.Contains(v, []byte("PRIVATE KEY")) {
				continue
			}
			keys++
			if keyleak.Quoted(out, v) {
				t.Errorf("the output quotes the private key %s of Secret %s/%s", k, s.Namespace, s.Name)
			}
		}
	}
	if keys == 0 {
		t.Error("no private key found to look for")
	}
}

func (r diagnoseRun) all(check string) []diagnose.Result {
	var out []diagnose.Result
	for _, res := range r.Results {
		if res.Check == check {
			out = append(out, res)
		}
	}
	return out
}

func (r diagnoseRun) wantExit(t *testing.T, code int) {
	t.Helper()
	if r.exit != code {
		t.Errorf("exit status %d, want %d", r.exit, code)
	}
}

// want finds the result of check about object (any object when empty) with status and a
// message containing every substring, and returns it.
func (r diagnoseRun) want(t *testing.T, check, object string, status diagnose.Status, message ...string) diagnose.Result {
	t.Helper()
	var seen []string
	for _, res := range r.all(check) {
		if object != "" && res.Object != object {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s %s: %s", res.Status, res.Object, res.Message))
		if res.Status != status {
			continue
		}
		if containsAll(res.Message, message...) == nil {
			return res
		}
	}
	t.Errorf("no %s line %q with status %s and message containing %q; seen %q", check, object, status, message, seen)
	return diagnose.Result{}
}

func (r diagnoseRun) wantFix(t *testing.T, res diagnose.Result, fix ...string) {
	t.Helper()
	if res.Check == "" {
		return // want already failed
	}
	if err := containsAll(res.Fix, fix...); err != nil {
		t.Errorf("%s fix: %v", res.Check, err)
	}
}

func adminKubeconfig(t *testing.T) string {
	t.Helper()
	if suite.local != nil {
		return suite.local.Env.KubeconfigPath
	}
	if kc := os.Getenv("KUBECONFIG"); kc != "" {
		return kc
	}
	t.Skip("E2E_MODE=cluster needs KUBECONFIG for the diagnose binary")
	return ""
}

// diagnoseUser is a ServiceAccount's kubeconfig with the RBAC grants returns for it.
func diagnoseUser(ctx context.Context, t *testing.T, name string, grants func(rbacv1.Subject) []client.Object) string {
	t.Helper()
	ns := localcluster.IssuerNamespace
	if err := localcluster.Apply(ctx, suite.client, grants(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name})...); err != nil {
		t.Fatal(err)
	}
	cfg, err := localcluster.ServiceAccountConfig(ctx, suite.config, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := testenv.WriteKubeconfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// namespaceAdminKubeconfig is what docs/install.md "5. Check that it works" asks of a user: namespace admin of
// Antrea's namespace and antrea-issuer's, and the cluster-scoped reads of
// config/rbac/diagnose-reader.yaml.
func namespaceAdminKubeconfig(ctx context.Context, t *testing.T) string {
	t.Helper()
	return diagnoseUser(ctx, t, "diagnose-admin", func(sub rbacv1.Subject) []client.Object {
		return append(namespaceAdmin(sub), clusterReads(t, sub)...)
	})
}

// namespaceAdmin binds "admin" in Antrea's and antrea-issuer's namespaces. "admin" is an
// aggregated ClusterRole whose rules kube-controller-manager fills in, and the local control
// plane runs none: there the same rules are bound through the roles it aggregates, which the API
// server creates with their rules.
func namespaceAdmin(sub rbacv1.Subject) []client.Object {
	roles := []string{"admin"}
	if suite.local != nil {
		roles = []string{"system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"}
	}
	var out []client.Object
	for _, ns := range []string{"kube-system", localcluster.IssuerNamespace} {
		for _, role := range roles {
			out = append(out, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sub.Name + "-" + strings.ReplaceAll(role, ":", "-")},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   []rbacv1.Subject{sub},
			})
		}
	}
	return out
}

// clusterReads binds the ClusterRole of config/rbac/diagnose-reader.yaml (applying the file).
func clusterReads(t *testing.T, sub rbacv1.Subject) []client.Object {
	t.Helper()
	reader, err := localcluster.ReadManifests(filepath.Join(testenv.RepoRoot(), "config", "rbac", "diagnose-reader.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Object
	for _, r := range reader {
		out = append(out, r)
	}
	return append(out, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sub.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "antrea-issuer:diagnose"},
		Subjects:   []rbacv1.Subject{sub},
	})
}

// leastRoles are the Roles docs/install.md "5. Check that it works" offers instead of namespace admin.
func leastRoles(sub rbacv1.Subject) []client.Object {
	role := func(ns string, rules ...rbacv1.PolicyRule) []client.Object {
		name := sub.Name + "-least"
		return []client.Object{
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
				Subjects:   []rbacv1.Subject{sub},
			},
		}
	}
	return append(
		role("kube-system",
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"antrea-controller-tls"}, Verbs: []string{"get"}},
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"antrea-ca"}, Verbs: []string{"get"}},
			rbacv1.PolicyRule{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"localsubjectaccessreviews"}, Verbs: []string{"create"}}),
		role(localcluster.IssuerNamespace,
			rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"antrea-issuer-leader"}, Verbs: []string{"get"}})...)
}

// isolatedAntrea makes a namespace standing for Antrea's in one broken state.
func isolatedAntrea(ctx context.Context, t *testing.T, ns string) string {
	t.Helper()
	ensureNamespace(ctx, t, ns)
	return ns
}

// create creates obj and deletes it when the test ends.
func create(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	if err := suite.client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := suite.client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s: %v", obj.GetName(), err)
		}
	})
}

// createIssuerNotReady creates an issuer and waits until it reports Ready=False with a message
// containing msg.
func createIssuerNotReady(ctx context.Context, t *testing.T, iss client.Object, msg string) {
	t.Helper()
	create(ctx, t, iss)
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("issuer %s Ready=False with %q", iss.GetName(), msg), func() error {
		u := &v1alpha1.AntreaClusterIssuer{}
		var conds []metav1.Condition
		if iss.GetNamespace() == "" {
			if err := suite.client.Get(ctx, client.ObjectKeyFromObject(iss), u); err != nil {
				return err
			}
			conds = u.Status.Conditions
		} else {
			n := &v1alpha1.AntreaIssuer{}
			if err := suite.client.Get(ctx, client.ObjectKeyFromObject(iss), n); err != nil {
				return err
			}
			conds = n.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, "Ready")
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, msg) {
			return fmt.Errorf("conditions %+v", conds)
		}
		return nil
	})
}

// createAntreaCertificate creates Antrea's Certificate in ns, for Antrea's names there.
func createAntreaCertificate(ctx context.Context, t *testing.T, ns, kind, issuer string) *cmapi.Certificate {
	t.Helper()
	crt := antreaCertificate(ns, localcluster.AntreaSecretName,
		cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: kind, Name: issuer},
		"antrea."+ns+".svc", "antrea."+ns+".svc.cluster.local")
	create(ctx, t, crt)
	return crt
}

// stopIssuerUntilRepaired stops the suite's antrea-issuer, so that a broken CA bundle stays
// broken, and when the test ends starts it and waits until it has repaired everything.
func stopIssuerUntilRepaired(ctx context.Context, t *testing.T) {
	t.Helper()
	t.Cleanup(func() { waitHealthy(ctx, t) }) // runs after stopSuiteIssuer's restart
	stopSuiteIssuer(t)
}

// removeApprovalBinding deletes the ClusterRoleBinding that lets cert-manager approve
// antrea-issuer's requests, and puts it back when the test ends.
func removeApprovalBinding(ctx context.Context, t *testing.T) {
	t.Helper()
	var list rbacv1.ClusterRoleBindingList
	if err := suite.client.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	var removed []rbacv1.ClusterRoleBinding
	for _, b := range list.Items {
		if strings.HasSuffix(b.RoleRef.Name, ":cert-manager-approver") {
			removed = append(removed, b)
			if err := suite.client.Delete(ctx, &b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(removed) == 0 {
		t.Fatal("no cert-manager approver ClusterRoleBinding found")
	}
	t.Cleanup(func() {
		for _, b := range removed {
			b.ObjectMeta = metav1.ObjectMeta{Name: b.Name, Labels: b.Labels, Annotations: b.Annotations}
			if err := suite.client.Create(context.Background(), &b); err != nil {
				t.Errorf("restoring ClusterRoleBinding %s: %v", b.Name, err)
			}
		}
	})
}

// slowAntreaResync gives antrea-controller an hour's resync until the test ends: it republishes
// its bundle every resync (scaled to seconds here), and a test that breaks a target by hand needs
// the broken state to last while it is diagnosed, as it would for most of Antrea's 2 minutes.
func slowAntreaResync(t *testing.T) {
	t.Helper()
	if err := suite.local.ReplaceAntrea(0, localcluster.AntreaOptions{ResyncPeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "antrea-controller's first publishing round", func() error {
		if st := suite.local.Antrea.Stats(); st.Rounds < 1 {
			return fmt.Errorf("%d rounds", st.Rounds)
		}
		return nil
	})
	t.Cleanup(func() {
		if err := suite.local.ReplaceAntrea(0, localcluster.AntreaOptions{}); err != nil {
			t.Errorf("restoring antrea-controller: %v", err)
		}
	})
}
