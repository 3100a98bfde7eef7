package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// General names and extensions built by hand: crypto/x509 cannot write the kinds it drops.

func contextValue(t testing.TB, tag int, compound bool, content []byte) asn1.RawValue {
	t.Helper()
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: compound, Bytes: content})
	if err != nil {
		t.Fatal(err)
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		t.Fatal(err)
	}
	return rv
}

func mustMarshal(t testing.TB, v any, params string) []byte {
	t.Helper()
	der, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// otherNameSAN is OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String },
// implicitly tagged [0] as a GeneralName.
func otherNameSAN(t testing.TB, typeID asn1.ObjectIdentifier, value string) asn1.RawValue {
	t.Helper()
	content := mustMarshal(t, typeID, "")
	content = append(content, mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, value, "utf8")}, "")...)
	return contextValue(t, generalNameOther, true, content)
}

func dnsSAN(t testing.TB, name string) asn1.RawValue {
	return contextValue(t, generalNameDNS, false, []byte(name))
}

func sanExtension(t testing.TB, names ...asn1.RawValue) pkix.Extension {
	t.Helper()
	return pkix.Extension{Id: oidSubjectAltName, Value: mustMarshal(t, names, "")}
}

func basicConstraints(t testing.TB, isCA bool, pathLen int) pkix.Extension {
	t.Helper()
	return pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: mustMarshal(t, struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{isCA, pathLen}, "")}
}

func parsedCSR(t testing.TB, req *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	block, _ := pem.Decode(makeCSR(t, testKey(t, "p256"), req))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

var (
	oidUPN       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	oidPrivate   = asn1.ObjectIdentifier{1, 2, 3, 4}
	oidTLSFeat   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}
	oidSKID      = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidServerEKU = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
)

