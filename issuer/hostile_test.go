package issuer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/internal/testpki"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// hostileCase is one row of the hostile input matrix in docs/security.md; the row's name is the
// subtest's name. Exactly one of request, caSecret, issuer, spec and run is set.
type hostileCase struct {
	// request: a CertificateRequest to the matrix's AntreaClusterIssuer (default spec, generated
	// CA, Antrea's policy). It must fail (Ready=False, reason Failed) with a message containing
	// every want, and carry no certificate.
	request func(t *testing.T) []crOption
	// caSecret: the CA Secret of an issuer is made hostile after the issuer was Ready with a
	// good CA. The issuer must turn not Ready with a message containing every want, and a
	// request to it must wait (reason Pending) unsigned.
	caSecret func(t *testing.T, good testCA) map[string][]byte
	// issuer: an issuer that must never become Ready (message containing every want); a request
	// to it waits unsigned.
	issuer func(t *testing.T, ctx context.Context) client.Object
	// spec: an issuer spec the API server must reject, with an error containing every want.
	spec func() client.Object
	// run: a row that needs its own issuer.
	run  func(ctx context.Context, t *testing.T)
	want []string
}

// hostileMatrix is the table of docs/security.md, "Hostile input matrix".
func hostileMatrix() map[string]hostileCase {
	req := func(opts ...crOption) func(*testing.T) []crOption {
		return func(*testing.T) []crOption { return opts }
	}
	csr := func(opts ...csrOption) func(*testing.T) []crOption {
		return func(t *testing.T) []crOption {
			b, _ := newCSR(t, opts...)
			return []crOption{withRequest(b)}
		}
	}
	ns := func(name, secretName string, provided bool) func() client.Object {
		return func() client.Object {
			spec := v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{SecretName: secretName}}}
			if provided {
				spec = v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: secretName}}}
			}
			return &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{GenerateName: name, Namespace: teamNamespace}, Spec: spec}
		}
	}
	gen := func(g v1alpha1.GeneratedCA) v1alpha1.IssuerSpec {
		return v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &g}}
	}
	spec := func(s v1alpha1.IssuerSpec) func() client.Object {
		return func() client.Object {
			return &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{GenerateName: "typo-", Namespace: teamNamespace}, Spec: s}
		}
	}
	return map[string]hostileCase{
		// Malformed and oversized requests.
		"malformed PEM": {request: req(withRequest([]byte("this is not PEM"))), want: []string{"malformed certificate request"}},
		"PEM of a certificate": {request: func(t *testing.T) []crOption {
			return []crOption{withRequest(newTestCA(t, time.Now(), time.Now().Add(time.Hour), false).CertPEM)}
		}, want: []string{"malformed certificate request"}},
		"truncated CSR": {request: func(t *testing.T) []crOption { return []crOption{withRequest(truncatedCSR(t))} }, want: []string{"malformed certificate request"}},
		"CSR with a bad signature": {request: func(t *testing.T) []crOption {
			b, _ := newCSR(t)
			return []crOption{withRequest(tamperCSRSignature(t, b))}
		}, want: []string{"signature"}},
		"oversized CSR (80 KiB)":      {request: csr(withPadding(80 << 10)), want: []string{"too large", "65536"}},
		"3000 DNS SANs":               {request: csr(withManySANs(3000)), want: []string{`DNS name "n0" is not allowed`, "and 2980 more violations"}},
		"CSR key is the CA's own key": {run: caKeyAsRequestKey},
		// CA and path length games.
		"isCA requested":                  {request: req(withIsCA(), withUsages(cmapi.UsageCertSign, cmapi.UsageDigitalSignature)), want: []string{"CA certificate was requested"}},
		"CSR asks CA:TRUE, spec does not": {request: csr(withBasicConstraints(true, nil)), want: []string{"CA certificate was requested"}},
		"CSR asks CA:TRUE with pathLen 10": {request: func(t *testing.T) []crOption {
			b, _ := newCSR(t, withBasicConstraints(true, ptrInt(10)))
			return []crOption{withRequest(b), withIsCA()}
		}, want: []string{"CA certificate was requested", "path length constraint (10)"}},
		"path length on a leaf":                {request: csr(withBasicConstraints(false, ptrInt(3))), want: []string{"path length"}},
		"path length 0 on a leaf":              {request: csr(withBasicConstraints(false, ptrInt(0))), want: []string{"path length"}},
		"name constraints requested":           {request: csr(withNameConstraints(&pki.NameConstraints{PermittedDNSDomains: []string{"svc.cluster.local"}})), want: []string{"name constraints"}},
		"excluding name constraints requested": {request: csr(withNameConstraints(&pki.NameConstraints{ExcludedDNSDomains: []string{"evil.com"}})), want: []string{"name constraints"}},
		"cert sign usage":                      {request: req(withUsages(cmapi.UsageDigitalSignature, cmapi.UsageCertSign, cmapi.UsageServerAuth)), want: []string{`"cert sign"`}},
		// Names: wildcards, look-alikes, trailing dots, case and IDN tricks.
		"wildcard in Antrea's namespace": {request: csr(withDNSNames("*.kube-system.svc")), want: []string{`"*.kube-system.svc"`}},
		"wildcard for every name":        {request: csr(withDNSNames("*")), want: []string{`"*"`}},
		"look-alike suffix":              {request: csr(withCommonName(""), withDNSNames("antrea.kube-system.svc.evil.com")), want: []string{`"antrea.kube-system.svc.evil.com"`}},
		"look-alike prefix":              {request: csr(withCommonName(""), withDNSNames("evil-antrea.kube-system.svc")), want: []string{`"evil-antrea.kube-system.svc"`}},
		"another namespace's Antrea":     {request: csr(withCommonName(""), withDNSNames("antrea.default.svc")), want: []string{`"antrea.default.svc"`}},
		"trailing dot":                   {request: csr(withCommonName(""), withDNSNames("antrea.kube-system.svc.")), want: []string{`"antrea.kube-system.svc."`}},
		"case games on a foreign name":   {request: csr(withCommonName(""), withDNSNames("ANTREA.KUBE-SYSTEM.SVC.EVIL.COM")), want: []string{`"ANTREA.KUBE-SYSTEM.SVC.EVIL.COM"`}},
		"Kelvin sign K in the CN":        {request: csr(withCommonName("antrea.\u212aube-system.svc")), want: []string{`"antrea.\u212aube-system.svc"`}},
		"IDN (punycode) look-alike":      {request: csr(withCommonName(""), withDNSNames("antrea.xn--kube-systm-ffb.svc")), want: []string{`"antrea.xn--kube-systm-ffb.svc"`}},
		"foreign CN beside allowed SANs": {request: csr(withCommonName("evil.example.com")), want: []string{`common name "evil.example.com"`}},
		"empty label":                    {request: csr(withCommonName(""), withDNSNames("antrea..kube-system.svc")), want: []string{`"antrea..kube-system.svc"`}},
		"no DNS name at all":             {request: csr(withCommonName(""), withDNSNames()), want: []string{"no DNS names"}},
		"IP SAN":                         {request: csr(withIPs("10.96.0.1")), want: []string{"10.96.0.1"}},
		"URI SAN":                        {request: csr(withURIs("spiffe://cluster.local/ns/kube-system/sa/antrea")), want: []string{"URI SANs are not allowed"}},
		"email SAN":                      {request: csr(withEmails("admin@antrea.io")), want: []string{"email address SANs are not allowed"}},
		"client auth usage":              {request: req(withUsages(cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth, cmapi.UsageClientAuth)), want: []string{`"client auth"`}},
		"code signing usage":             {request: req(withUsages(cmapi.UsageDigitalSignature, cmapi.UsageCodeSigning)), want: []string{`"code signing"`}},
		"any extended usage":             {request: req(withUsages(cmapi.UsageDigitalSignature, cmapi.UsageAny)), want: []string{`"any"`}},
		// Durations.
		"zero duration":                   {request: req(withDuration(0)), want: []string{"not a positive duration"}},
		"negative duration":               {request: req(withDuration(-time.Hour)), want: []string{"not a positive duration"}},
		"one nanosecond":                  {request: req(withDuration(time.Nanosecond)), want: []string{"shorter than the minimum"}},
		"100 years":                       {request: req(withDuration(100 * 365 * 24 * time.Hour)), want: []string{"longer than the maximum"}},
		"maximum Go duration (292 years)": {request: req(withDuration(time.Duration(1<<63 - 1))), want: []string{"longer than the maximum"}},

		// The CA Secret made hostile after the issuer was Ready.
		"CA Secret swapped for a leaf certificate": {
			caSecret: func(t *testing.T, _ testCA) map[string][]byte {
				leaf := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), false)
				return map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM}
			},
			want: []string{"not a CA"},
		},
		"CA Secret with a second key appended": {
			caSecret: func(t *testing.T, good testCA) map[string][]byte {
				other := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
				return map[string][]byte{"tls.crt": good.CertPEM, "tls.key": append(bytes.Clone(good.KeyPEM), other.KeyPEM...)}
			},
			want: []string{"more than one", "tls.key"},
		},
		"CA Secret with another CA's key": {
			caSecret: func(t *testing.T, good testCA) map[string][]byte {
				other := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
				return map[string][]byte{"tls.crt": good.CertPEM, "tls.key": other.KeyPEM}
			},
			want: []string{"does not match"},
		},
		"generated CA Secret replaced by a leaf": {run: generatedCASecretReplaced},
		"CA Secret emptied": {
			caSecret: func(*testing.T, testCA) map[string][]byte { return map[string][]byte{} },
			want:     []string{"tls.crt"},
		},

		// Issuers pointed where they must not reach.
		"AntreaIssuer naming another namespace's CA Secret": {
			issuer: func(t *testing.T, ctx context.Context) client.Object {
				// A valid CA Secret with this name exists in the cluster resource namespace
				// only; the namespaced issuer must never see it.
				victim := "victim-" + strings.ToLower(randSuffix(t))
				good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
				createSecret(ctx, t, clusterResourceNamespace, victim, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
				return ns("victim-pointer-", victim, true)()
			},
			want: []string{"CA Secret not found", teamNamespace + "/victim-"},
		},
		"AntreaIssuer in a namespace antrea-issuer does not read": {
			issuer: func(t *testing.T, ctx context.Context) client.Object {
				good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
				createSecret(ctx, t, unwatchedNamespace, "local-ca", map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
				return &v1alpha1.AntreaIssuer{
					ObjectMeta: metav1.ObjectMeta{GenerateName: "unwatched-", Namespace: unwatchedNamespace},
					Spec:       v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "local-ca"}}},
				}
			},
			want: []string{"--ca-secret-namespaces"},
		},
		`provided secretName "../antrea-ca"`:             {spec: ns("dots-", "../antrea-ca", true), want: []string{"secretName"}},
		`provided secretName "antrea-issuer/antrea-ca"`:  {spec: ns("slash-", clusterResourceNamespace+"/antrea-ca", true), want: []string{"secretName"}},
		`generated secretName "antrea-issuer/antrea-ca"`: {spec: ns("gen-slash-", clusterResourceNamespace+"/antrea-ca", false), want: []string{"secretName"}},
		`generated secretName "Antrea-CA" (not a name)`:  {spec: ns("upper-", "Antrea-CA", false), want: []string{"secretName"}},

		// Trust survives mistakes. A tenant's typo in any namespace: before the API server
		// validated durations, one such AntreaIssuer made the controller unable to list any
		// issuer of the cluster. Now each is refused at create, naming the field.
		"ca.generated.duration: banana":          {spec: spec(gen(v1alpha1.GeneratedCA{Duration: "banana"})), want: []string{"spec.ca.generated.duration", "should match"}},
		"ca.generated.duration: 9999999999h":     {spec: spec(gen(v1alpha1.GeneratedCA{Duration: "9999999999h"})), want: []string{"must be a duration from 2h to 87600h"}},
		"ca.generated.renewBefore: banana":       {spec: spec(gen(v1alpha1.GeneratedCA{RenewBefore: "banana"})), want: []string{"spec.ca.generated.renewBefore"}},
		"ca.generated.renewBefore: 0s":           {spec: spec(gen(v1alpha1.GeneratedCA{RenewBefore: "0s"})), want: []string{"must be a positive duration"}},
		"ca.generated.minPhaseDuration: -5m":     {spec: spec(gen(v1alpha1.GeneratedCA{MinPhaseDuration: "-5m"})), want: []string{"spec.ca.generated.minPhaseDuration"}},
		"ca.generated.minPhaseDuration: 100000h": {spec: spec(gen(v1alpha1.GeneratedCA{MinPhaseDuration: "100000h"})), want: []string{"must be a duration from 1s to 168h"}},
		"ca.provided.minPhaseDuration: banana": {
			spec: spec(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "x", MinPhaseDuration: "banana"}}}),
			want: []string{"spec.ca.provided.minPhaseDuration"},
		},
		"policy.maxDuration: banana": {spec: spec(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{MaxDuration: "banana"}}), want: []string{"spec.policy.maxDuration"}},
		"rotation that cannot fit (duration 2h, renewBefore 1h59m50s, minPhaseDuration 5h)": {
			spec: spec(gen(v1alpha1.GeneratedCA{Duration: "2h", RenewBefore: "1h59m50s", MinPhaseDuration: "5h"})),
			want: []string{"renewBefore 1h59m50s leaves no time to rotate", "renewBefore >= 2 x minPhaseDuration + 30m"},
		},
		"renewBefore not shorter than duration": {spec: spec(gen(v1alpha1.GeneratedCA{Duration: "24h"})), want: []string{"renewBefore 8760h must be shorter than duration 24h"}},
		// A lost CA Secret, a Secret of another issuer, a tenant's Secret.
		"generated CA Secret deleted":                                    {run: lostCASecret(deleteCASecret)},
		"ca.generated.secretName changed":                                {run: lostCASecret(renameCASecret)},
		"AntreaIssuer named like an AntreaClusterIssuer, same namespace": {run: sameNameBothKinds},
		"AntreaClusterIssuer naming another issuer's CA Secret":          {run: secretOfAnotherIssuer},
		"two issuers on one provided CA Secret":                          {run: sharedProvidedSecret},
		"generated CA naming a Secret antrea-issuer did not generate":    {run: foreignSecretAsGeneratedCA},
		"unlabelled CA Secret in a caSecretNamespaces namespace":         {run: unlabelledTenantSecret},
		"CA Secret of an issuer being deleted removed":                   {run: issuerBeingDeleted},
	}
}

