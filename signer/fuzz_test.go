package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"antrea.io/antrea-issuer/internal/csrfuzz"
)

// sentinels is every error the package wraps; each returned error must match one, or the
// callers' errors.Is branches would miss it.
var sentinels = []error{
	ErrMalformedPEM, ErrNoCertificate, ErrNoKey, ErrMalformedCertificate, ErrMalformedKey, ErrUnsupportedKey,
	ErrAmbiguousKey, ErrKeyMismatch, ErrNotCA, ErrNoCertSign, ErrCANotYetValid, ErrCAExpired, ErrBrokenChain,
	ErrInvalidCAOptions, ErrInvalidGenerations, ErrCAUnusable, ErrBundleMismatch, ErrInvalidDuration,
	ErrCARequested, ErrInvalidPublicKey, ErrNoIdentity, ErrSigningFailed, ErrCSRTooLarge, ErrMalformedCSR,
	ErrBadCSRSignature, ErrPolicyViolation, ErrInvalidPolicy, ErrUnsupportedSubject,
}

// stdPEM is the reference rendering appendPEM must reproduce.
func stdPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func assertTyped(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error matches no sentinel: %v", err)
}

// fuzzFixture holds the fixed CAs the fuzz targets sign with: a root that expires in 200
// days (so that the policy's 397-day maximum reaches the truncation path) and an
// intermediate under it.
type fuzzFixture struct {
	root, inter *CA
	csrKey      ed25519.PrivateKey // the key of the seed CSRs; see resignCSR
}

var (
	fuzzOnce sync.Once
	fuzzFx   fuzzFixture
)

func fuzzFixtures(tb testing.TB) fuzzFixture {
	fuzzOnce.Do(func() {
		root := makeCA(tb, certSpec{cn: "fuzz-root", notAfter: testNow.Add(200 * day)}, nil)
		fuzzFx = fuzzFixture{
			root:   root,
			inter:  makeCA(tb, certSpec{cn: "fuzz-intermediate", notAfter: testNow.Add(5 * 365 * day)}, root),
			csrKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
		}
	})
	return fuzzFx
}

func FuzzLoadCA(f *testing.F) {
	fx := fuzzFixtures(f)
	rsaCA := makeCA(f, certSpec{cn: "rsa", key: testKey(f, "rsa2048")}, nil)
	ec := testCA(f, ECDSAP256)
	sec1, err := x509.MarshalECPrivateKey(ec.Key.(*ecdsa.PrivateKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ec.CertPEM(), mustKeyPEM(f, ec))
	f.Add(fx.root.CertPEM(), mustKeyPEM(f, fx.root))
	f.Add(fx.inter.CertPEM(), mustKeyPEM(f, fx.inter))
	f.Add(certPEM(rsaCA.Cert), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaCA.Key.(*rsa.PrivateKey))}))
	f.Add(testCA(f, Ed25519).CertPEM(), mustKeyPEM(f, testCA(f, Ed25519)))
	f.Add(ec.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add(mustKeyPEM(f, ec), ec.CertPEM())
	f.Add([]byte("garbage"), []byte("-----BEGIN PRIVATE KEY-----\n"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, certData, keyData []byte) {
		ca, err := LoadCA(certData, keyData, testNow)
		if err != nil {
			assertTyped(t, err)
			assertNoKeyMaterial(t, err, keyData)
			return
		}
		if !ca.Cert.IsCA || !ca.Cert.BasicConstraintsValid || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Fatalf("accepted a certificate that cannot sign")
		}
		if !publicKeysEqual(ca.Key.Public(), ca.Cert.PublicKey) {
			t.Fatalf("accepted a mismatched key")
		}
		if testNow.Before(ca.Cert.NotBefore) || testNow.After(ca.Cert.NotAfter) {
			t.Fatalf("accepted a CA outside its validity")
		}
		if !bytes.Equal(ca.CertPEM(), stdPEM(ca.Chain...)) {
			t.Fatalf("CertPEM differs from encoding/pem")
		}
		keyPEM, err := ca.KeyPEM()
		if err != nil {
			t.Fatalf("KeyPEM: %v", err)
		}
		again, err := LoadCA(ca.CertPEM(), keyPEM, testNow)
		if err != nil {
			t.Fatalf("re-rendered CA does not load: %v", err)
		}
		keyAgain, _ := again.KeyPEM()
		if !bytes.Equal(again.CertPEM(), ca.CertPEM()) || !bytes.Equal(keyAgain, keyPEM) {
			t.Fatalf("rendering is not stable")
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	fx := fuzzFixtures(f)
	f.Add(fx.root.CertPEM())
	f.Add(fx.inter.CertPEM())
	f.Add(certPEM(fx.root.Cert, fx.inter.Cert, fx.root.Cert))
	f.Add(append([]byte("# comment\n"), fx.root.CertPEM()...))
	f.Add(mustKeyPEM(f, fx.root))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			assertTyped(t, err)
			return
		}
		if b.Len() == 0 {
			t.Fatalf("accepted an empty bundle")
		}
		certs := b.Certificates()
		for i := range certs {
			for j := i + 1; j < len(certs); j++ {
				if bytes.Equal(certs[i].Raw, certs[j].Raw) {
					t.Fatalf("duplicate certificate kept")
				}
			}
		}
		p := b.PEM()
		if !bytes.Equal(p, stdPEM(certs...)) {
			t.Fatalf("PEM differs from encoding/pem")
		}
		again, err := ParseBundle(p)
		if err != nil {
			t.Fatalf("rendered bundle does not parse: %v", err)
		}
		if !again.Equal(b) || !bytes.Equal(again.PEM(), p) || !bytes.Equal(NewBundle(certs...).PEM(), p) {
			t.Fatalf("rendering is not deterministic")
		}
	})
}

