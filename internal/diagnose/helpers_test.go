package diagnose

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"

	"antrea.io/antrea-issuer/internal/keyleak"
	"antrea.io/antrea-issuer/internal/testpki"
)

// testNow is the fixed clock of every unit test: a random-looking instant, not the wall clock.
var testNow = time.Date(2031, 5, 17, 9, 41, 23, 0, time.UTC)

// pki is a certificate built for a test, with its key.
type pki = testpki.Pair

// newTestCA is a CA named cn valid from a day before testNow for a year; parent nil makes it a root.
func newTestCA(t *testing.T, cn string, parent *pki, opts ...testpki.Option) *pki {
	t.Helper()
	return testpki.NewCA(t, testNow, parent, append([]testpki.Option{testpki.CommonName(cn)}, opts...)...)
}

// newLeaf is what cert-manager issues for Antrea in kube-system by default, signed by ca.
func newLeaf(t *testing.T, ca *pki, opts ...testpki.Option) *pki {
	t.Helper()
	return testpki.NewLeaf(t, testNow, ca, opts...)
}

// world is a healthy installation: an AntreaClusterIssuer antrea, Antrea's Certificate, Secret,
// antrea-ca and targets all agreeing, cert-manager allowed to approve. Tests break one thing.
type world struct {
	ca, leaf *pki
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ca := newTestCA(t, "antrea-issuer-ca@1900000000", nil)
	return &world{ca: ca, leaf: newLeaf(t, ca)}
}

func (w *world) state() *State {
	caPEM := w.ca.CertPEM
	s := &State{
		Now: testNow,
		Lease: &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("antrea-issuer-7d9f_1234"), LeaseDurationSeconds: ptr.To[int32](60),
			RenewTime: &metav1.MicroTime{Time: testNow.Add(-2 * time.Second)},
		}},
		Issuers:      []Issuer{readyClusterIssuer("antrea", w.ca.Cert)},
		Certificates: []cmapi.Certificate{antreaCert("kube-system", cmmeta.IssuerReference{Group: "certificates.antrea.io", Kind: KindClusterIssuer, Name: "antrea"})},
		Requests:     []cmapi.CertificateRequest{request("antrea-controller-tls-1", "antrea-controller-tls", 1, readyCR())},
		Secret: &AntreaSecret{Type: "kubernetes.io/tls", Keys: map[string]bool{keyCA: true, keyTLS: true, keyKey: true},
			CA: caPEM, TLS: w.leaf.CertPEM},
		ConfigMap: &corev1.ConfigMap{Data: map[string]string{"ca.crt": string(caPEM)}},
		Approval: ApprovalEvidence{Method: MethodSAR, Allowed: map[string]bool{
			"antreaclusterissuers.certificates.antrea.io/*": true, "antreaclusterissuers.certificates.antrea.io/antrea": true,
		}},
	}
	for _, name := range []string{"v1beta2.controlplane.antrea.io", "v1beta1.system.antrea.io", "v1alpha1.stats.antrea.io"} {
		s.APIServices = append(s.APIServices, apiService(name, "kube-system", caPEM, apiregistrationv1.ConditionTrue, "Passed", "all checks passed"))
	}
	s.Mutating = []admissionregistrationv1.MutatingWebhookConfiguration{{
		ObjectMeta: metav1.ObjectMeta{Name: "crdmutator.antrea.io"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			{Name: "acnpmutator.antrea.io", ClientConfig: webhookClient("kube-system", caPEM)},
			{Name: "annpmutator.antrea.io", ClientConfig: webhookClient("kube-system", caPEM)},
		},
	}}
	s.Validating = []admissionregistrationv1.ValidatingWebhookConfiguration{{
		ObjectMeta: metav1.ObjectMeta{Name: "crdvalidator.antrea.io"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "tiervalidator.antrea.io", ClientConfig: webhookClient("kube-system", caPEM)}},
	}}
	s.CRDs = []apiextensionsv1.CustomResourceDefinition{conversionCRD("ippools.crd.antrea.io", "kube-system", caPEM)}
	return s
}

