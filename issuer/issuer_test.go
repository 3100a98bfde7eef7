package issuer_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/internal/testpki"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/rotation"
)

func clusterIssuerRef(name string) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: name}
}

// createClusterIssuer creates an AntreaClusterIssuer and waits for its Ready condition to have
// the wanted status.
func createClusterIssuer(ctx context.Context, t *testing.T, name string, spec v1alpha1.IssuerSpec, wantReady metav1.ConditionStatus) *v1alpha1.AntreaClusterIssuer {
	t.Helper()
	iss := &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := env.Client.Create(ctx, iss); err != nil {
		t.Fatalf("creating AntreaClusterIssuer: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), iss) })
	waitIssuerReady(ctx, t, iss, wantReady, "")
	return iss
}

// waitIssuerReady waits for the issuer's Ready condition status, with a message containing msg.
func waitIssuerReady(ctx context.Context, t *testing.T, iss client.Object, want metav1.ConditionStatus, msg string) {
	t.Helper()
	testenv.WaitIssuerReady(ctx, t, env.Client, iss, want, msg, 30*time.Second)
}

func TestClusterIssuerWithEmptySpecSignsAntreaCertificate(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "antrea", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)

	caSecret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: clusterResourceNamespace, Name: "antrea-ca"}, caSecret); err != nil {
		t.Fatalf("the generated CA Secret: %v", err)
	}
	if caSecret.Labels[issuer.LabelCASecret] != "true" {
		t.Errorf("CA Secret labels = %v", caSecret.Labels)
	}
	testenv.Eventually(t, 30*time.Second, "status.ca with a Steady phase and an active CA", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
			return err
		}
		if iss.Status.CA == nil || iss.Status.CA.Active == nil || iss.Status.CA.Phase != "Steady" {
			return fmt.Errorf("status.ca = %+v", iss.Status.CA)
		}
		if c := meta.FindStatusCondition(iss.Status.Conditions, rotation.ConditionCARotation); c == nil || c.Reason != "Idle" {
			return fmt.Errorf("CARotation condition = %+v", c)
		}
		return nil
	})

	cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", clusterIssuerRef(iss.Name)))
	cr = waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)

	chain := parseCerts(t, cr.Status.Certificate)
	cas := parseCerts(t, cr.Status.CA)
	if !bytes.Equal(cr.Status.CA, caSecret.Data["ca.crt"]) {
		t.Errorf("status.ca differs from the CA Secret's ca.crt")
	}
	leaf := chain[0]
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	for _, name := range []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("leaf does not verify for %s against status.ca: %v", name, err)
		}
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("key usage = %v", leaf.KeyUsage)
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	if leaf.NotAfter.After(cas[0].NotAfter) {
		t.Errorf("leaf NotAfter %s is after the CA's %s", leaf.NotAfter, cas[0].NotAfter)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < 89*24*time.Hour || got > 91*24*time.Hour {
		t.Errorf("leaf lifetime = %s, want about 90 days", got)
	}
}