func csrDER(t testing.TB, key crypto.Signer, req *x509.CertificateRequest) []byte {
	t.Helper()
	return mustDecode(t, makeCSR(t, key, req))
}

func FuzzSignFromCSR(f *testing.F) {
	fx := fuzzFixtures(f)
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/antrea")
	literal := marshalSubject(f, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidOU, "b"), attr(oidOU, "a")), rdn(attr(oidO, "Corp.")))
	seeds := []*x509.CertificateRequest{
		{DNSNames: []string{antreaSvc, antreaFQDN}},
		{Subject: pkix.Name{CommonName: antreaSvc}, DNSNames: []string{antreaSvc}},
		{DNSNames: []string{"ANTREA.KUBE-SYSTEM.SVC"}},
		{DNSNames: []string{"antrea.kube-system.svc.evil.com"}},
		{DNSNames: []string{"antrea.kube-system.svc."}},
		{DNSNames: []string{"*.kube-system.svc"}},
		{DNSNames: []string{antreaSvc}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}},
		{DNSNames: []string{antreaSvc}, URIs: []*url.URL{spiffe}, EmailAddresses: []string{"a@b.c"}},
		{Subject: pkix.Name{CommonName: "antrea.\u212aube-system.svc"}, DNSNames: []string{antreaSvc}},
		{DNSNames: []string{antreaSvc}, ExtraExtensions: []pkix.Extension{basicConstraintsExt(f, true)}},
		{Subject: pkix.Name{CommonName: antreaSvc}},
		// Antrea's documented Certificate, and what only a permissive policy allows.
		{Subject: pkix.Name{CommonName: "antrea"}, DNSNames: []string{antreaSvc, antreaFQDN}},
		{Subject: pkix.Name{CommonName: "test-common-name-abc"}},
		{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}},
		{RawSubject: literal, DNSNames: []string{antreaSvc}},
		// What a certificate would not carry: refused by RequestViolations.
		{ExtraExtensions: []pkix.Extension{sanExtension(f, dnsSAN(f, antreaSvc), otherNameSAN(f, oidUPN, "alice@example.com"))}},
		{RawSubject: marshalSubject(f, rdn(attr(oidCN, antreaSvc)), rdn(attr(oidCN, "evil"))), DNSNames: []string{antreaSvc}},
		{RawSubject: marshalSubject(f, rdn(attr(oidEmail, "a@b.c"))), DNSNames: []string{antreaSvc}},
		{DNSNames: []string{antreaSvc}, ExtraExtensions: []pkix.Extension{{Id: oidTLSFeat, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}}},
	}
	for i, req := range seeds {
		minutes := uint32(90 * 24 * 60)
		switch i % 4 {
		case 1:
			minutes = 300 * 24 * 60 // beyond the fixture root: truncated
		case 3:
			minutes = 30 // a short certificate: backdated 30 s (permissive policy only)
		}
		f.Add(csrDER(f, fx.csrKey, req), false, true, minutes, i%2 == 0, i%3 != 0)
	}
	f.Add(makeCSR(f, testKey(f, "p256"), seeds[0]), true, false, uint32(24*60), false, false)
	f.Add(csrDER(f, testKey(f, "rsa2048"), seeds[0]), false, false, uint32(60), true, true)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n"), true, false, uint32(0), false, false)

	antrea := AntreaPolicy("kube-system", "")
	// permissive allows what cert-manager's Certificates express, short of a CA.
	permissive := Policy{
		DNSNames: starPatterns(8), CommonNames: starPatterns(8), DNSNamesOptional: true,
		AllowIPAddresses: true, AllowURIs: true, AllowEmailAddresses: true, AllowWildcards: true,
		KeyUsages: everyKeyUsage(), ExtKeyUsages: everyExtKeyUsage(), MinDuration: time.Minute,
	}
	f.Fuzz(func(t *testing.T, data []byte, asPEM, fixSignature bool, minutes uint32, viaIntermediate, permissivePolicy bool) {
		csrPEM := data
		if !asPEM {
			if fixSignature {
				data = csrfuzz.Resign(data, fx.csrKey)
			}
			csrPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: data})
		}
		duration := time.Duration(minutes) * time.Minute
		tmpl, err := TemplateFromCSR(csrPEM, testNow, duration,
			x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
		if err != nil {
			assertTyped(t, err)
			return
		}
		block, _ := pem.Decode(csrPEM)
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			t.Fatalf("TemplateFromCSR accepted a request that does not parse: %v", err)
		}
		policy := antrea
		if permissivePolicy {
			policy = permissive
		}
		if err := policy.EvaluateRequest(csr, tmpl); err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Violations) == 0 || !errors.Is(err, ErrPolicyViolation) {
				t.Fatalf("refusal is not a *PolicyError: %v", err)
			}
			return
		}
		if tmpl.IsCA {
			t.Fatalf("policy accepted a CA request")
		}
		ca := fx.root
		if viaIntermediate {
			ca = fx.inter
		}
		bundle := NewBundle(ca.Cert)
		res, err := Sign(testNow, ca, bundle, tmpl, SignOptions{})
		if err != nil {
			assertTyped(t, err) // e.g. a weak RSA key the policy does not look at
			if errors.Is(err, ErrUnsupportedSubject) {
				t.Fatalf("RequestViolations passed a subject Sign refuses: %v", err)
			}
			return
		}
		leaf := res.Leaf
		if leaf.IsCA {
			t.Fatalf("signed a CA")
		}
		// The lifetime is exactly the requested duration, backdated for clock skew, unless the
		// CA chain ends first.
		if want := testNow.Add(-min(time.Minute, duration/60)); !leaf.NotBefore.Equal(want) {
			t.Fatalf("NotBefore %s, want %s", leaf.NotBefore, want)
		}
		if !res.RequestedNotAfter.Equal(leaf.NotBefore.Add(duration)) {
			t.Fatalf("RequestedNotAfter %s is not NotBefore + %s", res.RequestedNotAfter, duration)
		}
		if got := leaf.NotAfter.Sub(leaf.NotBefore); got != duration && !res.Truncated {
			t.Fatalf("lifetime %s, want exactly %s", got, duration)
		}
		if leaf.NotAfter.After(ca.Cert.NotAfter) || leaf.NotAfter.After(fx.root.Cert.NotAfter) || leaf.NotAfter.After(res.RequestedNotAfter) {
			t.Fatalf("leaf outlives its CA chain or the request")
		}
		if res.Truncated != res.RequestedNotAfter.After(fx.root.Cert.NotAfter) {
			t.Fatalf("Truncated = %v for requested %s and CA end %s", res.Truncated, res.RequestedNotAfter, fx.root.Cert.NotAfter)
		}
		// What was issued passes the policy that allowed the request.
		issued := *leaf
		issued.NotAfter = res.RequestedNotAfter
		if err := policy.Evaluate(&issued); err != nil {
			t.Fatalf("issued certificate violates the policy: %v", err)
		}
		// Nothing asked for is missing: the subject as requested, every SAN.
		if !publicKeysEqual(leaf.PublicKey, tmpl.PublicKey) || strings.Join(leaf.DNSNames, ",") != strings.Join(tmpl.DNSNames, ",") {
			t.Fatalf("leaf differs from the request")
		}
		if !bytes.Equal(leaf.RawSubject, csr.RawSubject) {
			t.Fatalf("subject %q, requested %x", leaf.Subject, csr.RawSubject)
		}
		if got, want := sanCount(t, leaf.Extensions), sanCount(t, csr.Extensions); got != want {
			t.Fatalf("leaf has %d SANs, the request %d", got, want)
		}
		if !bytes.Equal(res.ChainPEM, stdPEM(append([]*x509.Certificate{leaf}, ca.Chain...)...)) || !bytes.Equal(res.CAPEM, stdPEM(ca.Cert)) {
			t.Fatalf("ChainPEM or CAPEM differs from encoding/pem")
		}
		if err := verifyLeaf(res, bundle); err != nil {
			t.Fatalf("leaf does not verify against the bundle: %v", err)
		}
	})
}

