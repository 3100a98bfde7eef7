package cainject

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	"antrea.io/antrea-issuer/internal/testpki"
)

// newTestReporter returns a reporter on a fake clock seeded at a random time, a fresh registry
// and a fake event recorder.
func newTestReporter(t *testing.T, settle time.Duration) (*reporter, *clocktesting.FakeClock, *prometheus.Registry, *events.FakeRecorder) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Unix(rand.Int64N(1<<31), 0))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	rec := events.NewFakeRecorder(100)
	opts := DefaultOptions()
	opts.SettlePeriod = settle
	return newReporter(opts, m, clk, rec), clk, reg, rec
}

// metricValue reads the gauge or counter name{label=value} from g (0 when absent).
func metricValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// step is one version of the Secret as the watch and then a reconcile see it.
func step(t *testing.T, r *reporter, s *corev1.Secret) (published bool, wait time.Duration) {
	t.Helper()
	ctx := context.Background()
	r.observe(s)
	b, err := DesiredBundle(s, "ca.crt")
	var se *SourceError
	if errors.As(err, &se) {
		r.refused(ctx, s, se)
		return false, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if wait := r.settling(ctx, s); wait > 0 {
		return false, wait
	}
	r.usable(ctx, s, b)
	return true, 0
}

// TestReporterFlap: while the Secret flips between cert-manager's shape and Antrea's
// selfSignedCert: true rewrites, nothing is published, each cause is announced once, and every
// refused version is counted; once no takeover has been seen for the settle period, the Secret is
// published and one Normal event sums the episode up.
func TestReporterFlap(t *testing.T) {
	t.Parallel()
	const settle = 2 * time.Minute
	r, clk, reg, rec := newTestReporter(t, settle)
	ours := newTestCA(t, "antrea-issuer-ca", nil)
	rv := 0
	version := func(s *corev1.Secret) *corev1.Secret {
		rv++
		s.ResourceVersion = strconv.Itoa(rv)
		return s
	}
	antrea := func() *corev1.Secret {
		self := newTestCA(t, "antrea-ca@1700000000", nil)
		s := issued(t, ours) // Antrea rewrites only tls.crt and tls.key: ca.crt stays
		s.Data["tls.crt"] = testpki.Concat(leafOf(t, self), self.CertPEM)
		return s
	}

	// Antrea's own Secret at first, then 20 rounds of issue and overwrite, 1 s apart.
	if pub, _ := step(t, r, version(secretWith(map[string][]byte{"tls.crt": antrea().Data["tls.crt"]}))); pub {
		t.Fatal("published Antrea's self-signed shape")
	}
	for range 20 {
		clk.Step(time.Second)
		if pub, wait := step(t, r, version(issued(t, ours))); pub || wait <= 0 || wait > settle {
			t.Fatalf("during the flap: published %v, wait %s", pub, wait)
		}
		clk.Step(10 * time.Millisecond)
		if pub, _ := step(t, r, version(antrea())); pub {
			t.Fatal("published a taken-over Secret")
		}
	}
	evs := drain(rec)
	if len(evs) != 3 {
		t.Fatalf("events during the flap: %q; want one per cause (SelfSignedMode, CertificateNotChained, Settling)", evs)
	}
	for _, want := range []string{"Warning SelfSignedMode", "Warning CertificateNotChained", "Normal Settling"} {
		if !containsPrefix(evs, want) {
			t.Errorf("no %q event in %q", want, evs)
		}
	}
	if got := metricValue(t, reg, "antrea_issuer_cainject_source_refusals_total", "reason", string(ReasonNotChained)); got != 20 {
		t.Errorf("refusals{CertificateNotChained} = %v, want 20", got)
	}
	if got := metricValue(t, reg, "antrea_issuer_cainject_source_problem", "reason", string(ReasonNotChained)); got != 1 {
		t.Errorf("source_problem{CertificateNotChained} = %v, want 1", got)
	}

	// cert-manager's last issue stays: published once the settle period has passed, not before.
	last := version(issued(t, ours))
	clk.Step(time.Second)
	if pub, wait := step(t, r, last); pub || wait != settle-time.Second {
		t.Fatalf("1 s after the last takeover: published %v, wait %s; want to wait %s", pub, wait, settle-time.Second)
	}
	if got := metricValue(t, reg, "antrea_issuer_cainject_source_problem", "reason", string(ReasonSettling)); got != 1 {
		t.Errorf("source_problem{Settling} = %v, want 1", got)
	}
	clk.Step(settle - 2*time.Second)
	if pub, wait := step(t, r, last); pub || wait != time.Second {
		t.Fatalf("1 s before the end: published %v, wait %s", pub, wait)
	}
	clk.Step(time.Second)
	if pub, _ := step(t, r, last); !pub {
		t.Fatal("not published after the settle period")
	}
	evs = drain(rec)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Normal SourceUsable") ||
		!strings.Contains(evs[0], "CertificateNotChained ×20, SelfSignedMode ×1") {
		t.Fatalf("events after the flap: %q; want one SourceUsable summing the episode up", evs)
	}
	for _, r := range Reasons {
		if got := metricValue(t, reg, "antrea_issuer_cainject_source_problem", "reason", string(r)); got != 0 {
			t.Errorf("source_problem{%s} = %v after publishing", r, got)
		}
	}

	// A new episode announces again.
	clk.Step(time.Hour)
	step(t, r, version(antrea()))
	if evs := drain(rec); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning CertificateNotChained") {
		t.Fatalf("next takeover: %q", evs)
	}
}

// TestReporterNoTakeoverNoWait: problems that are not takeovers (a key in ca.crt, waiting for
// tls.crt) never delay publishing once fixed; each is announced once.
func TestReporterNoTakeoverNoWait(t *testing.T) {
	t.Parallel()
	r, _, reg, rec := newTestReporter(t, time.Hour)
	ca := newTestCA(t, "antrea-issuer-ca", nil)
	withKey := issued(t, ca)
	withKey.Data["ca.crt"] = testpki.Concat(ca.CertPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	for i := range 3 {
		withKey.ResourceVersion = strconv.Itoa(i + 10)
		if pub, _ := step(t, r, withKey); pub {
			t.Fatal("published a ca.crt holding a private key")
		}
	}
	if got := metricValue(t, reg, "antrea_issuer_cainject_source_problem", "reason", string(ReasonCANonCertificateBlock)); got != 1 {
		t.Errorf("source_problem{CANonCertificateBlock} = %v", got)
	}
	if got := metricValue(t, reg, "antrea_issuer_cainject_source_refusals_total", "reason", string(ReasonCANonCertificateBlock)); got != 3 {
		t.Errorf("refusals{CANonCertificateBlock} = %v, want 3 (one per version)", got)
	}
	if pub, wait := step(t, r, issued(t, ca)); !pub || wait != 0 {
		t.Fatalf("fixed Secret: published %v, wait %s; want at once", pub, wait)
	}
	evs := drain(rec)
	if len(evs) != 2 || !strings.HasPrefix(evs[0], "Warning CANonCertificateBlock") || !strings.HasPrefix(evs[1], "Normal SourceUsable") {
		t.Fatalf("events %q", evs)
	}
	if strings.Contains(evs[0], "AAAA") {
		t.Fatalf("event carries key material: %q", evs[0])
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