// TestHostileInputMatrix runs every row of the hostile input matrix (docs/security.md) against the
// issuer controllers on the real control plane: each ends in a clear condition, nothing is
// signed, and the controller keeps serving.
func TestHostileInputMatrix(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "hostile", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	ref := clusterIssuerRef(iss.Name)

	t.Run("rows", func(t *testing.T) {
		for name, tc := range hostileMatrix() {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				switch {
				case tc.run != nil:
					tc.run(ctx, t)
				case tc.request != nil:
					cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", ref, tc.request(t)...))
					got := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonFailed)
					assertUnsigned(t, got)
					assertMentions(t, readyCondition(got).Message, tc.want)
				case tc.caSecret != nil:
					hostileCASecret(ctx, t, name, tc)
				case tc.issuer != nil:
					obj := tc.issuer(t, ctx)
					if err := env.Client.Create(ctx, obj); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
					waitIssuerReady(ctx, t, obj, metav1.ConditionFalse, tc.want[0])
					assertMentions(t, readyMessage(t, obj), tc.want)
					assertRequestWaits(ctx, t, obj)
				case tc.spec != nil:
					obj := tc.spec()
					err := env.Client.Create(ctx, obj)
					if err == nil {
						_ = env.Client.Delete(ctx, obj)
					}
					if !apierrors.IsInvalid(err) {
						t.Fatalf("create error = %v, want Invalid", err)
					}
					assertMentions(t, err.Error(), tc.want)
				}
			})
		}
	})

	// After every row, the same issuer still signs a good request.
	cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", ref))
	waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)
}

