package signer

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// leafBackdate absorbs small clock skew between the issuer and the clients without making
// the certificate look older than it is. The lifetime is exact (NotAfter - NotBefore is the
// requested duration, as cert-manager checks and Kubernetes' CSR signer does for all but short
// certificates), so the backdate comes out of the time left after signing; for a duration
// under an hour it is cut to 1/backdateFraction of the duration, so that it never takes more
// than that share (1.7%) of a short certificate's life.
const (
	leafBackdate     = time.Minute
	backdateFraction = 60
)

// SignOptions tunes Sign.
type SignOptions struct {
	// MinCARemaining refuses to sign when the CA has less validity left than this, so that
	// leaves are not issued with a uselessly short life just before a rotation. 0 refuses
	// only an expired CA.
	MinCARemaining time.Duration
}

// Result is a signed leaf, ready to be stored by cert-manager.
type Result struct {
	Leaf              *x509.Certificate
	ChainPEM          []byte    // leaf, then the CA chain (Active.Chain): cert-manager's tls.crt
	CAPEM             []byte    // the trust bundle to publish as ca.crt
	Truncated         bool      // NotAfter was cut to the CA chain's NotAfter
	RequestedNotAfter time.Time // NotBefore + the requested duration, before any truncation
}

// Sign issues a leaf certificate for template with ca. Only vetted fields of template are
// used (the subject, SANs, KeyUsage, ExtKeyUsage, PublicKey) in a fresh template, so
// extensions, policies or name constraints smuggled into the request never reach the
// certificate. Sign does not apply the issuer's Policy: call Policy.Evaluate (or
// Policy.EvaluateRequest) first.
//
// The subject is template.RawSubject verbatim when it is set (cert-manager's template carries
// the CSR's, which keeps a literalSubject's order) and holds exactly the attributes of
// template.Subject that Sign copies, one CN at most; a RawSubject holding anything else is
// refused with ErrUnsupportedSubject rather than dropped. Without RawSubject the subject is
// built from template.Subject's standard attributes (ExtraNames are ignored).
//
// The requested duration is template.NotAfter - template.NotBefore (only the difference
// counts). The leaf is valid from now minus the clock-skew backdate (1 minute, less for
// durations under an hour; never before the CA's NotBefore) for exactly that duration, cut to
// the CA chain's earliest NotAfter. bundle is published as CAPEM and must contain a
// certificate of the CA's chain; empty means the CA certificate alone.
func Sign(now time.Time, ca *CA, bundle Bundle, template *x509.Certificate, opts SignOptions) (*Result, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, newError(ErrCAUnusable, "no CA certificate and key to sign with")
	}
	chain := ca.chain()
	if !bytes.Equal(chain[0].Raw, ca.Cert.Raw) {
		// ChainPEM would otherwise present a chain that does not start at the signer.
		return nil, newError(ErrBrokenChain, "the CA chain does not start with the CA certificate %s", describe(ca.Cert))
	}
	if err := checkUsable(chain, now, opts.MinCARemaining); err != nil {
		return nil, err
	}
	if bundle.Len() == 0 {
		bundle = NewBundle(ca.Cert)
	} else if !slices.ContainsFunc(chain, bundle.Contains) {
		// Publishing a bundle that cannot verify the chain would break every client.
		return nil, newError(ErrBundleMismatch, "the trust bundle contains no certificate of the chain of CA %s", describe(ca.Cert))
	}
	if template == nil {
		return nil, newError(ErrNoIdentity, "no certificate template")
	}
	if template.IsCA {
		return nil, newError(ErrCARequested, "a CA certificate was requested; this issuer signs only leaf certificates")
	}
	if template.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return nil, newError(ErrCARequested, "the cert sign and CRL sign key usages are reserved for CA certificates")
	}
	if err := checkLeafPublicKey(template.PublicKey); err != nil {
		return nil, err
	}
	if publicKeysEqual(template.PublicKey, ca.Cert.PublicKey) {
		return nil, newError(ErrInvalidPublicKey, "the requested public key is the CA's own key")
	}
	if template.Subject.CommonName == "" && len(template.DNSNames) == 0 && len(template.IPAddresses) == 0 &&
		len(template.URIs) == 0 && len(template.EmailAddresses) == 0 {
		return nil, newError(ErrNoIdentity, "the request has no subject alternative names and no common name")
	}
	duration := template.NotAfter.Sub(template.NotBefore)
	if duration <= 0 {
		return nil, newError(ErrInvalidDuration, "requested validity from %s to %s is not a positive duration", formatTime(template.NotBefore), formatTime(template.NotAfter))
	}

	rawSubject, err := leafRawSubject(template)
	if err != nil {
		return nil, err
	}

	notBefore := now.Add(-min(leafBackdate, duration/backdateFraction))
	if notBefore.Before(ca.Cert.NotBefore) {
		notBefore = ca.Cert.NotBefore
	}
	requested := notBefore.Add(duration)
	notAfter, truncated := requested, false
	for _, c := range chain {
		// A leaf outliving any certificate of its chain would stop verifying early anyway;
		// saying so in NotAfter lets cert-manager renew in time.
		if notAfter.After(c.NotAfter) {
			notAfter, truncated = c.NotAfter, true
		}
	}

	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(template.PublicKey)
	if err != nil {
		return nil, wrapError(ErrInvalidPublicKey, err, "encoding the public key")
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               standardSubject(template.Subject),
		RawSubject:            rawSubject, // when set, x509.CreateCertificate writes it instead of Subject
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              template.KeyUsage,
		ExtKeyUsage:           slices.Clone(template.ExtKeyUsage),
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          skid,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		DNSNames:              slices.Clone(template.DNSNames),
		EmailAddresses:        slices.Clone(template.EmailAddresses),
		IPAddresses:           cloneIPs(template.IPAddresses),
		URIs:                  cloneURIs(template.URIs),
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca.Cert, template.PublicKey, ca.Key)
	if err != nil {
		return nil, wrapError(ErrSigningFailed, err, "creating the certificate")
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, wrapError(ErrSigningFailed, err, "parsing the new certificate")
	}
	size := pemSize(pemTypeCertificate, len(der))
	for _, c := range chain {
		size += pemSize(pemTypeCertificate, len(c.Raw))
	}
	chainPEM := appendPEM(make([]byte, 0, size), pemTypeCertificate, der)
	for _, c := range chain {
		chainPEM = appendPEM(chainPEM, pemTypeCertificate, c.Raw)
	}
	return &Result{
		Leaf:              leaf,
		ChainPEM:          chainPEM,
		CAPEM:             bundle.PEM(),
		Truncated:         truncated,
		RequestedNotAfter: requested,
	}, nil
}

