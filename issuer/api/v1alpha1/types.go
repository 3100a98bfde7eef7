package v1alpha1

import (
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories=cert-manager;antrea-issuer
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].reason"
// +kubebuilder:printcolumn:name="Message",type="string",priority=1,JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="CA Expiry",type="string",JSONPath=".status.ca.active.notAfter",description="When the active CA expires (a date column would print a future time as <invalid>)"
// +kubebuilder:printcolumn:name="Phase",type="string",priority=1,JSONPath=".status.ca.phase"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// AntreaIssuer signs cert-manager CertificateRequests in its own namespace with a CA whose Secret
// lives in that namespace.
type AntreaIssuer struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +optional
	Spec IssuerSpec `json:"spec,omitzero"`
	// +optional
	Status IssuerStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// AntreaIssuerList is a list of AntreaIssuers.
type AntreaIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []AntreaIssuer `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=cert-manager;antrea-issuer
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].reason"
// +kubebuilder:printcolumn:name="Message",type="string",priority=1,JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="CA Expiry",type="string",JSONPath=".status.ca.active.notAfter",description="When the active CA expires (a date column would print a future time as <invalid>)"
// +kubebuilder:printcolumn:name="Phase",type="string",priority=1,JSONPath=".status.ca.phase"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// AntreaClusterIssuer signs cert-manager CertificateRequests in any namespace with a CA whose
// Secret lives in the cluster resource namespace.
type AntreaClusterIssuer struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +optional
	Spec IssuerSpec `json:"spec,omitzero"`
	// +optional
	Status IssuerStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// AntreaClusterIssuerList is a list of AntreaClusterIssuers.
type AntreaClusterIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []AntreaClusterIssuer `json:"items"`
}

var (
	_ issuerlibapi.Issuer = &AntreaIssuer{}
	_ issuerlibapi.Issuer = &AntreaClusterIssuer{}
)

// GetConditions returns the issuer's status conditions (issuer-lib's Issuer interface).
func (i *AntreaIssuer) GetConditions() []metav1.Condition { return i.Status.Conditions }

// GetIssuerTypeIdentifier is "<plural>.<group>", the prefix of this kind's signer names.
func (i *AntreaIssuer) GetIssuerTypeIdentifier() string { return "antreaissuers." + GroupName }

// GetConditions returns the issuer's status conditions (issuer-lib's Issuer interface).
func (i *AntreaClusterIssuer) GetConditions() []metav1.Condition { return i.Status.Conditions }

// GetIssuerTypeIdentifier is "<plural>.<group>", the prefix of this kind's signer names.
func (i *AntreaClusterIssuer) GetIssuerTypeIdentifier() string {
	return "antreaclusterissuers." + GroupName
}
