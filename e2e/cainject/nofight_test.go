package cainject_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// Antrea's timings scaled down for the tests, in Antrea's order: the files trail the Secret by
// more than the sync needs to react (milliseconds), and by less than a resync period.
const (
	testFileLag = 2 * time.Second
	testResync  = 3 * time.Second
)

// startAntrea runs the stand-in antrea-controller until the test ends.
func startAntrea(t *testing.T, ctx context.Context, opts antreasim.ControllerOptions) *antreasim.Controller {
	t.Helper()
	sim, err := antreasim.NewController(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	return sim
}

// waitRounds waits until the stand-in has completed n publishing rounds in all.
func waitRounds(t *testing.T, sim *antreasim.Controller, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d publishing rounds of antrea-controller", n), func() (bool, string) {
		got := sim.Stats().Rounds
		return got >= n, fmt.Sprintf("%d rounds", got)
	})
}

// startAgents runs n agent-style clients that trust only antrea-ca and handshake with the
// stand-in every 20 ms until the test ends.
func startAgents(t *testing.T, ctx context.Context, sim *antreasim.Controller, n int) []*antreasim.AgentClient {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var agents []*antreasim.AgentClient
	for range n {
		a := antreasim.NewAgentClient(ns)
		if err := a.WatchConfigMap(ctx, kubernetes.NewForConfigOrDie(env.Config), ns, antreasim.CAConfigMapName); err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	go func() {
		defer close(done)
		for _, a := range agents {
			go a.Run(ctx, sim.Addr(), 20*time.Millisecond)
		}
		<-ctx.Done()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return agents
}

func agentTotals(agents []*antreasim.AgentClient) antreasim.AgentStats {
	var s antreasim.AgentStats
	for _, a := range agents {
		x := a.Stats()
		s.Handshakes += x.Handshakes
		s.Succeeded += x.Succeeded
		s.X509Failures += x.X509Failures
		s.Refused += x.Refused
		s.NoCA += x.NoCA
		s.Other += x.Other
		if x.LastX509Error != "" {
			s.LastX509Error = x.LastX509Error
		}
	}
	return s
}

// TestStaleResyncAfterACAChange places antrea-controller's resync where it hurts: after a CA
// change, while its files still show the old Secret. It republishes the old bundle (one write per
// object) and the sync puts the new one back (one more write per object); when the files catch
// up, antrea-controller finds the new bundle in place and writes nothing. Before and after, in
// steady state, neither writes anything.
func TestStaleResyncAfterACAChange(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	m1, m2 := newMaterial(t, "antrea-issuer-ca-1"), newMaterial(t, "antrea-issuer-ca-2")
	putSecret(ctx, t, c, m1.CertManagerSecret(ns, antreasim.SecretName))
	opts := antreasim.DefaultControllerOptions()
	opts.FileLag, opts.ResyncPeriod = testFileLag, 0 // resyncs only where the test places them
	sim := startAntrea(t, ctx, opts)
	h := startController(t, ctx)
	waitAllCarry(ctx, t, c, m1.CA.CertPEM, 10*time.Second)
	eventually(t, 10*time.Second, "the sync in sync", func() (bool, string) { return h.inSync(t) })
	waitRounds(t, sim, 1)

	// Steady state: resyncs change nothing and the sync writes nothing.
	s0, w0 := sim.Stats(), h.requests.writes()
	for i := range 3 {
		sim.Resync()
		waitRounds(t, sim, s0.Rounds+i+1)
	}
	if s, w := sim.Stats(), h.requests.writes(); s.TotalWrites() != s0.TotalWrites() || sum(w) != sum(w0) {
		t.Fatalf("steady state: antrea-controller wrote %d, the sync %d; want 0 and 0", s.TotalWrites()-s0.TotalWrites(), sum(w)-sum(w0))
	}

	// The CA changes; the sync publishes it at once, the files still show the old Secret.
	s1, w1 := sim.Stats(), h.requests.writes()
	putSecret(ctx, t, c, m2.CertManagerSecret(ns, antreasim.SecretName))
	waitAllCarry(ctx, t, c, m2.CA.CertPEM, 10*time.Second)
	sim.Resync()
	waitRounds(t, sim, s1.Rounds+1)
	if !bytes.Equal(sim.Files()["ca.crt"], m1.CA.CertPEM) {
		t.Fatal("the files caught up before the resync: the test's steps took longer than the file lag")
	}
	waitAllCarry(ctx, t, c, m2.CA.CertPEM, 10*time.Second) // repaired
	eventually(t, 20*time.Second, "the files show the new Secret and antrea-controller publishes it", func() (bool, string) {
		return bytes.Equal(sim.Bundle(), m2.CA.CertPEM) && sim.Stats().Rounds > s1.Rounds+1, fmt.Sprintf("rounds %d", sim.Stats().Rounds)
	})
	eventually(t, 10*time.Second, "the sync in sync", func() (bool, string) { return h.inSync(t) })
	if ok, why := allCarry(ctx, t, c, m2.CA.CertPEM); !ok {
		t.Fatal(why)
	}

	// One revert per object per stale round of antrea-controller, and one repair for each. The
	// resync is one stale round; on a loaded machine a second one can follow before the files
	// catch up (a publish queued behind it, or its retry after a conflict with a repair, as
	// Antrea's controller requeues), reverting every object once more.
	s2 := sim.Stats()
	antrea, ours := diff(s2.Writes, s1.Writes), diff(h.requests.writes(), w1)
	staleRounds := antrea["ConfigMap/"+antreasim.CAConfigMapName]
	t.Logf("one CA change with a resync inside the file lag: antrea-controller %s (%d stale rounds, %d conflicts); the sync %s",
		describeCounts(antrea), staleRounds, s2.Conflicts-s1.Conflicts, describeCounts(ours))
	if staleRounds < 1 || staleRounds > 2 {
		t.Errorf("antrea-controller published the stale bundle in %d rounds, want 1 (the resync), or 2 on a loaded machine", staleRounds)
	}
	for _, id := range objectIDs(antrea, ours) {
		if antrea[id] != staleRounds || ours[id] != staleRounds+1 {
			t.Errorf("%s: antrea-controller wrote %d times, the sync %d; want one revert per stale round (%d) and one write more for the sync (the change, then a repair per revert)", id, antrea[id], ours[id], staleRounds)
		}
	}
	if len(objectIDs(antrea, ours)) != 8 {
		t.Errorf("objects written: %v", objectIDs(antrea, ours))
	}
}

// TestRotationBesideLaggingAntrea runs a CA rotation (new CA added, then signing, then the old
// one dropped) beside a free-running antrea-controller stand-in whose files trail the Secret by
// testFileLag and which republishes every testResync, with agents trusting antrea-ca and
// handshaking every 20 ms. Whatever antrea-controller republishes from its stale files, no agent
// ever distrusts the served certificate, and per CA change each object is written at most once
// per stale round by antrea-controller (a resync falls inside the lag at most once; a loaded
// machine can add a second round) and at most once more by the sync than antrea-controller wrote
// it: never a loop. Steady state before and after: no writes.
func TestRotationBesideLaggingAntrea(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	a, b := newMaterial(t, "antrea-issuer-ca-a"), newMaterial(t, "antrea-issuer-ca-b")
	reissueA, err := a.CA.IssueServing(ns)
	if err != nil {
		t.Fatal(err)
	}
	reissueB, err := b.CA.IssueServing(ns)
	if err != nil {
		t.Fatal(err)
	}
	// The rotation's phases as the issuer writes them: ca.crt, and the CA and pair tls.crt is from.
	steps := []struct {
		name string
		ca   []byte
		m    *antreasim.Material
	}{
		{"Prepared (trust A and B, sign with A)", cat(a.CA.CertPEM, b.CA.CertPEM), &antreasim.Material{CA: a.CA, Serving: reissueA}},
		{"Activated (trust B and A, sign with B)", cat(b.CA.CertPEM, a.CA.CertPEM), b},
		{"Steady (trust B)", b.CA.CertPEM, &antreasim.Material{CA: b.CA, Serving: reissueB}},
	}
	secret := func(ca []byte, m *antreasim.Material) {
		s := m.CertManagerSecret(ns, antreasim.SecretName)
		s.Data["ca.crt"] = ca
		putSecret(ctx, t, c, s)
	}

	secret(a.CA.CertPEM, a)
	opts := antreasim.DefaultControllerOptions()
	opts.FileLag, opts.ResyncPeriod = testFileLag, testResync
	sim := startAntrea(t, ctx, opts)
	h := startController(t, ctx)
	waitAllCarry(ctx, t, c, a.CA.CertPEM, 10*time.Second)
	agents := startAgents(t, ctx, sim, 2)
	eventually(t, 10*time.Second, "agents connected", func() (bool, string) {
		s := agentTotals(agents)
		return s.Succeeded > 0, fmt.Sprintf("%+v", s)
	})
	waitRounds(t, sim, sim.Stats().Rounds+1)
	s0, w0 := sim.Stats(), h.requests.writes()
	waitRounds(t, sim, s0.Rounds+2)
	if s, w := sim.Stats(), h.requests.writes(); s.TotalWrites() != s0.TotalWrites() || sum(w) != sum(w0) {
		t.Fatalf("steady state: antrea-controller wrote %d, the sync %d", s.TotalWrites()-s0.TotalWrites(), sum(w)-sum(w0))
	}

	var table []string
	for _, st := range steps {
		before, oursBefore := sim.Stats(), h.requests.writes()
		secret(st.ca, st.m)
		served := st.m.CertManagerSecret(ns, antreasim.SecretName).Data["tls.crt"]
		eventually(t, 30*time.Second, st.name+": antrea-controller's files caught up", func() (bool, string) {
			return bytes.Equal(sim.Served(), served) && bytes.Equal(sim.Bundle(), st.ca), "still the previous files"
		})
		landed := sim.Stats().Rounds
		// One resync after the files caught up: it must change nothing.
		waitRounds(t, sim, landed+1)
		eventually(t, 10*time.Second, st.name+": every target and the sync in sync", func() (bool, string) {
			if ok, why := allCarry(ctx, t, c, st.ca); !ok {
				return false, why
			}
			return h.inSync(t)
		})
		antrea, ours := diff(sim.Stats().Writes, before.Writes), diff(h.requests.writes(), oursBefore)
		table = append(table, fmt.Sprintf("%s: antrea-controller %s, the sync %s", st.name, describeCounts(antrea), describeCounts(ours)))
		// A resync inside the lag is one stale round; on a loaded machine a second one can follow
		// (see TestStaleResyncAfterACAChange). Never more, and one repair per revert.
		staleRounds := antrea["ConfigMap/"+antreasim.CAConfigMapName]
		if staleRounds > 2 {
			t.Errorf("%s: antrea-controller published a stale bundle in %d rounds, want at most 2", st.name, staleRounds)
		}
		for _, id := range objectIDs(antrea, ours) {
			if antrea[id] > max(staleRounds, 1) || ours[id] > 1+antrea[id] {
				t.Errorf("%s: %s written %d times by antrea-controller and %d by the sync; want at most once per stale round (%d) and at most 1 + %d",
					st.name, id, antrea[id], ours[id], staleRounds, antrea[id])
			}
		}
		if n := len(objectIDs(nil, ours)); n != 8 {
			t.Errorf("%s: the sync wrote %d objects, want all 8 (at once, before antrea-controller's files caught up)", st.name, n)
		}
	}
	s1, w1 := sim.Stats(), h.requests.writes()
	waitRounds(t, sim, s1.Rounds+2)
	if s, w := sim.Stats(), h.requests.writes(); s.TotalWrites() != s1.TotalWrites() || sum(w) != sum(w1) {
		t.Errorf("steady state after the rotation: antrea-controller wrote %d, the sync %d", s.TotalWrites()-s1.TotalWrites(), sum(w)-sum(w1))
	}
	for _, line := range table {
		t.Log(line)
	}
	ag := agentTotals(agents)
	t.Logf("agents: %d handshakes, %d succeeded, %d x509 failures, %d other; antrea-controller: %d rounds; the sync: %d conflicts answered",
		ag.Handshakes, ag.Succeeded, ag.X509Failures, ag.Failed()-ag.X509Failures, sim.Stats().Rounds, h.conflicts(t))
	if ag.X509Failures != 0 || ag.Failed() != 0 {
		t.Errorf("agents failed %d handshakes (%d x509: %s)", ag.Failed(), ag.X509Failures, ag.LastX509Error)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// objectIDs lists the keys of both maps, sorted.
func objectIDs(ms ...map[string]int) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func describeCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range objectIDs(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k[strings.LastIndex(k, "/")+1:], m[k]))
	}
	return fmt.Sprintf("%d writes [%s]", sum(m), strings.Join(parts, " "))
}
