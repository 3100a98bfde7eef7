package cainject_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

func newServer(t *testing.T, pair antreasim.KeyPair) *antreasim.Server {
	t.Helper()
	srv, err := antreasim.NewServer(antreasim.WithKeyPair(pair.CertPEM, pair.KeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TestAggregatorAcceptsInjectedCABundle lets the real kube-aggregator judge the injected bundle:
// Antrea's APIServices point (through Service kube-system/antrea) at a stand-in Antrea API server
// serving the Secret's tls.crt/tls.key. With no caBundle or a wrong one they stay unavailable with
// an x509 error; once the controller injects the Secret's ca.crt they become Available=True, and a
// request through kube-apiserver to /apis/controlplane.antrea.io/v1beta2 reaches the stand-in.
func TestAggregatorAcceptsInjectedCABundle(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	m, wrong := newMaterial(t, "antrea-issuer-ca"), newMaterial(t, "wrong-ca")
	srv := newServer(t, m.Serving)
	if err := antreasim.RegisterWithAggregator(ctx, c, srv, ns); err != nil {
		t.Fatal(err)
	}
	controlplane := antreasim.GroupVersions[0].APIService

	// Before any injection: the aggregator cannot verify the stand-in.
	cond, err := antreasim.WaitAPIServiceCondition(ctx, c, controlplane, apiregistrationv1.ConditionFalse, "x509", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("empty caBundle: Available=%s reason=%s message=%q", cond.Status, cond.Reason, cond.Message)

	// A wrong CA, written by hand: still unavailable, with an x509 error.
	edit(ctx, t, c, &apiregistrationv1.APIService{ObjectMeta: nameOnly(controlplane)}, func(as *apiregistrationv1.APIService) {
		as.Spec.CABundle = wrong.CA.CertPEM
	})
	cond, err = antreasim.WaitAPIServiceCondition(ctx, c, controlplane, apiregistrationv1.ConditionFalse,
		"x509: certificate signed by unknown authority", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrong caBundle: Available=%s reason=%s message=%q", cond.Status, cond.Reason, cond.Message)
	if status := proxiedStatus(ctx, t, env.Config); status == 200 {
		t.Fatalf("a request through the aggregator succeeded with a wrong caBundle")
	}

	// The controller injects the Secret's ca.crt: only that makes the APIServices available.
	putSecret(ctx, t, c, m.CertManagerSecret(ns, antreasim.SecretName))
	startController(t, ctx)
	start := time.Now()
	for _, name := range antreasim.APIServiceNames() {
		if err := antreasim.WaitAPIServiceAvailable(ctx, c, name, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("all three Antrea APIServices Available=True %s after the controller started", time.Since(start))

	before := srv.RequestsTo("/apis/controlplane.antrea.io/v1beta2")
	rl := &metav1.APIResourceList{}
	body := proxiedGet(ctx, t, env.Config, "/apis/controlplane.antrea.io/v1beta2")
	if err := json.Unmarshal(body, rl); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	if rl.GroupVersion != "controlplane.antrea.io/v1beta2" || len(rl.APIResources) == 0 {
		t.Fatalf("through kube-apiserver: %s", body)
	}
	if after := srv.RequestsTo("/apis/controlplane.antrea.io/v1beta2"); after <= before {
		t.Fatalf("the stand-in saw no new request (%d before, %d after)", before, after)
	}
}

func proxiedStatus(ctx context.Context, t *testing.T, cfg *restConfig) int {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	var status int
	cs.Discovery().RESTClient().Get().AbsPath("/apis/controlplane.antrea.io/v1beta2").Do(ctx).StatusCode(&status)
	return status
}

func proxiedGet(ctx context.Context, t *testing.T, cfg *restConfig, path string) []byte {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	body, err := cs.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET %s through kube-apiserver: %v (%s)", path, err, strings.TrimSpace(string(body)))
	}
	return body
}
