package diagnose

import (
	"crypto/x509"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/internal/testpki"
)

func TestCheckCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"Ready": {func(*State) {}, want{status: StatusOK, object: "Certificate/kube-system/antrea-controller-tls", message: []string{"Ready, expires"}}},
		"none":  {func(s *State) { s.Certificates = nil }, want{status: StatusError, message: []string{"no cert-manager Certificate"}, fix: []string{"certificate.enabled=true"}}},
		"two": {func(s *State) {
			other := s.Certificates[0]
			other.Name = "other"
			s.Certificates = append(s.Certificates, other)
		}, want{status: StatusError, message: []string{"2 Certificates (antrea-controller-tls, other)", "overwrite each other"}}},
		"not Ready, Issuing failed": {func(s *State) {
			s.Certificates[0].Status.Conditions = []cmapi.CertificateCondition{
				{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionFalse, Reason: "DoesNotExist", Message: "Issuing certificate as Secret does not exist"},
				{Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionFalse, Reason: "Failed", Message: `The certificate request has failed: DNS name "antrea.x.svc" is not allowed`},
			}
		}, want{status: StatusError, message: []string{"Ready=False (DoesNotExist)", `Issuing=False (Failed)`, "antrea.x.svc"}, fix: []string{"certificaterequest line", "kubectl -n kube-system describe certificate"}}},
		"forbidden": {func(s *State) { s.Certificates, s.CertificatesErr = nil, forbidden("certificates") }, want{status: StatusSkipped}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkCertificate(s, DefaultOptions()), tc.want)
		})
	}
}

func TestCheckCertificateIssuer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ref := func(group, kind, name string) func(*State) {
		return func(s *State) {
			s.Certificates[0].Spec.IssuerRef = cmmeta.IssuerReference{Group: group, Kind: kind, Name: name}
		}
	}
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"exists":         {func(*State) {}, []want{{status: StatusOK, message: []string{"AntreaClusterIssuer/antrea exists"}}}},
		"does not exist": {ref("certificates.antrea.io", KindClusterIssuer, "gone"), []want{{status: StatusError, message: []string{"AntreaClusterIssuer/gone, which does not exist"}}}},
		"an AntreaIssuer in Antrea's namespace": {func(s *State) {
			ref("certificates.antrea.io", KindIssuer, "mine")(s)
			s.Issuers = append(s.Issuers, Issuer{Kind: KindIssuer, Namespace: "kube-system", Name: "mine"})
		}, []want{{status: StatusOK, message: []string{"AntreaIssuer/kube-system/mine exists"}}}},
		"an AntreaIssuer of another namespace does not count": {func(s *State) {
			ref("certificates.antrea.io", KindIssuer, "mine")(s)
			s.Issuers = append(s.Issuers, Issuer{Kind: KindIssuer, Namespace: "team", Name: "mine"})
		}, []want{{status: StatusError}}},
		"empty kind is cert-manager's Issuer": {ref("certificates.antrea.io", "", "antrea"), []want{{status: StatusError, message: []string{`Issuer.certificates.antrea.io "antrea"`}}}},
		"cert-manager's own issuer":           {ref("", "ClusterIssuer", "ca"), []want{{status: StatusWarning, message: []string{`ClusterIssuer.cert-manager.io "ca"`, "not one of antrea-issuer's"}}}},
		"unreadable":                          {func(s *State) { s.Issuers, s.ClusterIssuersErr = nil, forbidden("antreaclusterissuers") }, []want{{status: StatusSkipped}}},
		"no Certificate: no line":             {func(s *State) { s.Certificates = nil }, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkCertificateIssuer(s, DefaultOptions()), tc.want...)
		})
	}
}

