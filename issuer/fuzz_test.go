package issuer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	issuerlibsigner "github.com/cert-manager/issuer-lib/controllers/signer"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"antrea.io/antrea-issuer/internal/csrfuzz"
	"antrea.io/antrea-issuer/internal/keyleak"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Fuzz targets for the issuer's own signing path, beyond signer's: a CertificateRequest goes
// through issuer-lib's CertificateDetails, certificateRequest (cert-manager's template plus the
// CA-only extension check), the issuer's resolved policy, the CA store and signer.Sign, exactly as
// issuer-lib calls Controller.sign. `go test ./issuer` runs the seeds; docs/security.md gives the
// command for long runs and their figures.

const fuzzNamespace = "antrea-issuer"

// fuzzEnv is an AntreaClusterIssuer with an empty spec (generated ECDSA CA, Antrea's default
// policy) whose CA Secret is already in a fake API client.
type fuzzEnv struct {
	issuer *v1alpha1.AntreaClusterIssuer
	cfg    Config
	ca     *signer.CA
	data   map[string][]byte // the CA Secret's data
	csrKey ed25519.PrivateKey
}

var (
	fuzzEnvOnce sync.Once
	fuzzEnvVal  fuzzEnv
)

func newFuzzEnv(tb testing.TB) fuzzEnv {
	tb.Helper()
	fuzzEnvOnce.Do(func() {
		iss := &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "fuzz"}}
		cfg, err := ResolveConfig(iss, fuzzNamespace)
		if err != nil {
			tb.Fatal(err)
		}
		ca, err := signer.GenerateCA(time.Now(), signer.CAOptions{KeyAlgorithm: cfg.KeyAlgorithm, Lifetime: cfg.CADuration})
		if err != nil {
			tb.Fatal(err)
		}
		data, err := signer.Generations{Active: ca}.SecretData()
		if err != nil {
			tb.Fatal(err)
		}
		fuzzEnvVal = fuzzEnv{issuer: iss, cfg: cfg, ca: ca, data: data,
			csrKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))}
	})
	return fuzzEnvVal
}

// controllerWithSecret is a Controller whose client holds one CA Secret with data.
func controllerWithSecret(fx fuzzEnv, data map[string][]byte) *Controller {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: fx.cfg.Secret.Namespace, Name: fx.cfg.Secret.Name},
		Type:       corev1.SecretTypeTLS,
		Data:       data,
	}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(secret).Build()
	return &Controller{
		opts:     Options{ClusterResourceNamespace: fuzzNamespace, MaxRetryDuration: time.Minute, Workers: 1},
		client:   c,
		clock:    clock.RealClock{},
		recorder: &events.FakeRecorder{},
		store:    NewCAStore(c, c, clock.RealClock{}, fuzzNamespace, nil),
		rechecks: newRecheckScheduler(clock.RealClock{}),
		metrics:  NewMetrics(prometheus.NewRegistry(), c),
	}
}

// fuzzUsages are cert-manager's usages; a fuzzed bit mask picks some.
var fuzzUsages = []cmapi.KeyUsage{
	cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth, cmapi.UsageSigning,
	cmapi.UsageContentCommitment, cmapi.UsageKeyAgreement, cmapi.UsageDataEncipherment, cmapi.UsageCertSign,
	cmapi.UsageCRLSign, cmapi.UsageEncipherOnly, cmapi.UsageDecipherOnly, cmapi.UsageAny, cmapi.UsageClientAuth,
	cmapi.UsageCodeSigning, cmapi.UsageEmailProtection, cmapi.UsageSMIME, cmapi.UsageIPsecEndSystem,
	cmapi.UsageIPsecTunnel, cmapi.UsageIPsecUser, cmapi.UsageTimestamping, cmapi.UsageOCSPSigning,
	cmapi.UsageMicrosoftSGC, cmapi.UsageNetscapeSGC,
}

const serverUsageBits = 0b111 // digital signature, key encipherment, server auth

func usagesFromBits(bits uint32) []cmapi.KeyUsage {
	var out []cmapi.KeyUsage
	for i, u := range fuzzUsages {
		if bits&(1<<i) != 0 {
			out = append(out, u)
		}
	}
	return out
}

