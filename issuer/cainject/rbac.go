package cainject

// RBAC of the CA bundle sync, narrowest the API allows (docs/cainject.md explains each rule).
// Namespaced rules name Antrea's default namespace; the chart templates it.
//
// The source Secret: get, and list/watch through the cache's metadata.name field selector, which
// the API server authorizes against resourceNames.
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=secrets,verbs=get;list;watch,resourceNames=antrea-controller-tls
//
// The antrea-ca ConfigMap: read the same way; written with server-side apply (patch), which
// creates it when missing (create authorized with the object's name, so resourceNames holds).
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=configmaps,verbs=get;list;watch;create;patch,resourceNames=antrea-ca
//
// Events on the source Secret (events.k8s.io/v1, the manager's event recorder).
// +kubebuilder:rbac:groups=events.k8s.io,namespace=kube-system,resources=events,verbs=create;patch
//
// Cluster-scoped targets: list/watch by label selector (resourceNames cannot restrict a
// label-selected list), and patch (server-side apply of caBundle only) on Antrea's objects.
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=list;watch
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=patch,resourceNames=v1beta2.controlplane.antrea.io;v1beta1.system.antrea.io;v1alpha1.stats.antrea.io
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=patch,resourceNames=crdmutator.antrea.io;labelsmutator.antrea.io
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=patch,resourceNames=crdvalidator.antrea.io
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=list;watch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=patch,resourceNames=ippools.crd.antrea.io
