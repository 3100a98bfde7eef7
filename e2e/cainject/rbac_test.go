package cainject_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/cainject"
)

var rbacMarker = regexp.MustCompile(`^\s*//\s*\+kubebuilder:rbac:(.+)$`)

// markerRules reads the +kubebuilder:rbac markers of issuer/cainject (what controller-gen turns
// into the chart's RBAC) into rules, keyed by namespace ("" for the ClusterRole).
func markerRules(t *testing.T) map[string][]rbacv1.PolicyRule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "issuer", "cainject", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]rbacv1.PolicyRule{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			m := rbacMarker.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var rule rbacv1.PolicyRule
			var namespace string
			for _, kv := range strings.Split(m[1], ",") {
				k, v, _ := strings.Cut(kv, "=")
				values := strings.Split(strings.Trim(v, `"`), ";")
				switch k {
				case "groups":
					rule.APIGroups = values
				case "resources":
					rule.Resources = values
				case "verbs":
					rule.Verbs = values
				case "resourceNames":
					rule.ResourceNames = values
				case "namespace":
					namespace = v
				default:
					t.Fatalf("%s: unknown marker key %q in %q", f, k, line)
				}
			}
			out[namespace] = append(out[namespace], rule)
		}
	}
	if len(out) == 0 {
		t.Fatal("no +kubebuilder:rbac markers found")
	}
	return out
}

// TestRBACMarkersSuffice runs the controller as a user that holds only the permissions of this
// package's RBAC markers: the whole sync works (antrea-ca created by server-side apply with create
// and patch restricted to its name, Secret and ConfigMap listed and watched through resourceNames,
// events written), every list and watch the controller sends is narrowed by name or by Antrea's
// labels, and an Antrea-labelled object outside the named defaults is refused by the API server and
// reported, not silently skipped.
func TestRBACMarkersSuffice(t *testing.T) {
	env, ctx := cluster(t)
	c := env.Client
	const user = "cainject-rbac-test"
	for namespace, rules := range markerRules(t) {
		subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
		var role, binding client.Object
		if namespace == "" {
			role = &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}
			binding = &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}
		} else {
			role = &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user}, Rules: rules}
			binding = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}}
		}
		for _, o := range []client.Object{role, binding} {
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete(context.Background(), o) })
		}
	}
	// RBAC is served from the API server's informers: wait until the last rule is in force.
	eventually(t, 10*time.Second, "RBAC in force", func() (bool, string) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "watch", Resource: "configmaps", Name: antreasim.CAConfigMapName},
		}}
		if err := c.Create(ctx, sar); err != nil {
			return false, err.Error()
		}
		return sar.Status.Allowed, sar.Status.Reason
	})

	if _, err := antreasim.CreateAntreaTargets(ctx, c, ns); err != nil { // no antrea-ca: we must create it
		t.Fatal(err)
	}
	// Labelled like Antrea's but not one of the default names: patch is not granted.
	extra := antreasim.APIServices(ns)[0]
	extra.Name, extra.Spec.Group, extra.Spec.Version = "v1alpha1.extra.antrea.io", "extra.antrea.io", "v1alpha1"
	if err := c.Create(ctx, extra); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), extra) })

	m := newMaterial(t, "antrea-issuer-ca")
	putSecret(ctx, t, c, m.CertManagerSecret(ns, antreasim.SecretName))
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	h := startController(t, ctx, startOptions{config: cfg})

	waitAllCarry(ctx, t, c, m.CA.CertPEM, 15*time.Second)
	eventually(t, 10*time.Second, "the refused APIService reported", func() (bool, string) {
		failed := secretEvents(ctx, t, c, cainject.EventReasonSyncFailed)
		out := h.targets(t, cainject.StateOutOfSync)
		if out != 1 || len(failed) == 0 {
			return false, fmt.Sprintf("out_of_sync=%v, %d %s events", out, len(failed), cainject.EventReasonSyncFailed)
		}
		return strings.Contains(failed[0].Note, extra.Name) && strings.Contains(failed[0].Note, "forbidden"), failed[0].Note
	})
	as := &apiregistrationv1.APIService{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(extra), as); err != nil {
		t.Fatal(err)
	}
	if len(as.Spec.CABundle) != 0 {
		t.Errorf("%s got a caBundle although patch on it is not granted", extra.Name)
	}

	assertNarrowRequests(t, h)
}

// assertNarrowRequests checks that every list and watch the controller sent is restricted to the
// one Secret, the one ConfigMap (by metadata.name in Antrea's namespace) or Antrea's labels.
func assertNarrowRequests(t *testing.T, h *controllerHandle) {
	t.Helper()
	nameSelector := map[string]string{
		"/api/v1/namespaces/" + ns + "/secrets":    "metadata.name=" + antreasim.SecretName,
		"/api/v1/namespaces/" + ns + "/configmaps": "metadata.name=" + antreasim.CAConfigMapName,
	}
	labelled := map[string]bool{
		"/apis/apiregistration.k8s.io/v1/apiservices":                           true,
		"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations":   true,
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations": true,
		"/apis/apiextensions.k8s.io/v1/customresourcedefinitions":               true,
	}
	seen := map[string]int{}
	for _, r := range h.requests.matching(func(r *http.Request) bool { return r.Method == http.MethodGet }) {
		path, q := r.URL.Path, r.URL.Query()
		if want, ok := nameSelector[path]; ok {
			seen[path]++
			if q.Get("fieldSelector") != want {
				t.Errorf("GET %s: fieldSelector %q, want %q", r.URL, q.Get("fieldSelector"), want)
			}
			continue
		}
		if labelled[path] {
			seen[path]++
			if q.Get("labelSelector") != cainject.DefaultTargetSelector {
				t.Errorf("GET %s: labelSelector %q, want %q", r.URL, q.Get("labelSelector"), cainject.DefaultTargetSelector)
			}
			continue
		}
		if strings.HasPrefix(path, "/api") && (strings.Count(path, "/") > 3 || q.Has("watch")) && !isDiscovery(path) {
			t.Errorf("unexpected read %s", r.URL)
		}
	}
	if len(seen) != len(nameSelector)+len(labelled) {
		t.Errorf("reads seen: %v; want lists and watches of all six kinds", seen)
	}
	t.Logf("list/watch requests by path: %v", seen)
}

// isDiscovery: /api, /apis, /api/v1 and /apis/<group>/<version> (the REST mapper's discovery).
func isDiscovery(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return (parts[0] == "api" && len(parts) <= 2) || (parts[0] == "apis" && len(parts) <= 3)
}
