package cainject_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// TestRefusedSecrets proves that a Secret that must not be published raises a Warning event on
// the Secret and the source_problem metric, and that nothing is written meanwhile (the targets
// keep the last good bundle): Antrea's selfSignedCert: true shape (tls.crt = leaf + Antrea's own
// CA, no ca.crt), its tls.crt beside a stale ca.crt, and a ca.crt carrying a private key after the
// CA certificate (a concatenated PEM file), whose key never appears in an event. A good Secret
// then syncs again, announced by one SourceUsable event.
func TestRefusedSecrets(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	good := newMaterial(t, "antrea-issuer-ca")
	antreaSelf := newMaterial(t, fmt.Sprintf("antrea-ca@%d", time.Now().Unix()))
	putSecret(ctx, t, c, good.CertManagerSecret(ns, antreasim.SecretName))
	h := startController(t, ctx)
	waitAllCarry(ctx, t, c, good.CA.CertPEM, 10*time.Second)
	synced := sum(h.requests.applies())

	withKey := good.CertManagerSecret(ns, antreasim.SecretName)
	withKey.Data["ca.crt"] = append(bytes.Clone(good.CA.CertPEM), good.Serving.KeyPEM...)
	keyLine := strings.Split(string(good.Serving.KeyPEM), "\n")[1]

	unrelated := newMaterial(t, "unrelated-ca")
	caOnly := good.CertManagerSecret(ns, antreasim.SecretName)
	caOnly.Type, caOnly.Data = corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": unrelated.CA.CertPEM}

	// Each case is a row of docs/security.md's matrix, in order (they share the one Secret).
	cases := []struct {
		name      string
		secret    *corev1.Secret
		reason    cainject.Reason
		eventType string
		wantNote  string
	}{
		{"Antrea's self-signed mode rewrote the Secret", antreaSelf.SelfSignedModeSecret(ns, antreasim.SecretName), cainject.ReasonSelfSignedMode, corev1.EventTypeWarning, "selfSignedCert: false"},
		{"tls.crt from Antrea's CA beside cert-manager's ca.crt",
			withData(antreaSelf.SelfSignedModeSecret(ns, antreasim.SecretName), "ca.crt", good.CA.CertPEM), cainject.ReasonNotChained, corev1.EventTypeWarning, "selfSignedCert: false"},
		{"a private key in ca.crt", withKey, cainject.ReasonCANonCertificateBlock, corev1.EventTypeWarning, `"PRIVATE KEY"`},
		{"an unrelated CA in ca.crt and no tls.crt", caOnly, cainject.ReasonServingCertMissing, corev1.EventTypeNormal, "tls.crt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			putSecret(ctx, t, c, tc.secret)
			eventually(t, 10*time.Second, tc.name+": metric and Warning event", func() (bool, string) {
				evs := secretEvents(ctx, t, c, string(tc.reason))
				if h.problem(t, tc.reason) != 1 || len(evs) == 0 {
					return false, fmt.Sprintf("source_problem{%s}=%v, %d events", tc.reason, h.problem(t, tc.reason), len(evs))
				}
				e := evs[len(evs)-1]
				if e.Type != tc.eventType || !strings.Contains(e.Note, tc.wantNote) {
					return false, fmt.Sprintf("event %s %q", e.Type, e.Note)
				}
				return true, ""
			})
			evs := secretEvents(ctx, t, c, string(tc.reason))
			t.Logf("%s: Warning %s: %s", tc.name, tc.reason, evs[len(evs)-1].Note)
			if strings.Contains(evs[len(evs)-1].Note, keyLine) {
				t.Errorf("%s: the event carries key material", tc.name)
			}
			if ok, why := allCarry(ctx, t, c, good.CA.CertPEM); !ok {
				t.Errorf("%s: targets changed: %s", tc.name, why)
			}
			if n := sum(h.requests.applies()); n != synced {
				t.Errorf("%s: %d writes while the source was refused", tc.name, n-synced)
			}
		})
	}

	next := newMaterial(t, "antrea-issuer-ca-2")
	putSecret(ctx, t, c, next.CertManagerSecret(ns, antreasim.SecretName))
	waitAllCarry(ctx, t, c, next.CA.CertPEM, 10*time.Second)
	eventually(t, 10*time.Second, "problem cleared and recovery announced", func() (bool, string) {
		evs := secretEvents(ctx, t, c, cainject.EventReasonRecovered)
		return h.problem(t, cainject.ReasonCANonCertificateBlock) == 0 && len(evs) == 1,
			fmt.Sprintf("source_problem{%s}=%v, %d recovery events", cainject.ReasonCANonCertificateBlock, h.problem(t, cainject.ReasonCANonCertificateBlock), len(evs))
	})
	t.Logf("recovery: %s", secretEvents(ctx, t, c, cainject.EventReasonRecovered)[0].Note)
}

func withData(s *corev1.Secret, key string, value []byte) *corev1.Secret {
	s.Data[key] = value
	return s
}
