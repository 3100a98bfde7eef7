package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/rotation"
	"antrea.io/antrea-issuer/signer"
)

// caWatch follows an issuer's CA Secret through a watch, so that no write is missed, and records
// every distinct CA that becomes active and every phase the Secret goes through. Polling the
// issuer's status cannot do that: a phase can begin and end while the controller is down (it
// is killed on purpose below), and status only shows what a running controller saw.
type caWatch struct {
	mu     sync.Mutex
	active []string
	phases []string
	// unseen are phases recorded but not yet handed to the test's callback.
	unseen []string
}

// secretPhase is the rotation phase a CA Secret holds (see signer.Generations).
func secretPhase(s *corev1.Secret) string {
	switch {
	case len(s.Data[signer.SecretKeyNextTLSCert]) > 0:
		return "Prepared"
	case len(s.Data[signer.SecretKeyPreviousCert]) > 0:
		return "Activated"
	default:
		return "Steady"
	}
}

func (w *caWatch) observe(secret *corev1.Secret) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(secret.Data["tls.crt"]) > 0 {
		sum := sha256.Sum256(secret.Data["tls.crt"])
		fp := hex.EncodeToString(sum[:6])
		if len(w.active) == 0 || w.active[len(w.active)-1] != fp {
			w.active = append(w.active, fp)
		}
	}
	if p := secretPhase(secret); len(w.phases) == 0 || w.phases[len(w.phases)-1] != p {
		w.phases = append(w.phases, p)
		w.unseen = append(w.unseen, p)
	}
}

// takeUnseen returns the phases recorded since the last call.
func (w *caWatch) takeUnseen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.unseen
	w.unseen = nil
	return u
}

func (w *caWatch) activeSeen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.active...)
}

func (w *caWatch) phasesSeen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.phases...)
}

// watchCASecret starts a caWatch on a Secret.
func watchCASecret(ctx context.Context, t *testing.T, key client.ObjectKey) *caWatch {
	t.Helper()
	w := &caWatch{}
	watchSecret(ctx, t, key, w.observe)
	return w
}

// rotationPhase is the tests' minPhaseDuration: long enough for antrea-controller's files to catch
// up with the Secret re-issued at the start of a phase (localcluster.AntreaFileLag, plus the
// re-issue) before the next phase publishes a ca.crt without the CA it served, as the default of 5
// minutes is in a cluster with kubelet's minute.
const rotationPhase = "6s"

// killGap is how long a killed antrea-issuer stays down in the rotation tests: more than
// rotationPhase plus localcluster.AntreaFileLag.
const killGap = 15 * time.Second

// rotateAndWatch forces a rotation of AntreaClusterIssuer antrea, with phases of minPhase, and
// waits for it to come back to Steady with a new CA, its CA Secret having gone through every
// phase. onPhase is called once for each phase the Secret enters, from the test's goroutine.
func rotateAndWatch(ctx context.Context, t *testing.T, minPhase string, onPhase func(phase string)) *caWatch {
	t.Helper()
	iss := &v1alpha1.AntreaClusterIssuer{}
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
		t.Fatal(err)
	}
	secretKey := client.ObjectKey{Namespace: localcluster.IssuerNamespace, Name: iss.Status.CA.SecretName}
	before := iss.Status.CA.Active.SHA256
	w := watchCASecret(ctx, t, secretKey)
	w.takeUnseen() // Steady, before the request

	// Short phases for the test; in production the default is minutes.
	if iss.Spec.CA.Generated == nil {
		iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{}
	}
	iss.Spec.CA.Generated.MinPhaseDuration = v1alpha1.Duration(minPhase)
	if iss.Annotations == nil {
		iss.Annotations = map[string]string{}
	}
	iss.Annotations[rotation.AnnotationRotate] = time.Now().UTC().Format(time.RFC3339Nano)
	if err := suite.client.Update(ctx, iss); err != nil {
		t.Fatal(err)
	}

	if onPhase != nil {
		onPhase("Steady, rotation requested")
	}
	testenv.Eventually(t, 3*time.Minute, "the rotation back to Steady with a new CA", func() error {
		for _, p := range w.takeUnseen() {
			if onPhase != nil {
				onPhase(p)
			}
		}
		got := &v1alpha1.AntreaClusterIssuer{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, got); err != nil {
			return err
		}
		st := got.Status.CA
		if st == nil {
			return fmt.Errorf("no status.ca")
		}
		phases := w.phasesSeen()
		if fmt.Sprint(phases) != fmt.Sprint([]string{"Steady", "Prepared", "Activated", "Steady"}) || st.Phase != "Steady" || st.Active.SHA256 == before {
			return fmt.Errorf("status phase %s, CA Secret phases %v", st.Phase, phases)
		}
		return nil
	})
	return w
}

