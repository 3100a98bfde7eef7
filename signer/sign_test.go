package signer

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every CA algorithm signs a leaf that verifies like Antrea's clients verify it, and every
// accepted leaf key type works under a P-256 CA.
func TestSignEachAlgorithm(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		caAlg   KeyAlgorithm
		leafKey string
	}{
		"CA ECDSAP256, leaf P-256": {caAlg: ECDSAP256, leafKey: "p256"},
		"CA ECDSAP384, leaf P-256": {caAlg: ECDSAP384, leafKey: "p256"},
		"CA RSA2048, leaf P-256":   {caAlg: RSA2048, leafKey: "p256"},
		"CA RSA3072, leaf P-256":   {caAlg: RSA3072, leafKey: "p256"},
		"CA RSA4096, leaf P-256":   {caAlg: RSA4096, leafKey: "p256"},
		"CA Ed25519, leaf P-256":   {caAlg: Ed25519, leafKey: "p256"},
		"CA ECDSAP256, leaf P-384": {caAlg: ECDSAP256, leafKey: "p384"},
		"CA ECDSAP256, leaf P-521": {caAlg: ECDSAP256, leafKey: "p521"},
		"CA ECDSAP256, leaf RSA":   {caAlg: ECDSAP256, leafKey: "rsa2048"},
		"CA ECDSAP256, leaf Ed":    {caAlg: ECDSAP256, leafKey: "ed25519"},
		"CA Ed25519, leaf RSA":     {caAlg: Ed25519, leafKey: "rsa2048"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ca := testCA(t, tc.caAlg)
			pub := testKey(t, tc.leafKey).Public()
			res, err := Sign(testNow, ca, Bundle{}, leafTemplate(pub), SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyServerCert(t, res, NewBundle(ca.Cert), testNow); err != nil {
				t.Fatalf("leaf does not verify: %v", err)
			}
			leaf := res.Leaf
			if leaf.IsCA || !leaf.BasicConstraintsValid {
				t.Errorf("IsCA=%v BasicConstraintsValid=%v", leaf.IsCA, leaf.BasicConstraintsValid)
			}
			if !publicKeysEqual(leaf.PublicKey, pub) {
				t.Errorf("leaf carries another public key")
			}
			skid, _ := subjectKeyID(pub)
			if !bytes.Equal(leaf.SubjectKeyId, skid) || !bytes.Equal(leaf.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Errorf("SKID %x (want %x), AKID %x (want %x)", leaf.SubjectKeyId, skid, leaf.AuthorityKeyId, ca.Cert.SubjectKeyId)
			}
			if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %x", leaf.SerialNumber)
			}
			if !leaf.NotBefore.Equal(testNow.Add(-time.Minute)) || leaf.NotAfter.Sub(leaf.NotBefore) != 90*day || res.Truncated {
				t.Errorf("validity %s..%s truncated=%v", leaf.NotBefore, leaf.NotAfter, res.Truncated)
			}
			if !res.RequestedNotAfter.Equal(leaf.NotAfter) {
				t.Errorf("RequestedNotAfter = %s", res.RequestedNotAfter)
			}
			if !slices.Equal(leaf.DNSNames, []string{antreaSvc, antreaFQDN}) ||
				leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
				!slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("names %v usages %b %v", leaf.DNSNames, leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			if want := append(certPEM(leaf), ca.CertPEM()...); !bytes.Equal(res.ChainPEM, want) {
				t.Errorf("ChainPEM is not leaf + CA chain")
			}
			if !bytes.Equal(res.CAPEM, certPEM(ca.Cert)) {
				t.Errorf("CAPEM is not the CA certificate")
			}
		})
	}
}

