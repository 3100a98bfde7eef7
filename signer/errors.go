package signer

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the package returns wraps one of them, so callers can
// branch with errors.Is, while the message itself (built by newError) carries the detail
// an operator needs: which certificate, which time, which Secret key.
var (
	// Reading PEM, certificates and keys.
	ErrMalformedPEM         = errors.New("malformed PEM")
	ErrNoCertificate        = errors.New("no certificate found")
	ErrNoKey                = errors.New("no private key found")
	ErrMalformedCertificate = errors.New("malformed certificate")
	ErrMalformedKey         = errors.New("malformed private key")
	ErrUnsupportedKey       = errors.New("unsupported private key")
	ErrAmbiguousKey         = errors.New("more than one private key")

	// Checking a CA.
	ErrKeyMismatch      = errors.New("private key does not match the CA certificate")
	ErrNotCA            = errors.New("certificate is not a CA")
	ErrNoCertSign       = errors.New("CA certificate is not allowed to sign certificates")
	ErrCANotYetValid    = errors.New("CA certificate is not valid yet")
	ErrCAExpired        = errors.New("CA certificate expired")
	ErrBrokenChain      = errors.New("broken CA chain")
	ErrInvalidCAOptions = errors.New("invalid CA options")

	// The CA Secret.
	ErrInvalidGenerations = errors.New("invalid CA generations")

	// Signing.
	ErrCAUnusable       = errors.New("CA cannot sign now")
	ErrBundleMismatch   = errors.New("trust bundle does not contain the signing CA")
	ErrInvalidDuration  = errors.New("invalid certificate duration")
	ErrCARequested      = errors.New("a CA certificate was requested")
	ErrInvalidPublicKey = errors.New("invalid public key")
	ErrNoIdentity       = errors.New("request has no identity")
	ErrSigningFailed    = errors.New("signing failed")
	// A RawSubject holding what Sign does not copy (RequestViolations names it before signing).
	ErrUnsupportedSubject = errors.New("unsupported certificate subject")

	// Certificate signing requests.
	ErrCSRTooLarge     = errors.New("certificate request too large")
	ErrMalformedCSR    = errors.New("malformed certificate request")
	ErrBadCSRSignature = errors.New("certificate request signature is invalid")

	// Policy.
	ErrPolicyViolation = errors.New("request violates the issuer's policy")
	ErrInvalidPolicy   = errors.New("invalid issuer policy")
)

// detailError lets a message read naturally ("CA certificate "x" expired at ...") instead of
// "sentinel: detail", while errors.Is still finds the sentinel and the underlying cause.
type detailError struct {
	msg   string
	errs  []error
	cause error
}

func (e *detailError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *detailError) Unwrap() []error { return e.errs }

// newError returns an error with the formatted message that matches sentinel.
func newError(sentinel error, format string, args ...any) error {
	return &detailError{msg: fmt.Sprintf(format, args...), errs: []error{sentinel}}
}

// wrapError is newError with an underlying cause appended to the message and matchable too.
func wrapError(sentinel, cause error, format string, args ...any) error {
	return &detailError{msg: fmt.Sprintf(format, args...), errs: []error{sentinel, cause}, cause: cause}
}

// SecretKeyError names the entries of a CA Secret that are wrong, so an operator knows which
// data key to fix. Err wraps the sentinel describing the problem.
type SecretKeyError struct {
	Keys []string // e.g. ["tls.crt", "tls.key"]
	Err  error
}

func (e *SecretKeyError) Error() string {
	return strings.Join(e.Keys, "/") + ": " + e.Err.Error()
}

func (e *SecretKeyError) Unwrap() error { return e.Err }
