package cainject_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// tlsCrtIssuer names the issuer of the Secret's tls.crt ("" without one).
func tlsCrtIssuer(s *corev1.Secret) string {
	blk, _ := pem.Decode(s.Data[corev1.TLSCertKey])
	if blk == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return ""
	}
	return cert.Issuer.CommonName
}

// TestNoPartInAFlap installs a cert-manager-shaped Secret with the chart's old default lifetime
// (90 days: less than Antrea's 90-day threshold as soon as it is issued) into a cluster where
// antrea-controller runs in its default selfSignedCert: true mode. Each issue is overwritten by
// Antrea within milliseconds and re-issued: the Secret keeps changing hands. The sync takes no
// part: it writes nothing, says each cause once (one Warning per cause, one Normal while it waits
// for the Secret to settle), and counts every refused version. When the flap ends with a
// certificate Antrea adopts (a year), Antrea publishes the served tls.crt (leaf + CA), which the
// sync finds trusting exactly ca.crt after the settle period: still no write.
func TestNoPartInAFlap(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	opts := antreasim.DefaultControllerOptions()
	opts.SelfSignedCert, opts.ResyncPeriod = true, testResync
	sim := startAntrea(t, ctx, opts)
	eventually(t, 10*time.Second, "Antrea's own certificate served and published", func() (bool, string) {
		served := sim.Served()
		if served == nil {
			return false, "not serving"
		}
		return allCarry(ctx, t, c, served)
	})
	agents := startAgents(t, ctx, sim, 1)
	so := startOptions{opts: testOptions()}
	so.opts.SettlePeriod = testResync
	h := startController(t, ctx, so)
	eventually(t, 10*time.Second, "SelfSignedMode reported", func() (bool, string) {
		return h.problem(t, cainject.ReasonSelfSignedMode) == 1, "not yet"
	})

	ours, err := antreasim.NewCA("antrea-issuer-ca")
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{}
	read := func() *corev1.Secret {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.SecretName}, secret); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	const cycles = 10
	for i := range cycles {
		pair, err := ours.IssueServingFor(ns, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		generated := sim.Stats().Generated
		putSecret(ctx, t, c, (&antreasim.Material{CA: ours, Serving: pair}).CertManagerSecret(ns, antreasim.SecretName))
		eventually(t, 10*time.Second, fmt.Sprintf("issue %d overwritten by Antrea", i+1), func() (bool, string) {
			by := tlsCrtIssuer(read())
			return sim.Stats().Generated > generated && strings.HasPrefix(by, antreasim.SelfSignedCAPrefix), "tls.crt by " + by
		})
	}

	// The flap ends: a certificate Antrea adopts.
	long, err := ours.IssueServingFor(ns, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	final := (&antreasim.Material{CA: ours, Serving: long}).CertManagerSecret(ns, antreasim.SecretName)
	putSecret(ctx, t, c, final)
	eventually(t, 10*time.Second, "Antrea adopts and publishes the served tls.crt", func() (bool, string) {
		if !bytes.Equal(sim.Served(), final.Data["tls.crt"]) {
			return false, "not served yet"
		}
		return allCarry(ctx, t, c, final.Data["tls.crt"])
	})
	eventually(t, 10*testResync, "the sync settled and in sync", func() (bool, string) {
		ok, why := h.inSync(t)
		for _, r := range cainject.Reasons {
			if h.problem(t, r) != 0 {
				return false, fmt.Sprintf("source_problem{%s}=1", r)
			}
		}
		return ok, why
	})
	rounds := sim.Stats().Rounds
	waitRounds(t, sim, rounds+2) // two more of Antrea's resyncs: nothing moves

	if w := h.requests.applies(); len(w) != 0 {
		t.Errorf("the sync wrote during or after the flap: %v", w)
	}
	if ok, why := allCarry(ctx, t, c, final.Data["tls.crt"]); !ok {
		t.Errorf("targets after the flap: %s", why)
	}
	st := sim.Stats()
	// Each of Antrea's bundles at most once per object (changes arriving during a round are
	// published together, as Antrea's work queue does).
	if st.TotalWrites() > 8*(cycles+2) {
		t.Errorf("antrea-controller wrote %d times, want at most %d", st.TotalWrites(), 8*(cycles+2))
	}
	counts := map[string]int{}
	for _, reason := range []string{string(cainject.ReasonSelfSignedMode), string(cainject.ReasonNotChained), string(cainject.ReasonSettling),
		cainject.EventReasonRecovered, cainject.EventReasonSynced} {
		evs := secretEvents(ctx, t, c, reason)
		counts[reason] = len(evs)
		for _, e := range evs {
			t.Logf("event %s %s: %s", e.Type, e.Reason, e.Note)
		}
	}
	want := map[string]int{string(cainject.ReasonSelfSignedMode): 1, string(cainject.ReasonNotChained): 1, string(cainject.ReasonSettling): 1,
		cainject.EventReasonRecovered: 1, cainject.EventReasonSynced: 1}
	for reason, n := range want {
		if counts[reason] != n {
			t.Errorf("%d %s events, want %d", counts[reason], reason, n)
		}
	}
	refused := h.metricValue(t, "antrea_issuer_cainject_source_refusals_total", "reason", string(cainject.ReasonNotChained))
	if refused != cycles {
		t.Errorf("source_refusals_total{CertificateNotChained} = %v, want %d (one per overwrite)", refused, cycles)
	}
	ag := agentTotals(agents)
	t.Logf("flap of %d issues: antrea-controller %d Secret writes, %d target writes; the sync 0 writes, events %v, refusals %v; "+
		"agents %d handshakes, %d x509 failures (Antrea serving each new pair before its bundle reached them)",
		cycles, st.SecretWrites, st.TotalWrites(), counts, refused, ag.Handshakes, ag.X509Failures)
}

// TestNoPingPongWithAdoptingAntrea: antrea-controller in selfSignedCert: true mode adopts a
// certificate with more than 90 days left and republishes the served tls.crt (leaf + CA) every
// resync, where the sync published ca.crt. The sync counts Antrea's bundle as trusting exactly
// ca.crt: after Antrea's first publish, neither writes anything, also across a renewal (a new
// leaf under the same CA).
func TestNoPingPongWithAdoptingAntrea(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	ours, err := antreasim.NewCA("antrea-issuer-ca")
	if err != nil {
		t.Fatal(err)
	}
	issue := func() *corev1.Secret {
		pair, err := ours.IssueServingFor(ns, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s := (&antreasim.Material{CA: ours, Serving: pair}).CertManagerSecret(ns, antreasim.SecretName)
		putSecret(ctx, t, c, s)
		return s
	}
	first := issue()
	h := startController(t, ctx)
	waitAllCarry(ctx, t, c, ours.CertPEM, 10*time.Second)

	opts := antreasim.DefaultControllerOptions()
	opts.SelfSignedCert, opts.ResyncPeriod = true, time.Second
	sim := startAntrea(t, ctx, opts)
	eventually(t, 10*time.Second, "Antrea publishes the adopted tls.crt", func() (bool, string) {
		return allCarry(ctx, t, c, first.Data["tls.crt"])
	})
	eventually(t, 10*time.Second, "the sync in sync", func() (bool, string) { return h.inSync(t) })
	s0, w0 := sim.Stats(), h.requests.writes()
	waitRounds(t, sim, s0.Rounds+3)
	s1, w1 := sim.Stats(), h.requests.writes()
	t.Logf("3 resyncs of Antrea's leaf + CA bundle: antrea-controller %d writes, the sync %d", s1.TotalWrites()-s0.TotalWrites(), sum(w1)-sum(w0))
	if s1.TotalWrites() != s0.TotalWrites() || sum(w1) != sum(w0) {
		t.Errorf("ping-pong: antrea-controller %v, the sync %v", diff(s1.Writes, s0.Writes), diff(w1, w0))
	}

	// A renewal: Antrea adopts the new leaf and republishes; the sync still writes nothing.
	renewed := issue()
	eventually(t, 10*time.Second, "Antrea publishes the renewed tls.crt", func() (bool, string) {
		return allCarry(ctx, t, c, renewed.Data["tls.crt"])
	})
	waitRounds(t, sim, sim.Stats().Rounds+2)
	eventually(t, 10*time.Second, "the sync in sync", func() (bool, string) { return h.inSync(t) })
	s2, w2 := sim.Stats(), h.requests.writes()
	t.Logf("renewal: antrea-controller %s, the sync %s", describeCounts(diff(s2.Writes, s1.Writes)), describeCounts(diff(w2, w1)))
	if n := sum(w2) - sum(w1); n != 0 {
		t.Errorf("the sync wrote %d times on a renewal Antrea adopted", n)
	}
	if n := s2.TotalWrites() - s1.TotalWrites(); n != 8 {
		t.Errorf("antrea-controller wrote %d times on the renewal, want 8 (its new bundle once per object)", n)
	}
	if s2.SecretWrites != 0 {
		t.Errorf("antrea-controller rewrote the Secret %d times", s2.SecretWrites)
	}
}
