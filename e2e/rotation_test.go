package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/rotation"
	"antrea.io/antrea-issuer/signer"
)

// clientTraffic does what Antrea's clients do, continuously, and counts failures: an agent
// trusting only the current antrea-ca content (reloaded on change, as k8s.io/apiserver's dynamic
// CA does) connects to the stand-in Antrea server, which serves the current Secret's key pair;
// and the aggregator must keep every Antrea APIService Available.
type clientTraffic struct {
	handshakes, handshakeFailures atomic.Int64
	availabilityChecks            atomic.Int64
	mu                            sync.Mutex
	failures                      []string
	stop                          context.CancelFunc
	done                          sync.WaitGroup
}

func startClientTraffic(ctx context.Context, t *testing.T) *clientTraffic {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	tr := &clientTraffic{stop: cancel}
	agent := antreasim.NewAgentClient("kube-system")
	if err := agent.WatchConfigMap(ctx, suite.kube, "kube-system", "antrea-ca"); err != nil {
		t.Fatal(err)
	}
	addr := suite.local.Antrea.Addr()
	for i := 0; i < 2; i++ {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			for ctx.Err() == nil {
				tr.handshakes.Add(1)
				if err := agent.Handshake(addr); err != nil {
					tr.handshakeFailures.Add(1)
					tr.record("agent handshake: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	tr.done.Add(1)
	go func() {
		defer tr.done.Done()
		for ctx.Err() == nil {
			for _, name := range antreasim.APIServiceNames() {
				as := &apiregistrationv1.APIService{}
				if err := suite.client.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
					continue
				}
				tr.availabilityChecks.Add(1)
				for _, c := range as.Status.Conditions {
					if c.Type == apiregistrationv1.Available && c.Status != apiregistrationv1.ConditionTrue {
						tr.record("APIService %s: %s %s", name, c.Reason, c.Message)
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return tr
}

func (tr *clientTraffic) record(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.failures) < 20 {
		tr.failures = append(tr.failures, fmt.Sprintf(format, args...))
	}
}

// finish stops the traffic and fails the test on any failure.
func (tr *clientTraffic) finish(t *testing.T) {
	t.Helper()
	tr.stop()
	tr.done.Wait()
	t.Logf("agent handshakes: %d, failed: %d; APIService availability checks: %d",
		tr.handshakes.Load(), tr.handshakeFailures.Load(), tr.availabilityChecks.Load())
	if len(tr.failures) > 0 {
		t.Errorf("clients failed during the rotation:\n%v", tr.failures)
	}
	if tr.handshakes.Load() == 0 {
		t.Error("no handshakes were attempted")
	}
}

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

// rotateAndWatch forces a rotation of AntreaClusterIssuer antrea and waits for it to come back to
// Steady with a new CA, its CA Secret having gone through every phase. onPhase is called once
// for each phase the Secret enters, from the test's goroutine.
func rotateAndWatch(ctx context.Context, t *testing.T, onPhase func(phase string)) *caWatch {
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
	iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{MinPhaseDuration: "3s"}
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

// TestCARotationWithoutFailedHandshakes forces a full rotation while Antrea-like clients work,
// then another with the controller killed and restarted inside each phase.
func TestCARotationWithoutFailedHandshakes(t *testing.T) {
	needLocal(t)
	ctx := testenv.Context(t)
	applySample(ctx, t, "antrea-controller-tls.yaml")
	waitCertificate(ctx, t, antreaCert, cmapi.CertificateConditionReady, cmmeta.ConditionTrue, nil)
	waitAntreaCertificateInSync(ctx, t)
	secret := &corev1.Secret{}
	if err := suite.client.Get(ctx, antreaCert, secret); err != nil {
		t.Fatal(err)
	}
	waitBundlesEqual(ctx, t, secret.Data["ca.crt"])

	t.Run("forced rotation", func(t *testing.T) {
		traffic := startClientTraffic(ctx, t)
		start := time.Now()
		w := rotateAndWatch(ctx, t, nil)
		waitAntreaCertificateInSync(ctx, t)
		traffic.finish(t)
		t.Logf("rotation took %s; phases %v; active CAs %v", time.Since(start).Round(100*time.Millisecond), w.phasesSeen(), w.activeSeen())
		if active := w.activeSeen(); len(active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", active)
		}
	})

	t.Run("controller killed and restarted in each phase", func(t *testing.T) {
		traffic := startClientTraffic(ctx, t)
		kills := 0
		w := rotateAndWatch(ctx, t, func(phase string) {
			if err := suite.local.Issuer.Stop(true); err != nil {
				t.Errorf("killing antrea-issuer: %v", err)
			}
			kills++
			if err := suite.local.Issuer.Start(ctx); err != nil {
				t.Errorf("restarting antrea-issuer in phase %s: %v", phase, err)
			}
		})
		waitAntreaCertificateInSync(ctx, t)
		traffic.finish(t)
		t.Logf("killed and restarted %d times; phases %v; active CAs %v", kills, w.phasesSeen(), w.activeSeen())
		if active := w.activeSeen(); len(active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", active)
		}
		if kills < 3 {
			t.Errorf("killed %d times, want once after the request, once in Prepared and once in Activated", kills)
		}
	})
}