// sanCount counts the GeneralNames of the subjectAltName extension among exts.
func sanCount(t *testing.T, exts []pkix.Extension) int {
	for _, ext := range exts {
		if ext.Id.Equal(oidSubjectAltName) {
			var names []asn1.RawValue
			if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
				t.Fatalf("SAN extension: %v", err)
			}
			return len(names)
		}
	}
	return 0
}

// verifyLeaf is verifyServerCert for whatever names and usages the leaf carries.
func verifyLeaf(res *Result, bundle Bundle) error {
	intermediates := x509.NewCertPool()
	for rest := res.ChainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			intermediates.AddCert(c)
		}
	}
	opts := x509.VerifyOptions{Roots: bundle.CertPool(), Intermediates: intermediates, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if len(res.Leaf.DNSNames) > 0 && !strings.HasPrefix(res.Leaf.DNSNames[0], "*") {
		opts.DNSName = res.Leaf.DNSNames[0]
	}
	_, err := res.Leaf.Verify(opts)
	return err
}

// labelRE is one LDH label; '*' in a pattern stands for exactly one of them.
const labelRE = `([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)`

var (
	labelOnly  = regexp.MustCompile(`^` + labelRE + `$`)
	patternREs sync.Map // "<wildcards>|<pattern>" -> *regexp.Regexp
)

