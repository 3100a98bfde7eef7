// Package signer holds the certificate logic of antrea-issuer: it creates, loads and
// rotates the issuer's internal CA, renders and parses the CA Secret, decides which
// requests the issuer may sign (Policy) and signs them (Sign).
//
// The package is pure: it imports only the standard library, never reads the clock
// (every function that needs the time takes now) and never talks to Kubernetes, so the
// controller, the webhook and the tests can share it and it can be fuzzed in isolation.
package signer