func TestRequestsThatMustNotBeSigned(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "refuser", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	ref := clusterIssuerRef(iss.Name)

	goodCSR, _ := newCSR(t)
	otherCSR, _ := newCSR(t)
	tampered := tamperCSRSignature(t, goodCSR)
	foreign, _ := newCSR(t, withDNSNames("antrea.kube-system.svc", "evil.example.com"))
	withIP, _ := newCSR(t, withIPs("10.0.0.1"))
	lookalike, _ := newCSR(t, withDNSNames("antrea.kube-system.svc.evil.com"))
	_ = otherCSR

	tests := map[string]struct {
		opts    []crOption
		message []string
	}{
		"malformed CSR":        {opts: []crOption{withRequest([]byte("-----BEGIN CERTIFICATE REQUEST-----\nbm9wZQ==\n-----END CERTIFICATE REQUEST-----\n"))}, message: []string{"malformed certificate request"}},
		"CSR signature broken": {opts: []crOption{withRequest(tampered)}, message: []string{"signature"}},
		"CA requested":         {opts: []crOption{withIsCA(), withUsages(cmapi.UsageCertSign, cmapi.UsageDigitalSignature)}, message: []string{"CA"}},
		"foreign DNS name":     {opts: []crOption{withRequest(foreign)}, message: []string{`"evil.example.com"`, "antrea.kube-system.svc"}},
		"look-alike DNS name":  {opts: []crOption{withRequest(lookalike)}, message: []string{`"antrea.kube-system.svc.evil.com"`}},
		"IP SAN":               {opts: []crOption{withRequest(withIP)}, message: []string{"10.0.0.1"}},
		"client auth usage":    {opts: []crOption{withUsages(cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth, cmapi.UsageClientAuth)}, message: []string{"client auth"}},
		"duration over max":    {opts: []crOption{withDuration(5 * 365 * 24 * time.Hour)}, message: []string{"duration"}},
		"duration under min":   {opts: []crOption{withDuration(10 * time.Minute)}, message: []string{"duration"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", ref, tc.opts...))
			got := waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonFailed)
			if len(got.Status.Certificate) != 0 {
				t.Fatal("a refused request carries a certificate")
			}
			msg := readyCondition(got).Message
			for _, want := range tc.message {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}

	// The controller keeps serving after all of the above.
	t.Run("a good request still succeeds", func(t *testing.T) {
		cr := createApproved(ctx, t, env.Client, newCR(t, "kube-system", ref))
		waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)
	})
}

// tamperCSRSignature flips a bit of the CSR's signature.
func tamperCSRSignature(t *testing.T, csrPEM []byte) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(pemBytes(t, csrPEM))
	if err != nil {
		t.Fatal(err)
	}
	der := bytes.Clone(csr.Raw)
	sigStart := bytes.LastIndex(der, csr.Signature)
	der[sigStart+len(csr.Signature)-1] ^= 0x01
	return testpki.PEM("CERTIFICATE REQUEST", der)
}

func TestApprovalIsRequired(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "approval", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	ref := clusterIssuerRef(iss.Name)

	denied := newCR(t, "kube-system", ref)
	if err := env.Client.Create(ctx, denied); err != nil {
		t.Fatal(err)
	}
	setApproval(ctx, t, env.Client, denied, false)
	unapproved := newCR(t, "kube-system", ref)
	if err := env.Client.Create(ctx, unapproved); err != nil {
		t.Fatal(err)
	}
	// A request created after these and approved is signed: by then both others were seen.
	witness := createApproved(ctx, t, env.Client, newCR(t, "kube-system", ref))
	waitReadyReason(ctx, t, env.Client, witness, cmapi.CertificateRequestReasonIssued)

	// Denied requests are left alone (cert-manager's own controller marks them failed).
	got := &cmapi.CertificateRequest{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(denied), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Certificate) != 0 {
		t.Error("a denied request was signed")
	}
	if rc := readyCondition(got); rc != nil && rc.Status == cmmeta.ConditionTrue {
		t.Errorf("a denied request is Ready: %+v", rc)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(unapproved), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Certificate) != 0 {
		t.Error("an unapproved request was signed")
	}
	if rc := readyCondition(got); rc != nil && rc.Status == cmmeta.ConditionTrue {
		t.Errorf("an unapproved request is Ready: %+v", rc)
	}
}

