package e2e

// Antrea's default mode (selfSignedCert: true), as every cluster runs it before it adopts this
// project (issue 15 item 2): installing the chart's defaults then holds Antrea's first certificate
// (no issuance, no write, no failed handshake); without that hold Antrea adopts the chart's
// certificate, and the old default lifetime (2160h, exactly Antrea's 90-day threshold) loops, the
// CA bundle sync taking no part. Both against the antrea-controller stand-in in that mode, with its
// real 90-day threshold and its timings scaled down (localcluster.AntreaResyncPeriod).

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// observedResyncs is how many of antrea-controller's resync periods the default-mode tests watch
// after the install has settled.
const observedResyncs = 5

// adoptionMargin allows for the agents' watches of antrea-ca delivering an update a little after the
// test's own watch does.
const adoptionMargin = 50 * time.Millisecond

// agentInterval is how often each agent opens a new connection: antrea-agent retries every 5 s,
// scaled down like Antrea's other timings.
const agentInterval = 100 * time.Millisecond

// TestDefaultModeInstallWithoutOutage installs the chart's defaults while antrea-controller runs
// in its default mode with agents connected, and watches several of its resync periods: the issuer
// holds the Certificate's request (antrea-config says selfSignedCert: true and the Secret holds
// Antrea's own pair), so nothing changes hands: no issuance, no write by anyone, no failed
// handshake, one Warning per cause.
//
// Then, as a contrast and for installations that were made without the hold (antrea-config
// named otherwise, or an earlier antrea-issuer), the same without Antrea's configuration to go
// by: Antrea adopts the Certificate (more than 90 days left) instead of rewriting it, cert-manager
// issues once, the CA bundle sync stays out while the Secret changes hands and then finds
// Antrea's leaf + CA bundle trusting exactly ca.crt (no write from either side). There agents
// distrust the server in the one moment Antrea itself causes: it serves the adopted certificate
// before its own antrea-ca update reaches them (counted and logged).
func TestDefaultModeInstallWithoutOutage(t *testing.T) {
	ctx := testenv.Context(t)
	own := antreaInDefaultMode(ctx, t)
	t.Logf("before the install: antrea-controller serves and publishes its own %s", describePEM(own.Data["tls.crt"]))
	agents := startAgents(ctx, t, 3, agentInterval)
	agents.waitHandshakes(t, 9)
	waitAntreaRounds(t, 1)

	sim0, ag0, events := suite.local.Antrea.Stats(), agents.stats(), snapshotEvents(ctx, t)
	start := time.Now()
	installChart(ctx, t, nil)
	cr := waitHeld(ctx, t)
	heldAfter := time.Since(start)
	waitAntreaRounds(t, observedResyncs)
	sim1, ag1 := suite.local.Antrea.Stats(), agents.stats()
	writes := syncWrites(ctx, t)
	evs := eventsSince(ctx, t, events)
	revision := certificateRevision(ctx, t)
	secret := getSecret(ctx, t, antreaCert)

	t.Logf("FIGURES default-mode install (held): request held %s after the install: %q", heldAfter.Round(100*time.Millisecond), readyMessage(cr))
	t.Logf("FIGURES default-mode install (held): over %d of antrea-controller's resyncs: cert-manager issuances %d; antrea-controller Secret writes %d, pairs generated %d, target writes %d; CA bundle sync writes %d (%v)",
		observedResyncs, revision, sim1.SecretWrites-sim0.SecretWrites, sim1.Generated-sim0.Generated, sim1.TotalWrites()-sim0.TotalWrites(), sumCounts(writes), writes)
	t.Logf("FIGURES default-mode install (held): agents: %s; aggregator: %s", describeAgents(agentDelta(ag1, ag0)), agents.apiServices())
	logEvents(t, "default-mode install (held)", evs)

	if revision != 0 {
		t.Errorf("cert-manager issued %d times while Antrea ran its default mode", revision)
	}
	if !bytes.Equal(secret.Data["tls.crt"], own.Data["tls.crt"]) || !bytes.Equal(suite.local.Antrea.Served(), own.Data["tls.crt"]) {
		t.Errorf("the Secret or the served certificate changed: %s", describePEM(secret.Data["tls.crt"]))
	}
	if n := sim1.SecretWrites - sim0.SecretWrites; n != 0 {
		t.Errorf("antrea-controller rewrote the Secret %d times", n)
	}
	if n := sim1.TotalWrites() - sim0.TotalWrites(); n != 0 {
		t.Errorf("antrea-controller wrote its targets %d times", n)
	}
	if n := sumCounts(writes); n != 0 {
		t.Errorf("the CA bundle sync wrote %d times (%v)", n, writes)
	}
	if all := agentDelta(ag1, ag0); all.Failed() != 0 {
		t.Errorf("agents: %s", describeAgents(all))
	}
	for k, n := range warnings(evs) {
		if n > 1 {
			t.Errorf("%d × %s, want at most one Warning per cause", n, k)
		}
	}

	t.Run("without Antrea's configuration to go by, Antrea adopts the certificate", func(t *testing.T) {
		ctx := testenv.Context(t)
		agents.waitHandshakes(t, 9)
		tl := recordTimeline(ctx, t)
		sim0, ag0, events, w0 := suite.local.Antrea.Stats(), agents.stats(), snapshotEvents(ctx, t), syncWrites(ctx, t)
		start := time.Now()
		withoutAntreaConfig(ctx, t)
		waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
		secret := waitAntreaServesSecret(ctx, t)
		adopted := time.Since(start)
		if err := chainedSecret(secret); err != nil {
			t.Fatalf("the Secret Antrea serves: %v", err)
		}
		testenv.Eventually(t, 30*time.Second, "Antrea publishing the adopted tls.crt (leaf + CA)", func() error {
			return bundlesHold(ctx, secret.Data["tls.crt"])
		})
		waitSyncInSync(ctx, t, 10*localcluster.SettlePeriod+30*time.Second)
		settled := time.Since(start)

		sim1, ag1, w1 := suite.local.Antrea.Stats(), agents.stats(), syncWrites(ctx, t)
		waitAntreaRounds(t, observedResyncs)
		sim2, ag2 := suite.local.Antrea.Stats(), agents.stats()
		writes := diffCounts(syncWrites(ctx, t), w1)
		takeover := diffCounts(w1, w0)
		evs := eventsSince(ctx, t, events)
		revision := certificateRevision(ctx, t)
		cmWrites, antreaVersions := tl.tlsCrtWrites()

		t.Logf("FIGURES default-mode install: adopted after %s, sync settled and in sync after %s", adopted.Round(100*time.Millisecond), settled.Round(100*time.Millisecond))
		t.Logf("FIGURES default-mode install: cert-manager issuances %d, its certificates written to the Secret %d; antrea-controller Secret writes %d (its own pair seen %d times, the one from before the install), pairs generated %d, target writes %d (%v)",
			revision, cmWrites, sim2.SecretWrites-sim0.SecretWrites, antreaVersions, sim2.Generated-sim0.Generated, sim1.TotalWrites()-sim0.TotalWrites(), diffCounts(sim1.Writes, sim0.Writes))
		t.Logf("FIGURES default-mode install: over %d resyncs after it settled: antrea-controller target writes %d, CA bundle sync writes %d; the sync's writes since it started: %v",
			observedResyncs, sim2.TotalWrites()-sim1.TotalWrites(), sumCounts(writes), writes)
		t.Logf("FIGURES default-mode install: CA bundle sync writes during the takeover %d (per object %v)", sumCounts(takeover), perObject(takeover))
		t.Logf("FIGURES default-mode install: agents during the takeover: %s", describeAgents(agentDelta(ag1, ag0)))
		t.Logf("FIGURES default-mode install: agents over the %d resyncs: %s", observedResyncs, describeAgents(agentDelta(ag2, ag1)))
		t.Logf("FIGURES default-mode install: aggregator: %s", agents.apiServices())
		logEvents(t, "default-mode install", evs)

		if revision != 1 || cmWrites != 1 {
			t.Errorf("cert-manager issued %d times and wrote %d certificates to the Secret, want 1", revision, cmWrites)
		}
		if n := sim2.SecretWrites - sim0.SecretWrites; n != 0 {
			t.Errorf("antrea-controller rewrote the Secret %d times (an issue/rewrite loop)", n)
		}
		// The Secret changed hands once, long after the sync last saw Antrea's own pair (its
		// settle period is over), so the sync may publish ca.crt once before Antrea publishes the
		// leaf + CA it adopted, which it then counts as in sync: one write per object, no more.
		for kind, n := range takeover {
			if n > targetsPerKind[kind] {
				t.Errorf("the CA bundle sync wrote %s objects %d times during the takeover, more than once per object", kind, n)
			}
		}
		if n := sumCounts(writes); n != 0 {
			t.Errorf("the CA bundle sync wrote %d times (%v) after the takeover: it must count Antrea's leaf + CA as in sync", n, writes)
		}
		// One write per object for the adoption. When the sync published ca.crt at the same
		// moment, antrea-controller's Update of an object can conflict with it and land at its
		// next resync: still one write per object in all, and none after that.
		if n := sim2.TotalWrites() - sim0.TotalWrites(); n > targetObjects {
			t.Errorf("antrea-controller wrote its targets %d times for one adoption and %d resyncs, want at most one per object (%d): ping-pong", n, observedResyncs, targetObjects)
		}
		for k, n := range warnings(evs) {
			if n > 1 {
				t.Errorf("%d × %s, want at most one Warning per cause", n, k)
			}
		}
		// The one moment agents can distrust the server: Antrea serves the pair it adopted at once and
		// publishes it to antrea-ca a moment later (its own order, as with every pair it serves in this
		// mode); an agent opening a connection in between fails once. Nothing else may fail.
		adoptedTLS := secret.Data["tls.crt"]
		from, to := tl.firstTLSCrt(adoptedTLS), tl.firstAntreaCA(adoptedTLS)
		times, last := agents.x509Times()
		var inWindow, outside []string
		for _, at := range times {
			if !at.Before(from) && !at.After(to.Add(adoptionMargin)) {
				inWindow = append(inWindow, at.Sub(from).Round(time.Millisecond).String())
			} else {
				outside = append(outside, at.Sub(start).Round(time.Millisecond).String())
			}
		}
		t.Logf("FIGURES default-mode install: the Secret changed hands %s after the install began; antrea-ca carried the adopted tls.crt %s later; "+
			"x509 failures in between (Antrea serving before publishing): %d %v (last: %s)",
			from.Sub(start).Round(time.Millisecond), to.Sub(from).Round(time.Millisecond), len(inWindow), inWindow, last)
		if all := agentDelta(ag2, ag0); len(outside) != 0 || all.Refused != 0 || all.Other != 0 {
			t.Errorf("agents: %s; x509 failures outside the adoption instant, at %v after the install began", describeAgents(all), outside)
		}

		t.Run("CA rotation in this mode", func(t *testing.T) {
			// What a CA rotation costs while Antrea still runs in its default mode: Antrea publishes
			// its served leaf + the CA that signed it, which lacks the other CA of the phase, so the
			// sync rewrites ca.crt after each of Antrea's resyncs until the rotation ends.
			// antrea-config is back, saying selfSignedCert: true: the rotation's re-issue must not be
			// held, since Antrea serves a certificate from the issuer's CA already.
			if err := suite.local.EditAntreaConfig(true); err != nil {
				t.Fatal(err)
			}
			s0, a0, w0 := suite.local.Antrea.Stats(), agents.stats(), syncWrites(ctx, t)
			rotStart := time.Now()
			w := rotateAndWatch(ctx, t, rotationPhase, nil)
			waitAntreaCertificateInSync(ctx, t)
			secret := waitAntreaServesSecret(ctx, t)
			testenv.Eventually(t, 30*time.Second, "Antrea publishing the new leaf + CA", func() error {
				return bundlesHold(ctx, secret.Data["tls.crt"])
			})
			waitSyncInSync(ctx, t, 60*time.Second)
			took := time.Since(rotStart)
			s1, a1, w1 := suite.local.Antrea.Stats(), agents.stats(), syncWrites(ctx, t)
			sw := diffCounts(w1, w0)
			t.Logf("FIGURES default-mode CA rotation (phases of %s, %s in all, %v): antrea-controller target writes %d (%v), Secret writes %d; CA bundle sync writes %d (per object %v); agents: %s",
				rotationPhase, took.Round(100*time.Millisecond), w.phasesSeen(), s1.TotalWrites()-s0.TotalWrites(), diffCounts(s1.Writes, s0.Writes),
				s1.SecretWrites-s0.SecretWrites, sumCounts(sw), perObject(sw), describeAgents(agentDelta(a1, a0)))
			if n := s1.SecretWrites - s0.SecretWrites; n != 0 {
				t.Errorf("antrea-controller rewrote the Secret %d times during the rotation", n)
			}
			// Each sync write answers a change of Antrea's (a new leaf adopted, or a resync): never
			// more than one per object per write of Antrea's, plus one per CA change (3).
			for kind, n := range sw {
				if limit := 3*targetsPerKind[kind] + diffKind(s1.Writes, s0.Writes, kind); n > limit {
					t.Errorf("the sync wrote %s objects %d times, more than antrea-controller's writes plus one per object per CA change (%d)", kind, n, limit)
				}
			}
		})
	})
}

