package antreasim

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
)

var (
	env      *testenv.Env
	envErr   error
	envStart sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

// cluster starts the package's control plane on first use (the pure tests never pay for it) and
// removes every Antrea object of earlier tests.
func cluster(t *testing.T) (client.Client, context.Context) {
	t.Helper()
	envStart.Do(func() {
		env, envErr = testenv.New(testenv.Options{WithoutCertManagerCRDs: true, WithoutProjectCRDs: true})
		if envErr == nil {
			cfg := rest.CopyConfig(env.Config)
			cfg.QPS = -1
			env.Client, envErr = client.New(cfg, client.Options{Scheme: env.Scheme})
		}
	})
	if envErr != nil {
		t.Fatalf("control plane: %v", envErr)
	}
	ctx := testenv.Context(t)
	clean := func(ctx context.Context) {
		if err := DeleteAntreaTargets(ctx, env.Client, Namespace); err != nil {
			t.Errorf("removing Antrea objects: %v", err)
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: SecretName}}
		if err := env.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("removing the Secret: %v", err)
		}
	}
	clean(ctx)
	t.Cleanup(func() { clean(context.Background()) })
	if _, err := CreateAntreaTargets(ctx, env.Client, Namespace); err != nil {
		t.Fatal(err)
	}
	return env.Client, ctx
}

func startController(t *testing.T, ctx context.Context, opts ControllerOptions) *Controller {
	t.Helper()
	opts.Logf = t.Logf
	c, err := NewController(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func put(ctx context.Context, t *testing.T, c client.Client, s *corev1.Secret) {
	t.Helper()
	cur := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKeyFromObject(s), cur)
	switch {
	case apierrors.IsNotFound(err):
		err = c.Create(ctx, s.DeepCopy())
	case err == nil:
		cur.Data = s.Data
		err = c.Update(ctx, cur)
	}
	if err != nil {
		t.Fatalf("writing the Secret: %v", err)
	}
}

// everyTargetCarries reports whether antrea-ca and every caBundle hold want.
func everyTargetCarries(ctx context.Context, c client.Client, want []byte) error {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: CAConfigMapName}, cm); err != nil {
		return err
	}
	if cm.Data[CAKey] != string(want) {
		return fmt.Errorf("antrea-ca holds %d other bytes", len(cm.Data[CAKey]))
	}
	for _, name := range APIServiceNames() {
		as := &apiregistrationv1.APIService{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			return err
		}
		if !bytes.Equal(as.Spec.CABundle, want) {
			return fmt.Errorf("APIService %s holds %d other bytes", name, len(as.Spec.CABundle))
		}
	}
	for _, cfg := range MutatingWebhookConfigurations(Namespace) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg); err != nil {
			return err
		}
		for _, w := range cfg.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, want) {
				return fmt.Errorf("webhook %s differs", w.Name)
			}
		}
	}
	crd := IPPoolCRD(Namespace)
	if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
		return err
	}
	if !bytes.Equal(crd.Spec.Conversion.Webhook.ClientConfig.CABundle, want) {
		return fmt.Errorf("CRD conversion webhook differs")
	}
	return nil
}

// targetObjects is how many objects the stand-in writes per bundle: antrea-ca, 3 APIServices,
// 2 mutating and 1 validating configurations, 1 CRD.
const targetObjects = 8

