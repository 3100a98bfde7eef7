package cainject_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// decoys are objects shaped like Antrea's targets but without its labels (or, for the CRD,
// selected but without a conversion webhook): they must never be written.
type decoys struct {
	apiService *apiregistrationv1.APIService
	mutating   *admissionregistrationv1.MutatingWebhookConfiguration
	validating *admissionregistrationv1.ValidatingWebhookConfiguration
	crd        *apiextensionsv1.CustomResourceDefinition
	// selectedNoConversion is labelled like Antrea's but has no conversion webhook: reported as
	// skipped, never written.
	selectedNoConversion *apiextensionsv1.CustomResourceDefinition
	configMap            *corev1.ConfigMap
	secret               *corev1.Secret
}

func createDecoys(ctx context.Context, t *testing.T, c client.Client, caPEM []byte) *decoys {
	t.Helper()
	d := &decoys{}
	d.apiService = antreasim.APIServices(ns)[0]
	d.apiService.Name, d.apiService.Spec.Group = "v1.decoy.example.com", "decoy.example.com"
	d.apiService.Spec.Version = "v1"
	d.apiService.Labels = map[string]string{"app": "antrea"} // served-by missing: not selected
	d.mutating = antreasim.MutatingWebhookConfigurations(ns)[0]
	d.mutating.Name, d.mutating.Labels = "decoy-mutator.example.com", map[string]string{"served-by": "antrea-controller"}
	d.validating = antreasim.ValidatingWebhookConfigurations(ns)[0]
	d.validating.Name, d.validating.Labels = "decoy-validator.example.com", nil
	d.crd = antreasim.IPPoolCRD(ns)
	d.crd.Name, d.crd.Spec.Group, d.crd.Labels = "ippools.decoy.example.com", "decoy.example.com", nil
	d.selectedNoConversion = antreasim.IPPoolCRD(ns)
	d.selectedNoConversion.Name, d.selectedNoConversion.Spec.Group = "ippools.plain.example.com", "plain.example.com"
	d.selectedNoConversion.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	d.selectedNoConversion.Spec.Versions = d.selectedNoConversion.Spec.Versions[:1]
	d.configMap = antreasim.CAConfigMap(ns, []byte("not-antrea"))
	d.configMap.Name = "other-ca"
	d.secret = &corev1.Secret{}
	d.secret.Namespace, d.secret.Name = ns, "other-tls"
	d.secret.Data = map[string][]byte{"ca.crt": caPEM}
	for _, o := range d.objects() {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating decoy %T %s: %v", o, o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		for _, o := range d.objects() {
			_ = c.Delete(context.Background(), o)
		}
	})
	return d
}

func (d *decoys) objects() []client.Object {
	return []client.Object{d.apiService, d.mutating, d.validating, d.crd, d.selectedNoConversion, d.configMap, d.secret}
}

// assertUntouched fails when this controller wrote a decoy: it sent no request naming one, no
// field of one is managed by its field owner, and the objects without a status changed nowhere.
func (d *decoys) assertUntouched(ctx context.Context, t *testing.T, c client.Client, h *controllerHandle) {
	t.Helper()
	for _, o := range d.objects() {
		cur := o.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
			t.Fatalf("reading decoy %s: %v", o.GetName(), err)
		}
		switch o.(type) {
		case *apiregistrationv1.APIService, *apiextensionsv1.CustomResourceDefinition:
			// The API server writes their status (Available, Established); compare generations.
			if cur.GetGeneration() != o.GetGeneration() {
				t.Errorf("decoy %T %s: generation %d -> %d", o, o.GetName(), o.GetGeneration(), cur.GetGeneration())
			}
		default:
			if cur.GetResourceVersion() != o.GetResourceVersion() {
				t.Errorf("decoy %T %s was written (resourceVersion %s -> %s)", o, o.GetName(), o.GetResourceVersion(), cur.GetResourceVersion())
			}
		}
		for _, mf := range cur.GetManagedFields() {
			if mf.Manager == cainject.DefaultFieldOwner {
				t.Errorf("decoy %T %s has fields managed by %s", o, o.GetName(), cainject.DefaultFieldOwner)
			}
		}
		name := o.GetName()
		if reqs := h.requests.matching(func(r *http.Request) bool {
			return r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+name)
		}); len(reqs) > 0 {
			t.Errorf("decoy %T %s: %d write requests, first %s %s", o, name, len(reqs), reqs[0].Method, reqs[0].URL)
		}
	}
}