// waitHeld waits for the request of Antrea's Certificate to be held (pending, saying why).
func waitHeld(ctx context.Context, t *testing.T) *cmapi.CertificateRequest {
	t.Helper()
	var held *cmapi.CertificateRequest
	testenv.Eventually(t, 60*time.Second, "the request of Antrea's Certificate held while Antrea runs its default mode", func() error {
		var crs cmapi.CertificateRequestList
		if err := suite.client.List(ctx, &crs, client.InNamespace(antreaCert.Namespace)); err != nil {
			return err
		}
		for i := range crs.Items {
			cr := &crs.Items[i]
			if cr.Annotations[cmapi.CertificateNameKey] != antreaCert.Name {
				continue
			}
			if apiutil.CertificateRequestReadyReason(cr) == cmapi.CertificateRequestReasonPending && strings.Contains(readyMessage(cr), "selfSignedCert: true") {
				held = cr
				return nil
			}
			return fmt.Errorf("request %s: Ready %s %q", cr.Name, apiutil.CertificateRequestReadyReason(cr), readyMessage(cr))
		}
		return fmt.Errorf("no request yet")
	})
	return held
}

// readyMessage is the message of a request's Ready condition.
func readyMessage(cr *cmapi.CertificateRequest) string {
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil {
		return c.Message
	}
	return ""
}

