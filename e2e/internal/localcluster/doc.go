// Package localcluster brings up everything antrea-issuer meets in a real cluster, on this machine
// and without containers: the control plane (internal/testenv), cert-manager's real certificate
// controllers and approver running in-process with the credentials and RBAC of cert-manager's own
// chart, the antrea-issuer binary as a separate process with the credentials and RBAC this
// project ships, and Antrea: a stand-in antrea-controller that behaves as Antrea's does
// (antreasim.Controller: files that trail the Secret, a periodic republish of its CA bundle, either
// of its modes), with Antrea's APIServices, webhooks and CRD, judged by the real aggregator. Antrea's
// timings are scaled down with their order kept (AntreaFileLag, AntreaResyncPeriod). The
// end-to-end tests and `make demo` use it.
package localcluster
