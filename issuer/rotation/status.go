package rotation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	issuerac "antrea.io/antrea-issuer/issuer/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Reasons of the CARotation condition.
const (
	ReasonIdle              = "Idle"
	ReasonWaiting           = "Waiting"
	ReasonProgressing       = "Progressing"
	ReasonSpecChangePending = "SpecChangePending"
)

// desiredCAStatus describes the CA generations for the issuer's status.
func desiredCAStatus(cfg issuer.Config, gens signer.Generations, since time.Time) *v1alpha1.CAStatus {
	st := &v1alpha1.CAStatus{
		Phase:      string(gens.Phase()),
		PhaseSince: metav1.NewTime(since.UTC().Truncate(time.Second)),
		SecretName: cfg.Secret.Name,
		Active:     generationOf(gens.Active.Cert),
	}
	if gens.Next != nil {
		st.Next = generationOf(gens.Next.Cert)
	}
	if gens.Previous != nil {
		st.Previous = generationOf(gens.Previous)
	}
	return st
}

func generationOf(cert *x509.Certificate) *v1alpha1.CAGeneration {
	return &v1alpha1.CAGeneration{
		Subject:   cert.Subject.String(),
		SHA256:    sha256Hex(cert),
		NotBefore: metav1.NewTime(cert.NotBefore.UTC()),
		NotAfter:  metav1.NewTime(cert.NotAfter.UTC()),
		// The certificate lets the CA clients trust stay trusted when the Secret no longer holds
		// it (a replaced provided CA, a lost CA Secret).
		Certificate: string(signer.NewBundle(cert).PEM()),
	}
}

// specDrift says how the active generated CA differs from what the spec asks for new CAs (key
// algorithm, lifetime), or "" when it does not: a spec change takes effect at the next rotation.
func specDrift(cfg issuer.Config, gens signer.Generations) string {
	if !cfg.Generate || gens.Phase() != signer.PhaseSteady {
		return ""
	}
	ca := gens.Active.Cert
	var diffs []string
	if alg, ok := signer.KeyAlgorithmOf(ca.PublicKey); !ok || alg != cfg.KeyAlgorithm {
		name := string(alg)
		if !ok {
			name = fmt.Sprintf("%T", ca.PublicKey)
		}
		diffs = append(diffs, fmt.Sprintf("key algorithm %s (spec: %s)", name, cfg.KeyAlgorithm))
	}
	const tolerance = time.Minute
	if lifetime := signer.GeneratedLifetime(ca); lifetime < cfg.CADuration-tolerance || lifetime > cfg.CADuration+tolerance {
		diffs = append(diffs, fmt.Sprintf("lifetime %s (spec: %s)", lifetime.Round(time.Second), cfg.CADuration))
	}
	if len(diffs) == 0 {
		return ""
	}
	msg := "The active CA has " + diffs[0]
	if len(diffs) > 1 {
		msg += " and " + diffs[1]
	}
	return msg + fmt.Sprintf(": the spec takes effect at the next rotation (due %s); annotate %s=<any new value> to rotate now",
		ca.NotAfter.Add(-cfg.RenewBefore).UTC().Format(time.RFC3339), AnnotationRotate)
}

// desiredRotationCondition is the CARotation condition for the plan.
func desiredRotationCondition(gens signer.Generations, plan rotationPlan, drift string, generation int64) metav1.Condition {
	c := metav1.Condition{Type: ConditionCARotation, ObservedGeneration: generation}
	switch {
	case gens.Phase() == signer.PhaseSteady && plan.Waiting == "" && drift != "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonSpecChangePending, drift
	case gens.Phase() == signer.PhaseSteady && plan.Waiting == "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonIdle, "No CA rotation in progress"
	case plan.Waiting != "":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonWaiting, fmt.Sprintf("Phase %s: %s", gens.Phase(), plan.Waiting)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonProgressing, fmt.Sprintf("Phase %s", gens.Phase())
	}
	return c
}

