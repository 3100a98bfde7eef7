package issuer_test

// Trust survives mistakes (issue 13): a lost CA Secret, a Secret of another issuer, a tenant's
// unlabelled Secret, a spec that drifts from the CA, an issuer being deleted. Each on the real
// control plane, with the controllers as the binary runs them.

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/rotation"
	"antrea.io/antrea-issuer/signer"
)

// caSecret reads a CA Secret and parses its generations.
func caSecret(ctx context.Context, t *testing.T, key client.ObjectKey) (*corev1.Secret, signer.Generations) {
	t.Helper()
	s := &corev1.Secret{}
	if err := env.Client.Get(ctx, key, s); err != nil {
		t.Fatal(err)
	}
	gens, err := signer.ParseGenerations(s.Data, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s, gens
}

// issuerEvents returns the events of a reason about an object.
func issuerEvents(ctx context.Context, t *testing.T, obj client.Object, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.Namespace == obj.GetNamespace() && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func waitEvent(ctx context.Context, t *testing.T, obj client.Object, reason, contains string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("event %s on %s", reason, obj.GetName()), func() error {
		for _, e := range issuerEvents(ctx, t, obj, reason) {
			if strings.Contains(e.Note, contains) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s event mentioning %q", reason, contains)
	})
	return found
}

// loseCASecret is how a row of the hostile matrix loses a Ready issuer's CA Secret; it returns
// the key of the Secret the issuer uses afterwards.
type loseCASecret func(ctx context.Context, t *testing.T, iss *v1alpha1.AntreaClusterIssuer, key client.ObjectKey) client.ObjectKey

var (
	deleteCASecret loseCASecret = func(ctx context.Context, t *testing.T, _ *v1alpha1.AntreaClusterIssuer, key client.ObjectKey) client.ObjectKey {
		if err := env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	renameCASecret loseCASecret = func(ctx context.Context, t *testing.T, iss *v1alpha1.AntreaClusterIssuer, key client.ObjectKey) client.ObjectKey {
		patch := client.MergeFrom(iss.DeepCopy())
		iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{SecretName: iss.Name + "-renamed", MinPhaseDuration: "1s"}
		if err := env.Client.Patch(ctx, iss, patch); err != nil {
			t.Fatal(err)
		}
		return client.ObjectKey{Namespace: key.Namespace, Name: iss.Name + "-renamed"}
	}
)

// lostCASecret: losing a Ready issuer's CA Secret (deleted, or the spec pointed at a new Secret
// name) never replaces the CA clients trust in one step. The new Secret starts in phase Activated
// with the CA recorded in status as the previous one, so every ca.crt keeps it until rotation
// retires it; a Warning event says what happened.
func lostCASecret(lose loseCASecret) func(ctx context.Context, t *testing.T) {
	return func(ctx context.Context, t *testing.T) {
		// The issuer carries a rotate annotation from an earlier rotation: a CA created while it
		// does has handled it, so losing the Secret never starts an unrequested rotation.
		iss := &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "lost-" + randSuffix(t),
			Annotations: map[string]string{issuer.AnnotationRotate: "an-earlier-rotation"}},
			Spec: v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{MinPhaseDuration: "1s"}}}}
		if err := env.Client.Create(ctx, iss); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), iss) })
		waitIssuerReady(ctx, t, iss, metav1.ConditionTrue, "")
		key := client.ObjectKey{Namespace: clusterResourceNamespace, Name: iss.Name + "-ca"}
		_, before := caSecret(ctx, t, key)
		testenv.Eventually(t, 30*time.Second, "status records the active CA", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
				return err
			}
			if st := iss.Status.CA; st == nil || st.Active == nil || st.Active.Certificate == "" {
				return fmt.Errorf("status.ca = %+v", iss.Status.CA)
			}
			return nil
		})

		newKey := lose(ctx, t, iss, key)

		// The new Secret never holds the new CA alone: its first version already trusts the
		// old one.
		var first *corev1.Secret
		testenv.Eventually(t, 30*time.Second, "a new CA Secret", func() error {
			s := &corev1.Secret{}
			if err := env.Client.Get(ctx, newKey, s); err != nil {
				return err
			}
			if key == newKey && s.UID == "" {
				return fmt.Errorf("not recreated yet")
			}
			first = s
			return nil
		})
		firstGens, err := signer.ParseGenerations(first.Data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		gens := firstGens
		if gens.Previous == nil || !bytes.Equal(gens.Previous.Raw, before.Active.Cert.Raw) {
			t.Fatalf("the new Secret does not keep the trusted CA as the previous one: phase %s", gens.Phase())
		}
		if bytes.Equal(gens.Active.Cert.Raw, before.Active.Cert.Raw) {
			t.Fatal("the lost CA's key was somehow recovered")
		}
		bundle, err := signer.ParseBundle(first.Data[signer.SecretKeyCABundle])
		if err != nil || !bundle.Contains(before.Active.Cert) || !bundle.Contains(gens.Active.Cert) {
			t.Fatalf("ca.crt of the new Secret does not trust both CAs (err %v)", err)
		}
		if first.Annotations[issuer.AnnotationPhase] != string(signer.PhaseActivated) {
			t.Errorf("phase annotation = %q", first.Annotations[issuer.AnnotationPhase])
		}
		waitEvent(ctx, t, iss, "CASecretLost", before.Active.Cert.Subject.CommonName)

		// Then rotation retires the old CA as after any activation (no Certificate uses
		// this issuer, so only the minimum phase duration is waited for).
		testenv.Eventually(t, 30*time.Second, "the previous CA retired", func() error {
			_, gens := caSecret(ctx, t, newKey)
			if gens.Phase() != signer.PhaseSteady {
				return fmt.Errorf("phase %s", gens.Phase())
			}
			return nil
		})
		after, gens := caSecret(ctx, t, newKey)
		if !bytes.Equal(gens.Active.Cert.Raw, firstGens.Active.Cert.Raw) || after.Annotations[issuer.AnnotationRotateHandled] != "an-earlier-rotation" {
			t.Errorf("a rotation nobody asked for followed the recovery (active %s, rotate-handled %q)",
				gens.Active.Cert.Subject.CommonName, after.Annotations[issuer.AnnotationRotateHandled])
		}
	}
}

