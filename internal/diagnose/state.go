package diagnose

import (
	"encoding/json"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// Issuer kinds.
const (
	KindIssuer        = "AntreaIssuer"
	KindClusterIssuer = "AntreaClusterIssuer"
)

// State is everything the checks look at, as read from the cluster. Each field read through the
// API has an error beside it: nil when read (a missing object is a nil or empty value), else why
// it could not be (Forbidden makes the checks that need it "skipped").
type State struct {
	// Now is when the state was read; every age and expiry is relative to it.
	Now time.Time

	Lease    *coordinationv1.Lease
	LeaseErr error

	// Issuers are both kinds. ClusterIssuersErr and IssuersErr say why a kind could not be
	// listed; IssuerNamespaces, when set, are the only namespaces AntreaIssuers were listed in
	// (the cluster-wide list was forbidden).
	Issuers           []Issuer
	ClusterIssuersErr error
	IssuersErr        error
	IssuerNamespaces  []string

	// Certificates are the cert-manager Certificates in Antrea's namespace writing the Secret.
	Certificates    []cmapi.Certificate
	CertificatesErr error
	// Requests are the CertificateRequests in Antrea's namespace.
	Requests    []cmapi.CertificateRequest
	RequestsErr error

	Secret    *AntreaSecret
	SecretErr error

	ConfigMap    *corev1.ConfigMap
	ConfigMapErr error

	// The labelled targets (every one, whatever Service it points at).
	APIServices    []apiregistrationv1.APIService
	APIServicesErr error
	Mutating       []admissionregistrationv1.MutatingWebhookConfiguration
	MutatingErr    error
	Validating     []admissionregistrationv1.ValidatingWebhookConfiguration
	ValidatingErr  error
	CRDs           []apiextensionsv1.CustomResourceDefinition
	CRDsErr        error

	Approval ApprovalEvidence
}

// Issuer is an AntreaIssuer or an AntreaClusterIssuer, as much of it as the checks read. It is
// decoded from the object's JSON by the collector (DecodeIssuer) rather than through the API
// types, so that diagnose reads any issuer the API server returns: one stored with a value the
// current types reject still shows, with its conditions.
type Issuer struct {
	Kind       string
	Namespace  string // empty for an AntreaClusterIssuer
	Name       string
	Generation int64
	// Provided is true for spec.ca.provided (a CA the user replaces), false for a generated CA.
	Provided bool
	// RenewBefore and MinPhaseDuration are from the spec; 0 when unset or unreadable (the
	// checks then use the CRD's defaults).
	RenewBefore      time.Duration
	MinPhaseDuration time.Duration
	Conditions       []metav1.Condition
	// CA is status.ca; nil before the issuer published one.
	CA *CAStatus
}

// CAStatus is the issuer's status.ca.
type CAStatus struct {
	Phase      string        `json:"phase,omitempty"`
	PhaseSince metav1.Time   `json:"phaseSince,omitzero"`
	SecretName string        `json:"secretName,omitempty"`
	Active     *CAGeneration `json:"active,omitempty"`
	Next       *CAGeneration `json:"next,omitempty"`
	Previous   *CAGeneration `json:"previous,omitempty"`
}

// CAGeneration identifies one CA certificate (status.ca.active, .next, .previous).
type CAGeneration struct {
	Subject   string      `json:"subject"`
	NotBefore metav1.Time `json:"notBefore"`
	NotAfter  metav1.Time `json:"notAfter"`
}

// Ref is "<Kind>/<name>" or "<Kind>/<namespace>/<name>".
func (i Issuer) Ref() string {
	if i.Namespace == "" {
		return i.Kind + "/" + i.Name
	}
	return i.Kind + "/" + i.Namespace + "/" + i.Name
}

// issuerDoc is the JSON of either issuer kind, reduced to what Issuer keeps.
type issuerDoc struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		CA struct {
			Generated *struct {
				RenewBefore      string `json:"renewBefore"`
				MinPhaseDuration string `json:"minPhaseDuration"`
			} `json:"generated"`
			Provided *struct {
				MinPhaseDuration string `json:"minPhaseDuration"`
			} `json:"provided"`
		} `json:"ca"`
	} `json:"spec"`
	Status struct {
		Conditions []metav1.Condition `json:"conditions"`
		CA         *CAStatus          `json:"ca"`
	} `json:"status"`
}

// DecodeIssuer reads an issuer of either kind from its JSON.
func DecodeIssuer(data []byte) (Issuer, error) {
	var d issuerDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return Issuer{}, fmt.Errorf("decoding an issuer: %w", err)
	}
	iss := Issuer{
		Kind: d.Kind, Namespace: d.Metadata.Namespace, Name: d.Metadata.Name, Generation: d.Metadata.Generation,
		Conditions: d.Status.Conditions, CA: d.Status.CA,
	}
	// Durations are strings in Go's syntax whatever the API version's Go type (metav1.Duration
	// writes "8760h0m0s", a plain string "8760h"); an unreadable one falls back to the default.
	parse := func(s string) time.Duration { v, _ := time.ParseDuration(s); return v }
	if g := d.Spec.CA.Generated; g != nil {
		iss.RenewBefore, iss.MinPhaseDuration = parse(g.RenewBefore), parse(g.MinPhaseDuration)
	}
	if p := d.Spec.CA.Provided; p != nil {
		iss.Provided, iss.MinPhaseDuration = true, parse(p.MinPhaseDuration)
	}
	return iss, nil
}

// AntreaSecret is what diagnose keeps of Antrea's Secret: its type, the names of its keys (with
// whether each holds anything) and the two public keys. tls.key is never decoded.
type AntreaSecret struct {
	Type string
	// Keys maps each key of the Secret to whether its value is non-empty.
	Keys map[string]bool
	CA   []byte // ca.crt
	TLS  []byte // tls.crt
}

// ApprovalEvidence is what the collector could learn about whether cert-manager may approve
// antrea-issuer's CertificateRequests.
type ApprovalEvidence struct {
	// Method is how: MethodSAR, MethodRBAC or MethodLocalSAR; empty when nothing worked (Err).
	Method string
	// Namespace is where a LocalSubjectAccessReview was made.
	Namespace string
	// Allowed is the answer of the access reviews, by signer name (MethodSAR, MethodLocalSAR).
	Allowed map[string]bool
	// Bindings and Roles are the RBAC objects read (MethodRBAC).
	Bindings []rbacv1.ClusterRoleBinding
	Roles    []rbacv1.ClusterRole
	// Err says why no method worked.
	Err error
}

// Methods of ApprovalEvidence.
const (
	MethodSAR      = "SubjectAccessReview"
	MethodRBAC     = "RBAC"
	MethodLocalSAR = "LocalSubjectAccessReview"
)
