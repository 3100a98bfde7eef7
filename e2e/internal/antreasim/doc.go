// Package antreasim stands in for Antrea in tests.
//
// Controller behaves like antrea-controller as ANTREA.md describes it: in selfSignedCert: false
// mode it serves and publishes from a file view of the Secret that trails the API (kubelet's
// refresh and Antrea's reload, FileLag), in selfSignedCert: true mode it adopts a pair with 90
// days left or generates its own and overwrites tls.crt/tls.key, and in both it republishes its
// CA bundle with full Updates on every change and every ResyncPeriod. It counts what it writes
// (per object), can be stopped, restarted after a gap and switched between modes, and serves a
// Server the real kube-aggregator can judge. Every test that claims something about Antrea runs
// against it.
//
// Beside it: the objects Antrea's manifests create (APIServices, webhook configurations, the
// IPPool CRD with a conversion webhook, the Service and endpoints that route the aggregator to the
// stand-in), an agent-style TLS client that trusts only the antrea-ca ConfigMap and counts its
// handshakes by outcome, and certificates shaped like the Secrets cert-manager and Antrea's
// self-signed mode write.
//
// It is test support only: nothing in the antrea-issuer binary imports it. The names and labels
// are Antrea's own (its Helm chart and pkg/apiserver/certificate); docs/cainject.md shows their use.
package antreasim

import "antrea.io/antrea-issuer/issuer/cainject"

// Antrea's names, defined once: the CA bundle sync's defaults are Antrea's own.
const (
	// Namespace is Antrea's default namespace.
	Namespace = cainject.DefaultNamespace
	// ServiceName is the Service fronting antrea-controller's API server.
	ServiceName = "antrea"
	// SecretName is the Secret antrea-controller reads its serving certificate from.
	SecretName = cainject.DefaultSecretName
	// CAConfigMapName is the ConfigMap agents read their trust anchor from.
	CAConfigMapName = cainject.DefaultConfigMapName
	// CAKey is the key holding the CA bundle in both the Secret and the ConfigMap.
	CAKey = cainject.DefaultSecretKey

	// LabelApp and LabelServedBy are the labels Antrea puts on every object whose caBundle
	// antrea-controller maintains.
	LabelApp      = "app"
	LabelServedBy = "served-by"
	// AppAntrea and ServedByController are those labels' values.
	AppAntrea          = "antrea"
	ServedByController = "antrea-controller"
)

// Labels returns Antrea's labels for objects served by antrea-controller.
func Labels() map[string]string {
	return map[string]string{LabelApp: AppAntrea, LabelServedBy: ServedByController}
}

// ServerName is the name agents and the aggregator verify antrea-controller's certificate for.
func ServerName(namespace string) string { return ServiceName + "." + namespace + ".svc" }
