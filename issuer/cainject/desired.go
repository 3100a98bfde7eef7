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

	"antrea.io/antrea-issuer/signer"
)

// Reason names why nothing is published from the source Secret now.
type Reason string

const (
	// ReasonSecretNotFound: the Secret does not exist (yet). Waiting.
	ReasonSecretNotFound Reason = "SecretNotFound"
	// ReasonCAMissing: the Secret has neither the CA key nor tls.crt (not issued yet). Waiting.
	ReasonCAMissing Reason = "CAMissing"
	// ReasonServingCertMissing: the Secret has the CA key but no tls.crt. antrea-controller
	// cannot serve a certificate of that CA yet, so publishing it could only break clients.
	// Waiting.
	ReasonServingCertMissing Reason = "ServingCertMissing"
	// ReasonSelfSignedMode: the Secret has tls.crt but no CA key, the shape Antrea's
	// selfSignedCert: true mode writes (or an issuer that does not publish its CA). Takeover.
	ReasonSelfSignedMode Reason = "SelfSignedMode"
	// ReasonCANonCertificateBlock: the CA key holds a PEM block that is not a CERTIFICATE (a
	// private key, typically a concatenated file). Never published.
	ReasonCANonCertificateBlock Reason = "CANonCertificateBlock"
	// ReasonCAInvalid: the CA key holds no parsable certificate, or a broken PEM block.
	ReasonCAInvalid Reason = "CAInvalid"
	// ReasonServingCertInvalid: tls.crt is present but holds no parsable certificate.
	ReasonServingCertInvalid Reason = "ServingCertInvalid"
	// ReasonNotChained: tls.crt does not chain to the CA key's certificates (someone else, such
	// as Antrea's self-signed mode, rewrote tls.crt). Takeover.
	ReasonNotChained Reason = "CertificateNotChained"
	// ReasonSettling: the Secret is usable again after a takeover; it is published once no
	// takeover has been seen for Options.SettlePeriod. Waiting.
	ReasonSettling Reason = "Settling"
)

// Reasons lists every Reason (for metrics).
var Reasons = []Reason{
	ReasonSecretNotFound, ReasonCAMissing, ReasonServingCertMissing, ReasonSelfSignedMode,
	ReasonCANonCertificateBlock, ReasonCAInvalid, ReasonServingCertInvalid, ReasonNotChained,
	ReasonSettling,
}

// SourceError tells why the Secret yields no bundle. Nothing is written while it holds: the
// targets keep what they trust.
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

// Bundle is the CA bundle to publish: the Secret's CA key, byte for byte, and what it trusts.
type Bundle struct {
	// PEM is the CA key's value, verbatim (antrea-controller writes exactly these bytes).
	PEM []byte
	// Certificates is the number of distinct certificates in it.
	Certificates int

	cas signer.Bundle
}

// Fingerprint identifies the bundle bytes in logs and events (a SHA-256 prefix; no key material).
func (b Bundle) Fingerprint() string { return fingerprint(b.PEM) }

// Equivalent reports whether a target holding target trusts exactly what the bundle asks for,
// so that it needs no write: the same bytes, or the bundle's certificates in the same order with
// only leaf certificates signed by one of them added. Such a leaf adds no trust (a client accepts
// it through its CA anyway). The second form is what antrea-controller publishes in its
// selfSignedCert: true mode when it adopts the Secret: the served tls.crt verbatim (leaf + CA),
// which keeps trusting the CA after a renewal until it republishes. Anything else (a missing,
// extra or reordered CA, an intermediate, a block that is not a certificate) is not equivalent.
func (b Bundle) Equivalent(target []byte) bool {
	if bytes.Equal(target, b.PEM) {
		return true
	}
	if len(target) == 0 || b.cas.Len() == 0 {
		return false
	}
	got, err := signer.ParseBundle(target)
	if err != nil {
		return false
	}
	var trusted []*x509.Certificate
	for _, c := range got.Certificates() {
		switch {
		case b.cas.Contains(c):
			trusted = append(trusted, c)
		case c.IsCA || !b.cas.Signed(c):
			return false
		}
	}
	return signer.NewBundle(trusted...).Equal(b.cas)
}

