// Package rotation replaces an issuer's CA before it expires, or when asked, without a moment in
// which a client distrusts the server it talks to (plan.go), and publishes the issuer's CA in
// status.ca and the CARotation condition (status.go). It reads CA Secrets through the issuer
// package's CAStore, learns about the Certificates using an issuer from the CertificateRequests
// the issuer controllers already watch, and writes only the CA Secret, the issuer's status and,
// to re-issue a Certificate, its Issuing condition.
package rotation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Annotations that drive and record CA rotation.
const (
	// AnnotationRotate on an issuer asks for a CA rotation (issuer.AnnotationRotate).
	AnnotationRotate = issuer.AnnotationRotate
	// annotationRotateHandled on the CA Secret is the last AnnotationRotate value acted upon.
	annotationRotateHandled = issuer.AnnotationRotateHandled
	// indexIssuer indexes CertificateRequests by the issuer they name (v1alpha1.Kind.Ref).
	indexIssuer = ".spec.issuerRef.antreaIssuer"
	// FieldOwner owns status.ca and the CARotation condition.
	FieldOwner = "antrea-issuer-rotation"
	// ConditionCARotation is the issuer condition describing CA rotation.
	ConditionCARotation = "CARotation"
)

// CAStore reads an issuer's CA Secret and the generations it holds (issuer.CAStore).
type CAStore interface {
	Get(ctx context.Context, cfg issuer.Config) (*corev1.Secret, signer.Generations, error)
}

// PublishedBundle is the CA bundle the CA bundle sync last found in every Antrea target
// (cainject.SyncedBundle): nil before its first complete sync.
type PublishedBundle interface {
	Get() []byte
}

// Options configure CA rotation.
type Options struct {
	ClusterResourceNamespace string
	Workers                  int
	CAStore                  CAStore
	// PublishedBundle, when set, makes a rotation step also wait until Antrea's CA bundles carry
	// the issuer's bundle, for the issuer whose CA they carry.
	PublishedBundle PublishedBundle
	// Clock is injected for tests; defaults to the real clock.
	Clock clock.WithDelayedExecution
	// Registerer receives the metrics; defaults to controller-runtime's registry.
	Registerer prometheus.Registerer
}

// reconciler drives CA rotation for one issuer kind, and publishes status.ca.
type reconciler struct {
	opts   Options
	kind   v1alpha1.Kind
	client client.Client
	// certificates reads Certificates past the cache: only those the rotation re-issues, so that
	// no Certificate informer (a watch of every Certificate of the cluster) is needed.
	certificates client.Reader
	clock        clock.WithDelayedExecution
	recorder     events.EventRecorder
	metrics      *Metrics
	// signatures remembers signature checks of issued requests (see signedBy).
	signatures signatureMemo
	// reissued remembers, per Certificate, the revision it was asked to re-issue at and when, so
	// that it is not fetched again while cert-manager has not yet created the new request.
	reissued sync.Map // types.NamespacedName → reissueMark
	// explained remembers the rotate annotation value explained on a provided CA, per issuer.
	explained sync.Map // string → string
}

type reissueMark struct {
	revision int
	at       time.Time
}

// reissueRecheck is how long a Certificate asked to re-issue counts as issuing without a new
// request appearing, before the rotation looks at it again.
const reissueRecheck = time.Minute

// SetupWithManager registers one rotation controller per issuer kind.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.CAStore == nil || opts.ClusterResourceNamespace == "" {
		return fmt.Errorf("CA rotation needs a CA store and the cluster resource namespace")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Registerer == nil {
		opts.Registerer = metrics.Registry
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &cmapi.CertificateRequest{}, indexIssuer, issuerOfRequest); err != nil {
		return err
	}
	m := NewMetrics(opts.Registerer)
	for _, kind := range v1alpha1.Kinds {
		r := &reconciler{
			opts: opts, kind: kind, client: mgr.GetClient(), certificates: mgr.GetAPIReader(),
			clock: opts.Clock, recorder: mgr.GetEventRecorder(FieldOwner), metrics: m,
		}
		err := ctrl.NewControllerManagedBy(mgr).
			Named("ca-rotation-"+kind.Name).
			For(kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
			Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
				return issuer.IssuersUsingSecret(ctx, r.client, kind, opts.ClusterResourceNamespace, o)
			})).
			Watches(&cmapi.CertificateRequest{}, coalescingMapper(requestEventDelay, r.issuerOfRequestEvent),
				builder.WithPredicates(requestEventMatters)).
			WithOptions(controller.Options{MaxConcurrentReconciles: max(opts.Workers, 1)}).
			Complete(r)
		if err != nil {
			return err
		}
	}
	return nil
}

