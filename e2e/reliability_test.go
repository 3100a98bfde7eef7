package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Reliability: antrea-issuer crashing, running as two replicas, and losing its API server, with
// requests in flight. Each test states what it measured in its log (figures in docs/security.md).

func clusterRef(name string) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: name}
}

// TestSIGKILLUnderLoad kills the antrea-issuer process (SIGKILL: no clean-up, no lease release)
// ten times while 200 CertificateRequests are being signed, restarting it each time with the
// chart's arguments. Every request must end Ready exactly once with a valid certificate for its
// own key, no request may fail, and the issuer must keep the one CA it had.
func TestSIGKILLUnderLoad(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	const (
		ns       = "e2e-restarts"
		requests = 200
	)
	iss, owner, caBefore, watch := underLoad(ctx, t, ns)

	// Kill when the signed count passes each threshold: the process is then busy signing, with
	// requests queued, approved and half-written.
	var thresholds []int
	for at := 10; at < requests; at += 20 {
		thresholds = append(thresholds, at)
	}
	proc := suite.local.Issuer
	killed := make(chan int, 1)
	killErr := make(chan error, 1)
	go func() {
		kills := 0
		defer func() { killed <- kills }()
		for _, at := range thresholds {
			for watch.ready() < at {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := killAndRestart(ctx, proc, 0); err != nil {
				killErr <- err
				return
			}
			kills++
		}
	}()

	start := time.Now()
	reqs := createRequests(ctx, t, ns, "req", requests, clusterRef(iss.Name))
	watch.waitAllReady(t, requests, 3*time.Minute)
	elapsed := watch.lastReadyAt().Sub(start)
	kills := <-killed
	select {
	case err := <-killErr:
		t.Fatalf("killing and restarting antrea-issuer: %v", err)
	default:
	}
	if kills != len(thresholds) {
		t.Fatalf("killed %d times, want %d", kills, len(thresholds))
	}

	duplicates := watch.onceOnly(t, reqs)
	caAfter := theCASecret(ctx, t, owner)
	if caAfter.UID != caBefore.UID || caAfter.ResourceVersion != caBefore.ResourceVersion {
		t.Errorf("the CA Secret changed: uid %s -> %s, resourceVersion %s -> %s", caBefore.UID, caAfter.UID, caBefore.ResourceVersion, caAfter.ResourceVersion)
	}
	verifyIssued(ctx, t, ns, reqs, caAfter)
	t.Logf("FIGURES restarts: %d requests, %d SIGKILLs, %d duplicates, %d failed, %d CA Secret(s), all Ready %.1fs after the first was created",
		requests, kills, duplicates, watch.failed(), len(caSecretsOf(ctx, t, owner)), elapsed.Seconds())
}

// TestTwoReplicasOneCAAndTakeover runs two antrea-issuer replicas with the chart's leader
// election, started together on issuers that have no CA yet: exactly one CA Secret per issuer,
// created once and never rewritten. Then it SIGKILLs the leader and measures how long the
// follower takes to hold the Lease and sign. Last, two replicas without leader election (a split
// brain: the Lease is not what keeps a CA from being overwritten) race on new issuers.
func TestTwoReplicasOneCAAndTakeover(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	const ns = "e2e-replicas"
	ensureNamespace(ctx, t, ns)
	stopSuiteIssuer(t)
	secrets := watchSecrets(ctx, t, localcluster.IssuerNamespace)

	// Issuers without a CA, and no controller: the cluster as a fresh install sees it.
	issuers := createIssuersWithoutController(ctx, t, "e2e-replicas", 5)

	replicas := startReplicas(ctx, t, "replica", 2)
	for _, iss := range issuers {
		waitIssuerReady(ctx, t, iss, 60*time.Second)
	}
	var leader, follower *localcluster.IssuerProcess
	testenv.Eventually(t, 30*time.Second, "exactly one replica leading", func() error {
		var leaders []int
		for i, r := range replicas {
			ok, err := r.IsLeader(ctx)
			if err != nil {
				return err
			}
			if ok {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("leaders: %v", leaders)
		}
		leader, follower = replicas[leaders[0]], replicas[1-leaders[0]]
		return nil
	})

	// The leader dies without releasing its Lease; a request arrives at once.
	before := readLease(ctx, t)
	killedAt := time.Now()
	if err := leader.Stop(true); err != nil {
		t.Fatal(err)
	}
	watch := watchRequests(ctx, t, ns)
	t.Cleanup(func() { deleteRequests(ns) })
	reqs := createRequests(ctx, t, ns, "after-kill", 1, clusterRef(issuers[0].Name))
	var after *coordinationv1.Lease
	leaseDuration := time.Duration(*before.Spec.LeaseDurationSeconds) * time.Second
	testenv.Eventually(t, leaseDuration+time.Minute, "the follower holding the Lease", func() error {
		after = readLease(ctx, t)
		if *after.Spec.HolderIdentity == *before.Spec.HolderIdentity {
			return fmt.Errorf("still held by the killed leader")
		}
		return nil
	})
	if ok, err := follower.IsLeader(ctx); err != nil || !ok {
		t.Fatalf("the Lease changed hands but the follower does not lead: %v", err)
	}
	watch.waitAllReady(t, 1, 30*time.Second)
	// The chart's timing (cert-manager's): the Lease expires leaseDurationSeconds (60) after its
	// last renewal; a candidate retries every 15 s plus client-go's jitter of up to 1.2 times that
	// (15-33 s), so the follower takes it within 33 s of its expiry. The slack only catches a
	// follower that does not take over: `go test ./...` runs packages side by side on two cores,
	// and timings stretch.
	const slack = 33*time.Second + 10*time.Second
	expiry := before.Spec.RenewTime.Add(leaseDuration)
	acquired := after.Spec.AcquireTime.Time
	takeover, signed := acquired.Sub(killedAt), watch.lastReadyAt().Sub(killedAt)
	if late := acquired.Sub(expiry); late > slack {
		t.Errorf("the follower took the Lease %s after it expired (allowed %s)", late, slack)
	}
	verifyIssued(ctx, t, ns, reqs, theCASecret(ctx, t, "AntreaClusterIssuer/"+issuers[0].Name))
	watch.onceOnly(t, reqs)

	for _, iss := range issuers {
		s := theCASecret(ctx, t, "AntreaClusterIssuer/"+iss.Name)
		secrets.writtenOnce(t, s.Name)
	}
	t.Logf("FIGURES takeover: leader SIGKILLed %.1fs after its last renewal; follower holds the Lease %.1fs after the kill (%.1fs after the Lease expired), first certificate signed %.1fs after the kill; %d issuers, %d CA Secrets each created once",
		killedAt.Sub(before.Spec.RenewTime.Time).Seconds(), takeover.Seconds(), acquired.Sub(expiry).Seconds(), signed.Seconds(), len(issuers), len(issuers))

	t.Run("split brain: two replicas without leader election", func(t *testing.T) {
		if err := follower.Stop(false); err != nil {
			t.Fatal(err)
		}
		racing := createIssuersWithoutController(ctx, t, "e2e-split", 5)
		logs := startReplicas(ctx, t, "split", 2, "--leader-elect=false")
		for _, iss := range racing {
			waitIssuerReady(ctx, t, iss, 60*time.Second)
		}
		for _, iss := range racing {
			s := theCASecret(ctx, t, "AntreaClusterIssuer/"+iss.Name)
			secrets.writtenOnce(t, s.Name)
		}
		for _, r := range logs {
			if err := r.Stop(false); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("FIGURES split brain: %d issuers, 2 replicas without leader election, %d lost creation races, 1 CA Secret each, never rewritten",
			len(racing), lostRaces(t, "split"))
	})
}

// readLease reads antrea-issuer's leader Lease.
func readLease(ctx context.Context, t *testing.T) *coordinationv1.Lease {
	t.Helper()
	l, err := suite.kube.CoordinationV1().Leases(localcluster.IssuerNamespace).Get(ctx, localcluster.LeaderElectionLease, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil || l.Spec.RenewTime == nil || l.Spec.AcquireTime == nil {
		t.Fatalf("Lease without holder or times: %+v", l.Spec)
	}
	return l
}

// createIssuersWithoutController creates n AntreaClusterIssuers named <prefix>-<i> while no
// antrea-issuer runs, so none has a CA Secret yet.
func createIssuersWithoutController(ctx context.Context, t *testing.T, prefix string, n int) []*v1alpha1.AntreaClusterIssuer {
	t.Helper()
	var out []*v1alpha1.AntreaClusterIssuer
	for i := range n {
		iss := &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i)}}
		if err := suite.client.Create(ctx, iss); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = suite.client.Delete(context.Background(), iss) })
		if s := caSecretsOf(ctx, t, "AntreaClusterIssuer/"+iss.Name); len(s) != 0 {
			t.Fatalf("%s already has a CA Secret", iss.Name)
		}
		out = append(out, iss)
	}
	return out
}

