package cainject_test

import (
	"sort"
	"testing"
	"time"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// TestPropagationReachesEveryTarget changes the CA ten times and requires every change to reach
// all targets, logging the latency distribution as seen by the test (polling every 10 ms) and by
// the controller's own histogram. Latency is measured, not asserted: timings on a shared machine
// are noisy, and `make bench` reports them side by side.
func TestPropagationReachesEveryTarget(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	h := startController(t, ctx)
	const changes = 10
	var seen []time.Duration
	n0, s0 := h.propagationSamples(t)
	for i := 0; i < changes; i++ {
		m := newMaterial(t, "antrea-issuer-ca")
		start := time.Now()
		putSecret(ctx, t, c, m.CertManagerSecret(ns, antreasim.SecretName))
		waitAllCarry(ctx, t, c, m.CA.CertPEM, 10*time.Second)
		seen = append(seen, time.Since(start))
	}
	eventually(t, 5*time.Second, "histogram samples", func() (bool, string) {
		n, _ := h.propagationSamples(t)
		return n-n0 >= changes, "histogram behind"
	})
	n1, s1 := h.propagationSamples(t)
	sort.Slice(seen, func(i, j int) bool { return seen[i] < seen[j] })
	t.Logf("%d CA changes to %d targets: seen by the test p50 %s, max %s; controller histogram mean %.1f ms over %d samples",
		changes, bundleSlots, seen[len(seen)/2].Round(time.Millisecond), seen[len(seen)-1].Round(time.Millisecond),
		(s1-s0)/float64(n1-n0)*1000, n1-n0)
}
