package diagnose

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/handover"
)

// Check ids of Antrea's Certificate and Secret.
const (
	CheckCertificate       = "certificate"
	CheckCertificateIssuer = "certificate-issuer"
	CheckRequest           = "certificaterequest"
	CheckSecretKeys        = "secret-keys"
	CheckServingCert       = "serving-cert"
)

const (
	// leafWarning: warn when Antrea's certificate expires within a week (cert-manager renews
	// it long before: 30 days by default).
	leafWarning = 7 * 24 * time.Hour
	// approvalGrace is how long a request may wait for approval or for the issuer before it
	// counts as stuck rather than in progress.
	approvalGrace = time.Minute
)

// Keys of Antrea's Secret.
const (
	keyCA  = "ca.crt"
	keyTLS = "tls.crt"
	keyKey = "tls.key"
)

func certificateCondition(crt *cmapi.Certificate, t cmapi.CertificateConditionType) *cmapi.CertificateCondition {
	for i := range crt.Status.Conditions {
		if crt.Status.Conditions[i].Type == t {
			return &crt.Status.Conditions[i]
		}
	}
	return nil
}

// checkCertificate: exactly one Certificate writes Antrea's Secret, and it is Ready.
func checkCertificate(s *State, o Options) []Result {
	if s.CertificatesErr != nil {
		return []Result{unreadable(CheckCertificate, "", "Certificates in namespace "+o.AntreaNamespace, s.CertificatesErr)}
	}
	switch len(s.Certificates) {
	case 0:
		return []Result{problem(CheckCertificate, StatusError, "",
			"create it: the chart's certificate.enabled=true, or config/samples/antrea-controller-tls.yaml (README \"Example\"); if Antrea runs elsewhere, pass --antrea-namespace",
			"no cert-manager Certificate in namespace %s writes Secret %s", o.AntreaNamespace, o.SecretName)}
	case 1:
	default:
		var names []string
		for _, c := range s.Certificates {
			names = append(names, c.Name)
		}
		return []Result{problem(CheckCertificate, StatusError, "", "delete all but one of them",
			"%d Certificates (%s) write Secret %s/%s: they overwrite each other", len(names), strings.Join(names, ", "), o.AntreaNamespace, o.SecretName)}
	}
	crt := &s.Certificates[0]
	obj := "Certificate/" + crt.Namespace + "/" + crt.Name
	ready := certificateCondition(crt, cmapi.CertificateConditionReady)
	if ready != nil && ready.Status == cmmeta.ConditionTrue {
		msg := "Ready"
		if na := crt.Status.NotAfter; na != nil {
			msg += fmt.Sprintf(", expires %s", date(na.Time))
		}
		if rt := crt.Status.RenewalTime; rt != nil {
			msg += fmt.Sprintf(", renewal at %s", date(rt.Time))
		}
		if is := certificateCondition(crt, cmapi.CertificateConditionIssuing); is != nil && is.Status == cmmeta.ConditionTrue {
			msg += fmt.Sprintf("; re-issuing now: %s", is.Message)
		}
		return []Result{ok(CheckCertificate, obj, "%s", msg)}
	}
	msg := "no Ready condition yet"
	if ready != nil {
		msg = fmt.Sprintf("Ready=%s (%s): %s", ready.Status, ready.Reason, ready.Message)
	}
	if is := certificateCondition(crt, cmapi.CertificateConditionIssuing); is != nil {
		msg += fmt.Sprintf("; Issuing=%s (%s): %s", is.Status, is.Reason, is.Message)
	}
	return []Result{problem(CheckCertificate, StatusError, obj,
		fmt.Sprintf("see the certificate-issuer and certificaterequest lines; kubectl -n %s describe certificate %s (%s, step 2)", crt.Namespace, crt.Name, docWhenWrong),
		"%s", msg)}
}

