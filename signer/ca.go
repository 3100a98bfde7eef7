package signer

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"
)

const (
	// DefaultCACommonName is the CN prefix of generated CAs.
	DefaultCACommonName = "antrea-issuer-ca"
	// DefaultCALifetime is long enough that rotation is a rare, planned event.
	DefaultCALifetime = 5 * 365 * 24 * time.Hour
	// MinCALifetime guards against a typo (minutes for hours) creating a CA that expires
	// before its first leaf is used.
	MinCALifetime = time.Hour
	// caBackdate absorbs clock skew between the issuer and the clients that verify.
	caBackdate = time.Hour
	// maxNameLength is RFC 5280's upper bound for CN and O.
	maxNameLength = 64
)

// CAOptions configures GenerateCA. The zero value gives the defaults.
type CAOptions struct {
	CommonName   string        // default DefaultCACommonName; "@<unix seconds>" is always appended
	Organization string        // optional
	KeyAlgorithm KeyAlgorithm  // default ECDSAP256
	Lifetime     time.Duration // default DefaultCALifetime; less than MinCALifetime is rejected
}

// CA is a usable signing CA: certificate, key, and the chain above it. Chain[0] is Cert,
// followed by its issuers in order (only Cert for a self-signed root).
type CA struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// GenerateCA creates a self-signed root CA valid from now-1h to now+Lifetime.
func GenerateCA(now time.Time, opts CAOptions) (*CA, error) {
	if opts.CommonName == "" {
		opts.CommonName = DefaultCACommonName
	}
	if opts.KeyAlgorithm == "" {
		opts.KeyAlgorithm = ECDSAP256
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultCALifetime
	}
	if opts.Lifetime < MinCALifetime {
		return nil, newError(ErrInvalidCAOptions, "CA lifetime %s is shorter than the minimum %s", opts.Lifetime, MinCALifetime)
	}
	if !opts.KeyAlgorithm.Valid() {
		return nil, newError(ErrInvalidCAOptions, "unknown key algorithm %q (supported: %s)", opts.KeyAlgorithm, algorithmNames())
	}
	// The suffix makes every generation visibly distinct in tools and in the bundle.
	cn := fmt.Sprintf("%s@%d", opts.CommonName, now.Unix())
	if len(cn) > maxNameLength {
		return nil, newError(ErrInvalidCAOptions, "CA common name %q is longer than %d characters with its generation suffix", cn, maxNameLength)
	}
	if len(opts.Organization) > maxNameLength {
		return nil, newError(ErrInvalidCAOptions, "CA organization is longer than %d characters", maxNameLength)
	}

	key, err := generateKey(opts.KeyAlgorithm)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("computing the CA subject key ID: %w", err)
	}
	subject := pkix.Name{CommonName: cn}
	if opts.Organization != "" {
		subject.Organization = []string{opts.Organization}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(opts.Lifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// Path length 0: this CA signs leaves only, so a leaked leaf key can never mint
		// a sub-CA even if some other bug let IsCA through.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:   skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, wrapError(ErrSigningFailed, err, "creating the CA certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, wrapError(ErrSigningFailed, err, "parsing the new CA certificate")
	}
	return &CA{Cert: cert, Key: key, Chain: []*x509.Certificate{cert}}, nil
}

// chain returns Chain, or just Cert for a CA assembled by hand without one.
func (ca *CA) chain() []*x509.Certificate {
	if len(ca.Chain) > 0 {
		return ca.Chain
	}
	if ca.Cert == nil {
		return nil
	}
	return []*x509.Certificate{ca.Cert}
}

// CertPEM returns the chain (Cert first, then its issuers) as PEM; equal chains give equal bytes.
func (ca *CA) CertPEM() []byte {
	return encodeCerts(ca.chain())
}

// KeyPEM returns the key as a PKCS#8 "PRIVATE KEY" block, one format for every key type.
func (ca *CA) KeyPEM() ([]byte, error) {
	if ca.Key == nil {
		return nil, newError(ErrNoKey, "the CA has no private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		// The cause names only the key type, never key material.
		return nil, wrapError(ErrUnsupportedKey, err, "encoding the CA key")
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), nil
}
