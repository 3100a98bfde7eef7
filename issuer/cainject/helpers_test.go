package cainject

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/internal/testpki"
)

// testCA is a CA built with crypto/x509 directly (ECDSA P-256).
type testCA = testpki.Pair

// newTestCA creates a self-signed CA; parent, when given, signs it instead (an intermediate).
func newTestCA(t *testing.T, cn string, parent *testCA) *testCA {
	t.Helper()
	return testpki.NewCA(t, time.Now(), parent, testpki.CommonName(cn))
}

// leafOf issues antrea-controller's serving certificate with ca and returns it as PEM (leaf only).
func leafOf(t *testing.T, ca *testCA) []byte {
	t.Helper()
	return testpki.NewLeaf(t, time.Now(), ca).CertPEM
}

// secretWith is the source Secret holding data (keys with nil values are left out).
func secretWith(data map[string][]byte) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultNamespace, Name: DefaultSecretName, ResourceVersion: "1"}, Data: map[string][]byte{}}
	for k, v := range data {
		if v != nil {
			s.Data[k] = v
		}
	}
	return s
}

// issued is a Secret as cert-manager writes it: ca.crt, tls.crt (leaf + CA, as this project's
// issuer returns it) and tls.key (absent here: the sync never reads it).
func issued(t *testing.T, ca *testCA) *corev1.Secret {
	t.Helper()
	return secretWith(map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": testpki.Concat(leafOf(t, ca), ca.CertPEM)})
}
