// Package v1alpha1 holds the AntreaIssuer and AntreaClusterIssuer API: cert-manager external
// issuers that sign Antrea's controller certificate with a CA they create, store and rotate.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=certificates.antrea.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of antrea-issuer's resources.
const GroupName = "certificates.antrea.io"

var (
	// GroupVersion is the group and version of these types.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}
	// SchemeGroupVersion is GroupVersion under the name generated apply configurations use.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder registers these types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds these types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&AntreaIssuer{}, &AntreaIssuerList{},
		&AntreaClusterIssuer{}, &AntreaClusterIssuerList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
