package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
)

// KeyAlgorithm selects the CA key type.
type KeyAlgorithm string

const (
	ECDSAP256 KeyAlgorithm = "ECDSAP256" // default
	ECDSAP384 KeyAlgorithm = "ECDSAP384"
	RSA2048   KeyAlgorithm = "RSA2048"
	RSA3072   KeyAlgorithm = "RSA3072"
	RSA4096   KeyAlgorithm = "RSA4096"
	Ed25519   KeyAlgorithm = "Ed25519"
)

// Key size bounds. 2048 is the floor every current TLS client accepts; 8192 bounds the
// cost a requester can impose on clients verifying its handshakes.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// KeyAlgorithms lists the supported algorithms, for flag help and API validation.
func KeyAlgorithms() []KeyAlgorithm {
	return []KeyAlgorithm{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096, Ed25519}
}

// Valid reports whether a is a supported algorithm (the empty value is not: it means
// "default" only inside CAOptions).
func (a KeyAlgorithm) Valid() bool {
	for _, k := range KeyAlgorithms() {
		if a == k {
			return true
		}
	}
	return false
}

func algorithmNames() string {
	names := make([]string, 0, 6)
	for _, k := range KeyAlgorithms() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// generateKey creates a CA key. The error paths are explicit so that a typed nil
// never hides inside the crypto.Signer interface.
func generateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256, ECDSAP384:
		curve := elliptic.P256()
		if alg == ECDSAP384 {
			curve = elliptic.P384()
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		return k, nil
	case RSA2048, RSA3072, RSA4096:
		bits := map[KeyAlgorithm]int{RSA2048: 2048, RSA3072: 3072, RSA4096: 4096}[alg]
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		return k, nil
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, newError(ErrInvalidCAOptions, "unknown key algorithm %q (supported: %s)", alg, algorithmNames())
}

// parsePrivateKey decodes one key block. Tools mislabel key blocks often enough (PKCS#8
// in an "RSA PRIVATE KEY" block) that the labelled format is only tried first.
func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, newError(ErrUnsupportedKey, "encrypted private keys are not supported; store the key unencrypted in the Secret")
	}
	parsers := []func([]byte) (any, error){
		x509.ParsePKCS8PrivateKey,
		func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) },
		func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) },
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		parsers[0], parsers[1] = parsers[1], parsers[0]
	case "EC PRIVATE KEY":
		parsers[0], parsers[2] = parsers[2], parsers[0]
	}
	var key any
	var firstErr error
	for _, parse := range parsers {
		k, err := parse(block.Bytes)
		if err == nil {
			key = k
			break
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if key == nil {
		return nil, wrapError(ErrMalformedKey, firstErr, "cannot parse the %q block (PKCS#1, SEC1 and PKCS#8 are accepted)", block.Type)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, newError(ErrUnsupportedKey, "RSA key of %d bits is too weak for a CA (minimum %d)", bits, minRSABits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if !supportedCurve(k.Curve) {
			return nil, newError(ErrUnsupportedKey, "ECDSA curve %s is not supported (use P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, newError(ErrUnsupportedKey, "private key of type %T cannot sign certificates", key)
}

func supportedCurve(c elliptic.Curve) bool {
	return c == elliptic.P256() || c == elliptic.P384() || c == elliptic.P521()
}

// publicKeysEqual compares keys of any supported type; every standard key type has Equal.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// checkLeafPublicKey refuses keys that clients would reject or that are too weak to trust.
func checkLeafPublicKey(pub any) error {
	switch k := pub.(type) {
	case nil:
		return newError(ErrInvalidPublicKey, "the request has no public key")
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.N.Sign() <= 0 {
			return newError(ErrInvalidPublicKey, "the RSA public key is empty")
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return newError(ErrInvalidPublicKey, "RSA key of %d bits is not accepted (allowed: %d to %d bits)", bits, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return newError(ErrInvalidPublicKey, "RSA public exponent %d is invalid", k.E)
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return newError(ErrInvalidPublicKey, "the ECDSA public key is empty")
		}
		if !supportedCurve(k.Curve) {
			return newError(ErrInvalidPublicKey, "ECDSA curve %s is not accepted (use P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
		// ECDH conversion validates the point without the deprecated big.Int curve API.
		if _, err := k.ECDH(); err != nil {
			return newError(ErrInvalidPublicKey, "the ECDSA public key is not a valid point on %s", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return newError(ErrInvalidPublicKey, "Ed25519 public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	default:
		return newError(ErrInvalidPublicKey, "public keys of type %T are not accepted (use RSA, ECDSA or Ed25519)", pub)
	}
	return nil
}

// subjectKeyID implements RFC 7093 section 2 method 1: the leftmost 160 bits of the SHA-256
// of the subjectPublicKey bit string. It is what Go itself uses for CAs since 1.25 and
// avoids SHA-1, which some scanners flag even in this non-security use. The bit string is
// built directly for the common key types: going through MarshalPKIXPublicKey and back
// cost a few percent of a whole signature.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	var bits []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		bits = e.Bytes() // the uncompressed point, as in the SPKI
	case ed25519.PublicKey:
		bits = k
	case *rsa.PublicKey:
		bits = x509.MarshalPKCS1PublicKey(k)
	default:
		return subjectKeyIDFromSPKI(pub)
	}
	sum := sha256.Sum256(bits)
	return sum[:20], nil
}

// subjectKeyIDFromSPKI is the generic form of subjectKeyID.
func subjectKeyIDFromSPKI(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}

// randomSerial returns a positive serial with 128 random bits: unpredictable serials are
// what keeps chosen-prefix collisions off the table, and 16 bytes stay below RFC 5280's 20.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("reading random serial number: %w", err)
		}
		if s := new(big.Int).SetBytes(b); s.Sign() > 0 {
			return s, nil
		}
	}
}
