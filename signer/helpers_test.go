package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testNow is fixed so that every validity computation in the tests is exact.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	antreaSvc  = "antrea.kube-system.svc"
	antreaFQDN = "antrea.kube-system.svc.cluster.local"
	day        = 24 * time.Hour
)

// Key and CA generation (RSA-4096 above all) dominates test time, so both are cached and
// shared read-only between parallel tests.
var (
	cacheMu sync.Mutex
	keys    = map[string]crypto.Signer{}
	cas     = map[KeyAlgorithm]*CA{}
)

func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if k, ok := keys[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		// Any other name is a distinct P-256 key, for tests that need several.
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys[kind] = k
	return k
}

func testCA(t testing.TB, alg KeyAlgorithm) *CA {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if ca, ok := cas[alg]; ok {
		return ca
	}
	ca, err := GenerateCA(testNow, CAOptions{KeyAlgorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	cas[alg] = ca
	return ca
}

// certSpec describes a hand-made certificate, for properties GenerateCA never produces.
type certSpec struct {
	cn                  string
	notCA               bool
	noBasicConstraints  bool
	ku                  x509.KeyUsage // default CertSign|CRLSign
	notBefore, notAfter time.Time     // default testNow-1h, testNow+1y
	key                 crypto.Signer // default a fresh P-256 key
	maxPathLen          int           // with pathLenSet
	pathLenSet          bool
}

// makeCA issues spec under parent (self-signed when parent is nil) and returns it as a CA
// with the full chain.
func makeCA(t testing.TB, spec certSpec, parent *CA) *CA {
	t.Helper()
	if spec.ku == 0 {
		spec.ku = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = testNow.Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = testNow.Add(365 * day)
	}
	key := spec.key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	serial, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		IsCA:                  !spec.notCA,
		BasicConstraintsValid: !spec.noBasicConstraints,
		KeyUsage:              spec.ku,
	}
	if spec.pathLenSet {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = spec.maxPathLen, spec.maxPathLen == 0
	}
	parentCert, parentKey := tmpl, key
	var parentChain []*x509.Certificate
	if parent != nil {
		parentCert, parentKey, parentChain = parent.Cert, parent.Key, parent.Chain
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, Chain: append([]*x509.Certificate{cert}, parentChain...)}
}

// leafTemplate is the request cert-manager would build for Antrea's controller.
func leafTemplate(pub crypto.PublicKey, names ...string) *x509.Certificate {
	if names == nil {
		names = []string{antreaSvc, antreaFQDN}
	}
	return &x509.Certificate{
		PublicKey:             pub,
		DNSNames:              names,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:             testNow,
		NotAfter:              testNow.Add(90 * day),
		BasicConstraintsValid: true,
	}
}

func certPEM(certs ...*x509.Certificate) []byte { return encodeCerts(certs) }

func pkcs8PEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// verifyServerCert checks what Antrea's clients check: the chain from ChainPEM up to an
// anchor in the bundle, for the server name and server auth.
func verifyServerCert(t testing.TB, res *Result, bundle Bundle, now time.Time) error {
	t.Helper()
	intermediates := x509.NewCertPool()
	rest := res.ChainPEM
	for i := 0; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if i == 0 {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		intermediates.AddCert(c)
	}
	_, err := res.Leaf.Verify(x509.VerifyOptions{
		DNSName:       antreaSvc,
		Roots:         bundle.CertPool(),
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// weakRSAKey is a 1024-bit public key built without generating one.
func weakRSAKey() *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), 1023)
	return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}
}
