package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// caStatusFieldOwner owns status.ca; issuer-lib owns status.conditions under its own field owner,
// so the two server-side applies never remove each other's fields.
const caStatusFieldOwner = "antrea-issuer-ca"

// desiredCAStatus describes the CA generations for the issuer's status.
func desiredCAStatus(cfg issuerConfig, gens signer.Generations) *v1alpha1.CAStatus {
	st := &v1alpha1.CAStatus{
		Phase:      string(gens.Phase()),
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

// updateCAStatus applies status.ca when it differs from what the issuer already shows.
func (c *Controller) updateCAStatus(ctx context.Context, iss issuerlibapi.Issuer, cfg issuerConfig, gens signer.Generations) error {
	want := desiredCAStatus(cfg, gens)
	if equality.Semantic.DeepEqual(caStatusOf(iss), want) {
		return nil
	}
	caMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
	if err != nil {
		return err
	}
	patch := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kindOf(iss),
		"metadata":   map[string]any{"name": iss.GetName(), "namespace": iss.GetNamespace()},
		"status":     map[string]any{"ca": caMap},
	}}
	return c.client.Status().Patch(ctx, patch, client.Apply, client.FieldOwner(caStatusFieldOwner), client.ForceOwnership)
}

func kindOf(iss issuerlibapi.Issuer) string {
	switch iss.(type) {
	case *v1alpha1.AntreaClusterIssuer:
		return "AntreaClusterIssuer"
	default:
		return "AntreaIssuer"
	}
}