// checkCertificateIssuer: the Certificate's issuerRef names an existing issuer of antrea-issuer.
func checkCertificateIssuer(s *State, o Options) []Result {
	crt := antreaCertificate(s)
	if crt == nil {
		return nil // the certificate line says why
	}
	obj := "Certificate/" + crt.Namespace + "/" + crt.Name
	ref := crt.Spec.IssuerRef
	group, kind := ref.Group, ref.Kind
	if group == "" {
		group = "cert-manager.io"
	}
	if kind == "" {
		kind = "Issuer"
	}
	named := fmt.Sprintf("%s.%s %q", kind, group, ref.Name)
	if group != v1alpha1.GroupName {
		return []Result{problem(CheckCertificateIssuer, StatusWarning, obj,
			`to use antrea-issuer, set issuerRef group certificates.antrea.io, kind AntreaClusterIssuer or AntreaIssuer (README "Example")`,
			"issuerRef names %s, not one of antrea-issuer's issuers: the issuer lines do not concern this Certificate", named)}
	}
	if kind != KindClusterIssuer && kind != KindIssuer {
		return []Result{problem(CheckCertificateIssuer, StatusError, obj,
			"set issuerRef kind AntreaClusterIssuer or AntreaIssuer",
			"issuerRef names %s: group certificates.antrea.io has no such kind, so cert-manager never issues it", named)}
	}
	want := referencedIssuer(s)
	for _, iss := range s.Issuers {
		if iss.Ref() == want {
			return []Result{ok(CheckCertificateIssuer, obj, "issuerRef %s exists", iss.Ref())}
		}
	}
	if err := s.ClusterIssuersErr; kind == KindClusterIssuer && err != nil {
		return []Result{unreadable(CheckCertificateIssuer, obj, "AntreaClusterIssuers", err)}
	}
	if err := s.IssuersErr; kind == KindIssuer && err != nil {
		return []Result{unreadable(CheckCertificateIssuer, obj, "AntreaIssuers", err)}
	}
	return []Result{problem(CheckCertificateIssuer, StatusError, obj,
		"create that issuer, or correct the Certificate's issuerRef; cert-manager waits until it exists "+row("CertificateRequests", "False, Pending"),
		"issuerRef names %s, which does not exist", want)}
}

