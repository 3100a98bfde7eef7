// Package cainject keeps the CA bundle of Antrea's control plane in sync with the Secret
// antrea-controller serves from (antrea-controller-tls, key ca.crt): the antrea-ca ConfigMap that
// agents trust, the caBundle of Antrea's APIServices, of every webhook in its webhook
// configurations, and of the conversion webhook of its CRDs.
//
// antrea-controller does the same every 2 minutes once it runs; this controller does it from the
// first second and within a second of every change, and repairs drift. Both write the Secret's
// ca.crt verbatim, so neither ever changes what the other wrote.
//
// The shape follows trust-manager and cert-manager's cainjector: one request type (every event
// enqueues the same key), a pure function computing the desired bundle (DesiredBundle), a small
// target interface per object kind, and server-side apply with a fixed field owner of only the
// caBundle fields, skipped when the bytes already match. Everything read comes from this
// controller's own cache, restricted to the one Secret, the one ConfigMap and label-selected
// targets. See docs/cainject.md.
package cainject
