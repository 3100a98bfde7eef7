package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Annotations that drive and record CA rotation.
const (
	// AnnotationRotate on an issuer asks for a CA rotation: set it to a new value (for example
	// the current time) to rotate now. Each distinct value rotates once.
	AnnotationRotate = v1alpha1.GroupName + "/rotate"
	// annotationRotateHandled on the CA Secret is the last AnnotationRotate value acted upon.
	annotationRotateHandled = v1alpha1.GroupName + "/rotate-handled"
	// annotationPhaseSince on the CA Secret is when the current rotation phase began (RFC 3339),
	// and annotationPhase the phase it was recorded for: a phase the user started (a next CA
	// added to a provided Secret) begins when the issuer first sees it.
	annotationPhaseSince = v1alpha1.GroupName + "/phase-since"
	annotationPhase      = v1alpha1.GroupName + "/phase"
	// indexCertificateRequestOwner indexes CertificateRequests by their owning Certificate's UID.
	indexCertificateRequestOwner = ".metadata.ownerCertificate"
	// rotationFieldOwner owns status.ca and the CARotation condition.
	rotationFieldOwner = "antrea-issuer-rotation"
	// ConditionCARotation is the issuer condition describing CA rotation.
	ConditionCARotation = "CARotation"
)

// DefaultMinPhaseDuration lets kubelet refresh mounted Secrets (within about a minute) and
// Antrea reload its CA and certificate files (about every minute) before the next step.
const DefaultMinPhaseDuration = 5 * time.Minute

// rotationReconciler drives CA rotation for one issuer kind, and publishes status.ca.
type rotationReconciler struct {
	*Controller
	newIssuer func() issuerlibapi.Issuer
	kind      string
	// signatures remembers signature checks of issued requests (see signedBy).
	signatures signatureMemo
}

