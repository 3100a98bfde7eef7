package signer

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestBundle(t *testing.T) {
	t.Parallel()
	a := makeCA(t, certSpec{cn: "a"}, nil).Cert
	b := makeCA(t, certSpec{cn: "b"}, nil).Cert
	c := makeCA(t, certSpec{cn: "c", notBefore: testNow.Add(-2 * day), notAfter: testNow.Add(-day)}, nil).Cert
	// A second parse of a's DER: a different pointer, the same certificate.
	aCopy, err := x509.ParseCertificate(a.Raw)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		in          []*x509.Certificate
		want        []*x509.Certificate
		wantLive    []*x509.Certificate // WithoutExpired(testNow)
		notContains []*x509.Certificate
	}{
		"empty":                 {in: nil, want: nil, wantLive: nil, notContains: []*x509.Certificate{a}},
		"nil entries skipped":   {in: []*x509.Certificate{nil, a, nil}, want: []*x509.Certificate{a}, wantLive: []*x509.Certificate{a}},
		"insertion order kept":  {in: []*x509.Certificate{b, a}, want: []*x509.Certificate{b, a}, wantLive: []*x509.Certificate{b, a}, notContains: []*x509.Certificate{c}},
		"duplicate keeps first": {in: []*x509.Certificate{a, b, aCopy, b}, want: []*x509.Certificate{a, b}, wantLive: []*x509.Certificate{a, b}},
		"expired dropped":       {in: []*x509.Certificate{c, a, b}, want: []*x509.Certificate{c, a, b}, wantLive: []*x509.Certificate{a, b}},
		"only expired":          {in: []*x509.Certificate{c}, want: []*x509.Certificate{c}, wantLive: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bundle := NewBundle(tc.in...)
			assertCerts(t, "Certificates", bundle.Certificates(), tc.want)
			assertCerts(t, "WithoutExpired", bundle.WithoutExpired(testNow).Certificates(), tc.wantLive)
			if bundle.Len() != len(tc.want) {
				t.Errorf("Len = %d", bundle.Len())
			}
			for _, w := range tc.want {
				if !bundle.Contains(w) {
					t.Errorf("Contains(%s) = false", w.Subject.CommonName)
				}
			}
			for _, n := range tc.notContains {
				if bundle.Contains(n) {
					t.Errorf("Contains(%s) = true", n.Subject.CommonName)
				}
			}
			if bundle.Contains(nil) {
				t.Errorf("Contains(nil) = true")
			}

			// PEM: the same set and order give the same bytes, in the canonical form.
			p := bundle.PEM()
			if again := NewBundle(tc.want...).PEM(); !bytes.Equal(p, again) {
				t.Errorf("PEM differs between equal bundles")
			}
			if !bytes.Equal(p, certPEM(tc.want...)) {
				t.Errorf("PEM is not the concatenation of the certificates")
			}
			assertCanonicalPEM(t, p, len(tc.want))
			if len(tc.want) > 0 {
				parsed, err := ParseBundle(p)
				if err != nil {
					t.Fatal(err)
				}
				if !parsed.Equal(bundle) {
					t.Errorf("ParseBundle(PEM()) is not the same bundle")
				}
			}

			// Mutating the returned slice must not change the bundle.
			if certs := bundle.Certificates(); len(certs) > 0 {
				certs[0] = nil
				if bundle.Certificates()[0] == nil {
					t.Errorf("Certificates exposes internal storage")
				}
			}
		})
	}
}

