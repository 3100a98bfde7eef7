// Package diagnose is `antrea-issuer diagnose`: it reads, through a client with the caller's
// credentials, every object on the chain from the issuers to Antrea's clients (issuers, Antrea's
// Certificate and its requests, the Secret, antrea-ca, the labelled APIServices, webhook
// configurations and CRDs, the approval RBAC) and reports one line per check, OK or the problem
// and its fix.
//
// The work is split in two: Collect reads the objects into a State (the only code that talks to
// the API server), and Evaluate runs pure check functions over a State (table-tested over
// constructed objects). Run ties them to Options and an output format.
//
// Key hygiene: no private key is ever read. The issuers' CA Secrets are never read (a CA's
// certificate and expiry come from the issuer's status.ca); Antrea's Secret is read as raw JSON
// and decoded into a struct that keeps only the names of its keys and the bytes of ca.crt and
// tls.crt, so tls.key is never decoded, kept, printed or logged.
package diagnose
