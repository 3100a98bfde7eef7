package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/internal/testenv"
)

var antreaCert = client.ObjectKey{Namespace: "kube-system", Name: "antrea-controller-tls"}

// TestAntreaControllerCertificate walks the README's example from Certificate to trusted
// clients, then renews it the way `cmctl renew` does.
func TestAntreaControllerCertificate(t *testing.T) {
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")

	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	secret := &corev1.Secret{}
	if err := suite.client.Get(ctx, antreaCert, secret); err != nil {
		t.Fatal(err)
	}
	leaf := verifyAntreaSecret(t, secret, "kube-system")
	t.Logf("issued %s, serial %s, valid until %s", leaf.Subject, leaf.SerialNumber.Text(16), leaf.NotAfter)

	t.Run("clients trust it", func(t *testing.T) {
		waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
		checkClientsTrust(ctx, t, leaf)
	})

	t.Run("renewal keeps clients working", func(t *testing.T) {
		crt := &cmapi.Certificate{}
		if err := suite.client.Get(ctx, antreaCert, crt); err != nil {
			t.Fatal(err)
		}
		revision := *crt.Status.Revision
		// What `cmctl renew` does: ask cert-manager to issue now.
		apiutil.SetCertificateCondition(crt, crt.Generation, cmapi.CertificateConditionIssuing, cmmeta.ConditionTrue, "ManuallyTriggered", "Certificate re-issuance manually triggered by the e2e test")
		if err := suite.client.Status().Update(ctx, crt); err != nil {
			t.Fatal(err)
		}
		waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, func(c *cmapi.Certificate) error {
			if c.Status.Revision == nil || *c.Status.Revision <= revision {
				return fmt.Errorf("revision still %d", revision)
			}
			return nil
		})
		renewed := &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, renewed); err != nil {
			t.Fatal(err)
		}
		newLeaf := verifyAntreaSecret(t, renewed, "kube-system")
		if newLeaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			t.Fatal("renewal returned the same certificate")
		}
		if !bytes.Equal(renewed.Data["ca.crt"], secret.Data["ca.crt"]) {
			t.Error("ca.crt changed on renewal without a CA rotation")
		}
		waitBundlesEqual(ctx, t, renewed.Data["ca.crt"])
		checkClientsTrust(ctx, t, newLeaf)
	})
}

// waitBundlesEqual waits until antrea-ca and every Antrea caBundle hold exactly caPEM.
func waitBundlesEqual(ctx context.Context, t *testing.T, caPEM []byte) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "antrea-ca and every caBundle equal to ca.crt", func() error {
		cm := &corev1.ConfigMap{}
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "antrea-ca"}, cm); err != nil {
			return err
		}
		if cm.Data["ca.crt"] != string(caPEM) {
			return fmt.Errorf("antrea-ca differs")
		}
		for _, name := range antreasim.APIServiceNames() {
			as := &apiregistrationv1.APIService{}
			if err := suite.client.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
				return err
			}
			if !bytes.Equal(as.Spec.CABundle, caPEM) {
				return fmt.Errorf("APIService %s caBundle differs", name)
			}
		}
		if suite.local == nil {
			return nil // in a cluster, Antrea's webhooks exist only when Antrea is installed
		}
		var mw admissionregistrationv1.MutatingWebhookConfigurationList
		if err := suite.client.List(ctx, &mw, client.MatchingLabels(antreasim.Labels())); err != nil {
			return err
		}
		for _, c := range mw.Items {
			for _, w := range c.Webhooks {
				if !bytes.Equal(w.ClientConfig.CABundle, caPEM) {
					return fmt.Errorf("webhook %s/%s caBundle differs", c.Name, w.Name)
				}
			}
		}
		var vw admissionregistrationv1.ValidatingWebhookConfigurationList
		if err := suite.client.List(ctx, &vw, client.MatchingLabels(antreasim.Labels())); err != nil {
			return err
		}
		for _, c := range vw.Items {
			for _, w := range c.Webhooks {
				if !bytes.Equal(w.ClientConfig.CABundle, caPEM) {
					return fmt.Errorf("webhook %s/%s caBundle differs", c.Name, w.Name)
				}
			}
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "ippools.crd.antrea.io"}, crd); err != nil {
			return err
		}
		if cv := crd.Spec.Conversion; cv == nil || cv.Webhook == nil || cv.Webhook.ClientConfig == nil || !bytes.Equal(cv.Webhook.ClientConfig.CABundle, caPEM) {
			return fmt.Errorf("CRD conversion caBundle differs")
		}
		return nil
	})
}

// checkClientsTrust proves Antrea's clients accept the server certificate leaf: the real
// aggregator (through the APIServices' caBundle) and an agent-style client trusting only antrea-ca.
func checkClientsTrust(ctx context.Context, t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	needLocal(t)
	srv := suite.local.Antrea
	testenv.Eventually(t, 30*time.Second, "the stand-in serving the issued certificate", func() error {
		served, err := servedLeaf(srv.Addr())
		if err != nil {
			return err
		}
		if !served.Equal(leaf) {
			return fmt.Errorf("serving serial %s, want %s", served.SerialNumber.Text(16), leaf.SerialNumber.Text(16))
		}
		return nil
	})
	// The aggregator reuses TLS connections; a new key pair is judged on new connections, which
	// an APIService edit forces. Wait for Available on every APIService.
	for _, name := range antreasim.APIServiceNames() {
		if err := antreasim.WaitAPIServiceAvailable(ctx, suite.client, name, 30*time.Second); err != nil {
			t.Fatalf("APIService %s: %v", name, err)
		}
	}
	before := srv.RequestsTo("/apis/controlplane.antrea.io/v1beta2")
	testenv.Eventually(t, 30*time.Second, "a request through kube-apiserver reaching the stand-in", func() error {
		if err := suite.kube.Discovery().RESTClient().Get().AbsPath("/apis/controlplane.antrea.io/v1beta2").Do(ctx).Error(); err != nil {
			return err
		}
		if srv.RequestsTo("/apis/controlplane.antrea.io/v1beta2") == before {
			return fmt.Errorf("the stand-in saw no request")
		}
		return nil
	})

	agent := antreasim.NewAgentClient("kube-system")
	cm := &corev1.ConfigMap{}
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "antrea-ca"}, cm); err != nil {
		t.Fatal(err)
	}
	if err := agent.SetCA([]byte(cm.Data["ca.crt"])); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "an agent-style handshake with the stand-in", func() error {
		return agent.Handshake(srv.Addr())
	})
}

// servedLeaf returns the certificate a TLS server presents (not verified: only to see which).
func servedLeaf(addr string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // identification only
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}
