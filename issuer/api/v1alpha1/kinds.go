package v1alpha1

import (
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Issuer is what the two issuer kinds share, so that code handles both without switching on
// their types: issuer-lib's Issuer, the spec and the status.
// +kubebuilder:object:generate=false
// +kubebuilder:ac:generate=false
type Issuer interface {
	issuerlibapi.Issuer
	GetSpec() *IssuerSpec
	GetStatus() *IssuerStatus
	// IssuerKind describes the object's kind.
	IssuerKind() Kind
}

// IssuerList is a list of one issuer kind.
// +kubebuilder:object:generate=false
// +kubebuilder:ac:generate=false
type IssuerList interface {
	runtime.Object
	metav1.ListInterface
	// Issuers returns the items, pointing into the list.
	Issuers() []Issuer
}

// Kind describes one issuer kind: the one place that knows what differs between them.
// +kubebuilder:object:generate=false
// +kubebuilder:ac:generate=false
type Kind struct {
	// Name is the kind's name, as in apiVersion/kind and in cert-manager's issuerRef.kind.
	Name string
	// Namespaced is true for AntreaIssuer: it signs in its own namespace and keeps its CA Secret
	// there; an AntreaClusterIssuer keeps it in the cluster resource namespace.
	Namespaced bool
	// DefaultCASecretSuffix names a generated CA's Secret, "<issuer name><suffix>", when the
	// spec names none. Neither suffix ends the other, so the defaults of an AntreaIssuer and an
	// AntreaClusterIssuer can never name the same Secret.
	DefaultCASecretSuffix string
	// New returns an empty object of the kind.
	New func() Issuer
	// NewList returns an empty list of the kind.
	NewList func() IssuerList
}

var (
	// AntreaIssuerKind is the namespaced kind.
	AntreaIssuerKind = Kind{
		Name: "AntreaIssuer", Namespaced: true, DefaultCASecretSuffix: "-ca-keypair",
		New:     func() Issuer { return &AntreaIssuer{} },
		NewList: func() IssuerList { return &AntreaIssuerList{} },
	}
	// AntreaClusterIssuerKind is the cluster-scoped kind.
	AntreaClusterIssuerKind = Kind{
		Name: "AntreaClusterIssuer", DefaultCASecretSuffix: "-ca",
		New:     func() Issuer { return &AntreaClusterIssuer{} },
		NewList: func() IssuerList { return &AntreaClusterIssuerList{} },
	}
	// Kinds lists both kinds.
	Kinds = []Kind{AntreaIssuerKind, AntreaClusterIssuerKind}
)

// GroupVersionKind is the kind's full name.
func (k Kind) GroupVersionKind() schema.GroupVersionKind { return GroupVersion.WithKind(k.Name) }

// Ref names an issuer of this kind in annotations, events and logs: "<Kind>/<namespace>/<name>",
// or "<Kind>/<name>" for the cluster-scoped kind.
func (k Kind) Ref(namespace, name string) string {
	if !k.Namespaced {
		return k.Name + "/" + name
	}
	return k.Name + "/" + namespace + "/" + name
}

// RefOf is Ref for an object.
func RefOf(iss Issuer) string { return iss.IssuerKind().Ref(iss.GetNamespace(), iss.GetName()) }

// KindNamed returns the kind called name, and whether there is one.
func KindNamed(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// GetSpec returns the spec.
func (i *AntreaIssuer) GetSpec() *IssuerSpec { return &i.Spec }

// GetStatus returns the status.
func (i *AntreaIssuer) GetStatus() *IssuerStatus { return &i.Status }

// IssuerKind is AntreaIssuerKind.
func (*AntreaIssuer) IssuerKind() Kind { return AntreaIssuerKind }

// GetSpec returns the spec.
func (i *AntreaClusterIssuer) GetSpec() *IssuerSpec { return &i.Spec }

// GetStatus returns the status.
func (i *AntreaClusterIssuer) GetStatus() *IssuerStatus { return &i.Status }

// IssuerKind is AntreaClusterIssuerKind.
func (*AntreaClusterIssuer) IssuerKind() Kind { return AntreaClusterIssuerKind }

// Issuers returns the items.
func (l *AntreaIssuerList) Issuers() []Issuer {
	out := make([]Issuer, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

// Issuers returns the items.
func (l *AntreaClusterIssuerList) Issuers() []Issuer {
	out := make([]Issuer, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

var (
	_ Issuer     = &AntreaIssuer{}
	_ Issuer     = &AntreaClusterIssuer{}
	_ IssuerList = &AntreaIssuerList{}
	_ IssuerList = &AntreaClusterIssuerList{}
)