// A request is refused, naming the item, when it carries what the certificate would not.
func TestRequestViolations(t *testing.T) {
	t.Parallel()
	registeredID := mustMarshal(t, asn1.ObjectIdentifier{1, 2, 3, 4, 5}, "")[2:] // the OID's content octets
	ext := func(exts ...pkix.Extension) *x509.CertificateRequest {
		return &x509.CertificateRequest{DNSNames: []string{antreaSvc}, ExtraExtensions: exts}
	}
	withSubject := func(rdns ...pkix.RelativeDistinguishedNameSET) *x509.CertificateRequest {
		return &x509.CertificateRequest{RawSubject: marshalSubject(t, rdns...), DNSNames: []string{antreaSvc}}
	}
	san := func(names ...asn1.RawValue) *x509.CertificateRequest { return ext(sanExtension(t, names...)) }

	tests := map[string]struct {
		req        *x509.CertificateRequest
		nilRequest bool
		want       []Violation // Field and Value; nil: nothing to refuse
		wantReason string      // a fragment of the first violation's reason
	}{
		"Antrea's documented Certificate": {req: &x509.CertificateRequest{Subject: pkix.Name{CommonName: "antrea"}, DNSNames: []string{antreaSvc, antreaFQDN}}},
		"what cert-manager encodes": {req: &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "antrea", Organization: []string{"o"}, SerialNumber: "1"}, DNSNames: []string{antreaSvc},
			ExtraExtensions: []pkix.Extension{
				{Id: oidKeyUsage, Critical: true, Value: mustMarshal(t, asn1.BitString{Bytes: []byte{0xa0}, BitLength: 3}, "")},
				{Id: oidExtKeyUsage, Value: mustMarshal(t, []asn1.ObjectIdentifier{oidServerEKU}, "")},
				basicConstraints(t, false, -1),
			},
		}},
		"literal subject of copied attributes": {req: withSubject(rdn(attr(oidCN, antreaSvc)), rdn(attr(oidOU, "b"), attr(oidOU, "a")), rdn(attr(oidO, "Corp.")))},
		"empty subject":                        {req: withSubject()},
		"IP, URI and email SANs":               {req: &x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}, URIs: []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/a"}}, IPAddresses: []net.IP{net.IPv6loopback}}},
		"UPN otherName": {
			req:        san(dnsSAN(t, antreaSvc), otherNameSAN(t, oidUPN, "alice@example.com")),
			want:       []Violation{{Field: "subjectAltNames", Value: `otherName 1.3.6.1.4.1.311.20.2.3 (user principal name) "alice@example.com"`}},
			wantReason: `the subject alternative name otherName 1.3.6.1.4.1.311.20.2.3 (user principal name) "alice@example.com" is not supported: this issuer puts only DNS name, IP address, URI and email address SANs in a certificate`,
		},
		"otherName of another type": {req: san(otherNameSAN(t, oidPrivate, "x\ny")), want: []Violation{{Field: "subjectAltNames", Value: `otherName 1.2.3.4 "x\ny"`}}},
		"x400Address":               {req: san(contextValue(t, generalNameX400, true, []byte{0x30, 0x00})), want: []Violation{{Field: "subjectAltNames", Value: "x400Address"}}},
		"directoryName": {
			req:  san(contextValue(t, generalNameDirectory, true, marshalSubject(t, rdn(attr(oidCN, "alice"))))),
			want: []Violation{{Field: "subjectAltNames", Value: `directoryName "CN=alice"`}},
		},
		"ediPartyName": {
			req:  san(contextValue(t, generalNameEDIParty, true, mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: mustMarshal(t, "party", "utf8")}, ""))),
			want: []Violation{{Field: "subjectAltNames", Value: "ediPartyName"}},
		},
		"registeredID":           {req: san(contextValue(t, generalNameRegisteredID, false, registeredID)), want: []Violation{{Field: "subjectAltNames", Value: "registeredID 1.2.3.4.5"}}},
		"constructed DNS name":   {req: san(contextValue(t, generalNameDNS, true, mustMarshal(t, antreaSvc, "ia5"))), want: []Violation{{Field: "subjectAltNames", Value: "with a constructed encoding of tag 2, which crypto/x509 does not read"}}},
		"a name of no GN kind":   {req: san(dnsSAN(t, antreaSvc), asn1.RawValue{FullBytes: mustMarshal(t, "x", "utf8")}), want: []Violation{{Field: "subjectAltNames", Value: "of an unknown kind (ASN.1 class 0, tag 12)"}}},
		"subject key identifier": {req: ext(pkix.Extension{Id: oidSKID, Value: mustMarshal(t, []byte{1, 2}, "")}), want: []Violation{{Field: "extensions", Value: "2.5.29.14"}}, wantReason: "the extension subject key identifier (2.5.29.14) is not supported: this issuer puts only subject alternative names, key usage, extended key usage and basic constraints CA:FALSE in a certificate"},
		"OCSP must-staple":       {req: ext(pkix.Extension{Id: oidTLSFeat, Value: mustMarshal(t, []int{5}, "")}), want: []Violation{{Field: "extensions", Value: "1.3.6.1.5.5.7.1.24"}}, wantReason: "TLS feature (OCSP must-staple)"},
		"private extension":      {req: ext(pkix.Extension{Id: oidPrivate, Value: []byte{5, 0}}), want: []Violation{{Field: "extensions", Value: "1.2.3.4"}}, wantReason: "the extension 1.2.3.4 is not supported"},
		"name constraints":       {req: ext(pkix.Extension{Id: oidNameConstraints, Critical: true, Value: []byte{0x30, 0x00}}), want: []Violation{{Field: "nameConstraints", Value: "2.5.29.30"}}, wantReason: "they apply only to CA certificates"},
		"CA:TRUE":                {req: ext(basicConstraints(t, true, -1)), want: []Violation{{Field: "isCA", Value: "true"}}, wantReason: "basic constraints CA:TRUE in the CSR"},
		"path length on a leaf":  {req: ext(basicConstraints(t, false, 0)), want: []Violation{{Field: "basicConstraints", Value: "0"}}, wantReason: "a path length constraint (0) was requested"},
		"CA:TRUE, path length 2": {req: ext(basicConstraints(t, true, 2)), want: []Violation{{Field: "isCA", Value: "true"}, {Field: "basicConstraints", Value: "2"}}},
		"basic constraints garbage": {
			req:  ext(pkix.Extension{Id: oidBasicConstraints, Value: []byte{1, 2, 3}}),
			want: []Violation{{Field: "basicConstraints"}}, wantReason: "does not parse",
		},
		"email in the subject": {
			req:        withSubject(rdn(attr(oidCN, antreaSvc)), rdn(attr(oidEmail, "ops@example.com"))),
			want:       []Violation{{Field: "subject", Value: "1.2.840.113549.1.9.1"}},
			wantReason: `the subject attribute emailAddress (1.2.840.113549.1.9.1) "ops@example.com" is not supported: this issuer copies only CN, C, O, OU, L, ST, STREET, POSTALCODE and SERIALNUMBER into a certificate`,
		},
		"private subject attribute": {req: withSubject(rdn(attr(oidPrivate, "x"))), want: []Violation{{Field: "subject", Value: "1.2.3.4"}}, wantReason: `the subject attribute 1.2.3.4 "x" is not supported`},
		"two common names": {
			req:        withSubject(rdn(attr(oidCN, antreaSvc)), rdn(attr(oidCN, "evil.example.com"))),
			want:       []Violation{{Field: "commonName", Value: "antrea.kube-system.svc, evil.example.com"}},
			wantReason: `the subject holds 2 common names ("antrea.kube-system.svc", "evil.example.com"); a certificate from this issuer carries at most one, the one the policy checks`,
		},
		"two serial numbers": {
			req:  withSubject(rdn(attr(asn1.ObjectIdentifier{2, 5, 4, 5}, "1"), attr(asn1.ObjectIdentifier{2, 5, 4, 5}, "2"))),
			want: []Violation{{Field: "subject", Value: "1, 2"}},
		},
		"a CN that is no string": {req: withSubject(rdn(attr(oidCN, 7))), want: []Violation{{Field: "subject", Value: "2.5.4.3"}}, wantReason: "the subject attribute CN (2.5.4.3) does not hold a string"},
		"everything at once": {
			req: &x509.CertificateRequest{
				RawSubject: marshalSubject(t, rdn(attr(oidEmail, "a@b.c"))),
				ExtraExtensions: []pkix.Extension{
					sanExtension(t, otherNameSAN(t, oidUPN, "alice@example.com"), dnsSAN(t, antreaSvc)),
					basicConstraints(t, true, -1), {Id: oidPrivate, Value: []byte{5, 0}},
				},
			},
			want: []Violation{
				{Field: "subject", Value: "1.2.840.113549.1.9.1"},
				{Field: "subjectAltNames", Value: `otherName 1.3.6.1.4.1.311.20.2.3 (user principal name) "alice@example.com"`},
				{Field: "isCA", Value: "true"}, {Field: "extensions", Value: "1.2.3.4"},
			},
		},
		"nil request": {nilRequest: true, want: []Violation{{Field: "request"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var csr *x509.CertificateRequest
			if !tc.nilRequest {
				csr = parsedCSR(t, tc.req)
			}
			vs := RequestViolations(csr)
			var got []Violation
			for _, v := range vs {
				if v.Reason == "" {
					t.Errorf("violation %+v has no reason", v)
				}
				got = append(got, Violation{Field: v.Field, Value: v.Value})
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("violations\n got %q\nwant %q", got, tc.want)
			}
			if tc.wantReason != "" && !strings.Contains(vs[0].Reason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", vs[0].Reason, tc.wantReason)
			}
		})
	}
}

