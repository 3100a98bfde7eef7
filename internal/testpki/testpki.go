// Package testpki builds certificates and keys for tests with crypto/x509 alone (ECDSA P-256), so
// that what a test feeds the code under test never depends on that code (the signer above all).
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Pair is a certificate built for a test, with its key.
type Pair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the certificate alone
	KeyPEM  []byte // PKCS #8
}

// Option changes the template before it is signed.
type Option func(*x509.Certificate)

// Validity sets NotBefore and NotAfter.
func Validity(from, to time.Time) Option {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = from, to }
}

// CommonName sets the subject's common name.
func CommonName(cn string) Option { return func(c *x509.Certificate) { c.Subject.CommonName = cn } }

// DNSNames sets the DNS names.
func DNSNames(n ...string) Option { return func(c *x509.Certificate) { c.DNSNames = n } }

// KeyUsage sets the key usage.
func KeyUsage(ku x509.KeyUsage) Option { return func(c *x509.Certificate) { c.KeyUsage = ku } }

// ExtKeyUsage sets the extended key usages.
func ExtKeyUsage(u ...x509.ExtKeyUsage) Option {
	return func(c *x509.Certificate) { c.ExtKeyUsage = u }
}

// NotCA makes NewCA's certificate an end-entity one: no CA basic constraint, no certificate signing.
func NotCA() Option {
	return func(c *x509.Certificate) { c.IsCA, c.KeyUsage = false, x509.KeyUsageDigitalSignature }
}

// NewCA returns a CA named "test-ca", valid from a day before now for a year; parent nil makes it
// a self-signed root, else parent signs it (an intermediate).
func NewCA(t testing.TB, now time.Time, parent *Pair, opts ...Option) *Pair {
	t.Helper()
	return build(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "test-ca"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}, parent, opts)
}

// NewLeaf returns antrea-controller's serving certificate as cert-manager issues it in
// kube-system by default, signed by ca, valid from an hour before now for 60 days.
func NewLeaf(t testing.TB, now time.Time, ca *Pair, opts ...Option) *Pair {
	t.Helper()
	return build(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "antrea.kube-system.svc"},
		DNSNames:  []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(60 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, opts)
}

func build(t testing.TB, tmpl *x509.Certificate, parent *Pair, opts []Option) *Pair {
	t.Helper()
	for _, o := range opts {
		o(tmpl)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Pair{Cert: cert, Key: key, CertPEM: PEM("CERTIFICATE", der), KeyPEM: PEM("PRIVATE KEY", keyDER)}
}

// PEM encodes one block.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Concat joins PEM files (or any bytes) as cat does.
func Concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
