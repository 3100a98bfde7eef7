package issuer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/internal/testpki"
	"antrea.io/antrea-issuer/signer"
)

// csrOption changes the certificate request a test sends.
type csrOption func(*x509.CertificateRequest)

func withDNSNames(names ...string) csrOption {
	return func(r *x509.CertificateRequest) { r.DNSNames = names }
}

func withCommonName(cn string) csrOption {
	return func(r *x509.CertificateRequest) { r.Subject.CommonName = cn }
}

func withIPs(ips ...string) csrOption {
	return func(r *x509.CertificateRequest) {
		for _, ip := range ips {
			r.IPAddresses = append(r.IPAddresses, net.ParseIP(ip))
		}
	}
}

// newCSR returns a PEM CSR for Antrea's default names, and its key.
func newCSR(t testing.TB, opts ...csrOption) ([]byte, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "antrea.kube-system.svc"},
		DNSNames: []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
	}
	for _, o := range opts {
		o(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

// crOption changes a CertificateRequest before it is created.
type crOption func(*cmapi.CertificateRequest)

func withUsages(u ...cmapi.KeyUsage) crOption {
	return func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = u }
}

func withDuration(d time.Duration) crOption {
	return func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: d} }
}

func withIsCA() crOption { return func(cr *cmapi.CertificateRequest) { cr.Spec.IsCA = true } }

func withRequest(b []byte) crOption {
	return func(cr *cmapi.CertificateRequest) { cr.Spec.Request = b }
}

var serverUsages = []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth}

// newCR builds a CertificateRequest for issuerRef in namespace ns.
func newCR(t testing.TB, ns string, ref cmmeta.IssuerReference, opts ...crOption) *cmapi.CertificateRequest {
	t.Helper()
	csr, _ := newCSR(t)
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-", Namespace: ns},
		Spec: cmapi.CertificateRequestSpec{
			Request:   csr,
			IssuerRef: ref,
			Usages:    serverUsages,
			Duration:  &metav1.Duration{Duration: 90 * 24 * time.Hour},
		},
	}
	for _, o := range opts {
		o(cr)
	}
	return cr
}

// setApproval sets the Approved (or Denied) condition as cert-manager's approver does.
func setApproval(ctx context.Context, t testing.TB, c client.Client, cr *cmapi.CertificateRequest, approve bool) {
	t.Helper()
	cond := cmapi.CertificateRequestCondition{
		Type: cmapi.CertificateRequestConditionApproved, Status: cmmeta.ConditionTrue,
		Reason: "cert-manager.io", Message: "Certificate request has been approved by the test",
	}
	if !approve {
		cond.Type, cond.Message = cmapi.CertificateRequestConditionDenied, "denied by the test"
	}
	now := metav1.Now()
	cond.LastTransitionTime = &now
	cr.Status.Conditions = append(cr.Status.Conditions, cond)
	if err := c.Status().Update(ctx, cr); err != nil {
		t.Fatalf("setting %s on %s: %v", cond.Type, cr.Name, err)
	}
}

// createApproved creates cr and approves it.
func createApproved(ctx context.Context, t testing.TB, c client.Client, cr *cmapi.CertificateRequest) *cmapi.CertificateRequest {
	t.Helper()
	if err := c.Create(ctx, cr); err != nil {
		t.Fatalf("creating CertificateRequest: %v", err)
	}
	setApproval(ctx, t, c, cr, true)
	return cr
}

func readyCondition(cr *cmapi.CertificateRequest) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == cmapi.CertificateRequestConditionReady {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// waitReadyReason waits until cr's Ready condition has the given reason and returns cr.
func waitReadyReason(ctx context.Context, t testing.TB, c client.Client, cr *cmapi.CertificateRequest, reason string) *cmapi.CertificateRequest {
	t.Helper()
	got := &cmapi.CertificateRequest{}
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("CertificateRequest %s Ready reason %s", cr.Name, reason), func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(cr), got); err != nil {
			return err
		}
		if rc := readyCondition(got); rc == nil || rc.Reason != reason {
			return fmt.Errorf("conditions %+v", got.Status.Conditions)
		}
		return nil
	})
	return got
}

func parseCerts(t testing.TB, data []byte) []*x509.Certificate {
	t.Helper()
	b, err := signer.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return b.Certificates()
}

func pemBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// testCA is a certificate and key built with crypto/x509 directly, a CA or not.
type testCA = *testpki.Pair

// newTestCA makes a self-signed certificate, a CA or not, valid in [notBefore, notAfter].
func newTestCA(t testing.TB, notBefore, notAfter time.Time, isCA bool) testCA {
	t.Helper()
	opts := []testpki.Option{testpki.Validity(notBefore, notAfter)}
	if !isCA {
		opts = append(opts, testpki.NotCA())
	}
	return testpki.NewCA(t, notBefore, nil, opts...)
}