// The premise of RequestViolations: crypto/x509 parses these requests without a word and a
// certificate signed from them lacks what they asked for.
func TestCryptoX509DropsSilently(t *testing.T) {
	t.Parallel()
	csr := parsedCSR(t, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t, dnsSAN(t, antreaSvc), otherNameSAN(t, oidUPN, "alice@example.com"))}})
	if !slices.Equal(csr.DNSNames, []string{antreaSvc}) || len(csr.EmailAddresses)+len(csr.URIs)+len(csr.IPAddresses) != 0 {
		t.Fatalf("parsed SANs: %v %v %v %v", csr.DNSNames, csr.EmailAddresses, csr.URIs, csr.IPAddresses)
	}
	if len(RequestViolations(csr)) != 1 {
		t.Fatalf("RequestViolations = %v, want the otherName", RequestViolations(csr))
	}
}

// EvaluateRequest lists the request's and the template's violations together, each once.
func TestEvaluateRequest(t *testing.T) {
	t.Parallel()
	policy := AntreaPolicy("kube-system", "")
	tests := map[string]struct {
		req  *x509.CertificateRequest
		want []Violation // nil: accepted
	}{
		"Antrea's documented Certificate": {req: &x509.CertificateRequest{Subject: pkix.Name{CommonName: "antrea"}, DNSNames: []string{antreaSvc, antreaFQDN}}},
		"request and template both wrong": {
			req:  &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t, dnsSAN(t, "evil.example.com"), otherNameSAN(t, oidUPN, "alice@example.com"))}},
			want: []Violation{{Field: "subjectAltNames", Value: `otherName 1.3.6.1.4.1.311.20.2.3 (user principal name) "alice@example.com"`}, {Field: "dnsNames", Value: "evil.example.com"}},
		},
		"a CA asked for twice, listed once": {
			req:  &x509.CertificateRequest{DNSNames: []string{antreaSvc}, ExtraExtensions: []pkix.Extension{basicConstraints(t, true, -1)}},
			want: []Violation{{Field: "isCA", Value: "true"}},
		},
		"only the template wrong": {req: &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil"}, DNSNames: []string{antreaSvc}}, want: []Violation{{Field: "commonName", Value: "evil"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			csrPEM := makeCSR(t, testKey(t, "p256"), tc.req)
			tmpl, err := TemplateFromCSR(csrPEM, testNow, 90*day, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(csrPEM)
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			err = policy.EvaluateRequest(csr, tmpl)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPolicyViolation) {
				t.Fatalf("err = %v, want a *PolicyError", err)
			}
			var got []Violation
			for _, v := range pe.Violations {
				got = append(got, Violation{Field: v.Field, Value: v.Value})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations\n got %q\nwant %q\n(%v)", got, tc.want, err)
			}
		})
	}
}