// withoutAntreaConfig deletes antrea-config, as an installation that names it otherwise (or an
// antrea-issuer from before the hold) looks to the issuer: nothing holds Antrea's first
// certificate. The next RestartAntrea writes it again.
func withoutAntreaConfig(ctx context.Context, t *testing.T) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.AntreaNamespace, Name: antreasim.ConfigMapName}}
	if err := suite.client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestDefaultModeShortCertificateLoops is the contrast: a Certificate of 2160h (the chart's old
// default, exactly Antrea's 90-day threshold, so less is left the moment it is issued) in the same
// cluster, without antrea-config (with it, the request would be held and nothing would loop). Antrea overwrites every issue with its own pair, cert-manager re-issues, and so on. The
// loop is stopped after a few cycles by giving the Certificate the chart's current defaults, which
// Antrea adopts. The CA bundle sync writes nothing throughout; each cause is said once.
func TestDefaultModeShortCertificateLoops(t *testing.T) {
	ctx := testenv.Context(t)
	antreaInDefaultMode(ctx, t)
	// The loop is what happens without the hold (an installation without antrea-config to go by).
	withoutAntreaConfig(ctx, t)
	agents := startAgents(ctx, t, 3, agentInterval)
	agents.waitHandshakes(t, 9)

	tl := recordTimeline(ctx, t)
	sim0, ag0, events := suite.local.Antrea.Stats(), agents.stats(), snapshotEvents(ctx, t)
	start := time.Now()
	installChart(ctx, t, map[string]any{"certificate": map[string]any{"duration": "2160h", "renewBefore": "720h"}})

	// The documented guard before switching Antrea's mode (docs/migration.md) never holds in the
	// loop: record what it says while the loop runs.
	// Six cycles, or fewer and then none for 10 s: cert-manager itself sometimes stops such a loop
	// after one or a few cycles ("next private key does not match CSR public key, waiting for
	// requestmanager controller": its controllers racing each other and Antrea), until the
	// Certificate changes.
	const wantCycles, minCycles = 6, 1
	guardRefusals, guardChecks := map[string]int{}, 0
	lastCount, lastChange := 0, time.Now()
	testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("%d issue/rewrite cycles (or %d, then a stall)", wantCycles, minCycles), func() error {
		s := &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, s); err == nil {
			guardChecks++
			if err := chainedSecret(s); err != nil {
				guardRefusals[strings.SplitN(err.Error(), " (", 2)[0]]++
			}
		}
		g := suite.local.Antrea.Stats().Generated - sim0.Generated
		if g != lastCount {
			lastCount, lastChange = g, time.Now()
		}
		if g >= wantCycles || (g >= minCycles && time.Since(lastChange) > 10*time.Second) {
			return nil
		}
		return fmt.Errorf("Antrea generated %d pairs so far", g)
	})
	looped := time.Since(start)
	simLoop, agLoop, revLoop := suite.local.Antrea.Stats(), agents.stats(), certificateRevision(ctx, t)
	writesLoop := syncWrites(ctx, t)
	cmLoop, _ := tl.tlsCrtWrites()

	// The fix: the chart's defaults (a certificate Antrea adopts). cert-manager keeps writing the
	// Certificate's status during the loop: a merge patch (no resourceVersion) cannot conflict.
	crt := &cmapi.Certificate{}
	if err := suite.client.Get(ctx, antreaCert, crt); err != nil {
		t.Fatal(err)
	}
	orig := crt.DeepCopy()
	crt.Spec.Duration = &metav1.Duration{Duration: 8760 * time.Hour}
	crt.Spec.RenewBefore = &metav1.Duration{Duration: 2880 * time.Hour}
	if err := suite.client.Patch(ctx, crt, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	fixed := time.Now()
	var secret *corev1.Secret
	testenv.Eventually(t, 2*time.Minute, "Antrea adopting a one-year certificate", func() error {
		secret = &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, secret); err != nil {
			return err
		}
		if err := chainedSecret(secret); err != nil {
			return err
		}
		if !bytes.Equal(suite.local.Antrea.Served(), secret.Data["tls.crt"]) {
			return fmt.Errorf("not served yet")
		}
		return bundlesHold(ctx, secret.Data["tls.crt"])
	})
	waitSyncInSync(ctx, t, 10*localcluster.SettlePeriod+30*time.Second)
	simFix := suite.local.Antrea.Stats()
	waitAntreaRounds(t, 2)
	simEnd, agEnd, revEnd := suite.local.Antrea.Stats(), agents.stats(), certificateRevision(ctx, t)
	writesEnd := syncWrites(ctx, t)
	evs := eventsSince(ctx, t, events)
	cmEnd, antreaEnd := tl.tlsCrtWrites()
	refusals := issuerMetrics(ctx, t, "antrea_issuer_cainject_source_refusals_total", nil, "reason")

	loop := agentDelta(agLoop, ag0)
	t.Logf("FIGURES 2160h loop: %d cycles in %s: cert-manager wrote its certificate to the Secret %d times (Certificate revision %d), antrea-controller rewrote it %d times, its target writes %d (%v); CA bundle sync writes %d",
		simLoop.Generated-sim0.Generated, looped.Round(100*time.Millisecond), cmLoop, revLoop, simLoop.SecretWrites-sim0.SecretWrites,
		simLoop.TotalWrites()-sim0.TotalWrites(), diffCounts(simLoop.Writes, sim0.Writes), sumCounts(writesLoop))
	t.Logf("FIGURES 2160h loop: agents: %s (%.0f%% failed)", describeAgents(loop), 100*float64(loop.Failed())/float64(max(loop.Handshakes, 1)))
	t.Logf("FIGURES 2160h loop: the pre-switch guard (Secret chained) refused %d of %d reads: %v", sumCounts(guardRefusals), guardChecks, guardRefusals)
	t.Logf("FIGURES 2160h loop ended by the chart's defaults: %s to adoption; in all, cert-manager's certificates in the Secret %d (Certificate revision %d), Antrea's %d (Secret rewrites %d); target writes after adoption over 2 resyncs %d; sync writes %d; refusals counted by the sync %v",
		time.Since(fixed).Round(100*time.Millisecond), cmEnd, revEnd, antreaEnd, simEnd.SecretWrites-sim0.SecretWrites, simEnd.TotalWrites()-simFix.TotalWrites(), sumCounts(writesEnd), refusals)
	t.Logf("FIGURES 2160h loop, whole test: agents %s; aggregator: %s", describeAgents(agentDelta(agEnd, ag0)), agents.apiServices())
	logEvents(t, "2160h loop", evs)

	cycles := simLoop.Generated - sim0.Generated
	if g := simLoop.SecretWrites - sim0.SecretWrites; g < minCycles {
		t.Errorf("antrea-controller rewrote the Secret %d times: no loop", g)
	}
	// The sync publishes a usable Secret only once a settle period has passed since Antrea's last
	// rewrite. In a loop faster than that (the usual one: Antrea rewrites within milliseconds of
	// each issuance) it writes nothing at all; when cert-manager pauses longer than that between
	// two issuances (it sometimes does), it may publish once per object per pause, never more.
	switch n := sumCounts(writesEnd); {
	case looped < localcluster.SettlePeriod && n != 0:
		t.Errorf("the CA bundle sync wrote %d times (%v) during or after a loop shorter than its settle period", n, writesEnd)
	default:
		for kind, per := range perObject(writesEnd) {
			if per > float64(cycles) {
				t.Errorf("the CA bundle sync wrote %s objects %.1f times each in %d cycles, more than once per cycle", kind, per, cycles)
			}
		}
	}
	for k, n := range warnings(evs) {
		if n > 1 && strings.Contains(k, "on Secret/"+antreaCert.Name) {
			t.Errorf("%d × %s, want at most one Warning per cause from the CA bundle sync", n, k)
		}
	}
	for _, reason := range []cainject.Reason{cainject.ReasonNotChained} {
		if refusals[string(reason)] < float64(cycles) {
			t.Errorf("source_refusals_total{%s} = %v, want at least one per cycle (%d)", reason, refusals[string(reason)], cycles)
		}
	}
	if n := simEnd.TotalWrites() - simFix.TotalWrites(); n != 0 {
		t.Errorf("antrea-controller wrote %d times over 2 resyncs after the loop ended", n)
	}
}

// diffKind sums now minus before over the "<Kind>/<name>" keys of one kind.
func diffKind(now, before map[string]int, kind string) int {
	n := 0
	for k, v := range now {
		if strings.HasPrefix(k, kind+"/") {
			n += v - before[k]
		}
	}
	return n
}

// offsets renders times as offsets from start.
func offsets(times []time.Time, start time.Time) []string {
	out := make([]string, 0, len(times))
	for _, at := range times {
		out = append(out, at.Sub(start).Round(time.Millisecond).String())
	}
	return out
}

// logEvents logs an eventsSince count, sorted.
func logEvents(t *testing.T, what string, evs map[string]int) {
	t.Helper()
	keys := make([]string, 0, len(evs))
	for k := range evs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%d × %s", evs[k], k))
	}
	t.Logf("FIGURES %s: events: %s", what, strings.Join(lines, "; "))
}
