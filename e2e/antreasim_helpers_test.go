package e2e

// Helpers for the tests that claim something about Antrea: they run against the local
// installation's antrea-controller stand-in (antreasim.Controller, suite.local.Antrea), count what
// it and the CA bundle sync write, and count agent-style handshakes by outcome.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// targetObjects is how many objects carry Antrea's CA bundle in the local installation:
// antrea-ca, 3 APIServices, 2 mutating and 1 validating webhook configurations, 1 CRD.
const targetObjects = 8

// targetsPerKind is how many of those objects are of each kind (to turn the CA bundle sync's
// writes per kind into writes per object).
var targetsPerKind = map[string]int{
	"ConfigMap": 1, "APIService": 3, "MutatingWebhookConfiguration": 2,
	"ValidatingWebhookConfiguration": 1, "CustomResourceDefinition": 1,
}

// waitAntreaServesSecret waits until the stand-in serves the Secret's current tls.crt: its files
// have caught up with the Secret (selfSignedCert: false) or it adopted it (selfSignedCert: true).
func waitAntreaServesSecret(ctx context.Context, t *testing.T) *corev1.Secret {
	t.Helper()
	var s *corev1.Secret
	testenv.Eventually(t, 60*time.Second, "antrea-controller (stand-in) serving the Secret's tls.crt", func() error {
		s = &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, s); err != nil {
			return err
		}
		if served := suite.local.Antrea.Served(); !bytes.Equal(served, s.Data["tls.crt"]) {
			return fmt.Errorf("serving %s, the Secret's tls.crt is %s", describePEM(served), describePEM(s.Data["tls.crt"]))
		}
		return nil
	})
	return s
}

// waitAntreaRounds waits until the stand-in has completed n more publishing rounds (one per
// resync period, plus one per change): how tests observe "several of Antrea's resync periods"
// without sleeping.
func waitAntreaRounds(t *testing.T, n int) {
	t.Helper()
	start := suite.local.Antrea.Stats().Rounds
	testenv.Eventually(t, time.Duration(n)*10*localcluster.AntreaResyncPeriod+30*time.Second, fmt.Sprintf("%d of antrea-controller's resyncs", n), func() error {
		if got := suite.local.Antrea.Stats().Rounds - start; got < n {
			return fmt.Errorf("%d rounds so far", got)
		}
		return nil
	})
}

// describePEM names the first certificate of a PEM bundle and its issuer, and how many follow.
func describePEM(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	bundle, err := signer.ParseBundle(b)
	if err != nil {
		return fmt.Sprintf("%d unparsable bytes", len(b))
	}
	certs := bundle.Certificates()
	s := fmt.Sprintf("%q by %q", certs[0].Subject.CommonName, certs[0].Issuer.CommonName)
	if len(certs) > 1 {
		s += fmt.Sprintf(" (+%d)", len(certs)-1)
	}
	return s
}

// tlsCrtIssuer is the issuer's common name of the Secret's first tls.crt certificate.
func tlsCrtIssuer(s *corev1.Secret) string {
	b, err := signer.ParseBundle(s.Data["tls.crt"])
	if err != nil || len(b.Certificates()) == 0 {
		return ""
	}
	return b.Certificates()[0].Issuer.CommonName
}

// agentFleet runs agent-style clients (antreasim.AgentClient: each trusts only antrea-ca, reloaded
// on change, and verifies antrea.kube-system.svc) that each open a new TLS connection to the
// stand-in every interval, and watches the real aggregator's verdict on Antrea's APIServices.
// Every handshake is counted by outcome; x509 failures are kept with their time.
type agentFleet struct {
	agents []*antreasim.AgentClient
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// x509At are the times of x509 failures; unreachableAt of every other failure (refused: nothing
	// listens; reset or timed out: a server stopping).
	x509At, unreachableAt []time.Time
	lastX509              string
	// unavailable counts observations of an APIService not Available, by name; reasons the
	// distinct reasons and messages seen.
	unavailable map[string]int
	reasons     map[string]bool
	checks      int
}