func (c *Controller) setupRotation(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &cmapi.CertificateRequest{}, indexCertificateRequestOwner, func(o client.Object) []string {
		for _, ref := range o.GetOwnerReferences() {
			if ref.Kind == "Certificate" && ref.Controller != nil && *ref.Controller {
				return []string{string(ref.UID)}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range []*rotationReconciler{
		{Controller: c, kind: "AntreaIssuer", newIssuer: func() issuerlibapi.Issuer { return &v1alpha1.AntreaIssuer{} }},
		{Controller: c, kind: "AntreaClusterIssuer", newIssuer: func() issuerlibapi.Issuer { return &v1alpha1.AntreaClusterIssuer{} }},
	} {
		err := ctrl.NewControllerManagedBy(mgr).
			Named("ca-rotation-"+r.kind).
			For(r.newIssuer(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
			Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
				return c.issuersForSecret(ctx, r.kind, o)
			})).
			Watches(&cmapi.Certificate{}, coalescingMapper(certificateEventDelay, r.issuerOfCertificate)).
			WithOptions(c.controllerOptions()).
			Complete(r)
		if err != nil {
			return err
		}
	}
	return nil
}

// issuerOfCertificate maps a Certificate to the issuer of this kind it uses.
func (r *rotationReconciler) issuerOfCertificate(_ context.Context, o client.Object) []reconcile.Request {
	crt, ok := o.(*cmapi.Certificate)
	if !ok || crt.Spec.IssuerRef.Group != v1alpha1.GroupName || crt.Spec.IssuerRef.Kind != r.kind {
		return nil
	}
	key := types.NamespacedName{Name: crt.Spec.IssuerRef.Name}
	if r.kind == "AntreaIssuer" {
		key.Namespace = crt.Namespace
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// Reconcile gathers the rotation input, plans, and applies the plan: fetch, compute, apply.
func (r *rotationReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	iss := r.newIssuer()
	if err := r.client.Get(ctx, req.NamespacedName, iss.(client.Object)); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forgetIssuer(r.kind, req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	cfg, err := resolveConfig(iss, r.opts.ClusterResourceNamespace)
	if err != nil {
		return reconcile.Result{}, nil // Check reports an invalid spec
	}
	secret := &corev1.Secret{}
	if err := r.client.Get(ctx, cfg.Secret, secret); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err) // Check creates it or reports it missing
	}
	now := r.clock.Now()
	gens, err := r.store.parse(secret, now)
	if err != nil {
		return reconcile.Result{}, nil // Check reports an unusable CA
	}

	if phase := gens.Phase(); phase != signer.PhaseSteady && secret.Annotations[annotationPhase] != string(phase) {
		return reconcile.Result{}, r.recordPhaseStart(ctx, secret, phase, now)
	}
	if previous := replacedProvidedCA(iss, cfg, gens, now); previous != nil {
		// The user overwrote a provided CA: keep the old one trusted until every certificate it
		// signed is re-issued, as the Activated phase of a rotation does.
		return reconcile.Result{}, r.keepReplacedCA(ctx, iss, cfg, secret, gens, previous, now)
	}

	in, err := r.gatherInput(ctx, iss, cfg, secret, gens, now)
	if err != nil {
		return reconcile.Result{}, err
	}
	plan := planRotation(in)
	if !cfg.Generate && plan.Step == stepPrepare {
		plan.Step = stepNone // only the user adds a next CA to a provided Secret
	}

	if plan.Step != stepNone {
		if err := r.applyStepToSecret(ctx, iss, cfg, secret, gens, plan.Step, now); err != nil {
			return reconcile.Result{}, err
		}
		// The Secret event brings the next reconcile, with the new generations.
		return reconcile.Result{}, nil
	}
	for _, key := range plan.Reissue {
		if err := r.reissue(ctx, key); err != nil {
			return reconcile.Result{}, err
		}
	}
	if len(plan.Reissue) > 0 {
		r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "Reissuing", "Reissue",
			"Re-issuing %d certificate(s) to match CA phase %s", len(plan.Reissue), gens.Phase())
	}
	r.metrics.observeRotation(iss, gens.Phase())
	if err := r.publishStatus(ctx, iss, cfg, secret, gens, plan); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, nil
}

func (r *rotationReconciler) gatherInput(ctx context.Context, iss issuerlibapi.Issuer, cfg issuerConfig, secret *corev1.Secret, gens signer.Generations, now time.Time) (rotationInput, error) {
	in := rotationInput{
		Now:              now,
		Generations:      gens,
		PhaseSince:       phaseSince(secret),
		RenewBefore:      cfg.RenewBefore,
		MinPhaseDuration: cfg.MinPhaseDuration,
	}
	if v := iss.GetAnnotations()[AnnotationRotate]; v != "" && v != secret.Annotations[annotationRotateHandled] {
		in.RequestPending = true
	}

	var certs cmapi.CertificateList
	var opts []client.ListOption
	if r.kind == "AntreaIssuer" {
		opts = append(opts, client.InNamespace(iss.GetNamespace()))
	}
	if err := r.client.List(ctx, &certs, opts...); err != nil {
		return in, fmt.Errorf("listing Certificates: %w", err)
	}
	activeCA := signingCA{cert: gens.Active.Cert, sum: sha256.Sum256(gens.Active.Cert.Raw)}
	issuesAntreaSecret := false
	for i := range certs.Items {
		crt := &certs.Items[i]
		ref := crt.Spec.IssuerRef
		if ref.Group != v1alpha1.GroupName || ref.Kind != r.kind || ref.Name != iss.GetName() {
			continue
		}
		st, err := r.certificateState(ctx, crt, activeCA, in.PhaseSince)
		if err != nil {
			return in, err
		}
		in.Certificates = append(in.Certificates, st)
		if st.Issued && r.opts.AntreaSecret == (types.NamespacedName{Namespace: crt.Namespace, Name: crt.Spec.SecretName}) {
			issuesAntreaSecret = true
		}
	}
	if issuesAntreaSecret && r.opts.AntreaBundle != nil {
		in.PublishedBundles = map[string][]byte{"Antrea's CA bundles (antrea-ca, APIServices, webhooks, CRD)": r.opts.AntreaBundle()}
	}
	return in, nil
}

// certificateState reads a Certificate's current certificate from the CertificateRequest of its
// current revision (issuer-lib caches CertificateRequests; Secrets of other namespaces are not
// readable, by design).
func (r *rotationReconciler) certificateState(ctx context.Context, crt *cmapi.Certificate, active signingCA, phaseSince time.Time) (certificateState, error) {
	st := certificateState{Key: client.ObjectKeyFromObject(crt)}
	if c := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionIssuing); c != nil && c.Status == cmmeta.ConditionTrue {
		st.Issuing = true
	}
	if t := crt.Status.LastFailureTime; t != nil && !t.Time.Before(phaseSince) {
		st.FailedRecently = true
	}
	if crt.Status.Revision == nil {
		return st, nil
	}
	var crs cmapi.CertificateRequestList
	if err := r.client.List(ctx, &crs, client.InNamespace(crt.Namespace), client.MatchingFields{indexCertificateRequestOwner: string(crt.UID)}); err != nil {
		return st, fmt.Errorf("listing CertificateRequests of %s: %w", st.Key, err)
	}
	revision := fmt.Sprint(*crt.Status.Revision)
	for _, cr := range crs.Items {
		if cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey] != revision || len(cr.Status.Certificate) == 0 {
			continue
		}
		st.Issued = true
		st.CA = cr.Status.CA
		st.SignedByActive = r.signedBy(&cr, active)
	}
	return st, nil
}

