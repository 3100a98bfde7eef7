package antreasim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CA is a certificate authority for tests, built with crypto/x509 directly (ECDSA P-256).
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// NewCA creates a self-signed CA valid from an hour ago for a year.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der)}, nil
}

// KeyPair is a PEM certificate (chain) and its PEM private key.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// IssueServing issues a serving certificate for antrea-controller in namespace: DNS names
// antrea.<ns>.svc and antrea.<ns>.svc.cluster.local, key usages digital signature and key
// encipherment, extended usage server auth (what Antrea requires). CertPEM holds the leaf only.
func (ca *CA) IssueServing(namespace string) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating serving key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: ServerName(namespace)},
		DNSNames:     []string{ServerName(namespace), ServerName(namespace) + ".cluster.local"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("creating serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encoding serving key: %w", err)
	}
	return KeyPair{
		CertPEM: encodeCert(der),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Material is a CA and a serving key pair it issued for antrea-controller: what a Secret holds.
type Material struct {
	CA      *CA
	Serving KeyPair
}

// NewMaterial creates a fresh CA (common name commonName) and a serving pair for namespace.
func NewMaterial(commonName, namespace string) (*Material, error) {
	ca, err := NewCA(commonName)
	if err != nil {
		return nil, err
	}
	pair, err := ca.IssueServing(namespace)
	if err != nil {
		return nil, err
	}
	return &Material{CA: ca, Serving: pair}, nil
}

// CertManagerSecret is the Secret as cert-manager writes it for a Certificate issued by an issuer
// that sets the CA: type kubernetes.io/tls with ca.crt, tls.crt (leaf) and tls.key.
func (m *Material) CertManagerSecret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			CAKey:                   clone(m.CA.CertPEM),
			corev1.TLSCertKey:       clone(m.Serving.CertPEM),
			corev1.TLSPrivateKeyKey: clone(m.Serving.KeyPEM),
		},
	}
}

// SelfSignedModeSecret is the Secret as Antrea writes it with selfSignedCert: true: tls.crt is
// the leaf followed by its CA, tls.key, and no ca.crt.
func (m *Material) SelfSignedModeSecret(namespace, name string) *corev1.Secret {
	chain := append(clone(m.Serving.CertPEM), m.CA.CertPEM...)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       chain,
			corev1.TLSPrivateKeyKey: clone(m.Serving.KeyPEM),
		},
	}
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