// checkUsable refuses a CA whose chain is outside its validity or too close to its end:
// an expired issuer breaks the leaf's chain just like an expired CA.
func checkUsable(chain []*x509.Certificate, now time.Time, minRemaining time.Duration) error {
	for _, c := range chain {
		if err := checkValidity(c, now); err != nil {
			return wrapError(ErrCAUnusable, err, "cannot sign")
		}
		if left := c.NotAfter.Sub(now); left < minRemaining {
			return newError(ErrCAUnusable, "cannot sign: CA certificate %s expires at %s, only %s from now, less than the required %s; rotate the CA",
				describe(c), formatTime(c.NotAfter), humanDuration(left), humanDuration(minRemaining))
		}
	}
	return nil
}

// leafRawSubject returns template.RawSubject for the leaf when it holds only what Sign copies
// and says what template.Subject says, or nil when there is none. A RawSubject that differs
// from the Subject the policy evaluated (a second CN, an attribute Sign does not copy, a
// value that is not a string) is refused: copying it would sign what nobody checked, dropping
// it would sign less than what was asked for.
func leafRawSubject(template *x509.Certificate) ([]byte, error) {
	if len(template.RawSubject) == 0 {
		return nil, nil
	}
	rdns, vs := parseSubject(template.RawSubject)
	if len(vs) > 0 {
		reasons := make([]string, len(vs))
		for i, v := range vs {
			reasons[i] = v.Reason
		}
		return nil, newError(ErrUnsupportedSubject, "cannot sign the requested subject: %s", strings.Join(reasons, "; "))
	}
	var raw pkix.Name
	raw.FillFromRDNSequence(&rdns)
	if !sameStandardSubject(raw, template.Subject) {
		return nil, newError(ErrUnsupportedSubject, "the requested raw subject %s differs from the subject %s the policy evaluated",
			quote(rdns.String()), quote(standardSubject(template.Subject).String()))
	}
	return slices.Clone(template.RawSubject), nil
}

func sameStandardSubject(a, b pkix.Name) bool {
	return slices.Equal(a.Country, b.Country) && slices.Equal(a.Organization, b.Organization) &&
		slices.Equal(a.OrganizationalUnit, b.OrganizationalUnit) && slices.Equal(a.Locality, b.Locality) &&
		slices.Equal(a.Province, b.Province) && slices.Equal(a.StreetAddress, b.StreetAddress) &&
		slices.Equal(a.PostalCode, b.PostalCode) && a.SerialNumber == b.SerialNumber && a.CommonName == b.CommonName
}

// standardSubject keeps the attributes pkix.Name models and drops ExtraNames, which would
// be written verbatim and could override what the policy evaluated (e.g. a second CN).
func standardSubject(n pkix.Name) pkix.Name {
	return pkix.Name{
		Country:            slices.Clone(n.Country),
		Organization:       slices.Clone(n.Organization),
		OrganizationalUnit: slices.Clone(n.OrganizationalUnit),
		Locality:           slices.Clone(n.Locality),
		Province:           slices.Clone(n.Province),
		StreetAddress:      slices.Clone(n.StreetAddress),
		PostalCode:         slices.Clone(n.PostalCode),
		SerialNumber:       n.SerialNumber,
		CommonName:         n.CommonName,
	}
}

func cloneIPs(ips []net.IP) []net.IP {
	if ips == nil {
		return nil
	}
	out := make([]net.IP, len(ips))
	for i, ip := range ips {
		out[i] = slices.Clone(ip)
	}
	return out
}

func cloneURIs(uris []*url.URL) []*url.URL {
	if uris == nil {
		return nil
	}
	out := make([]*url.URL, 0, len(uris))
	for _, u := range uris {
		if u != nil {
			c := *u
			out = append(out, &c)
		}
	}
	return out
}
