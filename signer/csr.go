package signer

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"slices"
	"time"
)

// MaxCSRSize bounds the work an untrusted request can cause; real CSRs are about 1 KiB.
const MaxCSRSize = 64 << 10

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// TemplateFromCSR turns a PEM certificate request into a template for Policy.Evaluate and
// Sign, valid from now for duration with the given usages. It is a small pure helper for
// tests and fuzzing; in production cert-manager builds the template from its request.
// Only the subject (parsed and raw, as cert-manager's template has them), SANs and public key
// come from the CSR, plus IsCA when the CSR asks for basicConstraints CA:TRUE, so that the
// policy can refuse it explicitly. RequestViolations says what else the CSR asks for.
func TemplateFromCSR(csrPEM []byte, now time.Time, duration time.Duration, ku x509.KeyUsage, eku []x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(csrPEM) > MaxCSRSize {
		return nil, newError(ErrCSRTooLarge, "certificate request is %d bytes, more than the %d allowed", len(csrPEM), MaxCSRSize)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, newError(ErrMalformedCSR, "no PEM block found in the certificate request")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, newError(ErrMalformedCSR, "PEM block is %q, want \"CERTIFICATE REQUEST\"", block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, wrapError(ErrMalformedCSR, err, "cannot parse the certificate request")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, wrapError(ErrBadCSRSignature, err, "the request is not signed by the key it contains")
	}
	isCA := false
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if rest, err := asn1.Unmarshal(ext.Value, &bc); err != nil || len(rest) > 0 {
			return nil, newError(ErrMalformedCSR, "the basic constraints extension of the certificate request does not parse")
		}
		isCA = isCA || bc.IsCA // any CA:TRUE wins, so duplicates cannot hide one
	}
	return &x509.Certificate{
		Subject:               csr.Subject,
		RawSubject:            csr.RawSubject,
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		URIs:                  csr.URIs,
		EmailAddresses:        csr.EmailAddresses,
		PublicKey:             csr.PublicKey,
		PublicKeyAlgorithm:    csr.PublicKeyAlgorithm,
		NotBefore:             now,
		NotAfter:              now.Add(duration),
		KeyUsage:              ku,
		ExtKeyUsage:           slices.Clone(eku),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
	}, nil
}