// patternRegexp is an oracle written independently of names.go: the pattern with each
// '*' replaced by one label (or a literal '*' when wildcards are allowed). Compiled
// regexps are cached: compiling them per input would dominate the fuzzing time.
func patternRegexp(pattern string, wildcards bool) *regexp.Regexp {
	key := fmt.Sprint(wildcards, "|", pattern)
	if re, ok := patternREs.Load(key); ok {
		return re.(*regexp.Regexp)
	}
	star := labelRE
	if wildcards {
		star = `(\*|` + labelRE + `)`
	}
	parts := strings.Split(strings.ToLower(pattern), ".")
	for i, p := range parts {
		if p == "*" {
			parts[i] = star
		} else {
			parts[i] = regexp.QuoteMeta(p)
		}
	}
	re := regexp.MustCompile(`^` + strings.Join(parts, `\.`) + `$`)
	patternREs.Store(key, re)
	return re
}

func FuzzPolicyEvaluate(f *testing.F) {
	for _, s := range []string{
		antreaSvc, antreaFQDN, "ANTREA.Kube-System.svc", "antrea.kube-system.svc.", "antrea.a.b.svc", "antrea..svc",
		"*.kube-system.svc", "antrea.\u212aube-system.svc", "antrea.xn--80ak6aa92e.svc", "xn--bcher-kva.example.org",
		"www.example.com", "*.example.com", "a.b.c.d", "a.*.*.d", "antrea.kube-system.svc\x00", "-a.example.com", "",
	} {
		f.Add(s, false, "ns")
		f.Add(s, true, "xn--p1ai")
	}
	base := AntreaPolicy("kube-system", "")
	f.Fuzz(func(t *testing.T, name string, wildcards bool, label string) {
		patterned := base
		patterned.DNSNames = []string{"antrea.*.svc", "*.example.com", "xn--bcher-kva.example.org", "a.*.*.d", "*"}
		patterned.AllowWildcards = wildcards
		for _, p := range []Policy{base, patterned} {
			evaluate := func(n string) error { return p.Evaluate(request(names(n))) }
			err := evaluate(name)
			if err != nil {
				var pe *PolicyError
				if !errors.As(err, &pe) || len(pe.Violations) != 1 || pe.Violations[0].Field != "dnsNames" || pe.Violations[0].Value != name {
					t.Fatalf("refusal of %q does not name it: %v", name, err)
				}
				continue
			}
			// Soundness: an accepted name is ASCII and is one of the pattern expansions.
			if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0 {
				t.Fatalf("accepted non-ASCII %q", name)
			}
			lower := strings.ToLower(name)
			matched := false
			for _, pat := range p.DNSNames {
				m := patternRegexp(pat, p.AllowWildcards).FindStringSubmatch(lower)
				if m == nil {
					continue
				}
				// Labels matched by '*' are never IDN (xn--) labels.
				nl, pl := strings.Split(lower, "."), strings.Split(pat, ".")
				idn := false
				for i := range pl {
					idn = idn || (pl[i] == "*" && strings.HasPrefix(nl[i], "xn--"))
				}
				matched = matched || !idn
			}
			if !matched {
				t.Fatalf("accepted %q, which no pattern of %v expands to", name, p.DNSNames)
			}
			if err := evaluate(name + "."); err == nil {
				t.Fatalf("accepted %q with a trailing dot", name)
			}
			if err := evaluate(strings.ToUpper(name)); err != nil {
				t.Fatalf("case changes the decision for %q: %v", name, err)
			}
		}
		// Completeness: every expansion with a valid, non-IDN label is accepted.
		if regexp.MustCompile(`^`+labelRE+`$`).MatchString(strings.ToLower(label)) && !strings.HasPrefix(strings.ToLower(label), "xn--") {
			for _, n := range []string{"antrea." + label + ".svc", label + ".example.com", "a." + label + "." + label + ".d", label} {
				if err := patterned.Evaluate(request(names(n))); err != nil {
					t.Fatalf("refused expansion %q: %v", n, err)
				}
			}
		}
	})
}
