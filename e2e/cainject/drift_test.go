package cainject_test

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// edit reads obj, applies change and writes it back with a full Update, as a person with kubectl
// edit (or a stale antrea-controller replica) would.
func edit[T client.Object](ctx context.Context, t *testing.T, c client.Client, obj T, change func(T)) {
	t.Helper()
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if err := c.Update(ctx, obj, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatalf("editing %T %s: %v", obj, obj.GetName(), err)
	}
}

// TestRepairsDrift proves a target edited by hand is repaired (every kind, including one webhook
// of several and the ConfigMap's label), that keys of antrea-ca other than ca.crt are never
// clobbered, and that a deleted antrea-ca is created again.
func TestRepairsDrift(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	m, wrong := newMaterial(t, "antrea-issuer-ca"), newMaterial(t, "stale-ca")
	putSecret(ctx, t, c, m.CertManagerSecret(ns, antreasim.SecretName))
	startController(t, ctx)
	waitAllCarry(ctx, t, c, m.CA.CertPEM, 10*time.Second)

	// Someone else's key in antrea-ca: must survive every write of ours.
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = ns, antreasim.CAConfigMapName
	edit(ctx, t, c, cm, func(cm *corev1.ConfigMap) { cm.Data["extra.pem"] = "kept" })

	edit(ctx, t, c, cm, func(cm *corev1.ConfigMap) { cm.Data[antreasim.CAKey] = "garbage"; delete(cm.Labels, "app") })
	edit(ctx, t, c, &apiregistrationv1.APIService{ObjectMeta: nameOnly("v1beta1.system.antrea.io")}, func(as *apiregistrationv1.APIService) {
		as.Spec.CABundle = wrong.CA.CertPEM
	})
	edit(ctx, t, c, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: nameOnly(antreasim.CRDMutatorName)},
		func(cfg *admissionregistrationv1.MutatingWebhookConfiguration) {
			cfg.Webhooks[1].ClientConfig.CABundle = wrong.CA.CertPEM
		})
	edit(ctx, t, c, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: nameOnly(antreasim.CRDValidatorName)},
		func(cfg *admissionregistrationv1.ValidatingWebhookConfiguration) {
			cfg.Webhooks[2].ClientConfig.CABundle = nil
		})
	edit(ctx, t, c, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: nameOnly(antreasim.IPPoolCRDName)},
		func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Spec.Conversion.Webhook.ClientConfig.CABundle = wrong.CA.CertPEM
		})
	took := waitAllCarry(ctx, t, c, m.CA.CertPEM, 10*time.Second)
	t.Logf("five hand edits repaired %s after the last one", took)

	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["extra.pem"] != "kept" || cm.Labels["app"] != "antrea" {
		t.Errorf("antrea-ca after repair: data keys %v, labels %v; want extra.pem kept and app=antrea", keys(cm.Data), cm.Labels)
	}

	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	took = waitAllCarry(ctx, t, c, m.CA.CertPEM, 10*time.Second)
	t.Logf("deleted antrea-ca re-created after %s", took)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
