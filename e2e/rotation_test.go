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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/antreasim"
	"antrea.io/antrea-issuer/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
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

// caWatch records every distinct CA certificate that becomes active in an issuer's CA Secret, and
// the phases its status goes through.
type caWatch struct {
	mu     sync.Mutex
	active []string
	phases []string
}

func (w *caWatch) observe(secret *corev1.Secret, iss *v1alpha1.AntreaClusterIssuer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if secret != nil && len(secret.Data["tls.crt"]) > 0 {
		sum := sha256.Sum256(secret.Data["tls.crt"])
		fp := hex.EncodeToString(sum[:6])
		if len(w.active) == 0 || w.active[len(w.active)-1] != fp {
			w.active = append(w.active, fp)
		}
	}
	if iss != nil && iss.Status.CA != nil {
		if p := iss.Status.CA.Phase; len(w.phases) == 0 || w.phases[len(w.phases)-1] != p {
			w.phases = append(w.phases, p)
		}
	}
}

// rotateAndWatch forces a rotation of AntreaClusterIssuer antrea and waits for it to come back to
// Steady with a new CA. onPhase is called once each time a new phase is first seen.
func rotateAndWatch(ctx context.Context, t *testing.T, onPhase func(phase string)) *caWatch {
	t.Helper()
	iss := &v1alpha1.AntreaClusterIssuer{}
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
		t.Fatal(err)
	}
	secretKey := client.ObjectKey{Namespace: localcluster.IssuerNamespace, Name: iss.Status.CA.SecretName}
	before := iss.Status.CA.Active.SHA256

	// Short phases for the test; in production the default is minutes.
	iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{MinPhaseDuration: &metav1.Duration{Duration: 3 * time.Second}}
	if iss.Annotations == nil {
		iss.Annotations = map[string]string{}
	}
	iss.Annotations[issuer.AnnotationRotate] = time.Now().UTC().Format(time.RFC3339Nano)
	if err := suite.client.Update(ctx, iss); err != nil {
		t.Fatal(err)
	}

	if onPhase != nil {
		onPhase("Steady, rotation requested")
	}
	w := &caWatch{}
	seen := map[string]bool{"Steady": true}
	testenv.Eventually(t, 3*time.Minute, "the rotation back to Steady with a new CA", func() error {
		secret := &corev1.Secret{}
		if err := suite.client.Get(ctx, secretKey, secret); err != nil {
			return err
		}
		got := &v1alpha1.AntreaClusterIssuer{}
		if err := suite.client.Get(ctx, client.ObjectKey{Name: "antrea"}, got); err != nil {
			return err
		}
		w.observe(secret, got)
		st := got.Status.CA
		if st == nil {
			return fmt.Errorf("no status.ca")
		}
		if !seen[st.Phase] {
			seen[st.Phase] = true
			if onPhase != nil {
				onPhase(st.Phase)
			}
		}
		if st.Phase != "Steady" || st.Active.SHA256 == before || !seen["Prepared"] || !seen["Activated"] {
			return fmt.Errorf("phase %s, phases seen %v", st.Phase, w.phases)
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
		t.Logf("rotation took %s; phases %v; active CAs %v", time.Since(start).Round(100*time.Millisecond), w.phases, w.active)
		if len(w.active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", w.active)
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
		t.Logf("killed and restarted %d times; phases %v; active CAs %v", kills, w.phases, w.active)
		if len(w.active) != 2 {
			t.Errorf("active CAs seen: %v, want exactly the old and one new", w.active)
		}
		if kills < 3 {
			t.Errorf("killed %d times, want once after the request, once in Prepared and once in Activated", kills)
		}
	})
}
