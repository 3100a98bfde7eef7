package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

// makeCSR returns a PEM CSR for key with the given request fields.
func makeCSR(t testing.TB, key crypto.Signer, req *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, req, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func basicConstraintsExt(t testing.TB, isCA bool) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{IsCA: isCA, MaxPathLen: -1})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: v}
}

func TestTemplateFromCSR(t *testing.T) {
	t.Parallel()
	key := testKey(t, "p256")
	antrea := &x509.CertificateRequest{Subject: pkix.Name{CommonName: antreaSvc}, DNSNames: []string{antreaSvc, antreaFQDN}}
	valid := makeCSR(t, key, antrea)
	withExt := func(ext pkix.Extension) []byte {
		r := *antrea
		r.ExtraExtensions = []pkix.Extension{ext}
		return makeCSR(t, key, &r)
	}
	der := mustDecode(t, valid)
	badSig := slices.Clone(der)
	badSig[len(badSig)-1] ^= 0xff
	reblock := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	ku := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment

	tests := map[string]struct {
		csr      []byte
		wantErr  error
		wantIsCA bool
		check    func(*testing.T, *x509.Certificate)
	}{
		"antrea request": {
			csr: valid,
			check: func(t *testing.T, c *x509.Certificate) {
				if c.Subject.CommonName != antreaSvc || !slices.Equal(c.DNSNames, []string{antreaSvc, antreaFQDN}) || !publicKeysEqual(c.PublicKey, key.Public()) {
					t.Errorf("subject %s, names %v", c.Subject, c.DNSNames)
				}
				if !c.NotBefore.Equal(testNow) || !c.NotAfter.Equal(testNow.Add(90*day)) || c.KeyUsage != ku || !slices.Equal(c.ExtKeyUsage, eku) {
					t.Errorf("validity %s..%s usages %b %v", c.NotBefore, c.NotAfter, c.KeyUsage, c.ExtKeyUsage)
				}
			},
		},
		"all SAN types copied": {
			csr: makeCSR(t, key, &x509.CertificateRequest{DNSNames: []string{"a.example"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, EmailAddresses: []string{"a@example.com"}}),
			check: func(t *testing.T, c *x509.Certificate) {
				if len(c.DNSNames) != 1 || len(c.IPAddresses) != 1 || len(c.EmailAddresses) != 1 {
					t.Errorf("SANs not copied")
				}
			},
		},
		"basic constraints CA:TRUE":  {csr: withExt(basicConstraintsExt(t, true)), wantIsCA: true},
		"basic constraints CA:FALSE": {csr: withExt(basicConstraintsExt(t, false))},
		"old PEM type":               {csr: reblock("NEW CERTIFICATE REQUEST", der)},
		"trailing data ignored":      {csr: append(slices.Clone(valid), "trailer"...)},
		"too large":                  {csr: append(slices.Clone(valid), bytes.Repeat([]byte(" "), MaxCSRSize)...), wantErr: ErrCSRTooLarge},
		"empty":                      {csr: nil, wantErr: ErrMalformedCSR},
		"not PEM":                    {csr: der, wantErr: ErrMalformedCSR},
		"certificate instead":        {csr: testCA(t, ECDSAP256).CertPEM(), wantErr: ErrMalformedCSR},
		"garbage DER":                {csr: reblock("CERTIFICATE REQUEST", []byte("garbage")), wantErr: ErrMalformedCSR},
		"bad signature":              {csr: reblock("CERTIFICATE REQUEST", badSig), wantErr: ErrBadCSRSignature},
		"basic constraints garbage":  {csr: withExt(pkix.Extension{Id: oidBasicConstraints, Value: []byte{1, 2, 3}}), wantErr: ErrMalformedCSR},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := TemplateFromCSR(tc.csr, testNow, 90*day, ku, eku)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.IsCA != tc.wantIsCA {
				t.Errorf("IsCA = %v, want %v", got.IsCA, tc.wantIsCA)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// The whole path a request takes: CSR, policy, signature, verification.
func TestCSRToVerifiedLeaf(t *testing.T) {
	t.Parallel()
	ca := testCA(t, ECDSAP256)
	policy := AntreaPolicy("kube-system", "")
	tests := map[string]struct {
		req        *x509.CertificateRequest
		eku        []x509.ExtKeyUsage
		wantPolicy bool // the policy refuses
	}{
		"antrea names":       {req: &x509.CertificateRequest{DNSNames: []string{antreaSvc, antreaFQDN}}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		"antrea CN and name": {req: &x509.CertificateRequest{Subject: pkix.Name{CommonName: antreaSvc}, DNSNames: []string{antreaSvc}}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		"foreign name":       {req: &x509.CertificateRequest{DNSNames: []string{"evil.example.com"}}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, wantPolicy: true},
		"client auth":        {req: &x509.CertificateRequest{DNSNames: []string{antreaSvc}}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantPolicy: true},
		"CA requested": {
			req:        &x509.CertificateRequest{DNSNames: []string{antreaSvc}, ExtraExtensions: []pkix.Extension{basicConstraintsExt(t, true)}},
			eku:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			wantPolicy: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := TemplateFromCSR(makeCSR(t, testKey(t, "p256"), tc.req), testNow, 90*day, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, tc.eku)
			if err != nil {
				t.Fatal(err)
			}
			err = policy.Evaluate(tmpl)
			if (err != nil) != tc.wantPolicy {
				t.Fatalf("Evaluate = %v, want refusal %v", err, tc.wantPolicy)
			}
			if err != nil {
				return
			}
			res, err := Sign(testNow, ca, Bundle{}, tmpl, SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyServerCert(t, res, NewBundle(ca.Cert), testNow.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