// startReplicas starts n more antrea-issuer processes at the same moment, with metrics on, each
// logging to its own file; they are stopped gracefully when the test ends.
func startReplicas(ctx context.Context, t *testing.T, name string, n int, extraArgs ...string) []*localcluster.IssuerProcess {
	t.Helper()
	procs := make([]*localcluster.IssuerProcess, n)
	for i := range procs {
		procs[i] = suite.local.NewIssuerProcess(newLogFile(t, fmt.Sprintf("%s-%d", name, i)), extraArgs...)
		procs[i].MetricsBindAddress = "127.0.0.1:0"
		t.Cleanup(func() { _ = procs[i].Stop(false) })
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.Start(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return procs
}

// lostRaces counts, in the logs of the extra processes called name, the CA creations that found
// the Secret already created by another replica (and read it instead of overwriting it).
func lostRaces(t *testing.T, name string) int {
	t.Helper()
	n := 0
	for p, log := range allExtraLogs(t) {
		if strings.Contains(p, "-"+name+"-") {
			n += strings.Count(log, "was created concurrently")
		}
	}
	return n
}

// TestAPIServerOutageUnderLoad stops kube-apiserver and etcd while requests are being signed and
// starts them again (same address, data and keys, as an upgrade or a reboot would). antrea-issuer
// must ride it out without a restart and sign everything, before and after, exactly once.
func TestAPIServerOutageUnderLoad(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	const (
		ns    = "e2e-outage"
		batch = 40
	)
	iss, owner, caBefore, watch := underLoad(ctx, t, ns)
	proc := suite.local.Issuer
	pid := proc.PID()

	reqs := createRequests(ctx, t, ns, "before", batch, clusterRef(iss.Name))
	for deadline := time.Now().Add(time.Minute); watch.ready() < 5; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests Ready after a minute", watch.ready())
		}
	}
	inFlight := batch - watch.ready()
	outage, err := suite.local.Env.RestartControlPlane(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	reqs = append(reqs, createRequests(ctx, t, ns, "after", batch, clusterRef(iss.Name))...)

	// A leader that cannot renew its Lease for the renew deadline (the chart's 40 s) gives up
	// and exits, as every Kubernetes controller does, and its Deployment restarts it. A shorter
	// outage must be ridden out by the same process; a longer one (a loaded machine restarts
	// kube-apiserver slowly) may end in that exit, and then a restart loses nothing.
	const renewDeadline = 40 * time.Second
	restarted := false
	testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("%d CertificateRequests Ready", len(reqs)), func() error {
		if proc.Exited() && !restarted {
			if outage.Down() < renewDeadline-time.Second {
				t.Fatalf("antrea-issuer exited after an outage of only %s: it must ride it out", outage.Down())
			}
			t.Logf("the outage (%s) outlasted the renew deadline: antrea-issuer gave up its leadership and exited; restarting it as its Deployment would", outage.Down())
			restarted = true
			if err := proc.Stop(false); err != nil {
				return err
			}
			if err := proc.Start(ctx); err != nil {
				return err
			}
		}
		if n := watch.ready(); n < len(reqs) {
			return fmt.Errorf("%d of %d Ready", n, len(reqs))
		}
		return nil
	})
	recovered := watch.lastReadyAt().Sub(upAt)
	if !restarted && (proc.Exited() || proc.PID() != pid) {
		t.Fatalf("antrea-issuer restarted (pid %d -> %d): it must recover by itself", pid, proc.PID())
	}
	duplicates := watch.onceOnly(t, reqs)
	caAfter := theCASecret(ctx, t, owner)
	if caAfter.UID != caBefore.UID || caAfter.ResourceVersion != caBefore.ResourceVersion {
		t.Errorf("the CA Secret changed across the outage")
	}
	verifyIssued(ctx, t, ns, reqs, caAfter)
	t.Logf("FIGURES outage: API server down %.1fs (stop %.1fs, start %.1fs) with %d of %d requests in flight; all %d requests Ready %.1fs after it was back; %d duplicates; restarted: %v",
		outage.Down().Seconds(), outage.Stopping.Seconds(), outage.Starting.Seconds(), inFlight, batch, len(reqs), recovered.Seconds(), duplicates, restarted)
}