// latestRequest is the CertificateRequest of crt with the highest revision.
func latestRequest(reqs []cmapi.CertificateRequest, crt *cmapi.Certificate) *cmapi.CertificateRequest {
	var mine []cmapi.CertificateRequest
	for _, r := range reqs {
		if r.Annotations[cmapi.CertificateNameKey] == crt.Name {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	rev := func(r cmapi.CertificateRequest) int {
		n, _ := strconv.Atoi(r.Annotations[cmapi.CertificateRequestRevisionAnnotationKey])
		return n
	}
	latest := slices.MaxFunc(mine, func(a, b cmapi.CertificateRequest) int {
		if c := rev(a) - rev(b); c != 0 {
			return c
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return &latest
}

func requestCondition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// checkRequest: the Certificate's latest CertificateRequest was approved and issued, or why not
// (the README's CertificateRequests table).
func checkRequest(s *State, o Options) []Result {
	crt := antreaCertificate(s)
	if crt == nil {
		return nil
	}
	if s.RequestsErr != nil {
		return []Result{unreadable(CheckRequest, "", "CertificateRequests in namespace "+o.AntreaNamespace, s.RequestsErr)}
	}
	crtReady := false
	if c := certificateCondition(crt, cmapi.CertificateConditionReady); c != nil && c.Status == cmmeta.ConditionTrue {
		crtReady = true
	}
	cr := latestRequest(s.Requests, crt)
	if cr == nil {
		if crtReady {
			return []Result{ok(CheckRequest, "", "no CertificateRequest of Certificate %s is kept (cert-manager's revisionHistoryLimit)", crt.Name)}
		}
		return []Result{problem(CheckRequest, StatusWarning, "", "check that cert-manager runs (kubectl -n cert-manager get pods)",
			"cert-manager has made no CertificateRequest for Certificate %s yet", crt.Name)}
	}
	obj := "CertificateRequest/" + cr.Namespace + "/" + cr.Name
	waited := s.Now.Sub(cr.CreationTimestamp.Time)
	describe := fmt.Sprintf("kubectl -n %s describe certificaterequest %s", cr.Namespace, cr.Name)
	approvalFix := "make sure cert-manager may approve (the approval line; the chart's certManager.approverRBAC and certManager.serviceAccount) " +
		row("CertificateRequests", "False, Pending")

	ready := requestCondition(cr, cmapi.CertificateRequestConditionReady)
	if ready != nil && ready.Status == cmmeta.ConditionTrue {
		return []Result{ok(CheckRequest, obj, "issued (%s)", ready.Reason)}
	}
	if d := requestCondition(cr, cmapi.CertificateRequestConditionDenied); d != nil && d.Status == cmmeta.ConditionTrue {
		return []Result{problem(CheckRequest, StatusError, obj, "an approver denied it: "+approvalFix,
			"denied (%s): %s", d.Reason, d.Message)}
	}
	if inv := requestCondition(cr, cmapi.CertificateRequestConditionInvalidRequest); inv != nil && inv.Status == cmmeta.ConditionTrue {
		return []Result{problem(CheckRequest, StatusError, obj,
			"recreate the request (cmctl renew) "+row("CertificateRequests", `False, Failed, "malformed certificate request"`),
			"invalid (%s): %s", inv.Reason, inv.Message)}
	}
	if ready != nil && ready.Reason == cmapi.CertificateRequestReasonFailed {
		fix := "read the message (" + describe + ") " + row("CertificateRequests", "False, Failed")
		switch {
		case strings.Contains(ready.Message, "violates the issuer's policy"):
			fix = "change the Certificate (names, usages, duration), or the issuer's policy " +
				row("CertificateRequests", `False, Failed, "request violates the issuer's policy: …"`)
		case strings.Contains(ready.Message, "malformed certificate request"), strings.Contains(ready.Message, "signature is invalid"):
			fix = "recreate the request (cmctl renew) " + row("CertificateRequests", `False, Failed, "malformed certificate request"`)
		}
		return []Result{problem(CheckRequest, StatusError, obj, fix, "failed: %s", ready.Message)}
	}
	severity := StatusWarning
	if waited > approvalGrace {
		severity = StatusError
	}
	if a := requestCondition(cr, cmapi.CertificateRequestConditionApproved); a == nil || a.Status != cmmeta.ConditionTrue {
		return []Result{problem(CheckRequest, severity, obj, approvalFix, "not approved after %s", age(waited))}
	}
	if ready != nil && strings.Contains(ready.Message, handover.ErrHeld.Error()) {
		// Deliberate and safe for as long as it lasts: Antrea keeps serving its own certificate.
		return []Result{problem(CheckRequest, StatusWarning, obj,
			"switch Antrea to selfSignedCert: false in the order of docs/migration.md; the request is signed the moment antrea-config says so "+
				row("CertificateRequests", "False, Pending, \"… held while Antrea runs its default mode: …\""),
			"held while Antrea runs its default mode (antrea-config says selfSignedCert: true), for %s", age(waited))}
	}
	msg := "approved, not issued"
	if ready != nil {
		msg += fmt.Sprintf(": %s (%s)", ready.Message, ready.Reason)
	}
	return []Result{problem(CheckRequest, severity, obj,
		"check the issuer (the certificate-issuer and issuer-ready lines) "+row("CertificateRequests", "False, Pending"),
		"%s, for %s", msg, age(waited))}
}

// checkSecretKeys: Antrea's Secret has the three keys antrea-controller waits for.
func checkSecretKeys(s *State, o Options) []Result {
	obj := "Secret/" + o.AntreaNamespace + "/" + o.SecretName
	if s.SecretErr != nil {
		return []Result{unreadable(CheckSecretKeys, obj, "Antrea's Secret", s.SecretErr)}
	}
	if s.Secret == nil {
		return []Result{problem(CheckSecretKeys, StatusError, obj, "cert-manager writes it when the Certificate is issued: see the certificate lines",
			"does not exist: antrea-controller (selfSignedCert: false) fails after waiting 2 minutes for it")}
	}
	var have, missing []string
	for _, k := range []string{keyCA, keyTLS, keyKey} {
		if s.Secret.Keys[k] {
			have = append(have, k)
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		if t := s.Secret.Type; t != "kubernetes.io/tls" && t != "Opaque" {
			return []Result{problem(CheckSecretKeys, StatusWarning, obj, "let cert-manager recreate it (delete it; cert-manager re-issues)",
				"has ca.crt, tls.crt and tls.key, but type %q (Antrea expects kubernetes.io/tls or Opaque)", t)}
		}
		return []Result{ok(CheckSecretKeys, obj, "has ca.crt, tls.crt and tls.key (type %s)", s.Secret.Type)}
	}
	msg := fmt.Sprintf("missing %s (has: %s): antrea-controller (selfSignedCert: false) waits for all three keys and fails after 2 minutes",
		strings.Join(missing, ", "), orNone(have))
	fix := "cert-manager writes all three when the Certificate is issued: see the certificate lines"
	if !s.Secret.Keys[keyCA] && s.Secret.Keys[keyTLS] {
		fix = "tls.crt without ca.crt is Antrea's selfSignedCert: true shape, or an issuer that does not publish its CA: see the antrea-mode line"
	}
	return []Result{problem(CheckSecretKeys, StatusError, obj, fix, "%s", msg)}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// parseCerts returns every CERTIFICATE block of data (other blocks are ignored here; the
// antrea-mode check reports them).
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate in %d bytes", len(data))
	}
	return out, nil
}

// checkServingCert: tls.crt verifies against ca.crt for Antrea's names and usages, and is not
// about to expire.
func checkServingCert(s *State, o Options) []Result {
	obj := "Secret/" + o.AntreaNamespace + "/" + o.SecretName
	if s.Secret == nil || len(s.Secret.CA) == 0 || len(s.Secret.TLS) == 0 {
		return []Result{skipped(CheckServingCert, obj, "needs ca.crt and tls.crt (see the secret-keys line)")}
	}
	chain, err := parseCerts(s.Secret.TLS)
	if err != nil {
		return []Result{problem(CheckServingCert, StatusError, obj, "let cert-manager re-issue it (cmctl renew)", "tls.crt: %v", err)}
	}
	roots, err := parseCerts(s.Secret.CA)
	if err != nil {
		return []Result{problem(CheckServingCert, StatusError, obj, "let cert-manager re-issue it (cmctl renew); see the antrea-mode line", "ca.crt: %v", err)}
	}
	rootPool, interPool := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range roots {
		rootPool.AddCert(c)
	}
	for _, c := range chain[1:] {
		interPool.AddCert(c)
	}
	leaf := chain[0]
	var problems []string
	for _, name := range o.serverNames() {
		_, err := leaf.Verify(x509.VerifyOptions{
			DNSName: name, Roots: rootPool, Intermediates: interPool, CurrentTime: s.Now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("for %s: %v", name, err))
		}
	}
	var missingKU []string
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		missingKU = append(missingKU, "digital signature")
	}
	if leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		missingKU = append(missingKU, "key encipherment")
	}
	if len(missingKU) > 0 {
		problems = append(problems, "key usage lacks "+strings.Join(missingKU, " and "))
	}
	if leaf.IsCA {
		problems = append(problems, "the leaf is a CA certificate")
	}
	desc := fmt.Sprintf("tls.crt (subject %q, issuer %q) expires %s (%d days left)",
		leaf.Subject.CommonName, leaf.Issuer.CommonName, date(leaf.NotAfter), daysLeft(s.Now, leaf.NotAfter))
	if len(problems) > 0 {
		return []Result{problem(CheckServingCert, StatusError, obj,
			fmt.Sprintf("Antrea's clients reject it: the Certificate needs dnsNames %s and usages digital signature, key encipherment, server auth (README \"Example\"); "+
				"if it does not chain to ca.crt, see the antrea-mode line; cmctl renew -n %s <certificate> re-issues it", strings.Join(o.serverNames(), ", "), o.AntreaNamespace),
			"%s does not verify against ca.crt: %s", desc, strings.Join(problems, "; "))}
	}
	if leaf.NotAfter.Sub(s.Now) < leafWarning {
		return []Result{problem(CheckServingCert, StatusWarning, obj,
			"cert-manager should have renewed it (the Certificate's renewBefore): see the certificate and certificaterequest lines",
			"%s: within a week", desc)}
	}
	return []Result{ok(CheckServingCert, obj, "%s; verifies against ca.crt for %s with server auth, digital signature, key encipherment",
		desc, strings.Join(o.serverNames(), " and "))}
}
