package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// TestAntreaDocumentedCertificate applies the Certificate of Antrea's own documentation
// (testdata/antrea-documented-certificate.yaml: commonName antrea, Antrea's two DNS names, its three
// usages, the default AntreaClusterIssuer) as it is written, and checks that the default policy
// issues it and that Antrea's clients trust the result.
func TestAntreaDocumentedCertificate(t *testing.T) {
	ctx := testenv.Context(t)
	applySampleIssuer(ctx, t)

	objs, err := localcluster.ReadManifests(filepath.Join("testdata", "antrea-documented-certificate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects in the documented Certificate's file, want 1", len(objs))
	}
	doc := &cmapi.Certificate{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, doc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(doc)
	useDocumentedCertificate(ctx, t, doc)

	var leaf *x509.Certificate
	var secret *corev1.Secret
	crt := &cmapi.Certificate{}
	testenv.Eventually(t, 3*time.Minute, "the documented Certificate issued, with common name antrea", func() error {
		if err := certificateIssued(ctx, key, 1, crt); err != nil {
			return err
		}
		secret = &corev1.Secret{}
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: crt.Spec.SecretName}, secret); err != nil {
			return err
		}
		b, err := signer.ParseBundle(secret.Data[corev1.TLSCertKey])
		if err != nil {
			return err
		}
		if leaf = b.Certificates()[0]; leaf.Subject.CommonName != "antrea" {
			return fmt.Errorf("the Secret's leaf has common name %q", leaf.Subject.CommonName)
		}
		return nil
	})
	t.Logf("issued %s for %v, serial %s", leaf.Subject, leaf.DNSNames, leaf.SerialNumber.Text(16))

	// What Antrea's page asks of the certificate: the usages and DNS names, ca.crt beside it.
	verifyAntreaSecret(t, secret, "kube-system")
	if got, want := sorted(leaf.DNSNames), []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"}; !slices.Equal(got, want) {
		t.Errorf("DNS names %q, want %q", got, want)
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage != want {
		t.Errorf("key usage %b, want digital signature and key encipherment (%b)", leaf.KeyUsage, want)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usages %v, want server auth alone", leaf.ExtKeyUsage)
	}
	checkIssued(t, crt, leaf, secret, false)

	t.Run("Antrea's clients trust it", func(t *testing.T) {
		needLocal(t)
		waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
		checkClientsTrust(ctx, t, leaf)
	})
}

// applySampleIssuer creates the README's AntreaClusterIssuer "antrea" (the chart's default
// issuer) unless it exists, and waits until it is Ready.
func applySampleIssuer(ctx context.Context, t *testing.T) {
	t.Helper()
	objs, err := localcluster.ReadManifests(samplePath("antrea-controller-tls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "AntreaClusterIssuer" {
			continue
		}
		iss := &v1alpha1.AntreaClusterIssuer{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, iss); err != nil {
			t.Fatal(err)
		}
		if err := localcluster.Apply(ctx, suite.client, iss); err != nil {
			t.Fatal(err)
		}
		waitIssuerReady(ctx, t, iss, 60*time.Second)
		return
	}
	t.Fatal("the README's sample has no AntreaClusterIssuer")
}

// useDocumentedCertificate makes doc the Certificate at its name for the rest of the test: created
// if there is none (and deleted with its Secret afterwards), or given doc's spec if there is one
// (the README's sample, or the chart's in a cluster; its spec is put back afterwards).
func useDocumentedCertificate(ctx context.Context, t *testing.T, doc *cmapi.Certificate) {
	t.Helper()
	key := client.ObjectKeyFromObject(doc)
	existing := &cmapi.Certificate{}
	err := suite.client.Get(ctx, key, existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := suite.client.Create(ctx, doc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteCertificate(context.Background(), doc) })
	case err != nil:
		t.Fatal(err)
	default:
		previous := *existing.Spec.DeepCopy()
		t.Logf("Certificate %s exists: its spec is replaced by the documented one during the test", key)
		updateCertificate(ctx, t, existing, func(c *cmapi.Certificate) bool {
			c.Spec = *doc.Spec.DeepCopy()
			return false
		})
		t.Cleanup(func() {
			ctx := context.Background()
			updateCertificate(ctx, t, existing, func(c *cmapi.Certificate) bool {
				c.Spec = previous
				return false
			})
			waitIssued(ctx, t, key, 1)
		})
	}
}