// startAgents starts n agents handshaking every interval and waits until each has loaded
// antrea-ca. They stop with halt (or when the test ends).
func startAgents(ctx context.Context, t *testing.T, n int, interval time.Duration) *agentFleet {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	f := &agentFleet{cancel: cancel, unavailable: map[string]int{}, reasons: map[string]bool{}}
	t.Cleanup(f.halt)
	addr := suite.local.Antrea.Addr()
	for range n {
		a := antreasim.NewAgentClient(localcluster.AntreaNamespace)
		if err := a.WatchConfigMap(ctx, suite.kube, localcluster.AntreaNamespace, "antrea-ca"); err != nil {
			t.Fatal(err)
		}
		f.agents = append(f.agents, a)
		f.wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				err := a.Handshake(addr)
				var verr *tls.CertificateVerificationError
				switch {
				case errors.As(err, &verr):
					f.mu.Lock()
					f.x509At, f.lastX509 = append(f.x509At, time.Now()), err.Error()
					f.mu.Unlock()
				case err != nil:
					f.mu.Lock()
					f.unreachableAt = append(f.unreachableAt, time.Now())
					f.mu.Unlock()
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	f.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, name := range antreasim.APIServiceNames() {
				c, err := antreasim.APIServiceAvailable(ctx, suite.client, name)
				if err != nil || c == nil {
					continue
				}
				f.mu.Lock()
				f.checks++
				if c.Status != apiregistrationv1.ConditionTrue {
					f.unavailable[name]++
					f.reasons[c.Reason+": "+c.Message] = true
				}
				f.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	testenv.Eventually(t, 30*time.Second, "every agent holding antrea-ca", func() error {
		for i, a := range f.agents {
			if a.CA() == nil {
				return fmt.Errorf("agent %d has no CA yet", i)
			}
		}
		return nil
	})
	return f
}

// halt stops the agents and the aggregator watch, and waits until they have stopped.
func (f *agentFleet) halt() {
	f.cancel()
	f.wg.Wait()
}

// stats sums the agents' counters.
func (f *agentFleet) stats() antreasim.AgentStats {
	var s antreasim.AgentStats
	for _, a := range f.agents {
		st := a.Stats()
		s.Handshakes += st.Handshakes
		s.Succeeded += st.Succeeded
		s.X509Failures += st.X509Failures
		s.Refused += st.Refused
		s.NoCA += st.NoCA
		s.Other += st.Other
	}
	return s
}

// agentDelta is what happened between two readings of the agents' counters.
func agentDelta(now, before antreasim.AgentStats) antreasim.AgentStats {
	return antreasim.AgentStats{
		Handshakes: now.Handshakes - before.Handshakes, Succeeded: now.Succeeded - before.Succeeded,
		X509Failures: now.X509Failures - before.X509Failures, Refused: now.Refused - before.Refused,
		NoCA: now.NoCA - before.NoCA, Other: now.Other - before.Other,
	}
}

func describeAgents(s antreasim.AgentStats) string {
	return fmt.Sprintf("%d handshakes: %d succeeded, %d x509 failures, %d refused (nothing listening), %d other, %d without a CA",
		s.Handshakes, s.Succeeded, s.X509Failures, s.Refused, s.Other, s.NoCA)
}

// waitHandshakes waits until the agents completed n more successful handshakes.
func (f *agentFleet) waitHandshakes(t *testing.T, n int64) {
	t.Helper()
	start := f.stats().Succeeded
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("%d more successful agent handshakes", n), func() error {
		s := f.stats()
		if s.Succeeded-start < n {
			return fmt.Errorf("%d so far; %s", s.Succeeded-start, describeAgents(s))
		}
		return nil
	})
}

// x509Times returns the times of the x509 failures seen so far, and the last message.
func (f *agentFleet) x509Times() ([]time.Time, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.x509At...), f.lastX509
}

// unreachableSpan is the first and last failure other than x509 (the server refusing, resetting
// or not answering) in [from, to), and how many there were.
func (f *agentFleet) unreachableSpan(from, to time.Time) (first, last time.Time, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, at := range f.unreachableAt {
		if at.Before(from) || !at.Before(to) {
			continue
		}
		if n == 0 {
			first = at
		}
		last = at
		n++
	}
	return first, last, n
}

// apiServices describes what the aggregator said: checks, not-Available observations, reasons.
func (f *agentFleet) apiServices() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.unavailable {
		n += v
	}
	short := map[string]bool{}
	for r := range f.reasons {
		// The error is at the end of the aggregator's message.
		if reason, msg, ok := strings.Cut(r, ": "); ok && len(msg) > 90 {
			r = reason + ": …" + msg[len(msg)-90:]
		}
		short[r] = true
	}
	reasons := make([]string, 0, len(short))
	for r := range short {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	s := fmt.Sprintf("%d APIService checks, %d not Available", f.checks, n)
	if len(reasons) > 0 {
		s += fmt.Sprintf(" (%s)", strings.Join(reasons, "; "))
	}
	return s
}

// issuerMetrics reads antrea-issuer's /metrics and returns the sum of the series of name whose
// labels include every pair of match, for each value of the label by ("" sums them all).
func issuerMetrics(ctx context.Context, t *testing.T, name string, match map[string]string, by string) map[string]float64 {
	t.Helper()
	var text string
	testenv.Eventually(t, 30*time.Second, "antrea-issuer's metrics", func() error {
		var err error
		text, err = suite.local.Issuer.Metrics(ctx)
		return err
	})
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		labels := map[string]string{}
		rest := strings.TrimPrefix(line, name)
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			for _, kv := range strings.Split(rest[1:end], ",") {
				k, v, ok := strings.Cut(kv, "=")
				if ok {
					labels[k] = strings.Trim(v, `"`)
				}
			}
			rest = rest[end+1:]
		}
		ok := true
		for k, v := range match {
			if labels[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[labels[by]] += v
	}
	return out
}

// syncWrites are the CA bundle sync's successful writes by kind since antrea-issuer started.
func syncWrites(ctx context.Context, t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, v := range issuerMetrics(ctx, t, "antrea_issuer_cainject_writes_total", map[string]string{"result": "success"}, "kind") {
		if v > 0 {
			out[k] = int(v)
		}
	}
	return out
}

func sumCounts[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// diffCounts is now minus before, keeping only what changed.
func diffCounts(now, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range now {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// perObject turns writes by kind (the sync's metric) into the most writes any one object of that
// kind can have had, assuming they were spread evenly: a kind's count divided by its objects.
func perObject(byKind map[string]int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range byKind {
		if n := targetsPerKind[k]; n > 0 {
			out[k] = float64(v) / float64(n)
		}
	}
	return out
}

// waitSyncInSync waits until the CA bundle sync reports no source problem and every target
// trusting ca.crt (its metrics), and returns its writes so far.
func waitSyncInSync(ctx context.Context, t *testing.T, timeout time.Duration) map[string]int {
	t.Helper()
	testenv.Eventually(t, timeout, "the CA bundle sync publishing, every target in sync", func() error {
		for reason, v := range issuerMetrics(ctx, t, "antrea_issuer_cainject_source_problem", nil, "reason") {
			if v != 0 {
				return fmt.Errorf("source_problem{%s}=%v", reason, v)
			}
		}
		st := issuerMetrics(ctx, t, "antrea_issuer_cainject_targets", nil, "state")
		if st["in_sync"] != targetObjects || st["out_of_sync"] != 0 {
			return fmt.Errorf("targets %v", st)
		}
		return nil
	})
	return syncWrites(ctx, t)
}

// eventSnapshot remembers how often each event had occurred, so that warningsSince counts only
// what happened later.
type eventSnapshot map[types.UID]int32

func occurrences(e *eventsv1.Event) int32 {
	n := int32(1)
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	if e.DeprecatedCount > n {
		n = e.DeprecatedCount
	}
	return n
}

func snapshotEvents(ctx context.Context, t *testing.T) eventSnapshot {
	t.Helper()
	var list eventsv1.EventList
	if err := suite.client.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	snap := eventSnapshot{}
	for i := range list.Items {
		snap[list.Items[i].UID] = occurrences(&list.Items[i])
	}
	return snap
}

// eventsSince counts, by "<type> <reason> on <Kind>/<name>", the occurrences of events (both
// events APIs, every namespace) since the snapshot.
func eventsSince(ctx context.Context, t *testing.T, snap eventSnapshot) map[string]int {
	t.Helper()
	var list eventsv1.EventList
	if err := suite.client.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for i := range list.Items {
		e := &list.Items[i]
		if n := occurrences(e) - snap[e.UID]; n > 0 {
			out[fmt.Sprintf("%s %s on %s/%s", e.Type, e.Reason, e.Regarding.Kind, e.Regarding.Name)] += int(n)
		}
	}
	return out
}

// warnings keeps the Warning entries of an eventsSince count.
func warnings(events map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range events {
		if strings.HasPrefix(k, corev1.EventTypeWarning+" ") {
			out[k] = v
		}
	}
	return out
}

// certificateRevision is the Certificate's status.revision: how many times cert-manager issued it.
func certificateRevision(ctx context.Context, t *testing.T) int {
	t.Helper()
	crt := &cmapi.Certificate{}
	if err := suite.client.Get(ctx, antreaCert, crt); err != nil {
		if apierrors.IsNotFound(err) {
			return 0
		}
		t.Fatal(err)
	}
	if crt.Status.Revision == nil {
		return 0
	}
	return *crt.Status.Revision
}

// antreaInDefaultMode puts the local installation where every cluster is before it adopts this
// project: antrea-issuer not running, no Certificate, and antrea-controller in its default mode
// (selfSignedCert: true) with its own self-signed pair in antrea-controller-tls, published to
// antrea-ca and the caBundles. When the test ends, the installation is put back as the other tests
// expect it (antrea-issuer running, the README's sample issued, antrea-controller with
// selfSignedCert: false serving it).
func antreaInDefaultMode(ctx context.Context, t *testing.T) *corev1.Secret {
	t.Helper()
	needLocal(t)
	t.Cleanup(func() { restoreFalseMode(t) })
	if err := suite.local.Issuer.Stop(false); err != nil {
		t.Fatal(err)
	}
	suite.local.Antrea.Stop()
	crt := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: antreaCert.Namespace, Name: antreaCert.Name}}
	if err := suite.client.Delete(ctx, crt); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	// No garbage collector runs locally: remove its CertificateRequests, whose names the next
	// Certificate of that name would reuse.
	var crs cmapi.CertificateRequestList
	if err := suite.client.List(ctx, &crs, client.InNamespace(antreaCert.Namespace)); err != nil {
		t.Fatal(err)
	}
	for i := range crs.Items {
		if cr := &crs.Items[i]; cr.Annotations[cmapi.CertificateNameKey] == antreaCert.Name {
			if err := suite.client.Delete(ctx, cr); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
	}
	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: antreaCert.Namespace, Name: antreaCert.Name}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: antreaCert.Namespace, Name: "antrea-ca"}},
	} {
		if err := suite.client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 30*time.Second, "the Certificate gone", func() error {
		if err := suite.client.Get(ctx, antreaCert, &cmapi.Certificate{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})

	if err := suite.local.RestartAntrea(0, true); err != nil {
		t.Fatal(err)
	}
	var own *corev1.Secret
	testenv.Eventually(t, 30*time.Second, "antrea-controller's own self-signed pair in the Secret, served and published", func() error {
		own = &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, own); err != nil {
			return err
		}
		if by := tlsCrtIssuer(own); !strings.HasPrefix(by, antreasim.SelfSignedCAPrefix) {
			return fmt.Errorf("tls.crt issued by %q", by)
		}
		if !bytes.Equal(suite.local.Antrea.Served(), own.Data["tls.crt"]) {
			return fmt.Errorf("not serving it yet")
		}
		return bundlesHold(ctx, own.Data["tls.crt"])
	})
	return own
}

