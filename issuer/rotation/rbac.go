package rotation

// RBAC of CA rotation. It learns about Certificates from the CertificateRequests the issuer
// controllers watch, and reads a Certificate (get, no list or watch) only to re-issue it, as
// `cmctl renew` does: the Issuing condition. Issuer status and CA Secrets: see issuer/rbac.go.
//
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates/status,verbs=update
