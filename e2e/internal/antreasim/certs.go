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
	"net"
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
	return newCAAt(commonName, time.Now().Add(-time.Hour), 365*24*time.Hour+time.Hour)
}

func newCAAt(commonName string, notBefore time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
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

// IssueServing issues a serving certificate for antrea-controller in namespace valid for 90
// days from now: DNS names antrea.<ns>.svc and antrea.<ns>.svc.cluster.local, key usages digital
// signature and key encipherment, extended usage server auth (what Antrea requires). CertPEM
// holds the leaf only.
func (ca *CA) IssueServing(namespace string) (KeyPair, error) {
	return ca.IssueServingFor(namespace, 90*24*time.Hour)
}

// IssueServingFor is IssueServing with a leaf valid for validity from now.
func (ca *CA) IssueServingFor(namespace string, validity time.Duration) (KeyPair, error) {
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
		NotAfter:     now.Add(validity),
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

// CertManagerSecret is the Secret as cert-manager writes it for a Certificate issued by
// antrea-issuer: type kubernetes.io/tls with ca.crt, tls.crt (leaf, then the CA: the chain the
// issuer returns) and tls.key.
func (m *Material) CertManagerSecret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			CAKey:                   clone(m.CA.CertPEM),
			corev1.TLSCertKey:       append(clone(m.Serving.CertPEM), m.CA.CertPEM...),
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

// SelfSignedCAPrefix starts the common name of the CA Antrea generates in its selfSignedCert:
// true mode: antrea-ca@<unix time>.
const SelfSignedCAPrefix = "antrea-ca@"

// NewSelfSignedPair generates what antrea-controller generates in its selfSignedCert: true mode:
// a CA named antrea-ca@<unix time> and a leaf antrea@<unix time> it signs, both valid for a
// year from now, the leaf for antrea.<ns>.svc and the loopback addresses. certPEM is the leaf
// followed by the CA (what Antrea stores as tls.crt and publishes as its CA bundle), keyPEM the
// leaf's key. Antrea uses RSA 2048; this stand-in uses ECDSA P-256, which is faster and changes
// nothing a client or the CA bundle sync looks at.
func NewSelfSignedPair(namespace string, now time.Time) (certPEM, keyPEM []byte, err error) {
	stamp := fmt.Sprint(now.Unix())
	ca, err := newCAAt(SelfSignedCAPrefix+stamp, now, 365*24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: ServiceName + "@" + stamp},
		DNSNames:     []string{ServerName(namespace)},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		NotBefore:    now,
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding serving key: %w", err)
	}
	return append(encodeCert(der), ca.CertPEM...), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
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