// secretOfAnotherIssuer: an AntreaClusterIssuer naming another issuer's generated CA Secret is
// refused, naming the owner; requests to it wait unsigned.
func secretOfAnotherIssuer(ctx context.Context, t *testing.T) {
	owner := createClusterIssuer(ctx, t, "owner-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	thief := createClusterIssuer(ctx, t, "thief-"+randSuffix(t), v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{SecretName: owner.Name + "-ca"}}}, metav1.ConditionFalse)
	waitIssuerReady(ctx, t, thief, metav1.ConditionFalse, "serves AntreaClusterIssuer/"+owner.Name)
	assertRequestWaits(ctx, t, thief)
}

// sameNameBothKinds: an AntreaIssuer in the cluster resource namespace named like an
// AntreaClusterIssuer gets a CA Secret of its own: the two kinds' default names never collide.
func sameNameBothKinds(ctx context.Context, t *testing.T) {
	owner := createClusterIssuer(ctx, t, "twin-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	same := &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Name: owner.Name, Namespace: clusterResourceNamespace}}
	if err := env.Client.Create(ctx, same); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), same) })
	waitIssuerReady(ctx, t, same, metav1.ConditionTrue, "")
	for name, want := range map[string]string{
		owner.Name + "-ca":         "AntreaClusterIssuer/" + owner.Name,
		owner.Name + "-ca-keypair": "AntreaIssuer/" + clusterResourceNamespace + "/" + owner.Name,
	} {
		s := &corev1.Secret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: clusterResourceNamespace, Name: name}, s); err != nil {
			t.Fatalf("CA Secret %s: %v", name, err)
		}
		if got := s.Annotations[issuer.AnnotationIssuer]; got != want {
			t.Errorf("%s serves %q, want %q", name, got, want)
		}
	}
}

// foreignSecretAsGeneratedCA: a generated CA's secretName naming a Secret antrea-issuer did not
// generate (a valid CA at that) is refused: the issuer would rotate and rewrite it.
func foreignSecretAsGeneratedCA(ctx context.Context, t *testing.T) {
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	name := "foreign-" + randSuffix(t)
	secret := createSecret(ctx, t, clusterResourceNamespace, name, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
	iss := createClusterIssuer(ctx, t, name, v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{SecretName: name}}}, metav1.ConditionFalse)
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, "was not generated by antrea-issuer")
	got := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != secret.ResourceVersion {
		t.Error("the issuer wrote a Secret it did not generate")
	}
}

// sharedProvidedSecret: of two issuers pointed at one provided CA Secret, the first claims it and
// the second is refused, naming the first.
func sharedProvidedSecret(ctx context.Context, t *testing.T) {
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	name := "shared-" + randSuffix(t)
	createSecret(ctx, t, clusterResourceNamespace, name, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
	spec := v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: name}}}
	first := createClusterIssuer(ctx, t, name+"-a", spec, metav1.ConditionTrue)
	second := createClusterIssuer(ctx, t, name+"-b", spec, metav1.ConditionFalse)
	waitIssuerReady(ctx, t, second, metav1.ConditionFalse, "serves AntreaClusterIssuer/"+first.Name)
	assertRequestWaits(ctx, t, second)
}

