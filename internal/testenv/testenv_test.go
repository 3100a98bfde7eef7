package testenv_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
)

// TestControlPlaneServesCoreAndAggregatorAPIs proves the locally built control plane is a real
// API server: it stores a ConfigMap and an apiregistration.k8s.io/v1 APIService and returns them.
func TestControlPlaneServesCoreAndAggregatorAPIs(t *testing.T) {
	env := testenv.Start(t)
	ctx := testenv.Context(t)

	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "antrea-ca", Namespace: "kube-system"},
		Data:       map[string]string{"ca.crt": "placeholder"},
	}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatalf("creating ConfigMap: %v", err)
	}
	gotCM := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), gotCM); err != nil {
		t.Fatalf("reading ConfigMap back: %v", err)
	}
	if gotCM.Data["ca.crt"] != "placeholder" {
		t.Errorf("ConfigMap data = %v, want ca.crt=placeholder", gotCM.Data)
	}

	port := int32(443)
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1beta2.controlplane.antrea.io"},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                "controlplane.antrea.io",
			Version:              "v1beta2",
			Service:              &apiregistrationv1.ServiceReference{Namespace: "kube-system", Name: "antrea", Port: &port},
			GroupPriorityMinimum: 100,
			VersionPriority:      100,
		},
	}
	if err := env.Client.Create(ctx, apiService); err != nil {
		t.Fatalf("creating APIService: %v", err)
	}
	got := &apiregistrationv1.APIService{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(apiService), got); err != nil {
		t.Fatalf("reading APIService back: %v", err)
	}
	if got.Spec.Service == nil || got.Spec.Service.Name != "antrea" {
		t.Errorf("APIService service = %+v, want kube-system/antrea", got.Spec.Service)
	}
}
