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
// CA Secrets: read through the cache, created by Check, claimed (annotation) and rewritten at
// each rotation step. A Secret the cache does not hold is read as metadata only (get), to tell a
// missing Secret from one its owner has not labelled.
// +kubebuilder:rbac:groups="",namespace=antrea-issuer,resources=secrets,verbs=get;list;watch;create;update
//
// At start, the cluster resource namespace must exist (get on that one namespace).
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get,resourceNames=antrea-issuer
//
// Leader election: the Lease, and the events it records through the core events API.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=antrea-issuer,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=antrea-issuer,resources=events,verbs=create;patch
