package issuer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	issuerlibsigner "github.com/cert-manager/issuer-lib/controllers/signer"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"antrea.io/antrea-issuer/internal/expected"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/handover"
	"antrea.io/antrea-issuer/signer"
)

// sign is issuer-lib's Sign. Errors are mapped deliberately:
//   - a request that can never be signed (malformed CSR, policy violation, CA requested, anything
//     the certificate would not carry) is a PermanentError: the CertificateRequest fails with a message listing every reason;
//   - a CA that is missing or cannot sign is an IssuerError: issuer-lib re-checks the issuer,
//     which reports why, and signs once it is Ready again;
//   - anything else (API errors) is returned as is and retried until MaxRetryDuration.
func (c *Controller) sign(ctx context.Context, cr issuerlibsigner.CertificateRequestObject, obj issuerlibapi.Issuer) (issuerlibsigner.PEMBundle, error) {
	start := c.clock.Now()
	iss, ok := obj.(v1alpha1.Issuer)
	if !ok {
		return issuerlibsigner.PEMBundle{}, issuerlibsigner.IssuerError{Err: errUnexpectedIssuer(obj)}
	}
	cfg, err := ResolveConfig(iss, c.opts.ClusterResourceNamespace)
	if err != nil {
		return issuerlibsigner.PEMBundle{}, issuerlibsigner.IssuerError{Err: err}
	}

	details, err := cr.GetCertificateDetails()
	if err != nil {
		return issuerlibsigner.PEMBundle{}, c.refuse(ctx, cr, cfg, fmt.Errorf("reading the request: %w", err))
	}
	csr, template, err := certificateRequest(details)
	if err != nil {
		return issuerlibsigner.PEMBundle{}, c.refuse(ctx, cr, cfg, err)
	}
	// Everything the request asks for must be allowed and carried by the certificate: what Sign
	// would drop (an otherName SAN, an unknown extension) is refused, not signed without it.
	if err := cfg.Policy.EvaluateRequest(csr, template); err != nil {
		return issuerlibsigner.PEMBundle{}, c.refuse(ctx, cr, cfg, err)
	}

	// The CA is read, never created, here: only Check creates a CA. A missing or unusable one
	// makes issuer-lib re-check the issuer, which reports why.
	_, gens, err := c.store.Get(ctx, cfg)
	if err != nil {
		if errors.Is(err, ErrCASecretNotFound) || errors.Is(err, ErrCASecretUnusable) || errors.Is(err, ErrNamespaceNotWatched) ||
			errors.Is(err, ErrCASecretNotLabelled) || errors.Is(err, ErrCASecretOwned) {
			return issuerlibsigner.PEMBundle{}, issuerlibsigner.IssuerError{Err: expected.Mark(err)}
		}
		return issuerlibsigner.PEMBundle{}, err
	}
	bundle := gens.Bundle()
	if err := c.checkHandover(ctx, cr, bundle); err != nil {
		return issuerlibsigner.PEMBundle{}, err
	}
	res, err := signer.Sign(start, gens.Active, bundle, template, signer.SignOptions{})
	switch {
	case errors.Is(err, signer.ErrCAUnusable), errors.Is(err, signer.ErrBundleMismatch):
		return issuerlibsigner.PEMBundle{}, issuerlibsigner.IssuerError{Err: expected.Mark(err)}
	case errors.Is(err, signer.ErrSigningFailed):
		return issuerlibsigner.PEMBundle{}, err
	case err != nil:
		return issuerlibsigner.PEMBundle{}, c.refuse(ctx, cr, cfg, err)
	}

	if res.Truncated {
		// The request object embeds the CertificateRequest, so the event lands where
		// `kubectl describe certificaterequest` shows it; fall back to the issuer.
		var regarding runtime.Object = iss
		if obj, ok := cr.(runtime.Object); ok {
			regarding = obj
		}
		c.recorder.Eventf(regarding, nil, corev1.EventTypeNormal, "DurationTruncated", "Sign",
			"Certificate lifetime cut to the CA's expiry %s (requested until %s)",
			res.Leaf.NotAfter.UTC().Format(time.RFC3339), res.RequestedNotAfter.UTC().Format(time.RFC3339))
	}
	c.metrics.signDuration.WithLabelValues(cfg.Kind.Name).Observe(c.clock.Since(start).Seconds())
	log.FromContext(ctx).V(1).Info("signed certificate", "serial", res.Leaf.SerialNumber.Text(16),
		"notAfter", res.Leaf.NotAfter, "dnsNames", res.Leaf.DNSNames)
	return issuerlibsigner.PEMBundle{ChainPEM: res.ChainPEM, CAPEM: res.CAPEM}, nil
}

