package cainject

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reason names why the source Secret yields no bundle to propagate.
type Reason string

const (
	// ReasonSecretNotFound: the Secret does not exist (yet). Waiting.
	ReasonSecretNotFound Reason = "SecretNotFound"
	// ReasonCAMissing: the Secret has neither the CA key nor tls.crt (not issued yet). Waiting.
	ReasonCAMissing Reason = "CAMissing"
	// ReasonSelfSignedMode: the Secret has tls.crt but no CA key, the shape Antrea's
	// selfSignedCert: true mode writes (or an issuer that does not publish its CA). Takeover.
	ReasonSelfSignedMode Reason = "SelfSignedMode"
	// ReasonCAInvalid: the CA key holds no parsable certificate.
	ReasonCAInvalid Reason = "CAInvalid"
	// ReasonServingCertInvalid: tls.crt is present but holds no parsable certificate.
	ReasonServingCertInvalid Reason = "ServingCertInvalid"
	// ReasonNotChained: tls.crt does not chain to the CA key's certificates (someone else, such
	// as Antrea's self-signed mode, rewrote tls.crt). Takeover.
	ReasonNotChained Reason = "CertificateNotChained"
)

// Reasons lists every Reason (for metrics).
var Reasons = []Reason{
	ReasonSecretNotFound, ReasonCAMissing, ReasonSelfSignedMode,
	ReasonCAInvalid, ReasonServingCertInvalid, ReasonNotChained,
}

// SourceError tells why the Secret yields no bundle. Nothing is written while it holds: the
// targets keep the last good bundle.
type SourceError struct {
	Reason Reason
	// Waiting is true when the Secret is simply not ready yet (not an error of anyone's).
	Waiting bool
	// Takeover is true when the Secret looks written by someone else than cert-manager
	// (Antrea's self-signed mode): Antrea must run with selfSignedCert: false.
	Takeover bool
	Message  string
}

func (e *SourceError) Error() string { return string(e.Reason) + ": " + e.Message }

// Bundle is the CA bundle to propagate: the Secret's CA key, byte for byte.
type Bundle struct {
	// PEM is the CA key's value, verbatim (antrea-controller writes exactly these bytes).
	PEM []byte
	// Certificates is the number of certificates in it.
	Certificates int
}

// Fingerprint is the SHA-256 of the bundle bytes, for logs (no key material).
func (b Bundle) Fingerprint() string { return fingerprint(b.PEM) }

func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// DesiredBundle computes what every target must carry from the source Secret (nil when it does
// not exist), or a *SourceError saying why nothing may be written. It is pure: it reads only its
// arguments.
//
// The bundle is the value of caKey verbatim. When tls.crt is present it must chain to a
// certificate of that bundle: otherwise propagating the bundle would make every client reject the
// certificate antrea-controller serves.
func DesiredBundle(secret *corev1.Secret, caKey string) (Bundle, error) {
	if secret == nil {
		return Bundle{}, &SourceError{Reason: ReasonSecretNotFound, Waiting: true,
			Message: "waiting for the Secret to exist (cert-manager creates it once the Certificate is issued)"}
	}
	caPEM, hasCA := secret.Data[caKey]
	tlsPEM, hasTLS := secret.Data[corev1.TLSCertKey]
	hasCA, hasTLS = hasCA && len(caPEM) > 0, hasTLS && len(tlsPEM) > 0

	if !hasCA {
		if !hasTLS {
			return Bundle{}, &SourceError{Reason: ReasonCAMissing, Waiting: true,
				Message: fmt.Sprintf("waiting for key %s in the Secret", caKey)}
		}
		msg := fmt.Sprintf("the Secret has %s but no %s, the shape Antrea writes with selfSignedCert: true: set selfSignedCert: false "+
			"in Antrea's configuration (antrea-controller.conf) and let cert-manager re-issue the Secret; if Antrea already runs so, "+
			"the issuer does not publish its CA in %s", corev1.TLSCertKey, caKey, caKey)
		if cn := selfSignedIssuer(tlsPEM); cn != "" {
			msg = fmt.Sprintf("the Secret has %s issued by %q and no %s: Antrea's selfSignedCert: true mode wrote it; set selfSignedCert: false "+
				"in Antrea's configuration (antrea-controller.conf) and let cert-manager re-issue the Secret", corev1.TLSCertKey, cn, caKey)
		}
		return Bundle{}, &SourceError{Reason: ReasonSelfSignedMode, Takeover: true, Message: msg}
	}

	roots, err := parseCertificates(caPEM)
	if err != nil {
		return Bundle{}, &SourceError{Reason: ReasonCAInvalid, Message: fmt.Sprintf("key %s: %v", caKey, err)}
	}
	bundle := Bundle{PEM: caPEM, Certificates: len(roots)}
	if !hasTLS {
		// No serving certificate to check yet; the CA alone is safe to publish.
		return bundle, nil
	}
	chain, err := parseCertificates(tlsPEM)
	if err != nil {
		return Bundle{}, &SourceError{Reason: ReasonServingCertInvalid, Message: fmt.Sprintf("key %s: %v", corev1.TLSCertKey, err)}
	}
	if !chainsTo(chain, roots) {
		msg := fmt.Sprintf("%s (subject %q, issuer %q) does not chain to %s: publishing %s would make agents and the aggregator reject antrea-controller",
			corev1.TLSCertKey, chain[0].Subject.CommonName, chain[0].Issuer.CommonName, caKey, caKey)
		if cn := selfSignedIssuer(tlsPEM); cn != "" {
			msg += "; " + corev1.TLSCertKey + " was issued by Antrea's own self-signed CA: set selfSignedCert: false in Antrea's configuration"
		}
		return Bundle{}, &SourceError{Reason: ReasonNotChained, Takeover: true, Message: msg}
	}
	return bundle, nil
}

// parseCertificates parses every CERTIFICATE block; it fails when there is none or one is bad.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate in %d bytes", len(data))
	}
	return certs, nil
}

// chainsTo reports whether the leaf chain[0] is signed, directly or through the intermediates
// that follow it in chain, by one of roots (or is one of them). Only signatures are checked, not
// validity periods, names or usages: the question is who issued tls.crt, not whether it is still
// valid (expiry is cert-manager's to fix, and refusing to publish would not help).
func chainsTo(chain, roots []*x509.Certificate) bool {
	const maxDepth = 8
	current := chain[0]
	used := map[int]bool{0: true}
	for depth := 0; depth < maxDepth; depth++ {
		for _, r := range roots {
			if bytes.Equal(current.Raw, r.Raw) || current.CheckSignatureFrom(r) == nil {
				return true
			}
		}
		next := -1
		for i := 1; i < len(chain); i++ {
			if !used[i] && current.CheckSignatureFrom(chain[i]) == nil {
				next = i
				break
			}
		}
		if next < 0 {
			return false
		}
		used[next] = true
		current = chain[next]
	}
	return false
}

// selfSignedIssuer returns the CA common name when tls.crt was issued by Antrea's self-signed CA
// (common name antrea-ca@<unix time>), else "".
func selfSignedIssuer(tlsPEM []byte) string {
	certs, err := parseCertificates(tlsPEM)
	if err != nil {
		return ""
	}
	if cn := certs[0].Issuer.CommonName; strings.HasPrefix(cn, "antrea-ca@") {
		return cn
	}
	return ""
}