// restoreFalseMode puts the installation back as the other tests expect it.
func restoreFalseMode(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if !suite.local.Issuer.Running() {
		if err := suite.local.Issuer.Start(ctx); err != nil {
			t.Errorf("restarting antrea-issuer: %v", err)
			return
		}
	}
	objs, err := localcluster.ReadManifests(samplePath("antrea-controller-tls.yaml"))
	if err != nil {
		t.Error(err)
		return
	}
	for _, o := range objs {
		if o.GetKind() != "Certificate" {
			if err := localcluster.Apply(ctx, suite.client, o); err != nil {
				t.Error(err)
			}
			continue
		}
		// The README's Certificate, whatever spec a test gave it.
		want := &cmapi.Certificate{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, want); err != nil {
			t.Error(err)
			return
		}
		cur := &cmapi.Certificate{}
		switch err := suite.client.Get(ctx, client.ObjectKeyFromObject(want), cur); {
		case apierrors.IsNotFound(err):
			err = suite.client.Create(ctx, want)
			if err != nil {
				t.Error(err)
			}
		case err != nil:
			t.Error(err)
		default:
			// A merge patch carries no resourceVersion: cert-manager's concurrent status writes
			// cannot make it conflict.
			orig := cur.DeepCopy()
			cur.Spec = want.Spec
			if err := suite.client.Patch(ctx, cur, client.MergeFrom(orig)); err != nil {
				t.Error(err)
			}
		}
	}
	if suite.local.Antrea.SelfSignedCert() || !suite.local.Antrea.Running() {
		if err := suite.local.RestartAntrea(0, false); err != nil {
			t.Errorf("restarting antrea-controller with selfSignedCert: false: %v", err)
		}
	}
	// Antrea's rewrite, if any, is re-issued by cert-manager; then the files and bundles follow.
	testenv.Eventually(t, 2*time.Minute, "the installation back: Certificate Ready, Secret chained, served and published", func() error {
		crt := &cmapi.Certificate{}
		if err := suite.client.Get(ctx, antreaCert, crt); err != nil {
			return err
		}
		if c := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionReady); c == nil || c.Status != cmmeta.ConditionTrue {
			return fmt.Errorf("Certificate not Ready")
		}
		s := &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, s); err != nil {
			return err
		}
		if err := chainedSecret(s); err != nil {
			return err
		}
		if !bytes.Equal(suite.local.Antrea.Served(), s.Data["tls.crt"]) {
			return fmt.Errorf("antrea-controller serves %s", describePEM(suite.local.Antrea.Served()))
		}
		return bundlesHold(ctx, s.Data["ca.crt"])
	})
}