func TestSignRefusals(t *testing.T) {
	t.Parallel()
	ca := testCA(t, ECDSAP256)
	leafPub := testKey(t, "p256").Public()
	tmpl := func(mod func(*x509.Certificate)) *x509.Certificate {
		c := leafTemplate(leafPub)
		mod(c)
		return c
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	strong := testKey(t, "rsa2048").Public().(*rsa.PublicKey)
	expiring := makeCA(t, certSpec{cn: "expiring", notAfter: testNow.Add(30 * day)}, nil)

	tests := map[string]struct {
		now      time.Time
		ca       *CA
		bundle   Bundle
		template *x509.Certificate
		opts     SignOptions
		wantErr  []error
		wantMsg  string
	}{
		"no CA":            {ca: nil, template: leafTemplate(leafPub), wantErr: []error{ErrCAUnusable}},
		"CA without a key": {ca: &CA{Cert: ca.Cert}, template: leafTemplate(leafPub), wantErr: []error{ErrCAUnusable}},
		"no template":      {template: nil, wantErr: []error{ErrNoIdentity}},
		"chain of another CA": {
			ca: &CA{Cert: ca.Cert, Key: ca.Key, Chain: []*x509.Certificate{expiring.Cert}}, template: leafTemplate(leafPub),
			wantErr: []error{ErrBrokenChain}, wantMsg: "does not start with the CA certificate",
		},
		"CA requested":      {template: tmpl(func(c *x509.Certificate) { c.IsCA = true }), wantErr: []error{ErrCARequested}},
		"cert sign usage":   {template: tmpl(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign }), wantErr: []error{ErrCARequested}},
		"CRL sign usage":    {template: tmpl(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCRLSign }), wantErr: []error{ErrCARequested}},
		"no public key":     {template: tmpl(func(c *x509.Certificate) { c.PublicKey = nil }), wantErr: []error{ErrInvalidPublicKey}, wantMsg: "no public key"},
		"weak RSA key":      {template: tmpl(func(c *x509.Certificate) { c.PublicKey = weakRSAKey() }), wantErr: []error{ErrInvalidPublicKey}, wantMsg: "RSA key of 1024 bits is not accepted"},
		"even RSA exponent": {template: tmpl(func(c *x509.Certificate) { c.PublicKey = &rsa.PublicKey{N: strong.N, E: 65536} }), wantErr: []error{ErrInvalidPublicKey}},
		"empty RSA key":     {template: tmpl(func(c *x509.Certificate) { c.PublicKey = &rsa.PublicKey{} }), wantErr: []error{ErrInvalidPublicKey}},
		"P-224 key":         {template: tmpl(func(c *x509.Certificate) { c.PublicKey = p224.Public() }), wantErr: []error{ErrInvalidPublicKey}, wantMsg: "P-224"},
		"point off the curve": {
			template: tmpl(func(c *x509.Certificate) {
				c.PublicKey = &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
			}),
			wantErr: []error{ErrInvalidPublicKey},
		},
		"short Ed25519 key":      {template: tmpl(func(c *x509.Certificate) { c.PublicKey = ed25519.PublicKey{1, 2, 3} }), wantErr: []error{ErrInvalidPublicKey}},
		"X25519 key":             {template: tmpl(func(c *x509.Certificate) { c.PublicKey = x25519.PublicKey() }), wantErr: []error{ErrInvalidPublicKey}, wantMsg: "*ecdh.PublicKey"},
		"the CA's own key":       {template: tmpl(func(c *x509.Certificate) { c.PublicKey = ca.Cert.PublicKey }), wantErr: []error{ErrInvalidPublicKey}, wantMsg: "CA's own key"},
		"private key by mistake": {template: tmpl(func(c *x509.Certificate) { c.PublicKey = testKey(t, "p256") }), wantErr: []error{ErrInvalidPublicKey}},
		"no identity": {
			template: tmpl(func(c *x509.Certificate) { c.DNSNames = nil }),
			wantErr:  []error{ErrNoIdentity},
		},
		"zero validity":     {template: tmpl(func(c *x509.Certificate) { c.NotBefore, c.NotAfter = time.Time{}, time.Time{} }), wantErr: []error{ErrInvalidDuration}},
		"negative validity": {template: tmpl(func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(-time.Hour) }), wantErr: []error{ErrInvalidDuration}},
		"CA expired": {
			now: ca.Cert.NotAfter.Add(time.Second), template: leafTemplate(leafPub),
			wantErr: []error{ErrCAUnusable, ErrCAExpired}, wantMsg: "cannot sign: CA certificate",
		},
		"CA not yet valid": {
			now: ca.Cert.NotBefore.Add(-time.Second), template: leafTemplate(leafPub),
			wantErr: []error{ErrCAUnusable, ErrCANotYetValid},
		},
		"CA too close to expiry": {
			ca: expiring, template: leafTemplate(leafPub), opts: SignOptions{MinCARemaining: 31 * day},
			wantErr: []error{ErrCAUnusable}, wantMsg: "only 30 days from now, less than the required 31 days; rotate the CA",
		},
		"bundle without the CA": {
			bundle: NewBundle(expiring.Cert), template: leafTemplate(leafPub),
			wantErr: []error{ErrBundleMismatch},
		},
		"name that cannot be encoded": {
			template: leafTemplate(leafPub, "antrea.kube-sys\u0442em.svc"),
			wantErr:  []error{ErrSigningFailed},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			signCA := tc.ca
			if signCA == nil && name != "no CA" {
				signCA = ca
			}
			res, err := Sign(now, signCA, tc.bundle, tc.template, tc.opts)
			if err == nil {
				t.Fatalf("signed %v, want an error", res.Leaf.Subject)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to match %v", err, want)
				}
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

// A leaf lives exactly its requested duration (cert-manager's conformance suite allows 30 s
// either way), backdated for clock skew, unless the CA chain ends first.
func TestSignValidity(t *testing.T) {
	t.Parallel()
	leafPub := testKey(t, "p256").Public()
	short, err := GenerateCA(testNow.Add(-day), CAOptions{Lifetime: 31 * day}) // expires testNow+30d
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := GenerateCA(testNow.Add(time.Hour-30*time.Second), CAOptions{}) // valid since testNow-30s
	if err != nil {
		t.Fatal(err)
	}
	shortRoot := makeCA(t, certSpec{cn: "short-root", notAfter: testNow.Add(20 * day)}, nil)
	longInter := makeCA(t, certSpec{cn: "long-intermediate", notAfter: testNow.Add(60 * day)}, shortRoot)
	ca := testCA(t, ECDSAP256)
	ago := func(d time.Duration) time.Time { return testNow.Add(-d) }

	tests := map[string]struct {
		ca            *CA
		from          time.Time     // the template's NotBefore, testNow when zero
		duration      time.Duration // the template's NotAfter - NotBefore
		opts          SignOptions
		wantNotBefore time.Time
		wantNotAfter  time.Time // zero: wantNotBefore + duration
		wantTruncated bool
	}{
		"90 days":                        {ca: ca, duration: 90 * day, wantNotBefore: ago(time.Minute)},
		"only the duration counts":       {ca: ca, from: testNow.Add(-5 * 365 * day), duration: 2 * time.Hour, wantNotBefore: ago(time.Minute)},
		"one hour: the whole backdate":   {ca: ca, duration: time.Hour, wantNotBefore: ago(time.Minute)},
		"30 minutes: a 60th as backdate": {ca: ca, duration: 30 * time.Minute, wantNotBefore: ago(30 * time.Second)},
		"one minute: one second":         {ca: ca, duration: time.Minute, wantNotBefore: ago(time.Second)},
		"beyond the CA is truncated":     {ca: short, duration: 90 * day, wantNotBefore: ago(time.Minute), wantNotAfter: testNow.Add(30 * day), wantTruncated: true},
		"the CA's length is not":         {ca: short, duration: 30 * day, wantNotBefore: ago(time.Minute)},
		"enough CA left":                 {ca: short, duration: day, opts: SignOptions{MinCARemaining: 29 * day}, wantNotBefore: ago(time.Minute)},
		"never before the CA":            {ca: fresh, duration: day, wantNotBefore: ago(30 * time.Second)},
		"truncated at the issuer's root": {ca: longInter, duration: 90 * day, wantNotBefore: ago(time.Minute), wantNotAfter: testNow.Add(20 * day), wantTruncated: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl := leafTemplate(leafPub)
			if !tc.from.IsZero() {
				tmpl.NotBefore = tc.from
			}
			tmpl.NotAfter = tmpl.NotBefore.Add(tc.duration)
			res, err := Sign(testNow, tc.ca, Bundle{}, tmpl, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantNotAfter := tc.wantNotAfter
			if wantNotAfter.IsZero() {
				wantNotAfter = tc.wantNotBefore.Add(tc.duration)
			}
			leaf := res.Leaf
			if !leaf.NotBefore.Equal(tc.wantNotBefore) || !leaf.NotAfter.Equal(wantNotAfter) {
				t.Errorf("validity %s..%s, want %s..%s", leaf.NotBefore, leaf.NotAfter, tc.wantNotBefore, wantNotAfter)
			}
			if res.Truncated != tc.wantTruncated {
				t.Errorf("Truncated = %v", res.Truncated)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); !res.Truncated && got != tc.duration {
				t.Errorf("lifetime %s, want exactly %s", got, tc.duration)
			}
			if want := leaf.NotBefore.Add(tc.duration); !res.RequestedNotAfter.Equal(want) {
				t.Errorf("RequestedNotAfter = %s, want %s", res.RequestedNotAfter, want)
			}
			if err := verifyServerCert(t, res, NewBundle(tc.ca.Chain[len(tc.ca.Chain)-1]), testNow); err != nil {
				t.Errorf("leaf does not verify: %v", err)
			}
		})
	}
}

// Only vetted fields of the request reach the certificate.
func TestSignCopiesOnlyVettedFields(t *testing.T) {
	t.Parallel()
	ca := testCA(t, ECDSAP256)
	evilURL, _ := url.Parse("https://evil.example.com/crl")
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/antrea")
	allowedExts := []string{"2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.35", "2.5.29.37"}

	tests := map[string]struct {
		mod   func(*x509.Certificate)
		check func(*testing.T, *x509.Certificate)
	}{
		"extra extensions dropped": {
			mod: func(c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}
				c.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 5}, Value: []byte{5, 0}}}
			},
		},
		"CA-ish fields dropped": {
			mod: func(c *x509.Certificate) {
				c.MaxPathLen, c.MaxPathLenZero = 3, false
				c.PermittedDNSDomains = []string{"example.com"}
				c.PolicyIdentifiers = []asn1.ObjectIdentifier{{2, 5, 29, 32, 0}}
				c.CRLDistributionPoints = []string{evilURL.String()}
				c.OCSPServer = []string{evilURL.String()}
				c.IssuingCertificateURL = []string{evilURL.String()}
				c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 311, 10, 3, 4}}
			},
			check: func(t *testing.T, l *x509.Certificate) {
				if len(l.PermittedDNSDomains)+len(l.PolicyIdentifiers)+len(l.CRLDistributionPoints)+len(l.OCSPServer)+len(l.IssuingCertificateURL)+len(l.UnknownExtKeyUsage) != 0 {
					t.Errorf("unvetted fields copied")
				}
				if l.MaxPathLen > 0 {
					t.Errorf("MaxPathLen copied")
				}
			},
		},
		"request's own identifiers ignored": {
			mod: func(c *x509.Certificate) {
				c.SerialNumber = big.NewInt(1)
				c.SubjectKeyId = []byte("chosen")
				c.AuthorityKeyId = []byte("chosen")
				c.SignatureAlgorithm = x509.SHA1WithRSA
			},
			check: func(t *testing.T, l *x509.Certificate) {
				if l.SerialNumber.Cmp(big.NewInt(1)) == 0 || bytes.Equal(l.SubjectKeyId, []byte("chosen")) || bytes.Equal(l.AuthorityKeyId, []byte("chosen")) {
					t.Errorf("request chose serial or key identifiers")
				}
				if l.SignatureAlgorithm != x509.ECDSAWithSHA256 {
					t.Errorf("SignatureAlgorithm = %v", l.SignatureAlgorithm)
				}
			},
		},
		"subject extra names dropped": {
			mod: func(c *x509.Certificate) {
				c.Subject = pkix.Name{CommonName: antreaSvc, Organization: []string{"antrea"}, ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "evil.example.com"}}}
			},
			check: func(t *testing.T, l *x509.Certificate) {
				if l.Subject.String() != "CN=antrea.kube-system.svc,O=antrea" {
					t.Errorf("subject = %s", l.Subject)
				}
			},
		},
		"SANs and case kept as requested": {
			mod: func(c *x509.Certificate) {
				c.DNSNames = []string{"ANTREA.kube-system.svc"}
				c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
				c.URIs = []*url.URL{spiffe}
				c.EmailAddresses = []string{"ops@example.com"}
			},
			check: func(t *testing.T, l *x509.Certificate) {
				// cert-manager compares the issued names with its spec: changing case would loop.
				if !slices.Equal(l.DNSNames, []string{"ANTREA.kube-system.svc"}) || len(l.IPAddresses) != 1 || len(l.URIs) != 1 || len(l.EmailAddresses) != 1 {
					t.Errorf("SANs %v %v %v %v", l.DNSNames, l.IPAddresses, l.URIs, l.EmailAddresses)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl := leafTemplate(testKey(t, "p256").Public())
			tc.mod(tmpl)
			res, err := Sign(testNow, ca, Bundle{}, tmpl, SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range res.Leaf.Extensions {
				if !slices.Contains(allowedExts, ext.Id.String()) {
					t.Errorf("unexpected extension %s in the leaf", ext.Id)
				}
			}
			if res.Leaf.IsCA {
				t.Errorf("leaf is a CA")
			}
			if tc.check != nil {
				tc.check(t, res.Leaf)
			}
		})
	}
}

