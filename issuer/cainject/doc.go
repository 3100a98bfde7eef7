// Package cainject keeps the CA bundle of Antrea's control plane in sync with the Secret
// antrea-controller serves from (antrea-controller-tls, key ca.crt): the antrea-ca ConfigMap that
// agents trust, the caBundle of Antrea's APIServices, of every webhook in its webhook
// configurations, and of the conversion webhook of its CRDs.
//
// antrea-controller does the same every 2 minutes once it runs; this controller does it from the
// first second and within a second of every change, and repairs drift. It publishes only
// certificates (signer.ParseBundle), only a ca.crt the Secret's tls.crt chains to, and, after
// the Secret was taken over (Antrea's selfSignedCert: true mode), only once it has stayed usable
// for a settle period. A target that already trusts exactly ca.crt (antrea-controller's
// selfSignedCert: true bundle, leaf + CA) is left alone.
//
// The shape follows trust-manager and cert-manager's cainjector: one request type (every event
// enqueues the same key), a pure function computing the desired bundle (DesiredBundle), a small
// target interface per object kind, server-side apply with a fixed field owner of only the
// caBundle fields, skipped when a target already trusts the bundle, and a reporting type holding
// the state between passes (metrics, events, the settle period). Everything read comes from this
// controller's own cache, restricted to the one Secret, the one ConfigMap and label-selected
// targets. See docs/cainject.md.
package cainject