// hostileCASecret makes a provided CA issuer Ready with a good CA, then writes the row's data into
// its Secret: the issuer must turn not Ready, a request must wait unsigned, and restoring the
// Secret must make it sign again.
func hostileCASecret(ctx context.Context, t *testing.T, name string, tc hostileCase) {
	t.Helper()
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	secretName := "hostile-" + randSuffix(t)
	secret := createSecret(ctx, t, clusterResourceNamespace, secretName, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
	iss := createClusterIssuer(ctx, t, secretName, v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: secretName}}}, metav1.ConditionTrue)

	// Ready means the issuer claimed the Secret (its annotation): write on top of that.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	if owner := secret.Annotations["certificates.antrea.io/issuer"]; owner != "AntreaClusterIssuer/"+secretName {
		t.Errorf("owner annotation = %q, want the issuer", owner)
	}
	secret.Data = tc.caSecret(t, good)
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, tc.want[0])
	assertMentions(t, readyMessage(t, iss), tc.want)
	cr := assertRequestWaits(ctx, t, iss)

	// The controller never rewrote the hostile Secret.
	got := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != secret.ResourceVersion {
		t.Errorf("the controller wrote the CA Secret (resourceVersion %s -> %s)", secret.ResourceVersion, got.ResourceVersion)
	}

	// Fixing the Secret is enough: the waiting request is signed with the good CA.
	got.Data = map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM}
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	signed := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)
	ca := parseCerts(t, good.CertPEM)[0]
	if err := parseCerts(t, signed.Status.Certificate)[0].CheckSignatureFrom(ca); err != nil {
		t.Errorf("%s: the request was not signed by the restored CA: %v", name, err)
	}
}