// The bundle's pool verifies a leaf of each member and nothing else.
func TestBundleCertPool(t *testing.T) {
	t.Parallel()
	inBundle := testCA(t, ECDSAP256)
	outside := makeCA(t, certSpec{cn: "outside", key: testKey(t, "outside-ca")}, nil)
	bundle := NewBundle(makeCA(t, certSpec{cn: "other"}, nil).Cert, inBundle.Cert)
	tests := map[string]struct {
		ca      *CA
		wantErr bool
	}{
		"signed by a bundle member": {ca: inBundle},
		"signed by an outsider":     {ca: outside, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := Sign(testNow, tc.ca, Bundle{}, leafTemplate(testKey(t, "leaf").Public()), SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyServerCert(t, res, bundle, testNow); (err != nil) != tc.wantErr {
				t.Errorf("verify: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// Signed answers for what a member signed, and only that.
func TestBundleSigned(t *testing.T) {
	t.Parallel()
	member, outside := makeCA(t, certSpec{cn: "member"}, nil), makeCA(t, certSpec{cn: "outside"}, nil)
	bundle := NewBundle(makeCA(t, certSpec{cn: "other"}, nil).Cert, member.Cert)
	for name, tc := range map[string]struct {
		c    *x509.Certificate
		want bool
	}{
		"signed by a member":    {c: makeCA(t, certSpec{cn: "leaf", notCA: true}, member).Cert, want: true},
		"signed by an outsider": {c: makeCA(t, certSpec{cn: "leaf", notCA: true}, outside).Cert},
		"nil":                   {},
	} {
		if got := bundle.Signed(tc.c); got != tc.want {
			t.Errorf("%s: Signed = %v, want %v", name, got, tc.want)
		}
	}
	if (Bundle{}).Signed(member.Cert) {
		t.Error("an empty bundle signed something")
	}
}

func TestParseBundle(t *testing.T) {
	t.Parallel()
	a := makeCA(t, certSpec{cn: "a"}, nil).Cert
	b := makeCA(t, certSpec{cn: "b"}, nil).Cert
	two := certPEM(a, b)
	tests := map[string]struct {
		in      []byte
		want    []*x509.Certificate
		wantErr error
	}{
		"one":                      {in: certPEM(a), want: []*x509.Certificate{a}},
		"two in order":             {in: two, want: []*x509.Certificate{a, b}},
		"duplicates dropped":       {in: certPEM(b, a, b), want: []*x509.Certificate{b, a}},
		"comments around blocks":   {in: append([]byte("# CA bundle\n"), append(two, "end\n"...)...), want: []*x509.Certificate{a, b}},
		"CRLF line endings":        {in: bytes.ReplaceAll(two, []byte("\n"), []byte("\r\n")), want: []*x509.Certificate{a, b}},
		"empty":                    {in: nil, wantErr: ErrNoCertificate},
		"whitespace":               {in: []byte("\n\n"), wantErr: ErrNoCertificate},
		"garbage":                  {in: []byte("not a bundle"), wantErr: ErrMalformedPEM},
		"private key block":        {in: append(certPEM(a), pkcs8PEM(t, testKey(t, "p256"))...), wantErr: ErrMalformedPEM},
		"truncated second block":   {in: two[:len(two)-40], wantErr: ErrMalformedPEM},
		"certificate that fails":   {in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}), wantErr: ErrMalformedCertificate},
		"certificate request type": {in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: a.Raw}), wantErr: ErrMalformedPEM},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBundle(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "CA bundle") {
					t.Errorf("err = %q, want it to name the CA bundle", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertCerts(t, "ParseBundle", got.Certificates(), tc.want)
		})
	}
}

func assertCerts(t *testing.T, what string, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d certificates, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Errorf("%s[%d] = %s, want %s", what, i, got[i].Subject.CommonName, want[i].Subject.CommonName)
		}
	}
}

// assertCanonicalPEM checks the format Antrea and kube-apiserver consumers expect:
// n CERTIFICATE blocks, no headers, 64-column base64, a trailing newline.
func assertCanonicalPEM(t *testing.T, p []byte, n int) {
	t.Helper()
	if n == 0 {
		if len(p) != 0 {
			t.Errorf("empty bundle renders %q", p)
		}
		return
	}
	if p[len(p)-1] != '\n' || bytes.Contains(p, []byte("\r")) || bytes.Contains(p, []byte("\n\n")) {
		t.Errorf("PEM is not newline-clean")
	}
	if got := bytes.Count(p, []byte("-----BEGIN CERTIFICATE-----\n")); got != n {
		t.Errorf("%d CERTIFICATE blocks, want %d", got, n)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		if strings.HasPrefix(line, "-----") {
			continue
		}
		if len(line) > 64 || strings.Contains(line, ":") {
			t.Errorf("non-canonical line %q", line)
		}
	}
}