func TestNamespacedIssuerUsesItsOwnNamespace(t *testing.T) {
	ctx := testenv.Context(t)
	iss := &v1alpha1.AntreaIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: teamNamespace},
		Spec: v1alpha1.IssuerSpec{
			CA:     v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{SecretName: "team-ca", KeyAlgorithm: "RSA2048"}},
			Policy: v1alpha1.PolicySpec{AntreaNamespace: teamNamespace},
		},
	}
	if err := env.Client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionTrue, "")
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: teamNamespace, Name: "team-ca"}, secret); err != nil {
		t.Fatalf("CA Secret not in the issuer's namespace: %v", err)
	}
	ca := parseCerts(t, secret.Data["tls.crt"])[0]
	if ca.PublicKeyAlgorithm != x509.RSA {
		t.Errorf("CA key algorithm = %v, want RSA", ca.PublicKeyAlgorithm)
	}

	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaIssuer", Name: iss.Name}
	csr, _ := newCSR(t, withCommonName("antrea.team-a.svc"), withDNSNames("antrea.team-a.svc", "antrea.team-a.svc.cluster.local"))
	cr := createApproved(ctx, t, env.Client, newCR(t, teamNamespace, ref, withRequest(csr)))
	waitReadyReason(ctx, t, env.Client, cr, cmapi.CertificateRequestReasonIssued)

	// An issuer in a namespace whose Secrets antrea-issuer does not read says so.
	outside := &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Name: "outside", Namespace: unwatchedNamespace}}
	if err := env.Client.Create(ctx, outside); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, outside, metav1.ConditionFalse, "--ca-secret-namespaces")
}

func TestProvidedCASecretProblemsAreReported(t *testing.T) {
	ctx := testenv.Context(t)
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	other := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	expired := newTestCA(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), true)
	notCA := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), false)

	tests := map[string]struct {
		data    map[string][]byte // nil: no Secret at all
		message string
	}{
		"missing Secret":         {message: "CA Secret not found"},
		"corrupt PEM":            {data: map[string][]byte{"tls.crt": []byte("garbage"), "tls.key": []byte("garbage")}, message: "not usable"},
		"key of another CA":      {data: map[string][]byte{"tls.crt": good.CertPEM, "tls.key": other.KeyPEM}, message: "does not match"},
		"not a CA certificate":   {data: map[string][]byte{"tls.crt": notCA.CertPEM, "tls.key": notCA.KeyPEM}, message: "not a CA"},
		"expired CA certificate": {data: map[string][]byte{"tls.crt": expired.CertPEM, "tls.key": expired.KeyPEM}, message: "expired"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			secretName := "provided-" + strings.ToLower(strings.ReplaceAll(name, " ", "-"))
			if tc.data != nil {
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: clusterResourceNamespace}, Data: tc.data}
				if err := env.Client.Create(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			iss := createClusterIssuer(ctx, t, secretName, v1alpha1.IssuerSpec{
				CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: secretName}},
			}, metav1.ConditionFalse)
			waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, tc.message)

			// Fixing the Secret, not the issuer, makes the issuer Ready: the Secret is watched.
			fixed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: clusterResourceNamespace}}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(fixed), fixed); apierrors.IsNotFound(err) {
				fixed.Data = map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM}
				err = env.Client.Create(ctx, fixed)
				if err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				fixed.Data = map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM}
				if err := env.Client.Update(ctx, fixed); err != nil {
					t.Fatal(err)
				}
			}
			waitIssuerReady(ctx, t, iss, metav1.ConditionTrue, "")
		})
	}
}

