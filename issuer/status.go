package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// desiredCAStatus describes the CA generations for the issuer's status.
func desiredCAStatus(cfg issuerConfig, gens signer.Generations, since time.Time) *v1alpha1.CAStatus {
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
	sum := sha256.Sum256(cert.Raw)
	return &v1alpha1.CAGeneration{
		Subject:   cert.Subject.String(),
		SHA256:    hex.EncodeToString(sum[:]),
		NotBefore: metav1.NewTime(cert.NotBefore.UTC()),
		NotAfter:  metav1.NewTime(cert.NotAfter.UTC()),
		// The active CA's certificate lets a replaced provided CA stay trusted after its Secret
		// no longer holds it.
		Certificate: string(signer.NewBundle(cert).PEM()),
	}
}

func caStatusOf(iss issuerlibapi.Issuer) *v1alpha1.CAStatus {
	switch i := iss.(type) {
	case *v1alpha1.AntreaIssuer:
		return i.Status.CA
	case *v1alpha1.AntreaClusterIssuer:
		return i.Status.CA
	}
	return nil
}

// desiredRotationCondition is the CARotation condition for the plan.
func desiredRotationCondition(gens signer.Generations, plan rotationPlan, generation int64) metav1.Condition {
	c := metav1.Condition{Type: ConditionCARotation, ObservedGeneration: generation}
	switch {
	case gens.Phase() == signer.PhaseSteady && plan.Waiting == "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, "Idle", "No CA rotation in progress"
	case plan.Waiting != "":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, "Waiting", fmt.Sprintf("Phase %s: %s", gens.Phase(), plan.Waiting)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, "Progressing", fmt.Sprintf("Phase %s", gens.Phase())
	}
	return c
}

// publishStatus applies status.ca and the CARotation condition when they differ from what the
// issuer shows. Its own field owner: issuer-lib owns the Ready condition, and server-side apply
// keeps each owner's fields apart.
func (r *rotationReconciler) publishStatus(ctx context.Context, iss issuerlibapi.Issuer, cfg issuerConfig, secret *corev1.Secret, gens signer.Generations, plan rotationPlan) error {
	wantCA := desiredCAStatus(cfg, gens, phaseSince(secret))
	wantCond := desiredRotationCondition(gens, plan, iss.GetGeneration())
	cur := meta.FindStatusCondition(iss.GetConditions(), ConditionCARotation)
	if equality.Semantic.DeepEqual(caStatusOf(iss), wantCA) && cur != nil &&
		cur.Status == wantCond.Status && cur.Reason == wantCond.Reason && cur.Message == wantCond.Message && cur.ObservedGeneration == wantCond.ObservedGeneration {
		return nil
	}
	wantCond.LastTransitionTime = metav1.NewTime(r.clock.Now().UTC().Truncate(time.Second))
	if cur != nil && cur.Status == wantCond.Status {
		wantCond.LastTransitionTime = cur.LastTransitionTime
	}
	caMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wantCA)
	if err != nil {
		return err
	}
	condMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&wantCond)
	if err != nil {
		return err
	}
	patch := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kindOf(iss),
		"metadata":   map[string]any{"name": iss.GetName(), "namespace": iss.GetNamespace()},
		"status":     map[string]any{"ca": caMap, "conditions": []any{condMap}},
	}}
	return r.client.Status().Patch(ctx, patch, client.Apply, client.FieldOwner(rotationFieldOwner), client.ForceOwnership)
}

func kindOf(iss issuerlibapi.Issuer) string {
	switch iss.(type) {
	case *v1alpha1.AntreaClusterIssuer:
		return "AntreaClusterIssuer"
	default:
		return "AntreaIssuer"
	}
}