func fuzzCSR(tb testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// allowedExtensions are the only extensions a signed leaf may carry: whatever a request smuggles
// in (name constraints, policies, unknown OIDs) must never reach a certificate.
var allowedExtensions = []asn1.ObjectIdentifier{
	{2, 5, 29, 14}, // subject key ID
	{2, 5, 29, 35}, // authority key ID
	{2, 5, 29, 15}, // key usage
	{2, 5, 29, 37}, // extended key usage
	{2, 5, 29, 19}, // basic constraints
	{2, 5, 29, 17}, // subject alternative name
}

func FuzzSignRequest(f *testing.F) {
	fx := newFuzzEnv(f)
	antrea := []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"}
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/antrea")
	nameConstraints, _ := pki.MarshalNameConstraints(&pki.NameConstraints{PermittedDNSDomains: []string{"svc"}}, true)
	pathLen := 3
	leafPathLen, _ := pki.MarshalBasicConstraints(false, &pathLen)
	caTrue, _ := pki.MarshalBasicConstraints(true, nil)
	caFalse, _ := pki.MarshalBasicConstraints(false, nil)
	seeds := []*x509.CertificateRequest{
		{Subject: pkix.Name{CommonName: antrea[0]}, DNSNames: antrea},
		{DNSNames: antrea[:1]},
		{DNSNames: []string{"ANTREA.Kube-System.SVC"}},
		{DNSNames: []string{"antrea.kube-system.svc.evil.com"}},
		{DNSNames: []string{"antrea.kube-system.svc."}},
		{DNSNames: []string{"*.kube-system.svc"}},
		{Subject: pkix.Name{CommonName: "antrea.\u212aube-system.svc"}, DNSNames: antrea},
		{DNSNames: antrea, IPAddresses: []net.IP{net.ParseIP("10.96.0.1")}},
		{DNSNames: antrea, URIs: []*url.URL{spiffe}, EmailAddresses: []string{"a@antrea.io"}},
		{DNSNames: antrea, ExtraExtensions: []pkix.Extension{nameConstraints}},
		{DNSNames: antrea, ExtraExtensions: []pkix.Extension{leafPathLen}},
		{DNSNames: antrea, ExtraExtensions: []pkix.Extension{caTrue}},
		{DNSNames: antrea, ExtraExtensions: []pkix.Extension{caFalse}},
		{DNSNames: antrea, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999}, Critical: true, Value: []byte{5, 0}}}},
		{Subject: pkix.Name{CommonName: antrea[0], ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "evil.example.com"}}}, DNSNames: antrea},
	}
	day := int64(24 * time.Hour)
	for i, req := range seeds {
		f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits), true, 90*day)
		if i == 0 {
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, true, uint32(serverUsageBits|1<<7), true, 90*day) // isCA
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits|1<<12), true, 90*day)
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits), true, int64(0))
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits), true, int64(-time.Hour))
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits), true, int64(1<<63-1))
			f.Add(fuzzCSR(f, fx.csrKey, req), false, true, false, uint32(serverUsageBits), false, int64(0))
			f.Add(fuzzCSR(f, fx.csrKey, req), false, false, false, uint32(serverUsageBits), true, 90*day) // signature not fixed
		}
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: fuzzCSR(f, p256, seeds[0])})
	f.Add(good, true, false, false, uint32(serverUsageBits), true, 90*day)
	f.Add(fx.ca.CertPEM(), true, false, false, uint32(serverUsageBits), true, 90*day)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"), true, false, false, uint32(serverUsageBits), true, 90*day)

	c := controllerWithSecret(fx, fx.data)
	roots := x509.NewCertPool()
	roots.AddCert(fx.ca.Cert)
	f.Fuzz(func(t *testing.T, data []byte, asPEM, fixSignature, isCA bool, usageBits uint32, setDuration bool, durationNS int64) {
		csrPEM := data
		if !asPEM {
			if fixSignature {
				data = csrfuzz.Resign(data, fx.csrKey)
			}
			csrPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: data})
		}
		cr := &cmapi.CertificateRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "fuzz"},
			Spec:       cmapi.CertificateRequestSpec{Request: csrPEM, IsCA: isCA, Usages: usagesFromBits(usageBits)},
		}
		if setDuration {
			cr.Spec.Duration = &metav1.Duration{Duration: time.Duration(durationNS)}
		}
		requested := 90 * 24 * time.Hour
		if setDuration {
			requested = time.Duration(durationNS)
		}
		now := time.Now()

		bundle, err := c.sign(context.Background(), issuerlibsigner.CertificateRequestObjectFromCertificateRequest(cr), fx.issuer)
		if err != nil {
			// A request that cannot be signed fails at once and for good: never retried, never
			// blamed on the issuer (which would take it out of service), never echoing the key.
			if !errors.As(err, &issuerlibsigner.PermanentError{}) {
				t.Fatalf("refusal is not permanent (%T): %v", err, err)
			}
			assertNoKeyMaterial(t, err.Error(), fx.data[signer.SecretKeyTLSKey])
			return
		}

		chain, err := parseAllCerts(bundle.ChainPEM)
		if err != nil || len(chain) != 2 {
			t.Fatalf("chain: %d certificates, %v", len(chain), err)
		}
		leaf := chain[0]
		if !bytes.Equal(chain[1].Raw, fx.ca.Cert.Raw) || !bytes.Equal(bundle.CAPEM, fx.data[signer.SecretKeyCABundle]) {
			t.Fatalf("chain or CA bundle is not the issuer's CA")
		}
		if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.MaxPathLen > 0 || leaf.MaxPathLenZero {
			t.Fatalf("signed a CA or a path length: isCA=%v maxPathLen=%d", leaf.IsCA, leaf.MaxPathLen)
		}
		if leaf.NotAfter.After(fx.ca.Cert.NotAfter) || leaf.NotBefore.Before(fx.ca.Cert.NotBefore) {
			t.Fatalf("leaf [%s, %s] outside its CA's validity", leaf.NotBefore, leaf.NotAfter)
		}
		for _, ext := range leaf.Extensions {
			if !containsOID(allowedExtensions, ext.Id) {
				t.Fatalf("leaf carries extension %s", ext.Id)
			}
		}
		if len(leaf.PermittedDNSDomains)+len(leaf.ExcludedDNSDomains) > 0 || len(leaf.IPAddresses)+len(leaf.URIs)+len(leaf.EmailAddresses) > 0 {
			t.Fatalf("leaf carries name constraints or non-DNS SANs")
		}
		csr, err := pki.DecodeX509CertificateRequestBytes(csrPEM)
		if err != nil {
			t.Fatalf("signed a request that does not parse: %v", err)
		}
		if pk, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(csr.PublicKey) {
			t.Fatalf("leaf is not for the request's key")
		}
		if !sameStrings(leaf.DNSNames, csr.DNSNames) || leaf.Subject.CommonName != csr.Subject.CommonName {
			t.Fatalf("leaf names %v %q differ from the request's %v %q", leaf.DNSNames, leaf.Subject.CommonName, csr.DNSNames, csr.Subject.CommonName)
		}
		// What was issued passes the policy that let the request through.
		issued := *leaf
		issued.NotBefore, issued.NotAfter = now, now.Add(requested)
		if err := fx.cfg.Policy.Evaluate(&issued); err != nil {
			t.Fatalf("issued certificate violates the policy: %v", err)
		}
		for _, name := range leaf.DNSNames {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Fatalf("leaf does not verify against the CA bundle for %s: %v", name, err)
			}
		}
	})
}

