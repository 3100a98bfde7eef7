package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IssuerStatus is the observed state of an issuer. The Ready condition is owned by issuer-lib;
// the CARotation condition and the CA block by antrea-issuer's CA rotation controller.
type IssuerStatus struct {
	// Conditions: Ready (the issuer can sign) and CARotation (what CA rotation does or waits for).
	// The same field as issuer-lib's IssuerStatus, declared here so that apply configurations can
	// be generated for the whole status.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// CA describes the CA generations the issuer holds.
	// +optional
	CA *CAStatus `json:"ca,omitempty"`
}

// CAStatus describes the issuer's CA generations. Phase is Steady (one CA), Prepared (a next CA is
// trusted but not yet signing) or Activated (the next CA signs; the previous one is still trusted).
type CAStatus struct {
	// Phase of CA rotation.
	// +optional
	Phase string `json:"phase,omitempty"`

	// PhaseSince is when the current phase began.
	// +optional
	PhaseSince metav1.Time `json:"phaseSince,omitzero"`

	// SecretName is the Secret holding the CA, in the namespace the issuer reads from.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Active is the CA that signs.
	// +optional
	Active *CAGeneration `json:"active,omitempty"`

	// Next is the CA being introduced: trusted, not yet signing.
	// +optional
	Next *CAGeneration `json:"next,omitempty"`

	// Previous is the CA being retired: still trusted, no longer signing.
	// +optional
	Previous *CAGeneration `json:"previous,omitempty"`
}

// CAGeneration identifies one CA certificate.
type CAGeneration struct {
	// Subject of the CA certificate.
	Subject string `json:"subject"`
	// SHA256 fingerprint of the CA certificate, hex encoded.
	SHA256 string `json:"sha256"`
	// NotBefore of the CA certificate.
	NotBefore metav1.Time `json:"notBefore"`
	// NotAfter of the CA certificate.
	NotAfter metav1.Time `json:"notAfter"`
	// Certificate is the CA certificate, PEM encoded (public; no key is ever published).
	// +optional
	Certificate string `json:"certificate,omitempty"`
}
