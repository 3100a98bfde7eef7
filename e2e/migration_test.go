package e2e

// docs/migration.md, run step by step (issue 15 item 3): from antrea-controller in its default
// mode (selfSignedCert: true) with agents connected, to selfSignedCert: false with antrea-issuer's
// certificate, against the antrea-controller stand-in with its files trailing the Secret. Every
// step is timed and its handshakes and writes counted; no agent may ever distrust the server.
// Connections refused while antrea-controller is not running are Antrea's own restart gap and
// are counted separately.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// restartGap is how long antrea-controller's Deployment (strategy Recreate) has no Pod when it
// restarts: about 3 s with the real antrea-controller, scaled down like Antrea's other timings.
const restartGap = 500 * time.Millisecond

// TestMigrationFromDefaultMode runs both orders of docs/migration.md.
func TestMigrationFromDefaultMode(t *testing.T) {
	t.Run("antrea-issuer not installed yet", migrateBeforeInstall)
	t.Run("Antrea already adopted the chart's Certificate", migrateAfterAdoption)
}

// migrateBeforeInstall: docs/migration.md, "Order A". The chart's defaults are installed while
// Antrea runs its default mode: the issuer holds Antrea's first certificate. The server's CA
// changes while antrea-controller is stopped, and it starts again only once every client trusts
// the new CA.
func migrateBeforeInstall(t *testing.T) {
	ctx := testenv.Context(t)
	antreaInDefaultMode(ctx, t)
	agents := startAgents(ctx, t, 3, agentInterval)
	agents.waitHandshakes(t, 9)
	steps := newStepLog(ctx, t, agents)

	// 1. Install antrea-issuer: the Certificate's request is held.
	installChart(ctx, t, nil)
	waitIssuerReady(ctx, t, &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "antrea"}}, 60*time.Second)
	waitHeld(ctx, t)
	testenv.Eventually(t, 30*time.Second, "the CA bundle sync reporting Antrea's self-signed mode", func() error {
		if v := issuerMetrics(ctx, t, "antrea_issuer_cainject_source_problem", map[string]string{"reason": string(cainject.ReasonSelfSignedMode)}, ""); v[""] != 1 {
			return fmt.Errorf("source_problem{SelfSignedMode} = %v", v[""])
		}
		return nil
	})
	// The sync's settle period (Antrea's resync period) passes before the Certificate is
	// issued, so that it publishes the first certificate at once (docs/migration.md).
	waitAntreaRounds(t, 2)
	if n := certificateRevision(ctx, t); n != 0 {
		t.Fatalf("the Certificate was issued %d times while Antrea ran its default mode", n)
	}
	steps.done("1. install antrea-issuer; its first certificate is held")

	// 2. Stop antrea-controller.
	stopped := time.Now()
	suite.local.Antrea.Stop()
	steps.done("2. stop antrea-controller (replicas 0)")

	// 3. selfSignedCert: false in antrea-config: the certificate is signed; wait until every
	// client trusts its CA.
	if err := suite.local.EditAntreaConfig(false); err != nil {
		t.Fatal(err)
	}
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	secret := getSecret(ctx, t, antreaCert)
	if err := chainedSecret(secret); err != nil {
		t.Fatal(err)
	}
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
	checkDiagnose(ctx, t, map[string]string{"serving-cert": "ok", "antrea-ca": "ok", "ca-bundle": "ok", "antrea-mode": "*", "apiservice-available": "*"})
	steps.done("3. selfSignedCert: false in antrea-config; the certificate issued, antrea-ca and the caBundles carry its ca.crt")

	// 4. Start antrea-controller with selfSignedCert: false.
	if err := suite.local.RestartAntrea(0, false); err != nil {
		t.Fatal(err)
	}
	waitAntreaServesSecret(ctx, t)
	started := time.Now()
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
	waitAPIServicesAvailable(ctx, t)
	steps.done("4. start antrea-controller")
	checkDiagnose(ctx, t, map[string]string{"antrea-mode": "ok", "antrea-ca": "ok", "ca-bundle": "ok", "serving-cert": "ok", "apiservice-available": "ok"})

	// 5. Several of Antrea's resyncs: nothing moves.
	waitAntreaRounds(t, observedResyncs)
	steps.done(fmt.Sprintf("5. %d of antrea-controller's resyncs", observedResyncs))

	steps.finish(stopped, started)
}