func crCond(typ cmapi.CertificateRequestConditionType, status cmmeta.ConditionStatus, reason, msg string) cmapi.CertificateRequestCondition {
	return cmapi.CertificateRequestCondition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	approved := crCond(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "cert-manager.io", "Certificate request has been approved by cert-manager.io")
	latest := func(age time.Duration, conds ...cmapi.CertificateRequestCondition) func(*State) {
		return func(s *State) {
			r := request("antrea-controller-tls-2", "antrea-controller-tls", 2, conds...)
			r.CreationTimestamp = metav1.NewTime(testNow.Add(-age))
			s.Requests = append(s.Requests, r)
			s.Certificates[0].Status.Conditions[0].Status = cmmeta.ConditionFalse
		}
	}
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"issued": {func(*State) {}, []want{{status: StatusOK, object: "CertificateRequest/kube-system/antrea-controller-tls-1", message: []string{"issued"}}}},
		"the latest revision counts": {latest(time.Hour, approved, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Failed",
			`request violates the issuer's policy: DNS name "evil.example.com" is not allowed`)),
			[]want{{status: StatusError, object: "CertificateRequest/kube-system/antrea-controller-tls-2", message: []string{"evil.example.com"},
				fix: []string{"issuer's policy", `"request violates the issuer's policy: …"`}}}},
		"malformed": {latest(time.Hour, approved, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Failed", "malformed certificate request: x")),
			[]want{{status: StatusError, fix: []string{"cmctl renew", `"malformed certificate request"`}}}},
		"another failure": {latest(time.Hour, approved, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Failed", "something new")),
			[]want{{status: StatusError, fix: []string{"row False, Failed"}}}},
		"denied": {latest(time.Hour, crCond(cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, "policy.cert-manager.io", "no policy allows it")),
			[]want{{status: StatusError, message: []string{"denied", "no policy allows it"}, fix: []string{"approval line"}}}},
		"invalid": {latest(time.Hour, crCond(cmapi.CertificateRequestConditionInvalidRequest, cmmeta.ConditionTrue, "BadConfig", "bad")),
			[]want{{status: StatusError, message: []string{"invalid"}}}},
		"not approved for an hour": {latest(time.Hour, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Pending", "Waiting on certificate issuance")),
			[]want{{status: StatusError, message: []string{"not approved after 1h"}, fix: []string{"approval line", "certManager.approverRBAC", "row False, Pending"}}}},
		"not approved yet": {latest(10 * time.Second), []want{{status: StatusWarning, message: []string{"not approved after 10s"}}}},
		"held while Antrea runs its default mode": {latest(time.Hour, approved, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Pending",
			"Signing still in progress. Reason: held while Antrea runs its default mode: ConfigMap kube-system/antrea-config says selfSignedCert: true, …")),
			[]want{{status: StatusWarning, message: []string{"held while Antrea runs its default mode", "for 1h"}, fix: []string{"docs/migration.md", "row False, Pending"}}}},
		"approved, waiting for the issuer": {latest(5*time.Minute, approved, crCond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, "Pending", "issuer is not Ready")),
			[]want{{status: StatusError, message: []string{"approved, not issued: issuer is not Ready (Pending), for 5m0s"}, fix: []string{"issuer-ready"}}}},
		"none kept while Ready": {func(s *State) { s.Requests = nil }, []want{{status: StatusOK, message: []string{"revisionHistoryLimit"}}}},
		"none yet": {func(s *State) {
			s.Requests = nil
			s.Certificates[0].Status.Conditions = nil
		}, []want{{status: StatusWarning, message: []string{"no CertificateRequest"}}}},
		"other Certificates' requests are ignored": {func(s *State) {
			s.Requests = append(s.Requests, request("x-9", "x", 9))
		}, []want{{status: StatusOK, object: "CertificateRequest/kube-system/antrea-controller-tls-1"}}},
		"forbidden": {func(s *State) { s.RequestsErr = forbidden("certificaterequests") }, []want{{status: StatusSkipped}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkRequest(s, DefaultOptions()), tc.want...)
		})
	}
}

func TestCheckSecretKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	keys := func(ks ...string) func(*State) {
		return func(s *State) {
			s.Secret.Keys = map[string]bool{}
			for _, k := range ks {
				s.Secret.Keys[k] = true
			}
		}
	}
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"all three":  {func(*State) {}, want{status: StatusOK, message: []string{"has ca.crt, tls.crt and tls.key (type kubernetes.io/tls)"}}},
		"missing":    {func(s *State) { s.Secret = nil }, want{status: StatusError, message: []string{"does not exist"}}},
		"forbidden":  {func(s *State) { s.Secret, s.SecretErr = nil, forbidden("secrets") }, want{status: StatusSkipped}},
		"no ca.crt":  {keys(keyTLS, keyKey), want{status: StatusError, message: []string{"missing ca.crt (has: tls.crt, tls.key)"}, fix: []string{"antrea-mode"}}},
		"empty":      {keys(), want{status: StatusError, message: []string{"missing ca.crt, tls.crt, tls.key (has: none)"}, fix: []string{"certificate lines"}}},
		"empty key":  {func(s *State) { s.Secret.Keys[keyKey] = false }, want{status: StatusError, message: []string{"missing tls.key"}}},
		"odd type":   {func(s *State) { s.Secret.Type = "bootstrap.kubernetes.io/token" }, want{status: StatusWarning}},
		"Opaque too": {func(s *State) { s.Secret.Type = "Opaque" }, want{status: StatusOK}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkSecretKeys(s, DefaultOptions()), tc.want)
		})
	}
}

