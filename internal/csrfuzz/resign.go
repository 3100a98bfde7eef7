// Package csrfuzz helps fuzz targets reach past a CSR's signature check. Standard library only:
// the signer's fuzz targets use it too.
package csrfuzz

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
)

var oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}

// Resign re-signs a CSR whose public key is key's, so that mutations of the request body reach
// the template, the policy and signing instead of all stopping at the signature check. Other
// input is returned as it is. Ed25519 signatures are deterministic: a crasher reproduces exactly.
func Resign(der []byte, key ed25519.PrivateKey) []byte {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return der
	}
	if pk, ok := csr.PublicKey.(ed25519.PublicKey); !ok || !pk.Equal(key.Public()) {
		return der
	}
	sig := ed25519.Sign(key, csr.RawTBSCertificateRequest)
	out, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}{
		TBS:    asn1.RawValue{FullBytes: csr.RawTBSCertificateRequest},
		SigAlg: pkix.AlgorithmIdentifier{Algorithm: oidEd25519},
		Sig:    asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return der
	}
	return out
}
