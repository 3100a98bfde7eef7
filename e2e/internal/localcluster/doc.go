// Package localcluster brings up everything antrea-issuer meets in a real cluster, on this machine
// and without containers: the control plane (internal/testenv), cert-manager's real certificate
// controllers and approver running in-process with the credentials and RBAC of cert-manager's own
// chart, the antrea-issuer binary as a separate process with the credentials and RBAC this
// project ships, and stand-ins for Antrea's API server, APIServices, webhooks and CRD
// (internal/antreasim) judged by the real aggregator. The end-to-end tests and `make demo` use it.
package localcluster