// TestControllerFileLag: with selfSignedCert: false the stand-in serves and publishes what the
// files show, FileLag behind the Secret; a resync inside the lag republishes the old bundle over
// a newer one (one write per object), and the new files then publish the new one.
func TestControllerFileLag(t *testing.T) {
	c, ctx := cluster(t)
	m1, m2 := newMaterial(t), newMaterial(t)
	put(ctx, t, c, m1.CertManagerSecret(Namespace, SecretName))
	opts := DefaultControllerOptions()
	opts.FileLag, opts.ResyncPeriod = 2*time.Second, 0
	sim := startController(t, ctx, opts)

	testenv.Eventually(t, 10*time.Second, "the first CA published", func() error { return everyTargetCarries(ctx, c, m1.CA.CertPEM) })
	if got := sim.Stats(); got.TotalWrites() != targetObjects || len(got.Writes) != targetObjects {
		t.Fatalf("first publish: writes %v, want one per object", got.Writes)
	}
	agent := NewAgentClient(Namespace)
	if err := agent.SetCA(m1.CA.CertPEM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Handshake(sim.Addr()); err != nil {
		t.Fatalf("handshake: %v", err)
	}

	// A new CA in the Secret; someone (the CA bundle sync) publishes it at once.
	put(ctx, t, c, m2.CertManagerSecret(Namespace, SecretName))
	for _, name := range APIServiceNames() {
		as := &apiregistrationv1.APIService{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			t.Fatal(err)
		}
		as.Spec.CABundle = m2.CA.CertPEM
		if err := c.Update(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	// A resync inside the lag republishes what the stale files hold.
	before := sim.Stats()
	sim.Resync()
	testenv.Eventually(t, 10*time.Second, "the resync round", func() error {
		if s := sim.Stats(); s.Rounds == before.Rounds {
			return fmt.Errorf("no round yet")
		}
		return nil
	})
	if !bytes.Equal(sim.Files()[CAKey], m1.CA.CertPEM) {
		t.Fatal("the files showed the new Secret before the lag (the test's own steps took longer than FileLag?)")
	}
	reverted := sim.Stats()
	for _, name := range APIServiceNames() {
		if n := reverted.Writes["APIService/"+name] - before.Writes["APIService/"+name]; n != 1 {
			t.Errorf("APIService %s: %d writes by the resync, want 1 (the revert to the stale bundle)", name, n)
		}
	}
	if err := everyTargetCarries(ctx, c, m1.CA.CertPEM); err != nil {
		t.Errorf("after the stale resync: %v", err)
	}

	// The files catch up: the new pair is served and the new CA published.
	testenv.Eventually(t, 10*time.Second, "the new CA published from the files", func() error { return everyTargetCarries(ctx, c, m2.CA.CertPEM) })
	if served := sim.Served(); !bytes.Equal(served, m2.CertManagerSecret(Namespace, SecretName).Data[corev1.TLSCertKey]) {
		t.Fatalf("serving %s, want the new tls.crt", describeChain(served))
	}
	after := sim.Stats()
	if n := after.TotalWrites() - reverted.TotalWrites(); n != targetObjects {
		t.Errorf("%d writes when the files caught up, want %d (one per object)", n, targetObjects)
	}
	t.Logf("writes per object: %v", after.Writes)
}

// TestControllerSelfSignedMode: in selfSignedCert: true mode the stand-in creates the Secret with
// its own pair, replaces a pair with less than 90 days left (keeping ca.crt), adopts one with more
// whoever signed it, and publishes the served tls.crt verbatim.
func TestControllerSelfSignedMode(t *testing.T) {
	c, ctx := cluster(t)
	opts := DefaultControllerOptions()
	opts.SelfSignedCert, opts.ResyncPeriod = true, 0
	sim := startController(t, ctx, opts)
	secret := func() *corev1.Secret {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: SecretName}, s); err != nil {
			return &corev1.Secret{}
		}
		return s
	}
	issuerOf := func(pemBytes []byte) string {
		blk, _ := pem.Decode(pemBytes)
		if blk == nil {
			return ""
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return ""
		}
		return cert.Issuer.CommonName
	}

	// No Secret: Antrea creates it with its own pair, no ca.crt, and publishes tls.crt.
	testenv.Eventually(t, 10*time.Second, "the self-signed Secret", func() error {
		s := secret()
		if !strings.HasPrefix(issuerOf(s.Data[corev1.TLSCertKey]), SelfSignedCAPrefix) || len(s.Data[CAKey]) != 0 {
			return fmt.Errorf("Secret keys %d, tls.crt by %q", len(s.Data), issuerOf(s.Data[corev1.TLSCertKey]))
		}
		return everyTargetCarries(ctx, c, s.Data[corev1.TLSCertKey])
	})
	own := secret().Data[corev1.TLSCertKey]
	if !bytes.Equal(sim.Served(), own) || !bytes.Equal(sim.Bundle(), own) {
		t.Fatal("not serving and publishing the Secret's tls.crt")
	}

	// cert-manager's Secret with 89 days: replaced, ca.crt kept.
	ours, err := NewCA("antrea-issuer-ca")
	if err != nil {
		t.Fatal(err)
	}
	short, err := ours.IssueServingFor(Namespace, 89*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	put(ctx, t, c, (&Material{CA: ours, Serving: short}).CertManagerSecret(Namespace, SecretName))
	testenv.Eventually(t, 10*time.Second, "the short certificate replaced", func() error {
		s := secret()
		if by := issuerOf(s.Data[corev1.TLSCertKey]); !strings.HasPrefix(by, SelfSignedCAPrefix) || bytes.Equal(s.Data[corev1.TLSCertKey], own) {
			return fmt.Errorf("tls.crt by %q", by)
		}
		if !bytes.Equal(s.Data[CAKey], ours.CertPEM) {
			return fmt.Errorf("ca.crt not kept")
		}
		return nil
	})

	// A year: adopted and served, never rewritten.
	long, err := ours.IssueServingFor(Namespace, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	adopted := (&Material{CA: ours, Serving: long}).CertManagerSecret(Namespace, SecretName)
	writes := sim.Stats().SecretWrites
	put(ctx, t, c, adopted)
	testenv.Eventually(t, 10*time.Second, "the long certificate adopted and published", func() error {
		if !bytes.Equal(sim.Served(), adopted.Data[corev1.TLSCertKey]) {
			return fmt.Errorf("serving %s", describeChain(sim.Served()))
		}
		return everyTargetCarries(ctx, c, adopted.Data[corev1.TLSCertKey])
	})
	if n := sim.Stats().SecretWrites - writes; n != 0 {
		t.Errorf("%d Secret writes after the adoptable certificate", n)
	}
	agent := NewAgentClient(Namespace)
	if err := agent.WatchConfigMap(ctx, kubernetes.NewForConfigOrDie(env.Config), Namespace, CAConfigMapName); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "an agent handshake", func() error { return agent.Handshake(sim.Addr()) })
	t.Logf("stats %+v", sim.Stats())
}

// TestControllerLifecycle: with selfSignedCert: false and no Secret the stand-in never listens
// and gives up after CertReadyTimeout; a restart with a gap refuses connections meanwhile and
// switches mode.
func TestControllerLifecycle(t *testing.T) {
	c, ctx := cluster(t)
	opts := DefaultControllerOptions()
	opts.CertReadyTimeout, opts.FileLag = 500*time.Millisecond, 0
	sim := startController(t, ctx, opts)
	agent := NewAgentClient(Namespace)
	m := newMaterial(t)
	if err := agent.SetCA(m.CA.CertPEM); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the run to fail", func() error {
		if sim.Running() || sim.Err() == nil {
			return fmt.Errorf("still running")
		}
		return nil
	})
	_ = agent.Handshake(sim.Addr())
	if s := agent.Stats(); s.Refused != 1 {
		t.Fatalf("agent stats %+v, want one refused connection", s)
	}
	t.Logf("failed as Antrea does: %v", sim.Err())

	put(ctx, t, c, m.CertManagerSecret(Namespace, SecretName))
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "serving", func() error { return agent.Handshake(sim.Addr()) })
	if err := sim.Restart(ctx, 300*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	if !sim.SelfSignedCert() {
		t.Fatal("mode not switched")
	}
	// In selfSignedCert: true mode a 90-day certificate is replaced by Antrea's own.
	testenv.Eventually(t, 10*time.Second, "Antrea's own certificate served", func() error {
		if served := sim.Served(); !strings.Contains(describeChain(served), SelfSignedCAPrefix) {
			return fmt.Errorf("serving %s", describeChain(served))
		}
		return nil
	})
	if s := sim.Stats(); s.Starts != 3 || s.Failures != 1 || s.Generated != 1 {
		t.Errorf("stats %+v", s)
	}
}
