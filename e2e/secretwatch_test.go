package e2e

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// watchSecret calls observe with the Secret as it is now, then with every later version the API
// server reports, until the test ends. Tests that must see states lasting only moments (a rotation phase, a
// certificate between two re-issuances) follow the Secret so instead of polling it, which can
// miss them. An informer, not a bare watch: after kube-apiserver restarts (the outage test does
// that), a watch from an older resource version ends with "410 Gone"; the informer lists again.
func watchSecret(ctx context.Context, t *testing.T, key client.ObjectKey, observe func(*corev1.Secret)) {
	t.Helper()
	observe(getSecret(ctx, t, key))
	lw := cache.NewListWatchFromClient(suite.kube.CoreV1().RESTClient(), "secrets", key.Namespace,
		fields.OneTermEqualSelector("metadata.name", key.Name))
	_, _, events, _ := watchtools.NewIndexerInformerWatcherWithLogger(logr.Discard(), lw, &corev1.Secret{})
	t.Cleanup(events.Stop)
	go func() {
		for ev := range events.ResultChan() {
			if s, ok := ev.Object.(*corev1.Secret); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				observe(s)
			}
		}
	}()
}

// getSecret reads a Secret, failing the test when it cannot.
func getSecret(ctx context.Context, t *testing.T, key client.ObjectKey) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := suite.client.Get(ctx, key, s); err != nil {
		t.Fatal(err)
	}
	return s
}