// issuerOfRequest is the index function: the Ref of the antrea-issuer issuer a request names.
func issuerOfRequest(o client.Object) []string {
	cr, ok := o.(*cmapi.CertificateRequest)
	if !ok || cr.Spec.IssuerRef.Group != v1alpha1.GroupName {
		return nil
	}
	kind, ok := v1alpha1.KindNamed(cr.Spec.IssuerRef.Kind)
	if !ok {
		return nil
	}
	return []string{kind.Ref(cr.Namespace, cr.Spec.IssuerRef.Name)}
}

// issuerOfRequestEvent maps a CertificateRequest to the issuer of this kind it names.
func (r *reconciler) issuerOfRequestEvent(_ context.Context, o client.Object) []reconcile.Request {
	cr, ok := o.(*cmapi.CertificateRequest)
	if !ok || cr.Spec.IssuerRef.Group != v1alpha1.GroupName || cr.Spec.IssuerRef.Kind != r.kind.Name {
		return nil
	}
	key := types.NamespacedName{Name: cr.Spec.IssuerRef.Name}
	if r.kind.Namespaced {
		key.Namespace = cr.Namespace
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// Reconcile gathers the rotation input, plans, and applies the plan: fetch, compute, apply.
func (r *reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	iss := r.kind.New()
	if err := r.client.Get(ctx, req.NamespacedName, iss); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(r.kind.Name, req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	cfg, err := issuer.ResolveConfig(iss, r.opts.ClusterResourceNamespace)
	if err != nil {
		return reconcile.Result{}, nil // Check reports an invalid spec
	}
	secret, gens, err := r.opts.CAStore.Get(ctx, cfg)
	if err != nil {
		return reconcile.Result{}, nil // Check creates a missing CA, or reports why it cannot sign
	}
	now := r.clock.Now()

	if phase := gens.Phase(); phase != signer.PhaseSteady && secret.Annotations[issuer.AnnotationPhase] != string(phase) {
		return reconcile.Result{}, r.recordPhaseStart(ctx, secret, phase, now)
	}
	if previous := replacedCA(iss, gens, now); previous != nil {
		// The CA in the Secret is not the one clients trust (a provided CA overwritten in place,
		// or secretName pointed at another Secret of this issuer): keep the trusted one in every
		// ca.crt until every certificate it signed is re-issued, as after an activation.
		return reconcile.Result{}, r.keepReplacedCA(ctx, iss, cfg, secret, gens, previous, now)
	}

	in, err := r.gatherInput(ctx, iss, cfg, secret, gens, now)
	if err != nil {
		return reconcile.Result{}, err
	}
	plan := planRotation(in)
	if !cfg.Generate && plan.Step == stepPrepare {
		r.explainProvidedRotation(iss, cfg)
		plan.Step = stepNone // only the user adds a next CA to a provided Secret
	}

	if plan.Step != stepNone {
		if err := r.applyStepToSecret(ctx, iss, cfg, secret, gens, plan.Step, now); err != nil {
			return reconcile.Result{}, err
		}
		// The Secret event brings the next reconcile, with the new generations.
		return reconcile.Result{}, nil
	}
	reissued := 0
	for _, key := range plan.Reissue {
		done, err := r.reissue(ctx, iss, cfg, key, in, now)
		if err != nil {
			return reconcile.Result{}, err
		}
		if done {
			reissued++
		}
	}
	if reissued > 0 {
		r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "Reissuing", "Reissue",
			"Re-issuing %d certificate(s) to match CA phase %s", reissued, gens.Phase())
	}
	r.metrics.observe(cfg, gens, phaseSince(secret), now)
	if err := r.publishStatus(ctx, iss, cfg, secret, gens, plan, now); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, nil
}

func (r *reconciler) gatherInput(ctx context.Context, iss v1alpha1.Issuer, cfg issuer.Config, secret *corev1.Secret, gens signer.Generations, now time.Time) (rotationInput, error) {
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

	// Read-only: the requests are the cache's own objects, not copies (every request of the
	// issuer at every look).
	var crs cmapi.CertificateRequestList
	opts := []client.ListOption{client.MatchingFields{indexIssuer: cfg.Ref}, client.UnsafeDisableDeepCopy}
	if r.kind.Namespaced {
		opts = append(opts, client.InNamespace(iss.GetNamespace()))
	}
	if err := r.client.List(ctx, &crs, opts...); err != nil {
		return in, fmt.Errorf("listing CertificateRequests of %s: %w", cfg.Ref, err)
	}
	active := signingCA{cert: gens.Active.Cert, sum: sha256.Sum256(gens.Active.Cert.Raw)}
	in.Certificates = certificateStates(crs.Items, func(cr *cmapi.CertificateRequest) bool { return r.signedBy(cr, active) }, in.PhaseSince)
	for i := range in.Certificates {
		c := &in.Certificates[i]
		if v, ok := r.reissued.Load(c.Key); ok {
			mark := v.(reissueMark)
			if mark.revision == c.Revision && now.Sub(mark.at) < reissueRecheck {
				c.Issuing = true // asked already; cert-manager has not created the request yet
			}
		}
	}

	// Antrea's CA bundles (antrea-ca, the APIServices, webhooks and CRD) must carry the bundle
	// too, when they carry this issuer's CA at all: then it is the issuer of Antrea's Secret.
	if r.opts.PublishedBundle != nil {
		if published := r.opts.PublishedBundle.Get(); carriesAny(published, gens) {
			in.PublishedBundles = map[string][]byte{"Antrea's CA bundles (antrea-ca, APIServices, webhooks, CRD)": published}
		}
	}
	return in, nil
}

// carriesAny reports whether a published PEM bundle holds any of the issuer's CA certificates.
func carriesAny(published []byte, gens signer.Generations) bool {
	if len(published) == 0 {
		return false
	}
	b, err := signer.ParseBundle(published)
	if err != nil {
		return false
	}
	for _, c := range gens.Bundle().Certificates() {
		if b.Contains(c) {
			return true
		}
	}
	return false
}

// applyStepToSecret writes the next generations into the CA Secret. The update carries the
// Secret's resourceVersion, so of two replicas racing only one step lands; the other conflicts,
// re-reads and sees it done.
func (r *reconciler) applyStepToSecret(ctx context.Context, iss v1alpha1.Issuer, cfg issuer.Config, secret *corev1.Secret, gens signer.Generations, step rotationStep, now time.Time) error {
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

// reissue asks cert-manager to issue a Certificate now, as `cmctl renew` does, after checking
// that the view from its requests is still right: it still uses this issuer, its current revision
// is the one seen, it is not issuing already and has not failed in this phase (cert-manager backs
// off then). done reports whether it was asked.
func (r *reconciler) reissue(ctx context.Context, iss v1alpha1.Issuer, cfg issuer.Config, key types.NamespacedName, in rotationInput, now time.Time) (done bool, err error) {
	var seen certificateState
	for _, c := range in.Certificates {
		if c.Key == key {
			seen = c
		}
	}
	crt := &cmapi.Certificate{}
	if err := r.certificates.Get(ctx, key, crt); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	ref := crt.Spec.IssuerRef
	switch {
	case ref.Group != v1alpha1.GroupName || ref.Kind != cfg.Kind.Name || ref.Name != iss.GetName():
		return false, nil // uses another issuer now
	case crt.Status.Revision == nil || *crt.Status.Revision != seen.Revision:
		return false, nil // the cache is behind; the next look sees the new request
	case apiutil.CertificateHasCondition(crt, cmapi.CertificateCondition{Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue}):
		r.reissued.Store(key, reissueMark{revision: seen.Revision, at: now})
		return false, nil
	case crt.Status.LastFailureTime != nil && !crt.Status.LastFailureTime.Time.Before(in.PhaseSince):
		return false, nil
	}
	apiutil.SetCertificateCondition(crt, crt.Generation, cmapi.CertificateConditionIssuing, cmmeta.ConditionTrue,
		"CARotation", "Re-issued by antrea-issuer to follow its CA rotation")
	if err := r.client.Status().Update(ctx, crt); err != nil {
		return false, fmt.Errorf("re-issuing Certificate %s: %w", key, err)
	}
	r.reissued.Store(key, reissueMark{revision: seen.Revision, at: now})
	log.FromContext(ctx).Info("re-issuing certificate for CA rotation", "certificate", key.String())
	return true, nil
}

// explainProvidedRotation answers a rotate annotation on an issuer with a provided CA once per
// value: its owner rotates it.
func (r *reconciler) explainProvidedRotation(iss v1alpha1.Issuer, cfg issuer.Config) {
	v := iss.GetAnnotations()[AnnotationRotate]
	if v == "" {
		return
	}
	if prev, ok := r.explained.Load(cfg.Ref); ok && prev == v {
		return
	}
	r.explained.Store(cfg.Ref, v)
	r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "RotationNotApplicable", "Rotate",
		"%s=%s ignored: this issuer signs with a provided CA, which its owner rotates: add the new CA to Secret %s as next.tls.crt and next.tls.key (no failed handshake), or overwrite tls.crt and tls.key (the old CA stays trusted until its certificates are re-issued)",
		AnnotationRotate, v, cfg.Secret)
}

func phaseSince(secret *corev1.Secret) time.Time {
	if t, err := time.Parse(time.RFC3339, secret.Annotations[issuer.AnnotationPhaseSince]); err == nil {
		return t
	}
	return secret.CreationTimestamp.Time
}

// caSecretKeys are the keys of a CA Secret that hold CA generations; others (a user's) are kept.
var caSecretKeys = []string{signer.SecretKeyTLSCert, signer.SecretKeyTLSKey, signer.SecretKeyCABundle,
	signer.SecretKeyNextTLSCert, signer.SecretKeyNextTLSKey, signer.SecretKeyPreviousCert}

// withPhase returns a copy of the CA Secret holding data (unchanged when nil) and recording that
// phase began at now.
func withPhase(secret *corev1.Secret, data map[string][]byte, phase signer.Phase, now time.Time) *corev1.Secret {
	s := secret.DeepCopy()
	if data != nil {
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
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[issuer.AnnotationPhaseSince] = now.UTC().Format(time.RFC3339Nano)
	s.Annotations[issuer.AnnotationPhase] = string(phase)
	return s
}

// replacedCA returns the CA the issuer's status recorded as active when the Secret, in phase
// Steady, now holds another one (a provided CA overwritten in place, or secretName pointed at
// another Secret of this issuer) and the recorded one is still valid; nil otherwise. A CA the
// status recorded as next is the issuer's own rotation, not a replacement: the status is written
// in the reconcile after a step, so a restart between the two leaves it a step or two behind
// the Secret (measured: a kill after Activate, another after Retire, and the next process took
// the rotated CA for a replaced one and ran a second Activated phase).
func replacedCA(iss v1alpha1.Issuer, gens signer.Generations, now time.Time) *x509.Certificate {
	if gens.Phase() != signer.PhaseSteady {
		return nil
	}
	st := iss.GetStatus()
	old := issuer.KnownCA(st, now)
	if old == nil || bytes.Equal(old.Raw, gens.Active.Cert.Raw) {
		return nil
	}
	if st.CA.Next != nil && st.CA.Next.SHA256 == sha256Hex(gens.Active.Cert) {
		return nil
	}
	return old
}

// keepReplacedCA records the replaced CA as the previous generation of the Secret.
func (r *reconciler) keepReplacedCA(ctx context.Context, iss v1alpha1.Issuer, cfg issuer.Config, secret *corev1.Secret, gens signer.Generations, previous *x509.Certificate, now time.Time) error {
	data, err := signer.Generations{Active: gens.Active, Previous: previous}.SecretData()
	if err != nil {
		return err
	}
	if err := r.client.Update(ctx, withPhase(secret, data, signer.PhaseActivated, now)); err != nil {
		return fmt.Errorf("keeping the replaced CA trusted in %s: %w", cfg.Secret, err)
	}
	r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, "CAReplaced", "KeepPrevious",
		"CA in Secret %s is not the one clients trust: %q stays trusted until every certificate it signed is re-issued by %q",
		cfg.Secret, previous.Subject.CommonName, gens.Active.Cert.Subject.CommonName)
	return nil
}

// recordPhaseStart notes in the CA Secret that phase began now, for a phase the issuer did not
// start itself (a next CA added to a provided Secret by its owner).
func (r *reconciler) recordPhaseStart(ctx context.Context, secret *corev1.Secret, phase signer.Phase, now time.Time) error {
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
func (r *reconciler) signedBy(cr *cmapi.CertificateRequest, ca signingCA) bool {
	key := signatureKey{version: cr.ResourceVersion, ca: ca.sum}
	if signed, ok := r.signatures.get(cr.UID, key); ok {
		return signed
	}
	signed := false
	if b, err := signer.ParseBundle(cr.Status.Certificate); err == nil && b.Len() > 0 {
		signed = b.Certificates()[0].CheckSignatureFrom(ca.cert) == nil
	}
	r.signatures.put(cr.UID, key, signed)
	return signed
}