// A user-provided intermediate: tls.crt carries the whole chain, ca.crt the intermediate.
func TestSignIntermediate(t *testing.T) {
	t.Parallel()
	root := makeCA(t, certSpec{cn: "user-root"}, nil)
	inter := makeCA(t, certSpec{cn: "user-intermediate"}, root)
	loaded, err := LoadCA(certPEM(inter.Chain...), pkcs8PEM(t, inter.Key), testNow)
	if err != nil {
		t.Fatal(err)
	}
	gens := Generations{Active: loaded}
	res, err := Sign(testNow, loaded, gens.Bundle(), leafTemplate(testKey(t, "p256").Public()), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		anchors Bundle
		wantErr bool
	}{
		"published bundle (the intermediate)": {anchors: NewBundle(inter.Cert)},
		"the user's root":                     {anchors: NewBundle(root.Cert)},
		"an unrelated root":                   {anchors: NewBundle(makeCA(t, certSpec{cn: "other"}, nil).Cert), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := bytes.Count(res.ChainPEM, []byte("BEGIN CERTIFICATE")); got != 3 {
				t.Errorf("ChainPEM holds %d certificates, want leaf, intermediate, root", got)
			}
			if !bytes.Equal(res.ChainPEM, append(certPEM(res.Leaf), certPEM(inter.Chain...)...)) {
				t.Errorf("ChainPEM is not leaf + chain")
			}
			if !bytes.Equal(res.CAPEM, certPEM(inter.Cert)) {
				t.Errorf("CAPEM is not the intermediate")
			}
			if err := verifyServerCert(t, res, tc.anchors, testNow); (err != nil) != tc.wantErr {
				t.Errorf("verify: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignBundle(t *testing.T) {
	t.Parallel()
	prev, active, next := rotationCAs(t)
	root := makeCA(t, certSpec{cn: "user-root"}, nil)
	inter := makeCA(t, certSpec{cn: "user-intermediate"}, root)
	tests := map[string]struct {
		ca     *CA
		bundle Bundle
		want   []byte
	}{
		"empty bundle means the CA":   {ca: active, want: certPEM(active.Cert)},
		"prepared: active and next":   {ca: active, bundle: Generations{Active: active, Next: next}.Bundle(), want: certPEM(active.Cert, next.Cert)},
		"activated: new and previous": {ca: next, bundle: Generations{Active: next, Previous: prev.Cert}.Bundle(), want: certPEM(next.Cert, prev.Cert)},
		"root of the chain suffices":  {ca: inter, bundle: NewBundle(root.Cert), want: certPEM(root.Cert)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := Sign(testNow, tc.ca, tc.bundle, leafTemplate(testKey(t, "p256").Public()), SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.CAPEM, tc.want) {
				t.Errorf("CAPEM = %s", res.CAPEM)
			}
		})
	}
}

func rdn(attrs ...pkix.AttributeTypeAndValue) pkix.RelativeDistinguishedNameSET { return attrs }

func attr(oid asn1.ObjectIdentifier, value any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: value}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

func marshalSubject(t testing.TB, rdns ...pkix.RelativeDistinguishedNameSET) []byte {
	t.Helper()
	der, err := asn1.Marshal(pkix.RDNSequence(rdns))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The subject reaches the certificate exactly as requested (cert-manager's literalSubject keeps
// its order), or the request is refused: never a subject the policy did not see.
func TestSignSubject(t *testing.T) {
	t.Parallel()
	ca := testCA(t, ECDSAP256)
	literal := marshalSubject(t, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidOU, "FooLong")), rdn(attr(oidOU, "Bar")), rdn(attr(oidO, "Corp.")))
	multiValued := marshalSubject(t, rdn(attr(oidCN, antreaSvc), attr(oidO, "Corp.")))
	goOrder, err := asn1.Marshal(pkix.Name{CommonName: antreaSvc, Organization: []string{"Corp."}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		raw     []byte                  // the CSR's subject
		mod     func(*x509.Certificate) // applied to the template built from the CSR
		wantRaw []byte                  // the leaf's subject; nil: the CSR's
		wantMsg string                  // a refusal with ErrUnsupportedSubject
	}{
		"literal order kept":               {raw: literal},
		"multi-valued RDN kept":            {raw: multiValued},
		"Go's own encoding, as before":     {raw: goOrder},
		"empty subject":                    {raw: marshalSubject(t)},
		"no raw subject: built as before":  {raw: goOrder, mod: func(c *x509.Certificate) { c.RawSubject = nil }, wantRaw: goOrder},
		"two common names":                 {raw: marshalSubject(t, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidCN, "evil.example.com"))), wantMsg: `the subject holds 2 common names ("antrea.kube-system.svc", "evil.example.com")`},
		"email attribute":                  {raw: marshalSubject(t, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidEmail, "ops@example.com"))), wantMsg: `the subject attribute emailAddress (1.2.840.113549.1.9.1) "ops@example.com" is not supported`},
		"organization that is no string":   {raw: marshalSubject(t, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidO, 5))), wantMsg: "the subject attribute O (2.5.4.10) does not hold a string"},
		"raw subject differs from Subject": {raw: literal, mod: func(c *x509.Certificate) { c.Subject.CommonName = antreaFQDN }, wantMsg: `differs from the subject "CN=antrea.kube-system.svc.cluster.local,OU=FooLong+OU=Bar,O=Corp." the policy evaluated`},
		"raw subject that does not parse":  {raw: goOrder, mod: func(c *x509.Certificate) { c.RawSubject = []byte{0x30, 0x03, 1, 2} }, wantMsg: "does not parse"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			csr := makeCSR(t, testKey(t, "p256"), &x509.CertificateRequest{RawSubject: tc.raw, DNSNames: []string{antreaSvc}})
			tmpl, err := TemplateFromCSR(csr, testNow, 90*day, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
			if err != nil {
				t.Fatal(err)
			}
			if tc.mod != nil {
				tc.mod(tmpl)
			}
			res, err := Sign(testNow, ca, Bundle{}, tmpl, SignOptions{})
			if tc.wantMsg != "" {
				if !errors.Is(err, ErrUnsupportedSubject) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want ErrUnsupportedSubject containing %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantRaw
			if want == nil {
				want = tc.raw
			}
			if !bytes.Equal(res.Leaf.RawSubject, want) {
				t.Errorf("subject %q, want %x", res.Leaf.Subject, want)
			}
			// RFC 5280, 4.2.1.6: with an empty subject the SANs are the identity and critical.
			for _, ext := range res.Leaf.Extensions {
				if ext.Id.Equal(oidSubjectAltName) && ext.Critical != (len(res.Leaf.Subject.Names) == 0) {
					t.Errorf("SAN critical = %v for subject %q", ext.Critical, res.Leaf.Subject)
				}
			}
		})
	}
}