// generatedCASecretReplaced replaces the CA an issuer generated with a leaf: the issuer must stop
// signing and say why, and must never regenerate (overwrite) the Secret; putting the CA back
// makes it sign again.
func generatedCASecretReplaced(ctx context.Context, t *testing.T) {
	t.Helper()
	iss := createClusterIssuer(ctx, t, "gen-swap-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: clusterResourceNamespace, Name: iss.Name + "-ca"}, secret); err != nil {
		t.Fatal(err)
	}
	original := secret.Data
	leaf := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), false)
	secret.Data = map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM}
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, "not a CA")
	cr := assertRequestWaits(ctx, t, iss)
	got := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != secret.ResourceVersion {
		t.Fatalf("the controller rewrote the CA Secret it generated (resourceVersion %s -> %s)", secret.ResourceVersion, got.ResourceVersion)
	}
	got.Data = original
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	signed := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)
	if err := parseCerts(t, signed.Status.Certificate)[0].CheckSignatureFrom(parseCerts(t, original["tls.crt"])[0]); err != nil {
		t.Errorf("the request was not signed by the restored CA: %v", err)
	}
}

// caKeyAsRequestKey sends a request whose public key is the issuer's own CA key.
func caKeyAsRequestKey(ctx context.Context, t *testing.T) {
	t.Helper()
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	secretName := "own-key-" + randSuffix(t)
	createSecret(ctx, t, clusterResourceNamespace, secretName, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
	iss := createClusterIssuer(ctx, t, secretName, v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: secretName}}}, metav1.ConditionTrue)
	key, err := x509.ParsePKCS8PrivateKey(pemBytes(t, good.KeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "antrea.kube-system.svc"}, DNSNames: []string{"antrea.kube-system.svc"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", clusterIssuerRef(iss.Name), withRequest(testpki.PEM("CERTIFICATE REQUEST", der))))
	got := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonFailed)
	assertUnsigned(t, got)
	assertMentions(t, readyCondition(got).Message, []string{"the CA's own key"})
}

