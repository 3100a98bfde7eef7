package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

func newProvidedCA(t *testing.T) *signer.CA {
	t.Helper()
	ca, err := signer.GenerateCA(time.Now(), signer.CAOptions{CommonName: "user-ca", Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func keyPEM(t *testing.T, ca *signer.CA) []byte {
	t.Helper()
	k, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issuedState is one content of a Certificate's Secret.
type issuedState struct {
	caBundle []byte
	leaf     *x509.Certificate
}

// matches reports whether the state has ca.crt equal to want's bundle and a leaf its active CA
// signed.
func (st issuedState) matches(want signer.Generations) error {
	if !bytes.Equal(st.caBundle, want.Bundle().PEM()) {
		return fmt.Errorf("ca.crt holds %d certificate(s), not the expected bundle", bytes.Count(st.caBundle, []byte("BEGIN")))
	}
	if st.leaf == nil || st.leaf.CheckSignatureFrom(want.Active.Cert) != nil {
		return fmt.Errorf("leaf not signed by %s", want.Active.Cert.Subject)
	}
	return nil
}

// issuedHistory records every distinct content a Certificate's Secret takes, in order.
type issuedHistory struct {
	mu     sync.Mutex
	states []issuedState
}

// issuedStateOf reads a Certificate's Secret: its ca.crt and its leaf, nil when unreadable.
func issuedStateOf(s *corev1.Secret) issuedState {
	st := issuedState{caBundle: s.Data["ca.crt"]}
	if certs, err := signer.ParseBundle(s.Data["tls.crt"]); err == nil && len(certs.Certificates()) > 0 {
		st.leaf = certs.Certificates()[0]
	}
	return st
}

func (h *issuedHistory) observe(s *corev1.Secret) {
	st := issuedStateOf(s)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.states); n > 0 && bytes.Equal(h.states[n-1].caBundle, st.caBundle) &&
		h.states[n-1].leaf != nil && st.leaf != nil && h.states[n-1].leaf.Equal(st.leaf) {
		return
	}
	h.states = append(h.states, st)
}

// issuedStep is a content the Secret must take, described for failure messages.
type issuedStep struct {
	want signer.Generations
	what string
}

// followIssued starts recording a Certificate's Secret.
func followIssued(ctx context.Context, t *testing.T, key client.ObjectKey) *issuedHistory {
	t.Helper()
	h := &issuedHistory{}
	watchSecret(ctx, t, key, h.observe)
	return h
}

// waitIssuedInOrder waits until the Secret has taken every step's content, in that order. States
// in between are allowed; a step the Secret went through while nobody looked still counts.
func waitIssuedInOrder(t *testing.T, h *issuedHistory, steps ...issuedStep) {
	t.Helper()
	testenv.Eventually(t, 90*time.Second, steps[len(steps)-1].what, func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		i := 0
		var last error
		for _, st := range h.states {
			if i == len(steps) {
				break
			}
			if last = st.matches(steps[i].want); last == nil {
				i++
			}
		}
		if i < len(steps) {
			return fmt.Errorf("%d of %d states seen; next, %q, not reached (latest: %v)", i, len(steps), steps[i].what, last)
		}
		return nil
	})
}

// waitIssuedBy waits until the Certificate's Secret holds want's bundle and a leaf signed by
// its active CA.
func waitIssuedBy(ctx context.Context, t *testing.T, key client.ObjectKey, want signer.Generations, what string) {
	t.Helper()
	testenv.Eventually(t, 90*time.Second, what, func() error {
		s := &corev1.Secret{}
		if err := suite.client.Get(ctx, key, s); err != nil {
			return err
		}
		return issuedStateOf(s).matches(want)
	})
}

// TestProvidedCAReplacement replaces a user-provided CA twice: staged (the user adds the new CA as
// next.tls.crt/next.tls.key, and the issuer runs the same overlap as a rotation), and in place
// (tls.crt/tls.key overwritten: the old CA stays trusted until its certificates are re-issued).
func TestProvidedCAReplacement(t *testing.T) {
	ctx := testenv.Context(t)
	a, b, c := newProvidedCA(t), newProvidedCA(t), newProvidedCA(t)
	secretKey := client.ObjectKey{Namespace: localcluster.IssuerNamespace, Name: "user-provided-ca"}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: secretKey.Namespace, Name: secretKey.Name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": a.CertPEM(), "tls.key": keyPEM(t, a), "note": []byte("kept")},
	}
	if err := suite.client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), secret) })
	iss := &v1alpha1.AntreaClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "user-provided"},
		Spec: v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{
			SecretName: secretKey.Name, MinPhaseDuration: "2s"}}},
	}
	if err := suite.client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), iss) })
	crt := antreaCertificate("kube-system", "antrea-user-ca-tls",
		cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: iss.Name},
		"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local")
	if err := suite.client.Create(ctx, crt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), crt) })
	waitCertificate(ctx, t, client.ObjectKeyFromObject(crt), cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	crtSecret := client.ObjectKey{Namespace: crt.Namespace, Name: crt.Spec.SecretName}
	waitIssuedBy(ctx, t, client.ObjectKeyFromObject(crt), signer.Generations{Active: a}, "a certificate from CA A")

	t.Run("staged: next CA added by the user", func(t *testing.T) {
		if err := suite.client.Get(ctx, secretKey, secret); err != nil {
			t.Fatal(err)
		}
		history := followIssued(ctx, t, crtSecret)
		secret.Data["next.tls.crt"], secret.Data["next.tls.key"] = b.CertPEM(), keyPEM(t, b)
		if err := suite.client.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		waitIssuedInOrder(t, history,
			issuedStep{signer.Generations{Active: a, Next: b}, "ca.crt trusting A and B, leaf still from A"},
			issuedStep{signer.Generations{Active: b, Previous: a.Cert}, "leaf from B, A still trusted"},
			issuedStep{signer.Generations{Active: b}, "only B trusted"})
	})

	t.Run("in place: tls.crt and tls.key overwritten", func(t *testing.T) {
		testenv.Eventually(t, 30*time.Second, "the issuer's status to show B active", func() error {
			got := &v1alpha1.AntreaClusterIssuer{}
			if err := suite.client.Get(ctx, client.ObjectKeyFromObject(iss), got); err != nil {
				return err
			}
			if got.Status.CA == nil || got.Status.CA.Phase != "Steady" || got.Status.CA.Active.Subject != b.Cert.Subject.String() {
				return fmt.Errorf("status.ca = %+v", got.Status.CA)
			}
			return nil
		})
		if err := suite.client.Get(ctx, secretKey, secret); err != nil {
			t.Fatal(err)
		}
		history := followIssued(ctx, t, crtSecret)
		secret.Data["tls.crt"], secret.Data["tls.key"] = c.CertPEM(), keyPEM(t, c)
		if err := suite.client.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		waitIssuedInOrder(t, history,
			issuedStep{signer.Generations{Active: c, Previous: b.Cert}, "leaf from C, replaced B still trusted"},
			issuedStep{signer.Generations{Active: c}, "only C trusted"})
		if err := suite.client.Get(ctx, secretKey, secret); err != nil {
			t.Fatal(err)
		}
		if string(secret.Data["note"]) != "kept" {
			t.Error("the issuer dropped a key of the user's Secret")
		}
	})
}