// FuzzCASecret fuzzes what an operator (or an attacker with write access to the CA Secret) puts
// in the CA Secret, then signs a good request with it. A Secret the store accepts must sign a leaf
// that verifies against the bundle it publishes; one it refuses must put the issuer out of
// service (IssuerError), never fail the request for good, and never echo key material.
func FuzzCASecret(f *testing.F) {
	fx := newFuzzEnv(f)
	now := time.Now()
	gen := func(opts signer.CAOptions) *signer.CA {
		if opts.Lifetime == 0 {
			opts.Lifetime = 365 * 24 * time.Hour
		}
		ca, err := signer.GenerateCA(now, opts)
		if err != nil {
			f.Fatal(err)
		}
		return ca
	}
	keyPEM := func(ca *signer.CA) []byte {
		k, err := ca.KeyPEM()
		if err != nil {
			f.Fatal(err)
		}
		return k
	}
	next, prev := gen(signer.CAOptions{}), gen(signer.CAOptions{KeyAlgorithm: signer.RSA2048})
	ed := gen(signer.CAOptions{KeyAlgorithm: signer.Ed25519})
	leaf := gen(signer.CAOptions{}) // its certificate stands in for a leaf in the "swapped" seed below
	active := fx.data
	add := func(crt, key, nextCrt, nextKey, prevCrt []byte, present uint8) {
		f.Add(crt, key, nextCrt, nextKey, prevCrt, present)
	}
	const (
		hasCrt = 1 << iota
		hasKey
		hasNextCrt
		hasNextKey
		hasPrevCrt
	)
	steady := uint8(hasCrt | hasKey)
	add(active["tls.crt"], active["tls.key"], nil, nil, nil, steady)
	add(active["tls.crt"], active["tls.key"], next.CertPEM(), keyPEM(next), nil, steady|hasNextCrt|hasNextKey)
	add(active["tls.crt"], active["tls.key"], nil, nil, prev.CertPEM(), steady|hasPrevCrt)
	add(ed.CertPEM(), keyPEM(ed), nil, nil, nil, steady)
	add(prev.CertPEM(), keyPEM(prev), nil, nil, nil, steady)
	add(active["tls.crt"], append(bytes.Clone(active["tls.key"]), keyPEM(next)...), nil, nil, nil, steady) // a second key
	add(active["tls.crt"], append(bytes.Clone(active["tls.key"]), active["tls.key"]...), nil, nil, nil, steady)
	add(active["tls.crt"], keyPEM(next), nil, nil, nil, steady) // another CA's key
	add(leafCertPEM(f, leaf), keyPEM(leaf), nil, nil, nil, steady)
	add(append(bytes.Clone(active["tls.crt"]), next.CertPEM()...), active["tls.key"], nil, nil, nil, steady)
	add(active["tls.crt"], active["tls.key"], next.CertPEM(), nil, nil, steady|hasNextCrt)
	add(active["tls.crt"], active["tls.key"], next.CertPEM(), keyPEM(next), prev.CertPEM(), steady|hasNextCrt|hasNextKey|hasPrevCrt)
	add(active["tls.crt"], active["tls.key"], active["tls.crt"], active["tls.key"], nil, steady|hasNextCrt|hasNextKey)
	add([]byte("garbage"), []byte("-----BEGIN PRIVATE KEY-----\n"), nil, nil, nil, steady)
	add(nil, nil, nil, nil, nil, 0)

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: fuzzCSR(f, p256, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "antrea.kube-system.svc"}, DNSNames: []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
	})})
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "fuzz"},
		Spec:       cmapi.CertificateRequestSpec{Request: good, Usages: usagesFromBits(serverUsageBits)},
	}
	f.Fuzz(func(t *testing.T, crt, key, nextCrt, nextKey, prevCrt []byte, present uint8) {
		data := map[string][]byte{}
		for i, kv := range []struct {
			k string
			v []byte
		}{{"tls.crt", crt}, {"tls.key", key}, {"next.tls.crt", nextCrt}, {"next.tls.key", nextKey}, {"previous.tls.crt", prevCrt}} {
			if present&(1<<i) != 0 {
				data[kv.k] = kv.v
			}
		}
		c := controllerWithSecret(fx, data)
		bundle, err := c.sign(context.Background(), issuerlibsigner.CertificateRequestObjectFromCertificateRequest(cr), fx.issuer)
		if err != nil {
			switch {
			case errors.As(err, &issuerlibsigner.IssuerError{}):
			case errors.Is(err, signer.ErrSigningFailed): // retried: x509 refused to sign with this key
			default:
				t.Fatalf("a CA Secret problem failed a good request (%T): %v", err, err)
			}
			for _, k := range [][]byte{key, nextKey} {
				assertNoKeyMaterial(t, err.Error(), k)
			}
			return
		}
		gens, err := signer.ParseGenerations(data, time.Now())
		if err != nil {
			t.Fatalf("signed with a Secret that does not parse: %v", err)
		}
		chain, err := parseAllCerts(bundle.ChainPEM)
		if err != nil || len(chain) < 2 {
			t.Fatalf("chain: %d certificates, %v", len(chain), err)
		}
		leaf := chain[0]
		if leaf.IsCA {
			t.Fatalf("signed a CA")
		}
		if err := leaf.CheckSignatureFrom(gens.Active.Cert); err != nil {
			t.Fatalf("leaf not signed by the active CA: %v", err)
		}
		bundleCerts, err := parseAllCerts(bundle.CAPEM)
		if err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, b := range bundleCerts {
			roots.AddCert(b)
		}
		for _, c := range chain[1:] {
			inter.AddCert(c)
			if leaf.NotAfter.After(c.NotAfter) {
				t.Fatalf("leaf outlives %s", c.Subject)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "antrea.kube-system.svc", Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Fatalf("leaf does not verify against the bundle the issuer publishes: %v", err)
		}
	})
}

// leafCertPEM re-signs ca's key into a self-signed non-CA certificate: a leaf standing where a
// CA must be.
func leafCertPEM(tb testing.TB, ca *signer.CA) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{SerialNumber: ca.Cert.SerialNumber, Subject: ca.Cert.Subject, NotBefore: ca.Cert.NotBefore,
		NotAfter: ca.Cert.NotAfter, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parseAllCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// assertNoKeyMaterial fails when msg holds 16 consecutive base64 characters of a PEM block of
// keyPEM.
func assertNoKeyMaterial(t *testing.T, msg string, keyPEM []byte) {
	t.Helper()
	if keyleak.Quoted(msg, keyPEM) {
		t.Fatalf("error message leaks key material: %q", msg)
	}
}

func containsOID(list []asn1.ObjectIdentifier, id asn1.ObjectIdentifier) bool {
	for _, o := range list {
		if o.Equal(id) {
			return true
		}
	}
	return false
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
