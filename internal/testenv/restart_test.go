package testenv_test

import (
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
)

// TestRestartControlPlaneKeepsAddressCredentialsAndData proves what an outage test relies on: after
// RestartControlPlane the API server listens on the same address, accepts the admin
// certificate and ServiceAccount tokens issued before, and etcd still holds every object.
func TestRestartControlPlaneKeepsAddressCredentialsAndData(t *testing.T) {
	env := testenv.Start(t)
	ctx := testenv.Context(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survives", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "default"}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	outage, err := env.RestartControlPlane(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s, healthy again after %s", outage.Stopping, outage.Starting)

	// env.Config is the configuration from before the restart: same address, same CA.
	got := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil || got.Data["k"] != "v" {
		t.Fatalf("the ConfigMap after the restart: %v, %v (the admin client or etcd's data was lost)", got.Data, err)
	}
	tokenCfg := rest.AnonymousClientConfig(env.Config)
	tokenCfg.BearerToken = tr.Status.Token
	review, err := kubernetes.NewForConfigOrDie(tokenCfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token issued before the restart: %v", err)
	}
	if want := "system:serviceaccount:default:robot"; review.Status.UserInfo.Username != want {
		t.Errorf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}
}
