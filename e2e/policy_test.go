package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

func antreaCertificate(ns, name string, ref cmmeta.IssuerReference, dnsNames ...string) *cmapi.Certificate {
	return &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cmapi.CertificateSpec{
			SecretName: name,
			DNSNames:   dnsNames,
			Usages:     []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
			IssuerRef:  ref,
		},
	}
}

// TestForbiddenNameIsRefusedVisibly asks for a name the policy forbids: nothing is issued, and
// what `kubectl describe certificate` shows (conditions, events) names the forbidden name.
func TestForbiddenNameIsRefusedVisibly(t *testing.T) {
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml") // the AntreaClusterIssuer
	crt := antreaCertificate("kube-system", "antrea-forbidden",
		cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: "antrea"},
		"antrea.kube-system.svc", "evil.example.com")
	if err := suite.client.Create(ctx, crt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(ctx, crt) })

	got := waitCertificate(ctx, t, client.ObjectKeyFromObject(crt), cmapi.CertificateConditionIssuing, cmmeta.ConditionFalse, func(c *cmapi.Certificate) error {
		for _, cond := range c.Status.Conditions {
			if cond.Type == cmapi.CertificateConditionIssuing {
				return containsAll(cond.Message, `"evil.example.com"`, "not allowed")
			}
		}
		return nil
	})
	for _, cond := range got.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue {
			t.Errorf("a Certificate with a forbidden name is Ready")
		}
	}
	secret := &corev1.Secret{}
	if err := suite.client.Get(ctx, client.ObjectKeyFromObject(crt), secret); err == nil && len(secret.Data["tls.crt"]) > 0 {
		t.Error("a certificate was written for a forbidden name")
	}

	// The events `kubectl describe certificate` lists.
	testenv.Eventually(t, 30*time.Second, "a Warning event on the Certificate naming the forbidden name", func() error {
		var evs eventsv1.EventList
		if err := suite.client.List(ctx, &evs, client.InNamespace(crt.Namespace)); err != nil {
			return err
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Regarding.Kind == "Certificate" && e.Regarding.Name == crt.Name {
				msg := e.Note + e.DeprecatedSource.Component
				seen = append(seen, e.Reason+": "+msg)
				if e.Type == corev1.EventTypeWarning && strings.Contains(msg, "evil.example.com") {
					return nil
				}
			}
		}
		var core corev1.EventList
		if err := suite.client.List(ctx, &core, client.InNamespace(crt.Namespace)); err != nil {
			return err
		}
		for _, e := range core.Items {
			if e.InvolvedObject.Kind == "Certificate" && e.InvolvedObject.Name == crt.Name {
				seen = append(seen, e.Reason+": "+e.Message)
				if e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "evil.example.com") {
					return nil
				}
			}
		}
		return fmt.Errorf("events: %q", seen)
	})
}

// TestNamespacedIssuerWorksIndependently runs a namespaced AntreaIssuer, with its own CA, in
// another namespace.
func TestNamespacedIssuerWorksIndependently(t *testing.T) {
	ctx := testenv.Context(t)
	if suite.local == nil {
		// In a cluster, antrea-issuer must have been installed with caSecretNamespaces including it.
		if err := localcluster.Apply(ctx, suite.client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: teamNamespace}}); err != nil {
			t.Fatal(err)
		}
	}
	iss := &v1alpha1.AntreaIssuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: teamNamespace, Name: "team"},
		Spec:       v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{AntreaNamespace: teamNamespace}},
	}
	if err := suite.client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(ctx, iss) })
	crt := antreaCertificate(teamNamespace, "antrea-controller-tls",
		cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaIssuer", Name: iss.Name},
		"antrea."+teamNamespace+".svc", "antrea."+teamNamespace+".svc.cluster.local")
	if err := suite.client.Create(ctx, crt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(ctx, crt) })
	waitCertificate(ctx, t, client.ObjectKeyFromObject(crt), cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)

	secret := &corev1.Secret{}
	if err := suite.client.Get(ctx, client.ObjectKeyFromObject(crt), secret); err != nil {
		t.Fatal(err)
	}
	verifyAntreaSecret(t, secret, teamNamespace)
	caSecret := &corev1.Secret{}
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: teamNamespace, Name: "team-ca-keypair"}, caSecret); err != nil {
		t.Fatalf("the namespaced issuer's CA Secret: %v", err)
	}
	cluster := &corev1.Secret{}
	if err := suite.client.Get(ctx, antreaCert, cluster); err == nil && string(cluster.Data["ca.crt"]) == string(secret.Data["ca.crt"]) {
		t.Error("the namespaced issuer signed with the cluster issuer's CA")
	}
}
