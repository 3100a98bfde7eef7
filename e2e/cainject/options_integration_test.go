package cainject_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/issuer/cainject"
)

// TestNonDefaultOptions proves nothing is hard-coded beyond the defaults: another namespace,
// Secret name, Secret key, ConfigMap name and selector are all honoured, the ConfigMap still
// carries the bundle under ca.crt (what agents read), and objects carrying Antrea's default
// labels are left alone when the selector says otherwise.
func TestNonDefaultOptions(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	const other = "antrea-custom"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}); err != nil && !isAlreadyExists(err) {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.Namespace, opts.SecretName, opts.SecretKey = other, "custom-tls", "bundle.pem"
	opts.ConfigMapName, opts.TargetSelector = "custom-ca", "team=networking"

	// Selected: the APIServices, relabelled. Not selected: the webhook configurations, which keep
	// Antrea's default labels.
	for _, as := range antreasim.APIServices(other) {
		as.Labels = map[string]string{"team": "networking"}
		if err := c.Create(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	unselected := antreasim.MutatingWebhookConfigurations(other)[0]
	if err := c.Create(ctx, unselected); err != nil {
		t.Fatal(err)
	}

	m := newMaterial(t, "custom-ca")
	s := m.CertManagerSecret(other, opts.SecretName)
	s.Data[opts.SecretKey] = s.Data["ca.crt"]
	delete(s.Data, "ca.crt")
	if err := c.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), s) })
	startController(t, ctx, startOptions{opts: opts})

	eventually(t, 10*time.Second, "custom targets carry the bundle", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: other, Name: opts.ConfigMapName}, cm); err != nil {
			return false, err.Error()
		}
		if cm.Data[cainject.ConfigMapKey] != string(m.CA.CertPEM) {
			return false, fmt.Sprintf("ConfigMap keys %v", keys(cm.Data))
		}
		for _, name := range antreasim.APIServiceNames() {
			as := &apiregistrationv1.APIService{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
				return false, err.Error()
			}
			if !bytes.Equal(as.Spec.CABundle, m.CA.CertPEM) {
				return false, name + " has no bundle yet"
			}
		}
		return true, ""
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(unselected), unselected); err != nil {
		t.Fatal(err)
	}
	for _, w := range unselected.Webhooks {
		if len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("webhook %s of an unselected configuration got a bundle", w.Name)
		}
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.CAConfigMapName}, &corev1.ConfigMap{}); !isNotFound(err) {
		t.Errorf("the default antrea-ca in %s: %v, want not created", ns, err)
	}
}
