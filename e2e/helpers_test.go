package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/signer"
)

// applySample creates the objects of a file in config/samples (leaving existing ones alone, as
// the chart may have created them in cluster mode).
func applySample(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	objs, err := localcluster.ReadManifests(samplePath(name))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := localcluster.Apply(ctx, suite.client, o); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCertificate waits until the Certificate's condition of type cond has status want, and
// returns it.
func waitCertificate(ctx context.Context, t *testing.T, key client.ObjectKey, cond cmapi.CertificateConditionType, want cmmeta.ConditionStatus, check func(*cmapi.Certificate) error) *cmapi.Certificate {
	t.Helper()
	crt := &cmapi.Certificate{}
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("Certificate %s %s=%s", key, cond, want), func() error {
		if err := suite.client.Get(ctx, key, crt); err != nil {
			return err
		}
		c := apiutil.GetCertificateCondition(crt, cond)
		if c == nil || c.Status != want {
			return fmt.Errorf("conditions %+v", crt.Status.Conditions)
		}
		if check != nil {
			return check(crt)
		}
		return nil
	})
	return crt
}

func parseCertsPEM(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	b, err := signer.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return b.Certificates()
}

// verifyAntreaSecret checks what antrea-controller needs of its Secret: all three keys, and a
// chain that verifies against ca.crt for both of Antrea's server names with server auth.
func verifyAntreaSecret(t *testing.T, s *corev1.Secret, ns string) *x509.Certificate {
	t.Helper()
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if len(s.Data[k]) == 0 {
			t.Fatalf("Secret %s/%s has no %s (keys: %v)", s.Namespace, s.Name, k, keysOf(s.Data))
		}
	}
	chain := parseCertsPEM(t, s.Data["tls.crt"])
	roots := x509.NewCertPool()
	for _, c := range parseCertsPEM(t, s.Data["ca.crt"]) {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	for _, name := range []string{"antrea." + ns + ".svc", "antrea." + ns + ".svc.cluster.local"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("tls.crt does not verify against ca.crt for %s: %v", name, err)
		}
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 || leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("key usage %v lacks digital signature or key encipherment", leaf.KeyUsage)
	}
	if leaf.IsCA {
		t.Error("the leaf is a CA")
	}
	return leaf
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func containsAll(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q does not mention %q", s, sub)
		}
	}
	return nil
}
