package issuer

import (
	"context"
	"time"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	issuerlibsigner "github.com/cert-manager/issuer-lib/controllers/signer"
	corev1 "k8s.io/api/core/v1"
)

// check is issuer-lib's Check: the issuer is Ready when its spec is valid and its CA Secret holds
// a usable CA, generating that CA first when the issuer owns it.
//
// Only an invalid spec is a PermanentError: issuer-lib then ignores the issuer until its spec
// changes. Every CA Secret problem is retried, because fixing the Secret (not the issuer) must be
// enough to make the issuer Ready again.
func (c *Controller) check(ctx context.Context, iss issuerlibapi.Issuer) error {
	cfg, err := resolveConfig(iss, c.opts.ClusterResourceNamespace)
	if err != nil {
		return issuerlibsigner.PermanentError{Err: err}
	}
	now := c.clock.Now()
	gens, created, err := c.store.load(ctx, cfg, issuerRef(iss), now)
	if err != nil {
		return err
	}
	if created {
		c.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "CAGenerated", "GenerateCA",
			"Generated CA %q (expires %s) in Secret %s", gens.Active.Cert.Subject.CommonName,
			gens.Active.Cert.NotAfter.UTC().Format(time.RFC3339), cfg.Secret)
	}
	c.metrics.observeCA(iss, gens)
	// Check is not re-run by issuer-lib while the issuer stays Ready: ask for one when the active
	// CA expires, so the issuer stops reporting Ready for a CA that can no longer sign.
	c.rechecks.at(iss, gens.Active.Cert.NotAfter)
	return nil
}

// issuerRef names an issuer in annotations and metrics: <Kind>/<namespace>/<name>.
func issuerRef(iss issuerlibapi.Issuer) string {
	kind := kindOf(iss)
	if iss.GetNamespace() == "" {
		return kind + "/" + iss.GetName()
	}
	return kind + "/" + iss.GetNamespace() + "/" + iss.GetName()
}