// assertRequestWaits creates an approved request to a not-Ready issuer and checks it waits
// (reason Pending) without a certificate.
func assertRequestWaits(ctx context.Context, t *testing.T, iss client.Object) *cmapi.CertificateRequest {
	t.Helper()
	kind := "AntreaClusterIssuer"
	ns := "kube-system"
	if iss.GetNamespace() != "" {
		kind, ns = "AntreaIssuer", iss.GetNamespace()
	}
	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: kind, Name: iss.GetName()}
	cr := createApproved(ctx, t, env.Client, newCR(t, ns, ref))
	got := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonPending)
	assertUnsigned(t, got)
	return got
}

func assertUnsigned(t *testing.T, cr *cmapi.CertificateRequest) {
	t.Helper()
	if len(cr.Status.Certificate) != 0 || len(cr.Status.CA) != 0 {
		t.Fatalf("%s carries a certificate", cr.Name)
	}
}

func assertMentions(t *testing.T, msg string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message does not mention %q: %.2000s", w, msg)
		}
	}
	// A message is read by people (kubectl describe) and stored in etcd: it stays bounded
	// whatever the request holds.
	if len(msg) > 8<<10 {
		t.Errorf("message is %d bytes long", len(msg))
	}
}

func readyMessage(t *testing.T, iss client.Object) string {
	t.Helper()
	for _, c := range iss.(interface{ GetConditions() []metav1.Condition }).GetConditions() {
		if c.Type == "Ready" {
			return c.Message
		}
	}
	t.Fatalf("%s has no Ready condition", iss.GetName())
	return ""
}