// migrateAfterAdoption: docs/migration.md, "Order B". The chart was installed while Antrea ran its
// default mode without the hold (no antrea-config to go by, or an antrea-issuer from before it);
// Antrea adopted the certificate. Switch once the Secret is cert-manager's, chained and stable for
// one of Antrea's resync periods.
func migrateAfterAdoption(t *testing.T) {
	ctx := testenv.Context(t)
	antreaInDefaultMode(ctx, t)
	withoutAntreaConfig(ctx, t)
	agents := startAgents(ctx, t, 3, agentInterval)
	agents.waitHandshakes(t, 9)
	installChart(ctx, t, nil)
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	adopted := waitAntreaServesSecret(ctx, t)
	testenv.Eventually(t, 30*time.Second, "Antrea publishing the adopted tls.crt", func() error {
		return bundlesHold(ctx, adopted.Data["tls.crt"])
	})
	waitSyncInSync(ctx, t, 60*time.Second)
	t.Logf("FIGURES migration B, the install before it (see TestDefaultModeInstallWithoutOutage): agents %s", describeAgents(agents.stats()))
	checkDiagnose(ctx, t, map[string]string{"antrea-mode": "warning", "antrea-ca": "ok", "serving-cert": "ok", "certificate": "ok"})
	steps := newStepLog(ctx, t, agents)

	// 1. The guard: Certificate Ready, the Secret cert-manager's (tls.crt chains to ca.crt) and
	// unchanged for one of Antrea's resync periods, antrea-ca trusting exactly ca.crt.
	stableSecret(ctx, t)
	steps.done("1. check: Certificate Ready, Secret chained and unchanged for a resync period")

	// 2. Switch: selfSignedCert: false, restart antrea-controller.
	stopped := time.Now()
	if err := suite.local.RestartAntrea(restartGap, false); err != nil {
		t.Fatal(err)
	}
	s := waitAntreaServesSecret(ctx, t)
	started := time.Now()
	waitBundlesEqual(ctx, t, s.Data["ca.crt"])
	steps.done("2. selfSignedCert: false, restart antrea-controller")
	checkDiagnose(ctx, t, map[string]string{"antrea-mode": "ok", "antrea-ca": "ok", "ca-bundle": "ok", "serving-cert": "ok"})

	// 3. Several of Antrea's resyncs: nothing moves.
	waitAntreaRounds(t, observedResyncs)
	steps.done(fmt.Sprintf("3. %d of antrea-controller's resyncs", observedResyncs))

	steps.finish(stopped, started)
}

// stableSecret is docs/migration.md's check before the switch: the Certificate Ready, the Secret
// chained (not Antrea's self-signed rewrite) and not written across one full resync period of
// antrea-controller, and antrea-ca trusting exactly its ca.crt.
func stableSecret(ctx context.Context, t *testing.T) {
	t.Helper()
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	for attempt := 1; ; attempt++ {
		before := getSecret(ctx, t, antreaCert)
		// Two rounds: at least one whole resync period between them.
		waitAntreaRounds(t, 2)
		after := getSecret(ctx, t, antreaCert)
		err := chainedSecret(after)
		if err == nil && after.ResourceVersion != before.ResourceVersion {
			err = fmt.Errorf("the Secret was written during the resync period (resourceVersion %s → %s)", before.ResourceVersion, after.ResourceVersion)
		}
		if err == nil {
			cm := &corev1.ConfigMap{}
			if err = suite.client.Get(ctx, antreaCA, cm); err == nil {
				bundle, derr := cainject.DesiredBundle(after, "ca.crt")
				switch {
				case derr != nil:
					err = derr
				case !bundle.Equivalent([]byte(cm.Data["ca.crt"])):
					err = fmt.Errorf("antrea-ca holds %s, which does not trust exactly ca.crt", describePEM([]byte(cm.Data["ca.crt"])))
				}
			}
		}
		if err == nil {
			t.Logf("the Secret held cert-manager's certificate, unchanged, across a resync period (check %d)", attempt)
			return
		}
		if attempt == 5 {
			t.Fatalf("not ready to switch after %d checks: %v", attempt, err)
		}
		t.Logf("not ready to switch yet: %v", err)
	}
}

// antreaCA is the ConfigMap agents trust.
var antreaCA = client.ObjectKey{Namespace: localcluster.AntreaNamespace, Name: "antrea-ca"}

// stepLog times the steps of a procedure and counts, per step, the agents' handshakes by outcome
// and the writes of antrea-controller and of the CA bundle sync.
type stepLog struct {
	ctx    context.Context
	t      *testing.T
	agents *agentFleet
	begin  time.Time
	last   time.Time
	ag     antreasim.AgentStats
	sim    antreasim.ControllerStats
	sync   map[string]int
	ag0    antreasim.AgentStats
	sim0   antreasim.ControllerStats
	sync0  map[string]int
	lines  []string
}

func newStepLog(ctx context.Context, t *testing.T, agents *agentFleet) *stepLog {
	s := &stepLog{ctx: ctx, t: t, agents: agents, begin: time.Now()}
	s.last, s.ag, s.sim, s.sync = s.begin, agents.stats(), suite.local.Antrea.Stats(), s.syncNow()
	s.ag0, s.sim0, s.sync0 = s.ag, s.sim, s.sync
	return s
}