func readyClusterIssuer(name string, ca *x509.Certificate) Issuer {
	return Issuer{
		Kind: KindClusterIssuer, Name: name, Generation: 1,
		RenewBefore: 8760 * time.Hour, MinPhaseDuration: 5 * time.Minute,
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Checked", Message: "Succeeded checking the issuer", ObservedGeneration: 1},
			{Type: "CARotation", Status: metav1.ConditionFalse, Reason: "Idle", Message: "No CA rotation in progress", ObservedGeneration: 1},
		},
		CA: &CAStatus{
			Phase: "Steady", PhaseSince: metav1.NewTime(testNow.Add(-30 * 24 * time.Hour)), SecretName: name + "-ca",
			Active: &CAGeneration{Subject: "CN=" + ca.Subject.CommonName, NotBefore: metav1.NewTime(ca.NotBefore), NotAfter: metav1.NewTime(ca.NotAfter.Add(4 * 365 * 24 * time.Hour))},
		},
	}
}

func antreaCert(ns string, ref cmmeta.IssuerReference) cmapi.Certificate {
	return cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "antrea-controller-tls"},
		Spec:       cmapi.CertificateSpec{SecretName: "antrea-controller-tls", IssuerRef: ref},
		Status: cmapi.CertificateStatus{
			Conditions: []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, Reason: "Ready", Message: "Certificate is up to date and has not expired"}},
			NotAfter:   &metav1.Time{Time: testNow.Add(60 * 24 * time.Hour)},
		},
	}
}

func request(name, crt string, revision int, conds ...cmapi.CertificateRequestCondition) cmapi.CertificateRequest {
	return cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name, CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour)),
			Annotations: map[string]string{cmapi.CertificateNameKey: crt, cmapi.CertificateRequestRevisionAnnotationKey: itoa(revision)}},
		Status: cmapi.CertificateRequestStatus{Conditions: conds},
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

func readyCR() cmapi.CertificateRequestCondition {
	return cmapi.CertificateRequestCondition{Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionTrue, Reason: "Issued", Message: "issued"}
}

func apiService(name, ns string, ca []byte, status apiregistrationv1.ConditionStatus, reason, msg string) apiregistrationv1.APIService {
	return apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       apiregistrationv1.APIServiceSpec{Service: &apiregistrationv1.ServiceReference{Namespace: ns, Name: "antrea"}, CABundle: ca},
		Status: apiregistrationv1.APIServiceStatus{Conditions: []apiregistrationv1.APIServiceCondition{
			{Type: apiregistrationv1.Available, Status: status, Reason: reason, Message: msg},
		}},
	}
}

func webhookClient(ns string, ca []byte) admissionregistrationv1.WebhookClientConfig {
	return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "antrea"}, CABundle: ca}
}

func conversionCRD(name, ns string, ca []byte) apiextensionsv1.CustomResourceDefinition {
	return apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Conversion: &apiextensionsv1.CustomResourceConversion{
			Strategy: apiextensionsv1.WebhookConverter,
			Webhook: &apiextensionsv1.WebhookConversion{ClientConfig: &apiextensionsv1.WebhookClientConfig{
				Service: &apiextensionsv1.ServiceReference{Namespace: ns, Name: "antrea"}, CABundle: ca,
			}},
		}},
	}
}

// want describes the results a check must return, in order.
type want struct {
	status Status
	object string
	// message and fix must contain every one of these.
	message []string
	fix     []string
}

func expect(t *testing.T, got []Result, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d results, want %d:\n%s", len(got), len(wants), dump(got))
	}
	for i, w := range wants {
		g := got[i]
		if g.Status != w.status || (w.object != "" && g.Object != w.object) {
			t.Errorf("result %d: %s %q, want %s %q\n%s", i, g.Status, g.Object, w.status, w.object, dump(got))
		}
		for _, m := range w.message {
			if !strings.Contains(g.Message, m) {
				t.Errorf("result %d: message %q lacks %q", i, g.Message, m)
			}
		}
		for _, f := range w.fix {
			if !strings.Contains(g.Fix, f) {
				t.Errorf("result %d: fix %q lacks %q", i, g.Fix, f)
			}
		}
		if (g.Status == StatusError || g.Status == StatusWarning) && g.Fix == "" {
			t.Errorf("result %d: a %s without a fix: %q", i, g.Status, g.Message)
		}
	}
}

func dump(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + string(r.Status) + " " + r.Check + " " + r.Object + ": " + r.Message + " | fix: " + r.Fix + "\n")
	}
	return b.String()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// dumpValue prints every field of v, as a careless log line would.
func dumpValue(v any) string { return fmt.Sprintf("%+v %#v", v, v) }

// assertNoKey fails when text quotes any part of the private key keyPEM.
func assertNoKey(t *testing.T, text string, keyPEM []byte) {
	t.Helper()
	if keyleak.Quoted(text, keyPEM) || strings.Contains(text, string(keyPEM)) {
		t.Errorf("output quotes the private key")
	}
}
