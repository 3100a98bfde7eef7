package signer

import (
	"bytes"
	"crypto/x509"
	"time"
)

// Keys of the CA Secret. tls.crt/tls.key follow the kubernetes.io/tls convention so a
// user-provided TLS Secret can serve as the CA Secret unchanged.
const (
	SecretKeyTLSCert      = "tls.crt"          // Active CA chain
	SecretKeyTLSKey       = "tls.key"          // Active CA key
	SecretKeyCABundle     = "ca.crt"           // Bundle().PEM(); derived, never read back
	SecretKeyNextTLSCert  = "next.tls.crt"     // prepared CA chain
	SecretKeyNextTLSKey   = "next.tls.key"     // prepared CA key
	SecretKeyPreviousCert = "previous.tls.crt" // retired CA certificate, no key kept
)

// Phase is the rotation state, derived from which generations are set.
type Phase string

const (
	PhaseSteady    Phase = "Steady"    // only Active
	PhasePrepared  Phase = "Prepared"  // Next is trusted, Active still signs
	PhaseActivated Phase = "Activated" // the former Next signs, Previous is still trusted
)

// Generations is the CA state of one issuer, persisted in its CA Secret. Rotation moves it
// Steady -> Prepared (Next set) -> Activated (Next became Active, old Active became
// Previous) -> Steady (Previous dropped). Storing only the fields keeps the phase from
// ever disagreeing with the data.
type Generations struct {
	Active   *CA               // required: signs leaves
	Next     *CA               // optional: prepared, trusted, not yet signing
	Previous *x509.Certificate // optional: retired signer, still trusted until retired
}

// Phase derives the rotation phase. For the invalid state with both Next and Previous set
// it returns PhasePrepared; Validate reports that state.
func (g Generations) Phase() Phase {
	switch {
	case g.Next != nil:
		return PhasePrepared
	case g.Previous != nil:
		return PhaseActivated
	}
	return PhaseSteady
}

// Validate checks the invariants SecretData relies on.
func (g Generations) Validate() error {
	if g.Active == nil || g.Active.Cert == nil || g.Active.Key == nil {
		return newError(ErrInvalidGenerations, "no active CA with certificate and key")
	}
	if g.Next != nil && (g.Next.Cert == nil || g.Next.Key == nil) {
		return newError(ErrInvalidGenerations, "the next CA lacks its certificate or key")
	}
	if g.Next != nil && g.Previous != nil {
		return newError(ErrInvalidGenerations, "a next CA and a previous CA are both set; finish the running rotation (retire the previous CA) before preparing another")
	}
	if g.Next != nil && bytes.Equal(g.Next.Cert.Raw, g.Active.Cert.Raw) {
		return newError(ErrInvalidGenerations, "the next CA is the active CA")
	}
	if g.Previous != nil && bytes.Equal(g.Previous.Raw, g.Active.Cert.Raw) {
		return newError(ErrInvalidGenerations, "the previous CA is the active CA")
	}
	return nil
}

// Bundle is what clients must trust: the Active CA certificate, then Next's, then Previous.
// Only each generation's own certificate is included, not its issuers: for a user-provided
// intermediate the intermediate itself is the trust anchor and clients verify the server
// chain (leaf + intermediates, as in the leaf's tls.crt) against it. Trusting the user's
// root instead would also trust everything else that root signs.
func (g Generations) Bundle() Bundle {
	var certs []*x509.Certificate
	if g.Active != nil {
		certs = append(certs, g.Active.Cert)
	}
	if g.Next != nil {
		certs = append(certs, g.Next.Cert)
	}
	return NewBundle(append(certs, g.Previous)...)
}

// SecretData renders the Secret's data: exactly the keys in use, ca.crt always present.
func (g Generations) SecretData() (map[string][]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	key, err := g.Active.KeyPEM()
	if err != nil {
		return nil, &SecretKeyError{Keys: []string{SecretKeyTLSKey}, Err: err}
	}
	data := map[string][]byte{
		SecretKeyTLSCert:  g.Active.CertPEM(),
		SecretKeyTLSKey:   key,
		SecretKeyCABundle: g.Bundle().PEM(),
	}
	if g.Next != nil {
		key, err := g.Next.KeyPEM()
		if err != nil {
			return nil, &SecretKeyError{Keys: []string{SecretKeyNextTLSKey}, Err: err}
		}
		data[SecretKeyNextTLSCert] = g.Next.CertPEM()
		data[SecretKeyNextTLSKey] = key
	}
	if g.Previous != nil {
		data[SecretKeyPreviousCert] = encodeCerts([]*x509.Certificate{g.Previous})
	}
	return data, nil
}

// ParseGenerations is the inverse of SecretData. Active and Next are checked with LoadCA,
// so a corrupt, mismatched, non-CA or expired CA fails with LoadCA's errors wrapped in a
// *SecretKeyError naming the keys. ca.crt is ignored: it is derived from the generations
// (callers compare SecretData()[ca.crt] with the stored value to know whether to rewrite
// it), which also lets a plain kubernetes.io/tls Secret serve as a user-provided CA.
// Unknown keys are ignored. Previous is not checked for expiry: it may legitimately expire
// before it is retired; Bundle().WithoutExpired drops it from what is published.
func ParseGenerations(data map[string][]byte, now time.Time) (Generations, error) {
	active, err := loadPair(data, SecretKeyTLSCert, SecretKeyTLSKey, now, true)
	if err != nil {
		return Generations{}, err
	}
	g := Generations{Active: active}
	if g.Next, err = loadPair(data, SecretKeyNextTLSCert, SecretKeyNextTLSKey, now, false); err != nil {
		return Generations{}, err
	}
	if raw, ok := data[SecretKeyPreviousCert]; ok {
		certs, err := parseCertificates(raw, "previous CA certificate")
		if err != nil {
			return Generations{}, &SecretKeyError{Keys: []string{SecretKeyPreviousCert}, Err: err}
		}
		if len(certs) != 1 {
			return Generations{}, &SecretKeyError{Keys: []string{SecretKeyPreviousCert}, Err: newError(ErrInvalidGenerations, "holds %d certificates, want exactly 1", len(certs))}
		}
		g.Previous = certs[0]
	}
	if err := g.Validate(); err != nil {
		keys := []string{SecretKeyTLSCert}
		if g.Next != nil {
			keys = append(keys, SecretKeyNextTLSCert)
		}
		if g.Previous != nil {
			keys = append(keys, SecretKeyPreviousCert)
		}
		return Generations{}, &SecretKeyError{Keys: keys, Err: err}
	}
	return g, nil
}

// loadPair loads one certificate/key pair. An optional pair may be absent entirely, but
// never half present: a lone key or certificate means a write went wrong.
func loadPair(data map[string][]byte, certKey, keyKey string, now time.Time, required bool) (*CA, error) {
	certPEM, haveCert := data[certKey]
	keyPEM, haveKey := data[keyKey]
	switch {
	case !haveCert && !haveKey && !required:
		return nil, nil
	case !haveCert:
		return nil, &SecretKeyError{Keys: []string{certKey}, Err: newError(ErrNoCertificate, "missing from the CA Secret")}
	case !haveKey:
		return nil, &SecretKeyError{Keys: []string{keyKey}, Err: newError(ErrNoKey, "missing from the CA Secret")}
	}
	ca, err := LoadCA(certPEM, keyPEM, now)
	if err != nil {
		return nil, &SecretKeyError{Keys: []string{certKey, keyKey}, Err: err}
	}
	return ca, nil
}