// publishStatus applies status.ca and the CARotation condition when they differ from what the
// issuer shows. Its own field owner: issuer-lib owns the Ready condition, and server-side apply
// keeps each owner's fields apart.
func (r *reconciler) publishStatus(ctx context.Context, iss v1alpha1.Issuer, cfg issuer.Config, secret *corev1.Secret, gens signer.Generations, plan rotationPlan, now time.Time) error {
	wantCA := desiredCAStatus(cfg, gens, phaseSince(secret))
	drift := specDrift(cfg, gens)
	wantCond := desiredRotationCondition(gens, plan, drift, iss.GetGeneration())
	status := iss.GetStatus()
	cur := meta.FindStatusCondition(status.Conditions, ConditionCARotation)
	if equality.Semantic.DeepEqual(status.CA, wantCA) && cur != nil &&
		cur.Status == wantCond.Status && cur.Reason == wantCond.Reason && cur.Message == wantCond.Message && cur.ObservedGeneration == wantCond.ObservedGeneration {
		return nil
	}
	if wantCond.Reason == ReasonSpecChangePending && (cur == nil || cur.Message != wantCond.Message) {
		r.recorder.Eventf(iss, nil, corev1.EventTypeNormal, ReasonSpecChangePending, "Check", "%s", drift)
	}
	// SetStatusCondition keeps the transition time when the status does not change.
	conditions := append([]metav1.Condition(nil), status.Conditions...)
	wantCond.LastTransitionTime = metav1.NewTime(now.UTC().Truncate(time.Second))
	meta.SetStatusCondition(&conditions, wantCond)
	applied := meta.FindStatusCondition(conditions, ConditionCARotation)

	ac := newStatusApply(iss, issuerac.IssuerStatus().
		WithCA(caStatusApply(wantCA)).
		WithConditions(metav1ac.Condition().
			WithType(applied.Type).WithStatus(applied.Status).WithReason(applied.Reason).WithMessage(applied.Message).
			WithObservedGeneration(applied.ObservedGeneration).WithLastTransitionTime(applied.LastTransitionTime)))
	return r.client.Status().Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership)
}

func caStatusApply(st *v1alpha1.CAStatus) *issuerac.CAStatusApplyConfiguration {
	ac := issuerac.CAStatus().WithPhase(st.Phase).WithPhaseSince(st.PhaseSince).WithSecretName(st.SecretName).
		WithActive(generationApply(st.Active))
	if st.Next != nil {
		ac.WithNext(generationApply(st.Next))
	}
	if st.Previous != nil {
		ac.WithPrevious(generationApply(st.Previous))
	}
	return ac
}

func generationApply(g *v1alpha1.CAGeneration) *issuerac.CAGenerationApplyConfiguration {
	return issuerac.CAGeneration().WithSubject(g.Subject).WithSHA256(g.SHA256).
		WithNotBefore(g.NotBefore).WithNotAfter(g.NotAfter).WithCertificate(g.Certificate)
}

// statusApply is an issuer of either kind carrying only its status: the generated apply
// configurations of the two kinds differ only in their constructors, and the kind's descriptor
// gives the rest.
type statusApply struct {
	metav1ac.TypeMetaApplyConfiguration    `json:",inline"`
	*metav1ac.ObjectMetaApplyConfiguration `json:"metadata,omitempty"`
	Status                                 *issuerac.IssuerStatusApplyConfiguration `json:"status,omitempty"`
}

// IsApplyConfiguration marks statusApply as an apply configuration.
func (statusApply) IsApplyConfiguration() {}

func newStatusApply(iss v1alpha1.Issuer, status *issuerac.IssuerStatusApplyConfiguration) *statusApply {
	meta := metav1ac.ObjectMeta().WithName(iss.GetName())
	if iss.IssuerKind().Namespaced {
		meta.WithNamespace(iss.GetNamespace())
	}
	return &statusApply{
		TypeMetaApplyConfiguration:   *metav1ac.TypeMeta().WithAPIVersion(v1alpha1.GroupVersion.String()).WithKind(iss.IssuerKind().Name),
		ObjectMetaApplyConfiguration: meta,
		Status:                       status,
	}
}

// sha256Hex is a CA certificate's SHA-256 as status.ca records it.
func sha256Hex(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