// unlabelledTenantSecret: in a namespace of --ca-secret-namespaces a provided CA Secret is used
// only once its owner labels it; until then the issuer says which label to set, and the controller
// has not cached it (its cache holds only labelled Secrets there).
func unlabelledTenantSecret(ctx context.Context, t *testing.T) {
	good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	name := "team-ca-" + randSuffix(t)
	secret := createSecret(ctx, t, teamNamespace, name, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
	iss := &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: teamNamespace},
		Spec: v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: name}}}}
	if err := env.Client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), iss) })
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, "antrea-issuer reads only Secrets labelled "+issuer.LabelCASecret+"=true")
	assertRequestWaits(ctx, t, iss)

	patch := client.MergeFrom(secret.DeepCopy())
	secret.Labels = map[string]string{issuer.LabelCASecret: "true"}
	if err := env.Client.Patch(ctx, secret, patch); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionTrue, "")
}

// TestSpecDriftIsSaid: a spec asking for another key algorithm or lifetime than the active CA's
// takes effect at the next rotation, and the issuer says so; a rotate annotation on a provided
// CA is answered with how provided CAs rotate.
func TestSpecDriftIsSaid(t *testing.T) {
	ctx := testenv.Context(t)
	t.Run("generated", func(t *testing.T) {
		t.Parallel()
		iss := createClusterIssuer(ctx, t, "drift-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
		patch := client.MergeFrom(iss.DeepCopy())
		iss.Spec.CA.Generated = &v1alpha1.GeneratedCA{KeyAlgorithm: "RSA2048", Duration: "20000h"}
		if err := env.Client.Patch(ctx, iss, patch); err != nil {
			t.Fatal(err)
		}
		want := "key algorithm ECDSAP256 (spec: RSA2048) and lifetime 43800h0m0s (spec: 20000h0m0s)"
		testenv.Eventually(t, 30*time.Second, "CARotation says the spec waits for the next rotation", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
				return err
			}
			c := meta.FindStatusCondition(iss.Status.Conditions, rotation.ConditionCARotation)
			if c == nil || c.Reason != rotation.ReasonSpecChangePending || !strings.Contains(c.Message, want) ||
				!strings.Contains(c.Message, rotation.AnnotationRotate) {
				return fmt.Errorf("condition %+v", c)
			}
			return nil
		})
		waitEvent(ctx, t, iss, rotation.ReasonSpecChangePending, "takes effect at the next rotation")
	})
	t.Run("provided, rotate annotation", func(t *testing.T) {
		t.Parallel()
		good := newTestCA(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
		name := "drift-provided-" + randSuffix(t)
		createSecret(ctx, t, clusterResourceNamespace, name, map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.KeyPEM})
		iss := createClusterIssuer(ctx, t, name, v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: name}}}, metav1.ConditionTrue)
		patch := client.MergeFrom(iss.DeepCopy())
		iss.Annotations = map[string]string{rotation.AnnotationRotate: "now"}
		if err := env.Client.Patch(ctx, iss, patch); err != nil {
			t.Fatal(err)
		}
		waitEvent(ctx, t, iss, "RotationNotApplicable", "next.tls.crt")
	})
}

// issuerBeingDeleted: an issuer held by a finalizer whose CA Secret disappears gets no new CA (it
// would be an orphan key) and says why.
func issuerBeingDeleted(ctx context.Context, t *testing.T) {
	iss := createClusterIssuer(ctx, t, "deleting-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	key := client.ObjectKey{Namespace: clusterResourceNamespace, Name: iss.Name + "-ca"}
	patch := client.MergeFrom(iss.DeepCopy())
	iss.Finalizers = []string{"example.com/hold"}
	if err := env.Client.Patch(ctx, iss, patch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fresh := &v1alpha1.AntreaClusterIssuer{}
		if env.Client.Get(context.Background(), client.ObjectKeyFromObject(iss), fresh) == nil {
			p := client.MergeFrom(fresh.DeepCopy())
			fresh.Finalizers = nil
			_ = env.Client.Patch(context.Background(), fresh, p)
		}
	})
	if err := env.Client.Delete(ctx, iss); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionFalse, "being deleted")
	if err := env.Client.Get(ctx, key, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("CA Secret of a deleted issuer: err = %v, want NotFound", err)
	}
}

// TestReadinessMetric: every issuer has one antrea_issuer_ready series, 1 when Ready, 0 when not.
func TestReadinessMetric(t *testing.T) {
	ctx := testenv.Context(t)
	ready := createClusterIssuer(ctx, t, "metric-ready-"+randSuffix(t), v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	notReady := createClusterIssuer(ctx, t, "metric-missing-"+randSuffix(t),
		v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "absent"}}}, metav1.ConditionFalse)
	testenv.Eventually(t, 10*time.Second, "readiness series", func() error {
		got := readiness(t)
		for name, want := range map[string]float64{ready.Name: 1, notReady.Name: 0} {
			v, ok := got["AntreaClusterIssuer//"+name]
			if !ok || v != want {
				return fmt.Errorf("%s: %v (present %v), want %v", name, v, ok, want)
			}
		}
		return nil
	})
}

func readiness(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "antrea_issuer_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			out[label(m, "kind")+"/"+label(m, "namespace")+"/"+label(m, "name")] = m.GetGauge().GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
