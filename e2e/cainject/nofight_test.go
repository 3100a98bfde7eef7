package cainject_test

import (
	"antrea.io/antrea-issuer/issuer/cainject"
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// TestNoFightWithAntreaController runs a stand-in antrea-controller (rewriting antrea-ca, the
// APIServices, the webhook configurations and the CRD from the Secret's ca.crt with full Updates
// every 250 ms, even when nothing differs) beside the controller. After the first sync no object
// changes and the controller sends no write; after a CA change each target is written at most
// once by the controller, and everything is quiet again. The counts are logged for
// docs/cainject.md.
func TestNoFightWithAntreaController(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	m1, m2 := newMaterial(t, "antrea-issuer-ca-1"), newMaterial(t, "antrea-issuer-ca-2")
	putSecret(ctx, t, c, m1.CertManagerSecret(ns, antreasim.SecretName))

	pub := &antreasim.Publisher{Client: c, Namespace: ns, Interval: 250 * time.Millisecond, Always: true}
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.Run(pctx) }()
	t.Cleanup(func() { stopPub(); <-pubDone })

	conflicts0 := conflicts()
	h := startController(t, ctx)
	waitAllCarry(ctx, t, c, m1.CA.CertPEM, 10*time.Second)
	// The first sync is over once the controller has nothing left to do: its target metrics say
	// every target is in sync.
	eventually(t, 10*time.Second, "controller in sync", func() (bool, string) {
		return targetsMetric(t, cainject.StateInSync) == 8 && targetsMetric(t, cainject.StateOutOfSync) == 0, "targets metric not in sync yet"
	})
	firstSync := h.requests.applies()
	t.Logf("first sync, publisher already running: controller applies %s", describeCounts(firstSync))

	// Phase 1: a steady state of 4 s beside the publisher.
	pub0, writes0 := pub.Stats(), h.requests.applies()
	steady := time.After(4 * time.Second)
	<-steady // the fight is a duration to survive, not a condition to wait for
	pub1, writes1 := pub.Stats(), h.requests.applies()
	pubUpdates, pubChanged := pub1.Updates-pub0.Updates, pub1.TotalChanged()-pub0.TotalChanged()
	ours := sum(writes1) - sum(writes0)
	t.Logf("steady 4 s: publisher sent %d full Updates (%d rounds), %d changed an object; controller sent %d applies",
		pubUpdates, pub1.Rounds-pub0.Rounds, pubChanged, ours)
	if pubUpdates == 0 {
		t.Fatal("the publisher did not run")
	}
	if pubChanged != 0 || ours != 0 {
		t.Errorf("fight in steady state: %d object changes by the publisher, %d applies by the controller; want 0 and 0", pubChanged, ours)
	}
	if pub1.Errors > 0 {
		t.Errorf("publisher errors: %d, last %v", pub1.Errors, pub1.LastError)
	}

	// Phase 2: a new CA while both run. Each writes whatever it gets to first; the other then
	// finds the bytes in place.
	putSecret(ctx, t, c, m2.CertManagerSecret(ns, antreasim.SecretName))
	took := waitAllCarry(ctx, t, c, m2.CA.CertPEM, 10*time.Second)
	eventually(t, 10*time.Second, "controller in sync after the CA change", func() (bool, string) {
		return targetsMetric(t, cainject.StateInSync) == 8 && targetsMetric(t, cainject.StateOutOfSync) == 0, "targets metric not in sync yet"
	})
	pub2, writes2 := pub.Stats(), h.requests.applies()
	rotation := diff(writes2, writes1)
	t.Logf("CA change: all targets carry it after %s; controller applies %s; publisher changed %d objects, %d conflicts",
		took, describeCounts(rotation), pub2.TotalChanged()-pub1.TotalChanged(), pub2.Conflicts-pub1.Conflicts)
	// Usually one apply per object. A reconcile that runs before the cache has seen our own
	// previous write (a conflict with the publisher requeues at once; a loaded machine delays
	// watch events) re-applies the same bytes: a redundant write, never a change of content,
	// which phase 3 checks. Twice per object bounds that.
	for path, n := range rotation {
		if n > 2 {
			t.Errorf("controller wrote %s %d times for one CA change; want at most twice", path, n)
		}
	}
	if sum(rotation) > 16 {
		t.Errorf("controller sent %d applies for one CA change to 8 objects", sum(rotation))
	}

	// Phase 3: quiet again.
	<-time.After(2 * time.Second)
	pub3, writes3 := pub.Stats(), h.requests.applies()
	if n, m := pub3.TotalChanged()-pub2.TotalChanged(), sum(writes3)-sum(writes2); n != 0 || m != 0 {
		t.Errorf("after the CA change settled: %d object changes by the publisher, %d applies by the controller; want 0 and 0", n, m)
	}
	t.Logf("whole run: publisher %d Updates in %d rounds, %d changed an object (%v); controller %d applies, %d conflicts answered",
		pub3.Updates, pub3.Rounds, pub3.TotalChanged(), pub3.Changed, sum(writes3), conflicts()-conflicts0)
}

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

func describeCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k[strings.LastIndex(k, "/")+1:]+"="+itoa(v))
	}
	sort.Strings(parts)
	return itoa(sum(m)) + " [" + strings.Join(parts, " ") + "]"
}

func itoa(i int) string { return strconv.Itoa(i) }

// conflicts counts applies refused because the object changed since it was read.
func conflicts() int {
	n := 0
	for _, k := range []string{"ConfigMap", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "CustomResourceDefinition"} {
		n += int(counterValue(writes.WithLabelValues(k, "conflict")))
	}
	return n
}