func TestInvalidSpecsAreRejectedByTheAPIServer(t *testing.T) {
	ctx := testenv.Context(t)
	gen := func(g v1alpha1.GeneratedCA) v1alpha1.IssuerSpec {
		return v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &g}}
	}
	provided := func(p v1alpha1.ProvidedCA) v1alpha1.IssuerSpec {
		return v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &p}}
	}
	policy := func(p v1alpha1.PolicySpec) v1alpha1.IssuerSpec { return v1alpha1.IssuerSpec{Policy: p} }
	// Both kinds refuse out-of-bounds durations (the hostile matrix has a tenant's typos).
	tests := map[string]struct {
		spec v1alpha1.IssuerSpec
		want string
	}{
		"generated and provided": {
			spec: v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{}, Provided: &v1alpha1.ProvidedCA{SecretName: "x"}}},
			want: "at most one of generated and provided",
		},
		"unknown key algorithm":          {spec: gen(v1alpha1.GeneratedCA{KeyAlgorithm: "DSA"}), want: "keyAlgorithm"},
		"duration overflows":             {spec: gen(v1alpha1.GeneratedCA{Duration: "9999999999h"}), want: "must be a duration from 2h to 87600h"},
		"duration too short":             {spec: gen(v1alpha1.GeneratedCA{Duration: "1h", RenewBefore: "40m"}), want: "must be a duration from 2h to 87600h"},
		"renewBefore zero":               {spec: gen(v1alpha1.GeneratedCA{RenewBefore: "0s"}), want: "must be a positive duration"},
		"renewBefore not below duration": {spec: gen(v1alpha1.GeneratedCA{Duration: "24h"}), want: "renewBefore 8760h must be shorter than duration 24h"},
		"minPhaseDuration far too long":  {spec: gen(v1alpha1.GeneratedCA{MinPhaseDuration: "100000h"}), want: "must be a duration from 1s to 168h"},
		"rotation cannot fit": {
			spec: gen(v1alpha1.GeneratedCA{Duration: "2h", RenewBefore: "1h59m50s", MinPhaseDuration: "5h"}),
			want: "renewBefore 1h59m50s leaves no time to rotate",
		},
		"policy maxDuration zero":        {spec: policy(v1alpha1.PolicySpec{MaxDuration: "0s"}), want: "must be a positive duration"},
		"min above max duration":         {spec: policy(v1alpha1.PolicySpec{MinDuration: "48h", MaxDuration: "24h"}), want: "minDuration must not exceed maxDuration"},
		"unknown usage":                  {spec: policy(v1alpha1.PolicySpec{Usages: []v1alpha1.KeyUsage{"teleport"}}), want: "usages"},
		"provided without a Secret name": {spec: provided(v1alpha1.ProvidedCA{}), want: "secretName"},
	}
	for name, tc := range tests {
		for _, kind := range v1alpha1.Kinds {
			t.Run(kind.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				iss := kind.New()
				iss.SetGenerateName("invalid-")
				if kind.Namespaced {
					iss.SetNamespace(teamNamespace)
				}
				*iss.GetSpec() = tc.spec
				err := env.Client.Create(ctx, iss)
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("create error = %v, want Invalid mentioning %q", err, tc.want)
				}
			})
		}
	}

	// What the schema cannot express is reported by the controller as a permanent failure.
	iss := createClusterIssuer(ctx, t, "bad-policy", v1alpha1.IssuerSpec{
		Policy: v1alpha1.PolicySpec{DNSNames: []string{"antrea..svc"}},
	}, metav1.ConditionFalse)
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, "spec.policy")
	if c := meta.FindStatusCondition(iss.Status.Conditions, "Ready"); c.Reason != issuerlibapi.IssuerConditionReasonFailed {
		t.Errorf("reason = %s, want %s", c.Reason, issuerlibapi.IssuerConditionReasonFailed)
	}
}

// TestDeletedIssuerLeavesNoMetrics: a deleted issuer's CA expiry must not stay exported, or an
// alert on it would fire for a CA that nothing uses.
func TestDeletedIssuerLeavesNoMetrics(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "metrics-forgotten", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	series := func() (int, error) {
		families, err := crmetrics.Registry.Gather()
		if err != nil {
			return 0, err
		}
		n := 0
		for _, f := range families {
			if f.GetName() != "antrea_issuer_ca_not_after_timestamp_seconds" && f.GetName() != "antrea_issuer_ca_rotation_phase" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "name" && l.GetValue() == iss.Name {
						n++
					}
				}
			}
		}
		return n, nil
	}
	testenv.Eventually(t, 30*time.Second, "the issuer's CA expiry and rotation phase exported", func() error {
		n, err := series()
		if err == nil && n < 4 { // expiry of the active CA, one series per rotation phase
			err = fmt.Errorf("%d series", n)
		}
		return err
	})
	if err := env.Client.Delete(ctx, iss); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the deleted issuer's series gone", func() error {
		n, err := series()
		if err == nil && n > 0 {
			err = fmt.Errorf("%d series left", n)
		}
		return err
	})
}