// chainedSecret is the documented check before switching Antrea's mode (docs/migration.md):
// the Secret has the three keys, and tls.crt verifies against ca.crt, so it is cert-manager's and
// not Antrea's self-signed rewrite.
func chainedSecret(s *corev1.Secret) error {
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if len(s.Data[k]) == 0 {
			return fmt.Errorf("the Secret has no %s", k)
		}
	}
	if by := tlsCrtIssuer(s); strings.HasPrefix(by, antreasim.SelfSignedCAPrefix) {
		return fmt.Errorf("tls.crt is Antrea's own (issued by %q)", by)
	}
	if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		return fmt.Errorf("tls.crt and tls.key: %w", err)
	}
	ca, err := signer.ParseBundle(s.Data["ca.crt"])
	if err != nil {
		return fmt.Errorf("ca.crt: %w", err)
	}
	chain, err := signer.ParseBundle(s.Data["tls.crt"])
	if err != nil {
		return fmt.Errorf("tls.crt: %w", err)
	}
	leaf := chain.Certificates()[0]
	for _, c := range ca.Certificates() {
		if leaf.CheckSignatureFrom(c) == nil {
			return nil
		}
	}
	return fmt.Errorf("tls.crt (%s) does not chain to ca.crt (%s)", describePEM(s.Data["tls.crt"]), describePEM(s.Data["ca.crt"]))
}

