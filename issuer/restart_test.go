package issuer_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// TestRestartKeepsTheCA restarts the controller and checks that the CA Secret it generated is
// neither replaced nor rewritten, and that a second controller starting beside the first does
// not create another CA.
func TestRestartKeepsTheCA(t *testing.T) {
	ctx := testenv.Context(t)
	iss := createClusterIssuer(ctx, t, "restart", v1alpha1.IssuerSpec{}, metav1.ConditionTrue)
	key := client.ObjectKey{Namespace: clusterResourceNamespace, Name: iss.Name + "-ca"}
	before := &corev1.Secret{}
	if err := env.Client.Get(ctx, key, before); err != nil {
		t.Fatal(err)
	}

	// A second, independent controller (as after a restart, or a second replica without leader
	// election) checks the same issuer.
	stop, err := startManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Changing the spec's generation forces both controllers to re-check.
	patch := client.MergeFrom(iss.DeepCopy())
	iss.Spec.Policy.MinDuration = "2h"
	if err := env.Client.Patch(ctx, iss, patch); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(ctx, t, iss, metav1.ConditionTrue, "")

	after := &corev1.Secret{}
	if err := env.Client.Get(ctx, key, after); err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("CA Secret changed: uid %s -> %s, resourceVersion %s -> %s", before.UID, after.UID, before.ResourceVersion, after.ResourceVersion)
	}
	var secrets corev1.SecretList
	if err := env.Client.List(ctx, &secrets, client.InNamespace(clusterResourceNamespace)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range secrets.Items {
		if s.Annotations["certificates.antrea.io/issuer"] == "AntreaClusterIssuer/restart" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d CA Secrets for the issuer, want 1", n)
	}
}