func TestCheckServingCert(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := newTestCA(t, "other", nil)
	inter := newTestCA(t, "intermediate", w.ca)
	withTLS := func(p *pki, chain ...[]byte) func(*State) {
		return func(s *State) { s.Secret.TLS = testpki.Concat(append([][]byte{p.CertPEM}, chain...)...) }
	}
	tests := map[string]struct {
		mutate func(*State)
		opts   func(*Options)
		want   want
	}{
		"valid": {func(*State) {}, nil, want{status: StatusOK, message: []string{
			`subject "antrea.kube-system.svc"`, "60 days left", "antrea.kube-system.svc and antrea.kube-system.svc.cluster.local", "server auth"}}},
		"through an intermediate in tls.crt": {withTLS(newLeaf(t, inter), inter.CertPEM), nil, want{status: StatusOK}},
		"signed by another CA": {withTLS(newLeaf(t, other)), nil, want{status: StatusError,
			message: []string{"does not verify against ca.crt", "for antrea.kube-system.svc: x509: certificate signed by unknown authority"}, fix: []string{"antrea-mode"}}},
		"a name missing": {withTLS(newLeaf(t, w.ca, testpki.DNSNames("antrea.kube-system.svc"))), nil, want{status: StatusError,
			message: []string{"for antrea.kube-system.svc.cluster.local: x509: certificate is valid for antrea.kube-system.svc"}, fix: []string{"dnsNames antrea.kube-system.svc, antrea.kube-system.svc.cluster.local"}}},
		"another cluster domain": {func(*State) {}, func(o *Options) { o.ClusterDomain = "corp.example" }, want{status: StatusError, message: []string{"antrea.kube-system.svc.corp.example"}}},
		"another namespace":      {func(*State) {}, func(o *Options) { o.AntreaNamespace = "antrea" }, want{status: StatusError, message: []string{"for antrea.antrea.svc:"}}},
		"client auth only": {withTLS(newLeaf(t, w.ca, testpki.ExtKeyUsage(x509.ExtKeyUsageClientAuth))), nil, want{status: StatusError,
			message: []string{"incompatible key usage"}}},
		"no key encipherment": {withTLS(newLeaf(t, w.ca, testpki.KeyUsage(x509.KeyUsageDigitalSignature))), nil, want{status: StatusError,
			message: []string{"key usage lacks key encipherment"}}},
		"expired": {withTLS(newLeaf(t, w.ca, testpki.Validity(testNow.Add(-90*24*time.Hour), testNow.Add(-time.Hour)))), nil, want{status: StatusError,
			message: []string{"expired"}}},
		"within a week": {withTLS(newLeaf(t, w.ca, testpki.Validity(testNow.Add(-80*24*time.Hour), testNow.Add(3*24*time.Hour)))), nil, want{status: StatusWarning,
			message: []string{"3 days left"}, fix: []string{"renewBefore"}}},
		"no ca.crt":         {func(s *State) { s.Secret.CA = nil }, nil, want{status: StatusSkipped}},
		"no Secret":         {func(s *State) { s.Secret = nil }, nil, want{status: StatusSkipped}},
		"garbage tls.crt":   {func(s *State) { s.Secret.TLS = []byte("not PEM") }, nil, want{status: StatusError, message: []string{"tls.crt: no PEM certificate"}}},
		"garbage ca.crt":    {func(s *State) { s.Secret.CA = []byte("not PEM") }, nil, want{status: StatusError, message: []string{"ca.crt: no PEM certificate"}}},
		"two CAs in ca.crt": {func(s *State) { s.Secret.CA = testpki.Concat(other.CertPEM, w.ca.CertPEM) }, nil, want{status: StatusOK}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			o := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			expect(t, checkServingCert(s, o), tc.want)
		})
	}
}

func TestDecodeSecretKeepsNoKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	raw := []byte(`{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls","metadata":{"name":"antrea-controller-tls"},"data":{` +
		`"ca.crt":"` + b64(w.ca.CertPEM) + `","tls.crt":"` + b64(w.leaf.CertPEM) + `","tls.key":"` + b64(w.leaf.KeyPEM) + `","empty":""}}`)
	s, err := DecodeSecret(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.CA) != string(w.ca.CertPEM) || string(s.TLS) != string(w.leaf.CertPEM) || s.Type != "kubernetes.io/tls" {
		t.Errorf("decoded %+v", s)
	}
	if !s.Keys["tls.key"] || !s.Keys["ca.crt"] || s.Keys["empty"] {
		t.Errorf("keys %v", s.Keys)
	}
	assertNoKey(t, dumpValue(s), w.leaf.KeyPEM)

	t.Run("keys matched case-insensitively by encoding/json are not Antrea's", func(t *testing.T) {
		t.Parallel()
		s, err := DecodeSecret([]byte(`{"data":{"CA.CRT":"` + b64(w.ca.CertPEM) + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if s.CA != nil || s.Keys["ca.crt"] {
			t.Errorf("CA.CRT read as ca.crt: %+v", s)
		}
	})
}