// bundlesHold reports whether antrea-ca and every caBundle hold exactly want.
func bundlesHold(ctx context.Context, want []byte) error {
	cm := &corev1.ConfigMap{}
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: localcluster.AntreaNamespace, Name: "antrea-ca"}, cm); err != nil {
		return err
	}
	if cm.Data["ca.crt"] != string(want) {
		return fmt.Errorf("antrea-ca holds %s", describePEM([]byte(cm.Data["ca.crt"])))
	}
	for _, name := range antreasim.APIServiceNames() {
		as := &apiregistrationv1.APIService{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			return err
		}
		if !bytes.Equal(as.Spec.CABundle, want) {
			return fmt.Errorf("APIService %s holds %s", name, describePEM(as.Spec.CABundle))
		}
	}
	return nil
}

// installChart adds to the running installation what installing (or upgrading) the chart with
// values adds for Antrea: its AntreaClusterIssuer, unless one exists, and Antrea's Certificate,
// unless values disable it (then it returns nil). antrea-issuer is started first when it is not
// running (a fresh install starts its Deployment).
func installChart(ctx context.Context, t *testing.T, values map[string]any) *cmapi.Certificate {
	t.Helper()
	if !suite.local.Issuer.Running() {
		if err := suite.local.Issuer.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := localcluster.ChartAntreaObjects(values)
	if err != nil {
		t.Fatal(err)
	}
	var crt *cmapi.Certificate
	for _, o := range objs {
		if o.GetKind() == "AntreaClusterIssuer" {
			iss := &v1alpha1.AntreaClusterIssuer{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, iss); err != nil {
				t.Fatal(err)
			}
			if err := localcluster.Apply(ctx, suite.client, iss); err != nil {
				t.Fatal(err)
			}
			continue
		}
		crt = &cmapi.Certificate{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crt); err != nil {
			t.Fatal(err)
		}
		if err := suite.client.Create(ctx, crt); err != nil {
			t.Fatal(err)
		}
	}
	if crt == nil {
		t.Log("installed the chart without Antrea's Certificate")
		return nil
	}
	t.Logf("installed the chart's Certificate %s: duration %s, renewBefore %s", antreaCert, crt.Spec.Duration.Duration, crt.Spec.RenewBefore.Duration)
	return crt
}

// stamped is one version of an object's interesting bytes and when the test's watch saw it.
type stamped struct {
	at   time.Time
	data []byte
}

// timeline records, from watches, every version of the Secret's tls.crt and ca.crt and of
// antrea-ca's ca.crt, with the time each arrived: when Antrea's clients could first have seen it.
type timeline struct {
	mu                      sync.Mutex
	tlsCrt, caCrt, antreaCA []stamped
}

// recordTimeline starts watching the Secret and antrea-ca until the test ends.
func recordTimeline(ctx context.Context, t *testing.T) *timeline {
	t.Helper()
	tl := &timeline{}
	follow := func(resource string, obj runtime.Object, name string, data func(runtime.Object) []byte, into *[]stamped) {
		lw := cache.NewListWatchFromClient(suite.kube.CoreV1().RESTClient(), resource, localcluster.AntreaNamespace,
			fields.OneTermEqualSelector("metadata.name", name))
		_, _, events, _ := watchtools.NewIndexerInformerWatcherWithLogger(logr.Discard(), lw, obj)
		t.Cleanup(events.Stop)
		go func() {
			for ev := range events.ResultChan() {
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				b := data(ev.Object)
				tl.mu.Lock()
				if n := len(*into); n == 0 || !bytes.Equal((*into)[n-1].data, b) {
					*into = append(*into, stamped{at: time.Now(), data: b})
				}
				tl.mu.Unlock()
			}
		}()
	}
	follow("secrets", &corev1.Secret{}, antreaCert.Name, func(o runtime.Object) []byte { return o.(*corev1.Secret).Data["tls.crt"] }, &tl.tlsCrt)
	follow("secrets", &corev1.Secret{}, antreaCert.Name, func(o runtime.Object) []byte { return o.(*corev1.Secret).Data["ca.crt"] }, &tl.caCrt)
	follow("configmaps", &corev1.ConfigMap{}, "antrea-ca", func(o runtime.Object) []byte { return []byte(o.(*corev1.ConfigMap).Data["ca.crt"]) }, &tl.antreaCA)
	return tl
}

// firstTLSCrt is when the Secret's tls.crt first held b (zero if never).
func (tl *timeline) firstTLSCrt(b []byte) time.Time { return tl.first(&tl.tlsCrt, b) }

// firstAntreaCA is when antrea-ca first held b (zero if never).
func (tl *timeline) firstAntreaCA(b []byte) time.Time { return tl.first(&tl.antreaCA, b) }

// firstCACrt is when the Secret's ca.crt first satisfied ok (zero if never).
func (tl *timeline) firstCACrt(ok func([]byte) bool) time.Time { return tl.firstWhere(&tl.caCrt, ok) }

func (tl *timeline) first(in *[]stamped, b []byte) time.Time {
	return tl.firstWhere(in, func(d []byte) bool { return bytes.Equal(d, b) })
}

func (tl *timeline) firstWhere(in *[]stamped, ok func([]byte) bool) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range *in {
		if ok(s.data) {
			return s.at
		}
	}
	return time.Time{}
}