// waitAntreaCertificateInSync waits for the Antrea Certificate to be Ready with a certificate
// signed by the issuer's active CA and ca.crt equal to its bundle.
func waitAntreaCertificateInSync(ctx context.Context, t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, "the Antrea Secret to match the issuer's CA", func() error {
		iss := &v1alpha1.AntreaClusterIssuer{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
			return err
		}
		caSecret := &corev1.Secret{}
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: localcluster.IssuerNamespace, Name: iss.Status.CA.SecretName}, caSecret); err != nil {
			return err
		}
		s := &corev1.Secret{}
		if err := suite.client.Get(ctx, antreaCert, s); err != nil {
			return err
		}
		if string(s.Data["ca.crt"]) != string(caSecret.Data["ca.crt"]) {
			return fmt.Errorf("ca.crt differs from the issuer's bundle")
		}
		return nil
	})
}

// TestCARotationWithoutFailedHandshakes forces a full rotation while Antrea-like clients work
// against the antrea-controller stand-in (selfSignedCert: false, its files trailing the Secret by
// localcluster.AntreaFileLag, republishing every localcluster.AntreaResyncPeriod), then another
// with antrea-issuer killed and restarted inside each phase. No agent handshake may fail, and the
// real aggregator must keep Antrea's APIServices Available.
func TestCARotationWithoutFailedHandshakes(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	waitAntreaCertificateInSync(ctx, t)
	secret := waitAntreaServesSecret(ctx, t)
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])
	waitAPIServicesAvailable(ctx, t)

	t.Run("forced rotation", func(t *testing.T) {
		agents := startAgents(ctx, t, 2, 20*time.Millisecond)
		sim0, writes0 := suite.local.Antrea.Stats(), syncWrites(ctx, t)
		start := time.Now()
		w := rotateAndWatch(ctx, t, rotationPhase, nil)
		waitAntreaCertificateInSync(ctx, t)
		s := waitAntreaServesSecret(ctx, t)
		waitBundlesEqual(ctx, t, s.Data["ca.crt"])
		agents.waitHandshakes(t, 10)
		agents.halt()
		sim1, sw := suite.local.Antrea.Stats(), diffCounts(syncWrites(ctx, t), writes0)
		st := agents.stats()
		t.Logf("FIGURES CA rotation beside the lagging stand-in: %s, phases %v, active CAs %v; agents: %s; aggregator: %s",
			time.Since(start).Round(100*time.Millisecond), w.phasesSeen(), w.activeSeen(), describeAgents(st), agents.apiServices())
		t.Logf("FIGURES CA rotation beside the lagging stand-in: antrea-controller writes %d (%v); CA bundle sync writes %d (per object %v)",
			sim1.TotalWrites()-sim0.TotalWrites(), diffCounts(sim1.Writes, sim0.Writes), sumCounts(sw), perObject(sw))
		checkNoFailures(t, agents)
		if active := w.activeSeen(); len(active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", active)
		}
	})

	t.Run("controller killed and restarted in each phase", func(t *testing.T) {
		agents := startAgents(ctx, t, 2, 20*time.Millisecond)
		kills := 0
		w := rotateAndWatch(ctx, t, rotationPhase, func(phase string) {
			// Down longer than a phase's minimum dwell, while antrea-controller's files go on
			// lagging, but not the Lease's 60 s: the test stays inside its time.
			if err := killAndRestart(ctx, suite.local.Issuer, killGap); err != nil {
				t.Errorf("in phase %s: %v", phase, err)
			}
			kills++
		})
		waitAntreaCertificateInSync(ctx, t)
		s := waitAntreaServesSecret(ctx, t)
		waitBundlesEqual(ctx, t, s.Data["ca.crt"])
		agents.waitHandshakes(t, 10)
		agents.halt()
		t.Logf("FIGURES CA rotation, antrea-issuer killed %d times: phases %v, active CAs %v; agents: %s; aggregator: %s",
			kills, w.phasesSeen(), w.activeSeen(), describeAgents(agents.stats()), agents.apiServices())
		checkNoFailures(t, agents)
		if active := w.activeSeen(); len(active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", active)
		}
		if kills < 3 {
			t.Errorf("killed %d times, want once after the request, once in Prepared and once in Activated", kills)
		}
	})
}

// checkNoFailures fails the test on any failed agent handshake or APIService not Available.
func checkNoFailures(t *testing.T, agents *agentFleet) {
	t.Helper()
	st := agents.stats()
	if st.Handshakes == 0 {
		t.Error("no handshakes were attempted")
	}
	if st.Failed() != 0 {
		times, last := agents.x509Times()
		t.Errorf("agents: %s; x509 failures at %v; last: %s", describeAgents(st), times, last)
	}
	agents.mu.Lock()
	defer agents.mu.Unlock()
	if len(agents.unavailable) > 0 {
		t.Errorf("APIServices not Available: %v (%v)", agents.unavailable, agents.reasons)
	}
}