// applyStepToSecret writes the next generations into the CA Secret. The update carries the
// Secret's resourceVersion, so of two replicas racing only one step lands; the other conflicts,
// re-reads and sees it done.
func (r *rotationReconciler) applyStepToSecret(ctx context.Context, iss issuerlibapi.Issuer, cfg issuerConfig, secret *corev1.Secret, gens signer.Generations, step rotationStep, now time.Time) error {
	var next *signer.CA
	if step == stepPrepare {
		var err error
		if next, err = signer.GenerateCA(now, signer.CAOptions{KeyAlgorithm: cfg.KeyAlgorithm, Lifetime: cfg.CADuration}); err != nil {
			return fmt.Errorf("generating the next CA: %w", err)
		}
	}
	updated, err := applyStep(gens, step, next)
	if err != nil {
		return err
	}
	data, err := updated.SecretData()
	if err != nil {
		return err
	}
	s := withPhase(secret, data, updated.Phase(), now)
	if step == stepPrepare {
		if v := iss.GetAnnotations()[AnnotationRotate]; v != "" {
			s.Annotations[annotationRotateHandled] = v
		}
	}
	if err := r.client.Update(ctx, s); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("CA Secret %s changed meanwhile; re-reading: %w", cfg.Secret, err)
		}
		r.recorder.Eventf(iss, nil, corev1.EventTypeWarning, "CARotationFailed", string(step),
			"Could not write CA rotation step %s to Secret %s: %v", step, cfg.Secret, err)
		return fmt.Errorf("writing rotation step %s: %w", step, err)
	}
	r.metrics.observeTransition(gens.Phase(), now.Sub(phaseSince(secret)))
	msg := map[rotationStep]string{
		stepPrepare:  "Prepared CA %q: trusted alongside the active CA, not signing yet",
		stepActivate: "Activated CA %q: it signs from now on; the previous CA stays trusted until its certificates are replaced",
		stepRetire:   "Retired the previous CA; CA %q alone is trusted",
	}[step]
	cn := updated.Active.Cert.Subject.CommonName
	if step == stepPrepare {
		cn = next.Cert.Subject.CommonName
	}
	r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "CARotation"+string(step)+"d", string(step), msg, cn)
	log.FromContext(ctx).Info("CA rotation step", "step", string(step), "secret", cfg.Secret.String(), "ca", cn)
	return nil
}

// reissue asks cert-manager to issue a Certificate now, as `cmctl renew` does.
func (r *rotationReconciler) reissue(ctx context.Context, key types.NamespacedName) error {
	crt := &cmapi.Certificate{}
	if err := r.client.Get(ctx, key, crt); err != nil {
		return client.IgnoreNotFound(err)
	}
	apiutil.SetCertificateCondition(crt, crt.Generation, cmapi.CertificateConditionIssuing, cmmeta.ConditionTrue,
		"CARotation", "Re-issued by antrea-issuer to follow its CA rotation")
	if err := r.client.Status().Update(ctx, crt); err != nil {
		return fmt.Errorf("re-issuing Certificate %s: %w", key, err)
	}
	log.FromContext(ctx).Info("re-issuing certificate for CA rotation", "certificate", key.String())
	return nil
}

func phaseSince(secret *corev1.Secret) time.Time {
	if t, err := time.Parse(time.RFC3339, secret.Annotations[annotationPhaseSince]); err == nil {
		return t
	}
	return secret.CreationTimestamp.Time
}

func firstCertificate(pemBytes []byte) (*x509.Certificate, error) {
	b, err := signer.ParseBundle(pemBytes)
	if err != nil {
		return nil, err
	}
	certs := b.Certificates()
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs[0], nil
}