// tlsCrtWrites counts the versions of the Secret's tls.crt seen: Antrea's own (issued by its
// antrea-ca@<unix> CA) and the others (cert-manager's).
func (tl *timeline) tlsCrtWrites() (certManager, antrea int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range tl.tlsCrt {
		if by := tlsCrtIssuer(&corev1.Secret{Data: map[string][]byte{"tls.crt": s.data}}); strings.HasPrefix(by, antreasim.SelfSignedCAPrefix) {
			antrea++
		} else if by != "" {
			certManager++
		}
	}
	return certManager, antrea
}

// subjects names the certificates of a PEM bundle by common name.
func subjects(b []byte) string {
	bundle, err := signer.ParseBundle(b)
	if err != nil {
		return fmt.Sprintf("(%d unparsable bytes)", len(b))
	}
	var cns []string
	for _, c := range bundle.Certificates() {
		cns = append(cns, c.Subject.CommonName)
	}
	return "[" + strings.Join(cns, ", ") + "]"
}

// describe renders what the timeline recorded since start, one line per version.
func (tl *timeline) describe(start time.Time) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var lines []string
	for _, s := range tl.tlsCrt {
		lines = append(lines, fmt.Sprintf("%8s Secret tls.crt %s", s.at.Sub(start).Round(time.Millisecond), describePEM(s.data)))
	}
	for _, s := range tl.caCrt {
		lines = append(lines, fmt.Sprintf("%8s Secret ca.crt  %s", s.at.Sub(start).Round(time.Millisecond), subjects(s.data)))
	}
	for _, s := range tl.antreaCA {
		lines = append(lines, fmt.Sprintf("%8s antrea-ca      %s", s.at.Sub(start).Round(time.Millisecond), subjects(s.data)))
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i][:8] < lines[j][:8] })
	return strings.Join(lines, "\n")
}

// waitAPIServicesAvailable waits until the real aggregator finds each of Antrea's APIServices
// Available (it re-checks every 30 s and on every edit).
func waitAPIServicesAvailable(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, name := range antreasim.APIServiceNames() {
		if err := antreasim.WaitAPIServiceAvailable(ctx, suite.client, name, 60*time.Second); err != nil {
			t.Fatalf("APIService %s: %v", name, err)
		}
	}
}
