package signer

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"strconv"
	"time"
)

// LoadCA reads a user-provided or previously stored CA and checks that it can sign now.
// certPEM holds the CA certificate first, optionally followed by its issuers in order;
// keyPEM holds its private key (PKCS#1, SEC1 or PKCS#8). Text outside PEM blocks is ignored.
func LoadCA(certPEM, keyPEM []byte, now time.Time) (*CA, error) {
	chain, err := parseCertificates(certPEM, "CA certificate data")
	if err != nil {
		return nil, err
	}
	key, err := parseSingleKey(keyPEM)
	if err != nil {
		return nil, err
	}
	cert := chain[0]
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		for i, c := range chain[1:] {
			if publicKeysEqual(key.Public(), c.PublicKey) {
				return nil, newError(ErrKeyMismatch, "the private key does not match CA certificate %s but certificate #%d in the chain; put the CA that owns the key first", describe(cert), i+2)
			}
		}
		return nil, newError(ErrKeyMismatch, "the private key does not match CA certificate %s", describe(cert))
	}
	if err := checkCA(cert, now); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(chain); i++ {
		child, parent := chain[i], chain[i+1]
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, newError(ErrBrokenChain, "certificate #%d %s was issued by %q, not by the next certificate #%d %s", i+1, describe(child), child.Issuer.String(), i+2, describe(parent))
		}
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, wrapError(ErrBrokenChain, err, "certificate #%d %s is not signed by the next certificate #%d %s", i+1, describe(child), i+2, describe(parent))
		}
		// An expired issuer breaks every leaf's chain just as an expired CA would.
		if err := checkValidity(parent, now); err != nil {
			return nil, err
		}
		// The certificates below parent in the chain are all CAs; a path length limit
		// that forbids them would make clients that trust parent reject every leaf.
		if below := i + 1; parent.MaxPathLen >= 0 && (parent.MaxPathLen > 0 || parent.MaxPathLenZero) && below > parent.MaxPathLen {
			return nil, newError(ErrBrokenChain, "certificate #%d %s allows %d CA certificates below it, but the chain has %d", i+2, describe(parent), parent.MaxPathLen, below)
		}
	}
	return &CA{Cert: cert, Key: key, Chain: chain}, nil
}

// checkCA verifies the properties that make cert usable as a signing CA at now.
func checkCA(cert *x509.Certificate, now time.Time) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return newError(ErrNotCA, "certificate %s is not a CA (basic constraints CA:TRUE missing)", describe(cert))
	}
	// Stricter than RFC 5280, which lets a CA without a key usage extension sign: being
	// explicit costs nothing for a CA made for this purpose and rejects odd certificates.
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return newError(ErrNoCertSign, "CA certificate %s lacks the certificate-sign key usage", describe(cert))
	}
	return checkValidity(cert, now)
}

func checkValidity(cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return newError(ErrCANotYetValid, "CA certificate %s is not valid before %s", describe(cert), formatTime(cert.NotBefore))
	}
	if now.After(cert.NotAfter) {
		return newError(ErrCAExpired, "CA certificate %s expired at %s", describe(cert), formatTime(cert.NotAfter))
	}
	return nil
}

// parseCertificates reads a non-empty list of CERTIFICATE blocks and nothing else: a key
// in certificate data is a mistake we must not carry into a published bundle.
func parseCertificates(data []byte, what string) ([]*x509.Certificate, error) {
	blocks, err := pemBlocks(data, what)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, newError(ErrNoCertificate, "%s is empty", what)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != pemTypeCertificate {
			return nil, newError(ErrMalformedPEM, "%s: PEM block #%d is %q; only CERTIFICATE blocks are allowed", what, i+1, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, wrapError(ErrMalformedCertificate, err, "%s: cannot parse certificate #%d", what, i+1)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

var keyBlockTypes = map[string]bool{
	"PRIVATE KEY":           true,
	"RSA PRIVATE KEY":       true,
	"EC PRIVATE KEY":        true,
	"ENCRYPTED PRIVATE KEY": true, // recognised so the error says "encrypted", not "unexpected"
}

// parseSingleKey reads exactly one private key. The same key repeated (or in two formats)
// is tolerated; two different keys are refused, since picking one would be a guess.
func parseSingleKey(data []byte) (crypto.Signer, error) {
	const what = "CA key data"
	blocks, err := pemBlocks(data, what)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	for i, b := range blocks {
		switch {
		case b.Type == "EC PARAMETERS":
			continue // openssl ecparam -genkey writes it before the key
		case !keyBlockTypes[b.Type]:
			return nil, newError(ErrMalformedPEM, "%s: PEM block #%d is %q; only private key blocks are allowed", what, i+1, b.Type)
		}
		k, err := parsePrivateKey(b)
		if err != nil {
			return nil, err
		}
		if key == nil {
			key = k
			continue
		}
		if eq, ok := key.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !eq.Equal(k) {
			return nil, newError(ErrAmbiguousKey, "%s holds more than one different private key", what)
		}
	}
	if key == nil {
		return nil, newError(ErrNoKey, "%s holds no private key", what)
	}
	return key, nil
}

// describe names a certificate for an operator: its subject and serial, never key material.
func describe(c *x509.Certificate) string {
	return strconv.Quote(c.Subject.String()) + " (serial " + c.SerialNumber.Text(16) + ")"
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
