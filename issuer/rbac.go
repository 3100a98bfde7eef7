package issuer

// RBAC of the issuer controllers. Secrets are namespaced: the cluster resource namespace
// (antrea-issuer by default) and any namespaces listed in --ca-secret-namespaces (none by
// default); the chart templates both. Nothing reads Secrets cluster-wide.
//
// +kubebuilder:rbac:groups=certificates.antrea.io,resources=antreaissuers;antreaclusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.antrea.io,resources=antreaissuers/status;antreaclusterissuers/status,verbs=patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// CA rotation re-issues the Certificates that use an issuer (as `cmctl renew` does: the
// Issuing condition), and rewrites the generated CA Secret at each rotation step.
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates/status,verbs=update
// +kubebuilder:rbac:groups="",namespace=antrea-issuer,resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=antrea-issuer,resources=leases,verbs=get;create;update
