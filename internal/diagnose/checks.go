package diagnose

// Check is one check: an id (stable: scripts read it from -o json) and the pure function that
// judges a State.
type Check struct {
	ID       string
	Describe string
	run      func(*State, Options) []Result
}

// Checks are every check, in the order of the chain they follow and of the report.
var Checks = []Check{
	{CheckController, "antrea-issuer's leader Lease is held and renewed", checkController},
	{CheckIssuer, "every AntreaClusterIssuer and AntreaIssuer is Ready (the one Antrea's Certificate uses first)", checkIssuers},
	{CheckCAExpiry, "each issuer's active CA (status.ca) is valid and far enough from expiry", checkCAExpiry},
	{CheckRotation, "each issuer's CA rotation phase and what it waits for (CARotation condition)", checkRotation},
	{CheckCertificate, "exactly one Certificate writes Antrea's Secret, and it is Ready", checkCertificate},
	{CheckCertificateIssuer, "its issuerRef names an existing AntreaIssuer or AntreaClusterIssuer", checkCertificateIssuer},
	{CheckRequest, "its latest CertificateRequest was approved and issued", checkRequest},
	{CheckSecretKeys, "the Secret has ca.crt, tls.crt and tls.key", checkSecretKeys},
	{CheckServingCert, "tls.crt verifies against ca.crt for Antrea's names and usages, with days left", checkServingCert},
	{CheckMode, "Antrea runs with selfSignedCert: false (none of its self-signed shapes)", checkMode},
	{CheckConfigMap, "antrea-ca holds exactly ca.crt", checkConfigMap},
	{CheckBundle, "every labelled APIService, webhook and conversion CRD carries ca.crt", checkBundles},
	{CheckAPIService, "each labelled APIService is Available (the aggregator's TLS check of the live server)", checkAPIServices},
	{CheckApproval, "cert-manager may approve antrea-issuer's CertificateRequests", checkApproval},
}

// Evaluate runs every check over s.
func Evaluate(s *State, o Options) []Result {
	var out []Result
	for _, c := range Checks {
		out = append(out, c.run(s, o)...)
	}
	return out
}
