package signer

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// loopWithCPU runs op in b.Loop and also reports CPU nanoseconds per op (all threads of
// the process, so GC work counts), which stays meaningful when other processes compete
// for the cores.
func loopWithCPU(b *testing.B, op func() error) {
	b.ReportAllocs()
	start := processCPUTime()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	if used := processCPUTime() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// benchCAs are the two CA types whose costs docs/signer.md reports; the leaf key is
// ECDSA P-256 in both, as cert-manager generates by default.
var benchCAs = []KeyAlgorithm{ECDSAP256, RSA2048}

// BenchmarkSign measures the whole signing path: checks, template, serial, SKID,
// x509.CreateCertificate (which verifies its own signature), parsing and PEM rendering.
func BenchmarkSign(b *testing.B) {
	for _, alg := range benchCAs {
		b.Run(string(alg), func(b *testing.B) {
			ca := testCA(b, alg)
			bundle := NewBundle(ca.Cert)
			tmpl := leafTemplate(testKey(b, "p256").Public())
			loopWithCPU(b, func() error {
				_, err := Sign(testNow, ca, bundle, tmpl, SignOptions{})
				return err
			})
		})
	}
}

// BenchmarkCreateCertificateFloor is only x509.CreateCertificate with the same CA and the
// template Sign builds (a leaf Sign produced), so Sign - floor is this package's overhead.
func BenchmarkCreateCertificateFloor(b *testing.B) {
	for _, alg := range benchCAs {
		b.Run(string(alg), func(b *testing.B) {
			ca := testCA(b, alg)
			pub := testKey(b, "p256").Public()
			res, err := Sign(testNow, ca, Bundle{}, leafTemplate(pub), SignOptions{})
			if err != nil {
				b.Fatal(err)
			}
			loopWithCPU(b, func() error {
				_, err := x509.CreateCertificate(rand.Reader, res.Leaf, ca.Cert, pub, ca.Key)
				return err
			})
		})
	}
}

func BenchmarkPolicyEvaluate(b *testing.B) {
	p := AntreaPolicy("kube-system", "")
	tests := map[string][]string{
		"allowed": {antreaSvc, antreaFQDN},
		"refused": {"evil.example.com"},
	}
	for name, dnsNames := range tests {
		b.Run(name, func(b *testing.B) {
			req := leafTemplate(nil, dnsNames...)
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Evaluate(req)
			}
		})
	}
}

func BenchmarkTemplateFromCSR(b *testing.B) {
	csr := makeCSR(b, testKey(b, "p256"), &x509.CertificateRequest{DNSNames: []string{antreaSvc, antreaFQDN}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TemplateFromCSR(csr, testNow, 90*day, x509.KeyUsageDigitalSignature, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestViolations checks the request cert-manager sends for Antrea's documented
// Certificate (CN, two DNS names, key usage and extended key usage extensions). Its subject
// parsing is also what Sign adds for a template that carries the CSR's RawSubject.
func BenchmarkRequestViolations(b *testing.B) {
	csr := parsedCSR(b, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "antrea"}, DNSNames: []string{antreaSvc, antreaFQDN},
		ExtraExtensions: []pkix.Extension{
			{Id: oidKeyUsage, Critical: true, Value: mustMarshal(b, asn1.BitString{Bytes: []byte{0xa0}, BitLength: 3}, "")},
			{Id: oidExtKeyUsage, Value: mustMarshal(b, []asn1.ObjectIdentifier{oidServerEKU}, "")},
		},
	})
	b.ReportAllocs()
	for b.Loop() {
		if vs := RequestViolations(csr); vs != nil {
			b.Fatal(vs)
		}
	}
}