// caSecretKeys are the keys of a CA Secret that hold CA generations; others (a user's) are kept.
var caSecretKeys = []string{signer.SecretKeyTLSCert, signer.SecretKeyTLSKey, signer.SecretKeyCABundle,
	signer.SecretKeyNextTLSCert, signer.SecretKeyNextTLSKey, signer.SecretKeyPreviousCert}

// withPhase returns a copy of the CA Secret holding data (unchanged when nil) and recording that
// phase began at now.
func withPhase(secret *corev1.Secret, data map[string][]byte, phase signer.Phase, now time.Time) *corev1.Secret {
	s := secret.DeepCopy()
	if data != nil {
		setCAData(s, data)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[annotationPhaseSince] = now.UTC().Format(time.RFC3339Nano)
	s.Annotations[annotationPhase] = string(phase)
	return s
}

// setCAData replaces the CA generations in a Secret, leaving any other key as it is.
func setCAData(s *corev1.Secret, data map[string][]byte) {
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for _, k := range caSecretKeys {
		delete(s.Data, k)
	}
	for k, v := range data {
		s.Data[k] = v
	}
}

// replacedProvidedCA returns the CA a provided Secret held before the user overwrote it in place,
// as the issuer's status recorded it, when it must stay trusted; nil otherwise.
func replacedProvidedCA(iss issuerlibapi.Issuer, cfg issuerConfig, gens signer.Generations, now time.Time) *x509.Certificate {
	st := caStatusOf(iss)
	if cfg.Generate || gens.Phase() != signer.PhaseSteady || st == nil || st.Active == nil || st.SecretName != cfg.Secret.Name {
		return nil
	}
	if st.Active.SHA256 == generationOf(gens.Active.Cert).SHA256 || st.Active.Certificate == "" {
		return nil
	}
	old, err := firstCertificate([]byte(st.Active.Certificate))
	if err != nil || !now.Before(old.NotAfter) {
		return nil // nothing usable to keep trusting
	}
	return old
}

// keepReplacedCA records the replaced CA as the previous generation of a provided Secret.
func (r *rotationReconciler) keepReplacedCA(ctx context.Context, iss issuerlibapi.Issuer, cfg issuerConfig, secret *corev1.Secret, gens signer.Generations, previous *x509.Certificate, now time.Time) error {
	data, err := signer.Generations{Active: gens.Active, Previous: previous}.SecretData()
	if err != nil {
		return err
	}
	if err := r.client.Update(ctx, withPhase(secret, data, signer.PhaseActivated, now)); err != nil {
		return fmt.Errorf("keeping the replaced CA trusted in %s: %w", cfg.Secret, err)
	}
	r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "ProvidedCAReplaced", "KeepPrevious",
		"CA in Secret %s replaced: %q stays trusted until every certificate it signed is re-issued by %q",
		cfg.Secret, previous.Subject.CommonName, gens.Active.Cert.Subject.CommonName)
	return nil
}

// recordPhaseStart notes in the CA Secret that phase began now, for a phase the issuer did not
// start itself (a next CA added to a provided Secret by its owner).
func (r *rotationReconciler) recordPhaseStart(ctx context.Context, secret *corev1.Secret, phase signer.Phase, now time.Time) error {
	if err := r.client.Update(ctx, withPhase(secret, nil, phase, now)); err != nil {
		return fmt.Errorf("recording the start of phase %s in %s: %w", phase, client.ObjectKeyFromObject(secret), err)
	}
	return nil
}

// signingCA is a CA certificate with its SHA-256, hashed once per reconcile rather than once per
// Certificate looked at.
type signingCA struct {
	cert *x509.Certificate
	sum  [32]byte
}

// signedBy reports whether a CertificateRequest's certificate was signed by ca. A request's
// certificate never changes once issued, so the answer is remembered per request version and CA:
// every reconcile looks at every Certificate of the issuer, and a signature check per look made
// CPU grow with the square of the Certificates issued (measured by `make bench`).
func (r *rotationReconciler) signedBy(cr *cmapi.CertificateRequest, ca signingCA) bool {
	key := signatureKey{version: cr.ResourceVersion, ca: ca.sum}
	if signed, ok := r.signatures.get(cr.UID, key); ok {
		return signed
	}
	leaf, err := firstCertificate(cr.Status.Certificate)
	signed := err == nil && leaf.CheckSignatureFrom(ca.cert) == nil
	r.signatures.put(cr.UID, key, signed)
	return signed
}
