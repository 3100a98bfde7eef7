package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"time"
)

// KeyAlgorithmOf names the algorithm of a CA's public key as GenerateCA spells it, and reports
// whether it is one GenerateCA makes (a provided CA may use another).
func KeyAlgorithmOf(pub crypto.PublicKey) (KeyAlgorithm, bool) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256, true
		case elliptic.P384():
			return ECDSAP384, true
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048, true
		case 3072:
			return RSA3072, true
		case 4096:
			return RSA4096, true
		}
	case ed25519.PublicKey:
		return Ed25519, true
	}
	return "", false
}

// GeneratedLifetime is the lifetime a CA was generated with (CAOptions.Lifetime): its validity
// without the clock-skew backdate GenerateCA adds before now.
func GeneratedLifetime(ca *x509.Certificate) time.Duration {
	return ca.NotAfter.Sub(ca.NotBefore) - caBackdate
}