func (s *stepLog) syncNow() map[string]int {
	if !suite.local.Issuer.Running() {
		return map[string]int{}
	}
	return syncWrites(s.ctx, s.t)
}

// done closes a step: it logs how long it took and what happened during it.
func (s *stepLog) done(step string) {
	s.t.Helper()
	now, ag, sim, sync := time.Now(), s.agents.stats(), suite.local.Antrea.Stats(), s.syncNow()
	line := fmt.Sprintf("%-75s %7s; agents %s; antrea-controller writes %d, Secret writes %d; CA bundle sync writes %d",
		step, now.Sub(s.last).Round(10*time.Millisecond), describeAgents(agentDelta(ag, s.ag)),
		sim.TotalWrites()-s.sim.TotalWrites(), sim.SecretWrites-s.sim.SecretWrites, sumCounts(diffCounts(sync, s.sync)))
	s.lines = append(s.lines, line)
	s.t.Logf("FIGURES step %s", line)
	s.last, s.ag, s.sim, s.sync = now, ag, sim, sync
}

// finish logs the whole procedure and checks it: no x509 failure, failures of any other kind
// (refused, reset: nothing serving) only while antrea-controller was stopped (between stopped and
// started), and no ping-pong: each object written at most once by each side over the procedure.
func (s *stepLog) finish(stopped, started time.Time) {
	t := s.t
	t.Helper()
	ag, sim, sync := agentDelta(s.agents.stats(), s.ag0), suite.local.Antrea.Stats(), diffCounts(s.syncNow(), s.sync0)
	first, last, gap := s.agents.unreachableSpan(s.begin, time.Now())
	simWrites := diffCounts(sim.Writes, s.sim0.Writes)
	t.Logf("FIGURES procedure: %s in all; agents %s; the %d failures other than x509 from %s to %s after antrea-controller stopped (restarted after %s); antrea-controller writes %v; CA bundle sync writes %v (per object %v); aggregator: %s",
		time.Since(s.begin).Round(10*time.Millisecond), describeAgents(ag), gap, first.Sub(stopped).Round(time.Millisecond), last.Sub(stopped).Round(time.Millisecond),
		started.Sub(stopped).Round(time.Millisecond), simWrites, sync, perObject(sync), s.agents.apiServices())
	if ag.X509Failures != 0 {
		times, msg := s.agents.x509Times()
		t.Errorf("agents: %s; x509 failures at %v after the procedure began; last: %s", describeAgents(ag), offsets(times, s.begin), msg)
	}
	if gap > 0 && (first.Before(stopped) || last.After(started)) {
		t.Errorf("agents failed (refused, reset) from %s to %s, outside antrea-controller's stop (%s) and start (%s)",
			first.Format(time.StampMilli), last.Format(time.StampMilli), stopped.Format(time.StampMilli), started.Format(time.StampMilli))
	}
	for obj, n := range simWrites {
		if n > 1 {
			t.Errorf("antrea-controller wrote %s %d times (ping-pong)", obj, n)
		}
	}
	for kind, n := range sync {
		if n > targetsPerKind[kind] {
			t.Errorf("the CA bundle sync wrote %s objects %d times, more than once each (ping-pong)", kind, n)
		}
	}
}

// diagnoseResult is one line of `antrea-issuer diagnose -o json`.
type diagnoseResult struct {
	Check, Status, Object, Message string
}

// checkDiagnose runs `antrea-issuer diagnose -o json` with an admin's kubeconfig, as the migration
// steps tell users to, and checks the status of the named checks (every line of each).
func checkDiagnose(ctx context.Context, t *testing.T, want map[string]string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, suite.local.Issuer.Binary, "diagnose", "--kubeconfig", suite.local.Env.KubeconfigPath, "-o", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // the exit status says problem or not; the lines say which
	var report struct {
		Checks []diagnoseResult `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("antrea-issuer diagnose -o json: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	seen := map[string]bool{}
	for _, r := range report.Checks {
		w, ok := want[r.Check]
		if !ok {
			continue
		}
		seen[r.Check] = true
		if w == "*" {
			t.Logf("diagnose %s %s: %s: %s", r.Check, r.Object, r.Status, r.Message)
			continue
		}
		if r.Status != w {
			t.Errorf("diagnose %s %s: %s, want %s: %s", r.Check, r.Object, r.Status, w, r.Message)
			continue
		}
		if r.Status != "ok" {
			t.Logf("diagnose %s %s: %s: %s", r.Check, r.Object, r.Status, r.Message)
		}
	}
	for c := range want {
		if !seen[c] {
			t.Errorf("diagnose printed no %s line", c)
		}
	}
	t.Logf("diagnose: %s", strings.Join(keysSorted(want), ", ")+" as expected")
}

func keysSorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