// TestWaitsForTheSecret proves nothing is written before the Secret exists, while it has no
// ca.crt, or while it has a ca.crt but no tls.crt, that the state is visible (metric, and an
// event once there is a Secret to attach it to), and that everything syncs as soon as tls.crt
// chains to ca.crt.
func TestWaitsForTheSecret(t *testing.T) {
	env, ctx := cluster(t)
	if _, err := antreasim.CreateAntreaTargets(ctx, env.Client, ns); err != nil {
		t.Fatal(err)
	}
	h := startController(t, ctx)

	eventually(t, 10*time.Second, "SecretNotFound reported", func() (bool, string) {
		return h.problem(t, cainject.ReasonSecretNotFound) == 1, "source_problem{SecretNotFound} still 0"
	})
	assertNothingWritten(ctx, t, env.Client, h)

	m := newMaterial(t, "antrea-issuer-ca")
	// A Secret without any key yet (Opaque, as Antrea also accepts: kubernetes.io/tls would
	// require tls.crt and tls.key).
	pending := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: antreasim.SecretName}, Type: corev1.SecretTypeOpaque}
	putSecret(ctx, t, env.Client, pending)
	eventually(t, 10*time.Second, "CAMissing reported", func() (bool, string) {
		return h.problem(t, cainject.ReasonCAMissing) == 1 && len(secretEvents(ctx, t, env.Client, string(cainject.ReasonCAMissing))) == 1,
			"no CAMissing metric and event yet"
	})
	assertNothingWritten(ctx, t, env.Client, h)

	// ca.crt alone: antrea-controller cannot serve a certificate of that CA yet, so publishing it
	// could only break clients (an unrelated CA made every APIService unavailable).
	caOnly := pending.DeepCopy()
	caOnly.Data = map[string][]byte{"ca.crt": m.CA.CertPEM}
	putSecret(ctx, t, env.Client, caOnly)
	eventually(t, 10*time.Second, "ServingCertMissing reported", func() (bool, string) {
		return h.problem(t, cainject.ReasonServingCertMissing) == 1 && len(secretEvents(ctx, t, env.Client, string(cainject.ReasonServingCertMissing))) == 1,
			"no ServingCertMissing metric and event yet"
	})
	assertNothingWritten(ctx, t, env.Client, h)

	issued := m.CertManagerSecret(ns, antreasim.SecretName)
	issued.Type = corev1.SecretTypeOpaque // a Secret's type cannot change
	putSecret(ctx, t, env.Client, issued)
	took := waitAllCarry(ctx, t, env.Client, m.CA.CertPEM, 10*time.Second)
	t.Logf("all %d targets carry ca.crt %s after %s (polled every 10 ms)", bundleSlots, fingerprint(m.CA.CertPEM), took)
	for _, r := range []cainject.Reason{cainject.ReasonCAMissing, cainject.ReasonServingCertMissing} {
		if v := h.problem(t, r); v != 0 {
			t.Errorf("source_problem{%s} = %v after the Secret was issued", r, v)
		}
	}
}

func assertNothingWritten(ctx context.Context, t *testing.T, c client.Client, h *controllerHandle) {
	t.Helper()
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.CAConfigMapName}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("antrea-ca ConfigMap: %v, want it not created yet", err)
	}
	for k, v := range bundles(ctx, t, c) {
		if len(v) != 0 {
			t.Errorf("%s carries %d bytes before the Secret has a ca.crt", k, len(v))
		}
	}
	if n := h.requests.applies(); len(n) != 0 {
		t.Errorf("writes before the Secret has a ca.crt: %v", n)
	}
}

// TestSyncsEveryTargetKind proves the first "done when": targets created as Antrea's
// manifests create them carry exactly the Secret's ca.crt bytes once it appears, a changed
// ca.crt propagates to all of them, objects without Antrea's labels are never touched, and a
// selected CRD without a conversion webhook is reported as skipped and left alone.
func TestSyncsEveryTargetKind(t *testing.T) {
	env, ctx := cluster(t)
	if _, err := antreasim.CreateAntreaTargets(ctx, env.Client, ns); err != nil {
		t.Fatal(err)
	}
	m1 := newMaterial(t, "antrea-issuer-ca-1")
	d := createDecoys(ctx, t, env.Client, m1.CA.CertPEM)
	h := startController(t, ctx)

	putSecret(ctx, t, env.Client, m1.CertManagerSecret(ns, antreasim.SecretName))
	took := waitAllCarry(ctx, t, env.Client, m1.CA.CertPEM, 10*time.Second)
	t.Logf("first sync: all %d targets carry ca.crt after %s", bundleSlots, took)

	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.CAConfigMapName}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Labels["app"] != "antrea" {
		t.Errorf("antrea-ca labels = %v, want app=antrea", cm.Labels)
	}
	eventually(t, 5*time.Second, "target metrics", func() (bool, string) {
		in, out, skipped := h.targets(t, cainject.StateInSync), h.targets(t, cainject.StateOutOfSync), h.targets(t, cainject.StateSkipped)
		// ConfigMap + 3 APIServices + 2 mutating + 1 validating configurations + 1 CRD = 8.
		return in == 8 && out == 0 && skipped == 1, "in_sync/out_of_sync/skipped = " + fmtFloats(in, out, skipped)
	})
	eventually(t, 5*time.Second, "CABundleSynced event", func() (bool, string) {
		return len(secretEvents(ctx, t, env.Client, cainject.EventReasonSynced)) > 0, "no event yet"
	})

	// A new CA (with its new leaf): everything follows.
	m2 := newMaterial(t, "antrea-issuer-ca-2")
	n0, s0 := h.propagationSamples(t)
	putSecret(ctx, t, env.Client, m2.CertManagerSecret(ns, antreasim.SecretName))
	took = waitAllCarry(ctx, t, env.Client, m2.CA.CertPEM, 10*time.Second)
	t.Logf("rotation: all %d targets carry the new ca.crt %s after the Secret update (polled every 10 ms)", bundleSlots, took)
	eventually(t, 5*time.Second, "propagation observed", func() (bool, string) {
		n, _ := h.propagationSamples(t)
		return n > n0, "no new propagation sample"
	})
	n1, s1 := h.propagationSamples(t)
	t.Logf("antrea_issuer_cainject_propagation_seconds for the rotation: %.1f ms (samples %d)", (s1-s0)/float64(n1-n0)*1000, n1-n0)

	d.assertUntouched(ctx, t, env.Client, h)
}

func fmtFloats(vs ...float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(parts, "/")
}
