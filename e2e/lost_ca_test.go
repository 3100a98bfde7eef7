package e2e

// Issue 13 item 3, proven against Antrea as it runs: a lost CA Secret never breaks trust. The
// antrea-controller stand-in (selfSignedCert: false) serves from files that trail the Secret by
// localcluster.AntreaFileLag, far longer than the CA bundle sync takes to publish, so agents
// learn a new CA long before the server presents a certificate it signed: the new CA must arrive
// in ca.crt together with the old one, and the old one may leave only once the server serves the
// new certificate.

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// TestLostCASecretWithoutFailedHandshakes changes the secretName of the AntreaClusterIssuer that
// issues Antrea's Certificate, then deletes its CA Secret, each while agents handshake with the
// stand-in every 20 ms: zero failed handshakes through the whole recovery, and the real
// aggregator keeps Antrea's APIServices Available.
func TestLostCASecretWithoutFailedHandshakes(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	waitAntreaCertificateInSync(ctx, t)
	// Phases as long as the rotation tests': the old CA is retired only after the server's files
	// caught up with the re-issued Secret.
	setIssuerCA(ctx, t, func(g *v1alpha1.GeneratedCA) { g.MinPhaseDuration = v1alpha1.Duration(rotationPhase) })
	waitIssuerSteady(ctx, t, "")
	secret := waitAntreaServesSecret(ctx, t)
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
	waitAPIServicesAvailable(ctx, t)

	for _, tc := range []struct {
		name string
		lose func(t *testing.T, iss *v1alpha1.AntreaClusterIssuer)
	}{
		{"secretName changed", func(t *testing.T, iss *v1alpha1.AntreaClusterIssuer) {
			renamed := iss.Status.CA.SecretName + "-renamed"
			setIssuerCA(ctx, t, func(g *v1alpha1.GeneratedCA) { g.SecretName = renamed })
			t.Logf("secretName %s → %s", iss.Status.CA.SecretName, renamed)
		}},
		{"CA Secret deleted", func(t *testing.T, iss *v1alpha1.AntreaClusterIssuer) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.IssuerNamespace, Name: iss.Status.CA.SecretName}}
			if err := suite.client.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
			t.Logf("deleted Secret %s/%s", s.Namespace, s.Name)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := &v1alpha1.AntreaClusterIssuer{}
			if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
				t.Fatal(err)
			}
			oldCA := []byte(iss.Status.CA.Active.Certificate)
			agents := startAgents(ctx, t, 2, 20*time.Millisecond)
			agents.waitHandshakes(t, 10)
			tl := recordTimeline(ctx, t)
			served := watchServed(ctx, t)
			sim0, writes0 := suite.local.Antrea.Stats(), syncWrites(ctx, t)
			start := time.Now()

			tc.lose(t, iss)
			newCA := waitIssuerSteady(ctx, t, iss.Status.CA.Active.SHA256)
			waitAntreaCertificateInSync(ctx, t)
			s := waitAntreaServesSecret(ctx, t)
			waitBundlesEqual(ctx, t, s.Data["ca.crt"])
			agents.waitHandshakes(t, 10)
			agents.halt()
			took := time.Since(start)
			sim1, sw := suite.local.Antrea.Stats(), diffCounts(syncWrites(ctx, t), writes0)

			// What clients were offered, in order: ca.crt versions and the served leaf's issuer.
			before := secret0(tl)
			lost := tl.firstCACrt(func(b []byte) bool { return !bytes.Equal(b, before) })
			both := tl.firstCACrt(func(b []byte) bool { return holds(b, oldCA) && len(cas(b)) > 1 })
			retired := tl.firstCACrt(func(b []byte) bool { return !holds(b, oldCA) })
			switched := served.firstNotSignedBy(oldCA)
			introduced := tl.casIntroduced(oldCA)
			t.Logf("FIGURES lost CA (%s): recovered in %s; CAs introduced %d; ca.crt [new, old] at %s; antrea-controller serving a leaf of another CA at %s; the old CA left ca.crt at %s",
				tc.name, took.Round(100*time.Millisecond), introduced, since(both, start), since(switched, start), since(retired, start))
			t.Logf("FIGURES lost CA (%s): agents %s; aggregator: %s; antrea-controller writes %d (%v); CA bundle sync writes %d (per object %v)",
				tc.name, describeAgents(agents.stats()), agents.apiServices(), sim1.TotalWrites()-sim0.TotalWrites(), diffCounts(sim1.Writes, sim0.Writes), sumCounts(sw), perObject(sw))
			t.Logf("timeline:\n%s\n%s", tl.describe(start), served.describe(start))
			if introduced > 1 {
				t.Logf("%d new CAs after the loss: the issuer rotated again after its recovery (a rotate annotation left on it from an earlier rotation is not recorded as handled in the new CA Secret)", introduced)
			}

			checkNoFailures(t, agents)
			switch {
			case both.IsZero() || !both.Equal(lost):
				t.Errorf("the first ca.crt after the loss (at %s) did not hold the old CA beside a new one (first such version at %s)", since(lost, start), since(both, start))
			case switched.IsZero():
				t.Error("antrea-controller never served a certificate of a new CA")
			case retired.IsZero():
				t.Error("the old CA was never retired from ca.crt")
			case !switched.Before(retired):
				t.Errorf("the old CA left ca.crt at %s, before antrea-controller served a certificate of another CA (%s)", since(retired, start), since(switched, start))
			}
			for _, gap := range trustGaps(tl, served) {
				t.Errorf("antrea-ca did not trust the served certificate: %s", gap)
			}
			if !bytes.Equal(s.Data["ca.crt"], newCA) && !holds(s.Data["ca.crt"], newCA) {
				t.Errorf("ca.crt at the end is %s, want the issuer's active CA", subjects(s.Data["ca.crt"]))
			}
		})
	}
}

