package cainject_test

import (
	"antrea.io/antrea-issuer/issuer/cainject"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// TestTakeoverDetection proves that a Secret shaped as Antrea's selfSignedCert: true mode writes
// it (tls.crt = leaf + Antrea's own CA, no ca.crt), or one whose tls.crt does not chain to its
// ca.crt, raises a Warning event on the Secret and the source_problem metric telling that Antrea
// must run with selfSignedCert: false, and that no bundle is propagated meanwhile: the targets
// keep the last good one, so nothing clients trust breaks. A good Secret then syncs again.
func TestTakeoverDetection(t *testing.T) {
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

	cases := []struct {
		name   string
		secret *corev1.Secret
		reason cainject.Reason
	}{
		{"Antrea's self-signed mode rewrote the Secret", antreaSelf.SelfSignedModeSecret(ns, antreasim.SecretName), cainject.ReasonSelfSignedMode},
		{"tls.crt from Antrea's CA beside cert-manager's ca.crt", withData(antreaSelf.SelfSignedModeSecret(ns, antreasim.SecretName), "ca.crt", good.CA.CertPEM), cainject.ReasonNotChained},
	}
	for _, tc := range cases {
		putSecret(ctx, t, c, tc.secret)
		eventually(t, 10*time.Second, tc.name+": metric and Warning event", func() (bool, string) {
			evs := secretEvents(ctx, t, c, string(tc.reason))
			if problemMetric(t, tc.reason) != 1 || len(evs) == 0 {
				return false, fmt.Sprintf("source_problem{%s}=%v, %d events", tc.reason, problemMetric(t, tc.reason), len(evs))
			}
			e := evs[len(evs)-1]
			if e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, "selfSignedCert: false") {
				return false, fmt.Sprintf("event %s %q", e.Type, e.Note)
			}
			return true, ""
		})
		evs := secretEvents(ctx, t, c, string(tc.reason))
		t.Logf("%s: Warning %s: %s", tc.name, tc.reason, evs[len(evs)-1].Note)
		if ok, why := allCarry(ctx, t, c, good.CA.CertPEM); !ok {
			t.Errorf("%s: targets changed: %s", tc.name, why)
		}
		if n := sum(h.requests.applies()); n != synced {
			t.Errorf("%s: %d writes while the source was refused", tc.name, n-synced)
		}
	}

	next := newMaterial(t, "antrea-issuer-ca-2")
	putSecret(ctx, t, c, next.CertManagerSecret(ns, antreasim.SecretName))
	waitAllCarry(ctx, t, c, next.CA.CertPEM, 10*time.Second)
	eventually(t, 10*time.Second, "problem cleared and recovery announced", func() (bool, string) {
		return problemMetric(t, cainject.ReasonNotChained) == 0 && len(secretEvents(ctx, t, c, cainject.EventReasonRecovered)) > 0,
			fmt.Sprintf("source_problem{%s}=%v", cainject.ReasonNotChained, problemMetric(t, cainject.ReasonNotChained))
	})
}

func withData(s *corev1.Secret, key string, value []byte) *corev1.Secret {
	s.Data[key] = value
	return s
}