func createSecret(ctx context.Context, t *testing.T, ns, name string, data map[string][]byte) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })
	return s
}

func randSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func ptrInt(i int) *int { return &i }

// truncatedCSR is a valid CSR's PEM cut in the middle of its base64 body.
func truncatedCSR(t *testing.T) []byte {
	t.Helper()
	b, _ := newCSR(t)
	lines := strings.Split(string(b), "\n")
	return []byte(strings.Join(lines[:2], "\n") + "\n-----END CERTIFICATE REQUEST-----\n")
}

func withURIs(uris ...string) csrOption {
	return func(r *x509.CertificateRequest) {
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				panic(err)
			}
			r.URIs = append(r.URIs, u)
		}
	}
}

func withEmails(emails ...string) csrOption {
	return func(r *x509.CertificateRequest) { r.EmailAddresses = emails }
}

// withManySANs asks for Antrea's names and n short foreign ones (n0, n1, ...), small enough to
// stay under the CSR size limit.
func withManySANs(n int) csrOption {
	return func(r *x509.CertificateRequest) {
		for i := range n {
			r.DNSNames = append(r.DNSNames, fmt.Sprintf("n%d", i))
		}
	}
}

// withPadding adds an unknown, non-critical extension of size bytes.
func withPadding(size int) csrOption {
	return func(r *x509.CertificateRequest) {
		r.ExtraExtensions = append(r.ExtraExtensions, pkix.Extension{Id: []int{1, 3, 6, 1, 4, 1, 99999, 1}, Value: bytes.Repeat([]byte{0x05, 0x00}, size/2)})
	}
}

func withBasicConstraints(isCA bool, pathLen *int) csrOption {
	return func(r *x509.CertificateRequest) {
		ext, err := pki.MarshalBasicConstraints(isCA, pathLen)
		if err != nil {
			panic(err)
		}
		r.ExtraExtensions = append(r.ExtraExtensions, ext)
	}
}

func withNameConstraints(nc *pki.NameConstraints) csrOption {
	return func(r *x509.CertificateRequest) {
		ext, err := pki.MarshalNameConstraints(nc, true)
		if err != nil {
			panic(err)
		}
		r.ExtraExtensions = append(r.ExtraExtensions, ext)
	}
}