// setIssuerCA changes the generated CA spec of AntreaClusterIssuer antrea.
func setIssuerCA(ctx context.Context, t *testing.T, change func(*v1alpha1.GeneratedCA)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "the issuer updated", func() error {
		iss := &v1alpha1.AntreaClusterIssuer{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
			return err
		}
		if iss.Spec.CA.Generated == nil {
			iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{}
		}
		change(iss.Spec.CA.Generated)
		return suite.client.Update(ctx, iss)
	})
}

// waitIssuerSteady waits until AntreaClusterIssuer antrea is in phase Steady with an active CA other
// than notSHA256 and nothing to retire, and returns that CA (PEM).
func waitIssuerSteady(ctx context.Context, t *testing.T, notSHA256 string) []byte {
	t.Helper()
	var ca []byte
	testenv.Eventually(t, 3*time.Minute, "the issuer Steady on a new CA", func() error {
		iss := &v1alpha1.AntreaClusterIssuer{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
			return err
		}
		st := iss.Status.CA
		if st == nil || st.Active == nil {
			return fmt.Errorf("no status.ca")
		}
		if st.Phase != "Steady" || st.Previous != nil || st.Next != nil || st.Active.SHA256 == notSHA256 {
			return fmt.Errorf("phase %s, active %s", st.Phase, st.Active.Subject)
		}
		ca = []byte(st.Active.Certificate)
		return nil
	})
	return ca
}

// holds reports whether bundle holds every one of the CA certificates cas (PEM, one each).
func holds(bundle []byte, cas ...[]byte) bool {
	b, err := signer.ParseBundle(bundle)
	if err != nil {
		return false
	}
	for _, ca := range cas {
		want, err := signer.ParseBundle(ca)
		if err != nil || want.Len() == 0 || !b.Contains(want.Certificates()[0]) {
			return false
		}
	}
	return true
}

// since renders t as an offset from start ("never" when zero).
func since(at, start time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return at.Sub(start).Round(time.Millisecond).String()
}

// servedLog records each change of the certificate the stand-in serves, and when it was seen.
type servedLog struct {
	mu      sync.Mutex
	changes []stamped
}

// watchServed samples what the stand-in serves every 10 ms until the test ends (a measurement:
// the stand-in has no event for it).
func watchServed(ctx context.Context, t *testing.T) *servedLog {
	t.Helper()
	l := &servedLog{}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			cur := suite.local.Antrea.Served()
			l.mu.Lock()
			if n := len(l.changes); n == 0 || !bytes.Equal(l.changes[n-1].data, cur) {
				l.changes = append(l.changes, stamped{at: time.Now(), data: cur})
			}
			l.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return l
}

// describe renders the served certificates since start, one line each.
func (l *servedLog) describe(start time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for _, c := range l.changes {
		lines = append(lines, fmt.Sprintf("%8s served        %s", c.at.Sub(start).Round(time.Millisecond), describePEM(c.data)))
	}
	return strings.Join(lines, "\n")
}

// secret0 is the Secret's ca.crt as the timeline first saw it.
func secret0(tl *timeline) []byte {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.caCrt) == 0 {
		return nil
	}
	return tl.caCrt[0].data
}

// cas parses the certificates of a bundle (nil when it does not parse).
func cas(b []byte) []*x509.Certificate {
	bundle, err := signer.ParseBundle(b)
	if err != nil {
		return nil
	}
	return bundle.Certificates()
}

// casIntroduced counts the distinct CAs that appeared in ca.crt besides old.
func (tl *timeline) casIntroduced(old []byte) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	oldCerts := cas(old)
	seen := map[string]bool{}
	for _, v := range tl.caCrt {
		for _, c := range cas(v.data) {
			if len(oldCerts) == 0 || !c.Equal(oldCerts[0]) {
				seen[string(c.Raw)] = true
			}
		}
	}
	return len(seen)
}

// firstNotSignedBy is when the stand-in first served a leaf not signed by ca (zero if never).
func (l *servedLog) firstNotSignedBy(ca []byte) time.Time {
	caCerts := cas(ca)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.changes {
		chain := cas(c.data)
		if len(chain) > 0 && len(caCerts) > 0 && chain[0].CheckSignatureFrom(caCerts[0]) != nil {
			return c.at
		}
	}
	return time.Time{}
}

// trustGaps checks, for each version of antrea-ca the timeline saw, that every certificate the
// stand-in served while that version was current was signed by a CA in it: what agents trusted
// always covered what the server presented (sampled every 10 ms).
func trustGaps(tl *timeline, l *servedLog) []string {
	tl.mu.Lock()
	versions := append([]stamped(nil), tl.antreaCA...)
	tl.mu.Unlock()
	l.mu.Lock()
	changes := append([]stamped(nil), l.changes...)
	l.mu.Unlock()
	var gaps []string
	for i, v := range versions {
		end := time.Now()
		if i+1 < len(versions) {
			end = versions[i+1].at
		}
		trusted := cas(v.data)
		for j, c := range changes {
			from := c.at
			to := time.Now()
			if j+1 < len(changes) {
				to = changes[j+1].at
			}
			if !from.Before(end) || !to.After(v.at) {
				continue // not served while this version was current
			}
			chain := cas(c.data)
			if len(chain) == 0 {
				continue
			}
			ok := false
			for _, ca := range trusted {
				if chain[0].CheckSignatureFrom(ca) == nil {
					ok = true
				}
			}
			if !ok {
				gaps = append(gaps, fmt.Sprintf("antrea-ca %s (from %s) while serving %s", subjects(v.data), v.at.Format(time.StampMilli), describePEM(c.data)))
			}
		}
	}
	return gaps
}
