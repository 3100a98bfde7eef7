package issuer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	issuerlibsigner "github.com/cert-manager/issuer-lib/controllers/signer"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"antrea.io/antrea-issuer/internal/expected"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// ErrIssuerDeleting is an issuer being deleted: it gets no new CA.
var ErrIssuerDeleting = errors.New("the issuer is being deleted")

// check is issuer-lib's Check: the issuer is Ready when its spec is valid and its CA Secret holds
// a usable CA of its own, generating that CA first when the issuer owns it. Only Check creates a
// CA; signing never does.
//
// Only an invalid spec is a PermanentError: issuer-lib then ignores the issuer until its spec
// changes. Every CA Secret problem is retried, because fixing the Secret (not the issuer) must be
// enough to make the issuer Ready again.
func (c *Controller) check(ctx context.Context, obj issuerlibapi.Issuer) error {
	iss, ok := obj.(v1alpha1.Issuer)
	if !ok {
		return issuerlibsigner.PermanentError{Err: errUnexpectedIssuer(obj)}
	}
	cfg, err := ResolveConfig(iss, c.opts.ClusterResourceNamespace)
	if err != nil {
		c.refused(ctx, iss, err)
		return issuerlibsigner.PermanentError{Err: expected.Mark(err)}
	}
	now := c.clock.Now()
	secret, gens, err := c.store.Get(ctx, cfg)
	switch {
	case errors.Is(err, ErrCASecretNotFound) && cfg.Generate:
		if gens, err = c.generateCA(ctx, iss, cfg, now); err != nil {
			return c.checkFailed(ctx, iss, err)
		}
	case err != nil:
		return c.checkFailed(ctx, iss, err)
	default:
		if err := c.store.claim(ctx, cfg, secret); err != nil {
			return err
		}
	}
	c.lastRefusal.Delete(cfg.Ref)
	// Check is not re-run by issuer-lib while the issuer stays Ready: ask for one when the active
	// CA expires, so the issuer stops reporting Ready for a CA that can no longer sign.
	c.rechecks.at(iss, gens.Active.Cert.NotAfter)
	return nil
}

// checkFailed returns a Check error, marked as expected (logged here once, as one line) when it
// is a CA Secret for the user to fix rather than a failure of the controller.
func (c *Controller) checkFailed(ctx context.Context, iss v1alpha1.Issuer, err error) error {
	for _, known := range []error{ErrCASecretNotFound, ErrCASecretUnusable, ErrCASecretNotLabelled,
		ErrCASecretOwned, ErrNamespaceNotWatched, ErrIssuerDeleting} {
		if errors.Is(err, known) {
			c.refused(ctx, iss, err)
			return expected.Mark(err)
		}
	}
	return err
}

// refused logs why an issuer is not Ready, once per distinct reason.
func (c *Controller) refused(ctx context.Context, iss v1alpha1.Issuer, err error) {
	ref := v1alpha1.RefOf(iss)
	if prev, ok := c.lastRefusal.Load(ref); ok && prev == err.Error() {
		return
	}
	c.lastRefusal.Store(ref, err.Error())
	log.FromContext(ctx).Info("issuer not ready", "issuer", ref, "reason", err.Error())
}

// generateCA creates the CA Secret of an issuer that generates its CA. When the issuer's status
// records a CA that clients trust (the Secret was deleted, or spec.ca.generated.secretName
// changed), that CA is never dropped in one step: the new Secret starts in phase Activated with
// the recorded CA as the previous one, so it stays in every ca.crt until every certificate it
// signed is re-issued, and rotation retires it as after any activation.
func (c *Controller) generateCA(ctx context.Context, iss v1alpha1.Issuer, cfg Config, now time.Time) (signer.Generations, error) {
	if !iss.GetDeletionTimestamp().IsZero() {
		return signer.Generations{}, fmt.Errorf("%w: no CA is generated for it", ErrIssuerDeleting)
	}
	ca, err := signer.GenerateCA(now, signer.CAOptions{KeyAlgorithm: cfg.KeyAlgorithm, Lifetime: cfg.CADuration})
	if err != nil {
		return signer.Generations{}, fmt.Errorf("generating CA: %w", err)
	}
	gens := signer.Generations{Active: ca}
	known := KnownCA(iss.GetStatus(), now)
	if known != nil && !bytes.Equal(known.Raw, ca.Cert.Raw) {
		gens.Previous = known
	}
	// A rotate annotation the issuer carries now (even one handled in a lost Secret) asks for no
	// rotation of this brand-new CA.
	if err := c.store.create(ctx, cfg, gens, iss.GetAnnotations()[AnnotationRotate], now); err != nil {
		return signer.Generations{}, err
	}
	log.FromContext(ctx).Info("generated a new CA", "issuer", cfg.Ref, "secret", cfg.Secret.String(),
		"subject", ca.Cert.Subject.String(), "notAfter", ca.Cert.NotAfter, "keyAlgorithm", string(cfg.KeyAlgorithm),
		"previous", subjectOf(gens.Previous))
	expiry := ca.Cert.NotAfter.UTC().Format(time.RFC3339)
	switch st := iss.GetStatus().CA; {
	case gens.Previous != nil:
		c.recorder.Eventf(iss, nil, corev1.EventTypeWarning, "CASecretLost", "GenerateCA",
			"CA Secret %s was missing (deleted, or spec.ca.generated.secretName changed): generated CA %q (expires %s); "+
				"the CA clients trust, %q, stays in every ca.crt as the previous CA until every certificate is re-issued by the new one, then retires",
			cfg.Secret, ca.Cert.Subject.CommonName, expiry, gens.Previous.Subject.CommonName)
	case st != nil && st.Active != nil:
		c.recorder.Eventf(iss, nil, corev1.EventTypeWarning, "CASecretLost", "GenerateCA",
			"CA Secret %s was missing and the CA recorded in status (%s) has expired or is unreadable: generated CA %q (expires %s); "+
				"clients trust it once the re-issued certificates reach them",
			cfg.Secret, st.Active.Subject, ca.Cert.Subject.CommonName, expiry)
	default:
		c.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "CAGenerated", "GenerateCA",
			"Generated CA %q (expires %s) in Secret %s", ca.Cert.Subject.CommonName, expiry, cfg.Secret)
	}
	return gens, nil
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return c.Subject.String()
}
