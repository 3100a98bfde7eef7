package signer

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"
)

// Bundle is an ordered, de-duplicated set of CA certificates to trust. Order is insertion
// order (active, next, previous); a certificate with the same DER as an earlier one is
// dropped. The zero value is an empty bundle.
type Bundle struct {
	certs []*x509.Certificate
}

// NewBundle builds a bundle from certs, skipping nils and duplicates.
func NewBundle(certs ...*x509.Certificate) Bundle {
	var b Bundle
	for _, c := range certs {
		if c != nil && !b.Contains(c) {
			b.certs = append(b.certs, c)
		}
	}
	return b
}

// Certificates returns the certificates in order; the slice is a copy.
func (b Bundle) Certificates() []*x509.Certificate { return slices.Clone(b.certs) }

// Len is the number of certificates.
func (b Bundle) Len() int { return len(b.certs) }

// PEM renders the bundle. The same certificates in the same order always give the same
// bytes, which lets callers compare a stored ca.crt with a fresh rendering byte for byte.
// An empty bundle renders as nil.
func (b Bundle) PEM() []byte { return encodeCerts(b.certs) }

// Contains reports whether a certificate with the same DER is in the bundle.
func (b Bundle) Contains(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	for _, have := range b.certs {
		if bytes.Equal(have.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// Signed reports whether a certificate of the bundle signed c (its signature checks against one
// of them; nothing else of a chain is verified).
func (b Bundle) Signed(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	for _, ca := range b.certs {
		if c.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// Equal reports whether both bundles hold the same certificates in the same order.
func (b Bundle) Equal(o Bundle) bool {
	return slices.EqualFunc(b.certs, o.certs, func(x, y *x509.Certificate) bool { return bytes.Equal(x.Raw, y.Raw) })
}

// WithoutExpired drops certificates whose NotAfter is before now; nothing they signed can
// still verify, so publishing them only grows every client's trust store.
func (b Bundle) WithoutExpired(now time.Time) Bundle {
	var out Bundle
	for _, c := range b.certs {
		if !now.After(c.NotAfter) {
			out.certs = append(out.certs, c)
		}
	}
	return out
}

// CertPool returns a pool holding every certificate of the bundle as a trust anchor.
func (b Bundle) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range b.certs {
		pool.AddCert(c)
	}
	return pool
}

// ParseBundle reads PEM CERTIFICATE blocks (a ca.crt). It refuses empty input, other block
// types and certificates that do not parse; duplicates are dropped like in NewBundle.
func ParseBundle(pemBytes []byte) (Bundle, error) {
	certs, err := parseCertificates(pemBytes, "CA bundle")
	if err != nil {
		return Bundle{}, err
	}
	return NewBundle(certs...), nil
}