func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// DesiredBundle computes what every target must trust from the source Secret (nil when it does
// not exist), or a *SourceError saying why nothing may be published. It is pure: it reads only
// its arguments.
//
// The bundle is the value of caKey verbatim, published only when every PEM block in it is a
// certificate (signer.ParseBundle: a private key never leaves the Secret) and when tls.crt
// chains to one of its certificates: antrea-controller serves tls.crt, so a bundle it does not
// chain to would make every client reject the server.
func DesiredBundle(secret *corev1.Secret, caKey string) (Bundle, error) {
	if secret == nil {
		return Bundle{}, &SourceError{Reason: ReasonSecretNotFound, Waiting: true,
			Message: "waiting for the Secret to exist (cert-manager creates it once the Certificate is issued)"}
	}
	caPEM, tlsPEM := secret.Data[caKey], secret.Data[corev1.TLSCertKey]
	hasCA, hasTLS := len(caPEM) > 0, len(tlsPEM) > 0

	if !hasCA {
		if !hasTLS {
			return Bundle{}, &SourceError{Reason: ReasonCAMissing, Waiting: true,
				Message: fmt.Sprintf("waiting for keys %s and %s in the Secret", caKey, corev1.TLSCertKey)}
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

	if typ, n := firstNonCertificate(caPEM); typ != "" {
		msg := fmt.Sprintf("key %s holds a PEM block of type %q (block %d): only certificates are ever published; remove it from the Secret", caKey, typ, n)
		if strings.Contains(typ, "PRIVATE KEY") {
			msg += " (a private key there would reach every agent and every reader of Antrea's APIServices and webhooks; replace the key it belongs to)"
		}
		return Bundle{}, &SourceError{Reason: ReasonCANonCertificateBlock, Message: msg}
	}
	cas, err := signer.ParseBundle(caPEM)
	if err != nil {
		return Bundle{}, &SourceError{Reason: ReasonCAInvalid, Message: fmt.Sprintf("key %s: %v", caKey, err)}
	}
	if !hasTLS {
		return Bundle{}, &SourceError{Reason: ReasonServingCertMissing, Waiting: true,
			Message: fmt.Sprintf("the Secret has %s but no %s: antrea-controller cannot serve a certificate of that CA yet, so it is not published until %s chains to it",
				caKey, corev1.TLSCertKey, corev1.TLSCertKey)}
	}
	chain, err := signer.ParseBundle(tlsPEM)
	if err != nil {
		return Bundle{}, &SourceError{Reason: ReasonServingCertInvalid, Message: fmt.Sprintf("key %s: %v", corev1.TLSCertKey, err)}
	}
	certs := chain.Certificates()
	if !chainsTo(certs, cas.Certificates()) {
		msg := fmt.Sprintf("%s (subject %q, issuer %q) does not chain to %s: publishing %s would make agents and the aggregator reject antrea-controller",
			corev1.TLSCertKey, certs[0].Subject.CommonName, certs[0].Issuer.CommonName, caKey, caKey)
		if cn := selfSignedIssuer(tlsPEM); cn != "" {
			msg += "; " + corev1.TLSCertKey + " was issued by Antrea's own self-signed CA: set selfSignedCert: false in Antrea's configuration"
		}
		return Bundle{}, &SourceError{Reason: ReasonNotChained, Takeover: true, Message: msg}
	}
	return Bundle{PEM: caPEM, Certificates: cas.Len(), cas: cas}, nil
}

// firstNonCertificate returns the type and 1-based position of the first PEM block of data
// that is not a CERTIFICATE ("" when there is none). Only block types are read: the content of
// such a block (a key) is never copied anywhere.
func firstNonCertificate(data []byte) (string, int) {
	n := 0
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return "", 0
		}
		n++
		if blk.Type != "CERTIFICATE" {
			return blk.Type, n
		}
	}
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
			if current.Equal(r) || current.CheckSignatureFrom(r) == nil {
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
	chain, err := signer.ParseBundle(tlsPEM)
	if err != nil {
		return ""
	}
	if cn := chain.Certificates()[0].Issuer.CommonName; strings.HasPrefix(cn, "antrea-ca@") {
		return cn
	}
	return ""
}