// checkHandover leaves the request pending, with the gate's reason in its Ready condition, while
// signing it would hand antrea-controller in its default mode a certificate its agents do not
// trust yet (issuer/handover). The reason is logged once per request; the gate is asked again
// every RetryAfter.
func (c *Controller) checkHandover(ctx context.Context, cr issuerlibsigner.CertificateRequestObject, trusted signer.Bundle) error {
	if c.opts.Handover == nil {
		return nil
	}
	err := c.opts.Handover.Check(ctx, cr.GetNamespace(), cr.GetAnnotations()[cmapi.CertificateNameKey], trusted)
	switch {
	case err == nil:
		if _, was := c.held.LoadAndDelete(cr.GetUID()); was {
			log.FromContext(ctx).Info("certificate request no longer held", "request", cr.GetNamespace()+"/"+cr.GetName())
		}
		return nil
	case errors.Is(err, handover.ErrHeld):
		if _, was := c.held.LoadOrStore(cr.GetUID(), struct{}{}); !was {
			log.FromContext(ctx).Info("certificate request held", "request", cr.GetNamespace()+"/"+cr.GetName(), "reason", err.Error())
		}
		return issuerlibsigner.PendingError{Err: expected.Mark(err), RequeueAfter: c.opts.Handover.RetryAfter()}
	default:
		return err
	}
}

// refuse fails a request for good: one info line says why (issuer-lib's and controller-runtime's
// error lines for it are dropped by the binary's log filter), and the message lands in the
// request's Ready condition.
func (c *Controller) refuse(ctx context.Context, cr issuerlibsigner.CertificateRequestObject, cfg Config, err error) error {
	name := ""
	if o, ok := cr.(interface{ GetName() string }); ok {
		name = o.GetName()
	}
	ns := ""
	if o, ok := cr.(interface{ GetNamespace() string }); ok {
		ns = o.GetNamespace()
	}
	log.FromContext(ctx).Info("certificate request refused", "request", ns+"/"+name, "issuer", cfg.Ref, "reason", err.Error())
	return issuerlibsigner.PermanentError{Err: expected.Mark(err)}
}

// certificateRequest decodes issuer-lib's CertificateDetails into the CSR and the template
// cert-manager's pki package builds from it, with errors that say what is wrong: a request too
// large to parse, a malformed one, or one whose signature does not match its public key (proof of
// possession of the key failed). When the template cannot be built because the request asks for
// what this issuer never signs (a CA, say), that is the error, as a policy refusal.
func certificateRequest(d issuerlibsigner.CertificateDetails) (*x509.CertificateRequest, *x509.Certificate, error) {
	if len(d.CSR) > signer.MaxCSRSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", signer.ErrCSRTooLarge, len(d.CSR), signer.MaxCSRSize)
	}
	csr, err := pki.DecodeX509CertificateRequestBytes(d.CSR)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", signer.ErrMalformedCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", signer.ErrBadCSRSignature, err)
	}
	template, err := pki.CertificateTemplateFromCSR(csr,
		pki.CertificateTemplateOverrideDuration(d.Duration),
		pki.CertificateTemplateValidateAndOverrideBasicConstraints(d.IsCA, d.MaxPathLen),
		pki.CertificateTemplateValidateAndOverrideKeyUsages(d.KeyUsage, d.ExtKeyUsage),
	)
	if err != nil {
		if vs := signer.RequestViolations(csr); len(vs) > 0 {
			return nil, nil, &signer.PolicyError{Violations: vs}
		}
		return nil, nil, fmt.Errorf("%w: %w", signer.ErrMalformedCSR, err)
	}
	return csr, template, nil
}
