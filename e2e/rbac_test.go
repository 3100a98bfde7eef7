package e2e

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
)

// TestCertManagerMayApprove checks the approval ClusterRole the way cert-manager's webhook does
// (it does not run locally): a user may approve a request for an issuer when it may `approve`
// `signers` named either "<plural>.<group>/*" or the issuer's own signer name.
func TestCertManagerMayApprove(t *testing.T) {
	ctx := testenv.Context(t)
	certManager := "system:serviceaccount:" + localcluster.CertManagerNamespace + ":" + localcluster.CertManagerServiceAccount
	tests := map[string]struct {
		signerNames []string
		want        bool
	}{
		"AntreaClusterIssuer antrea": {signerNames: []string{"antreaclusterissuers.certificates.antrea.io/*", "antreaclusterissuers.certificates.antrea.io/antrea"}, want: true},
		"AntreaIssuer team/team":     {signerNames: []string{"antreaissuers.certificates.antrea.io/*", "antreaissuers.certificates.antrea.io/" + teamNamespace + ".team"}, want: true},
		"a signer the role omits":    {signerNames: []string{"otherissuers.example.com/*", "otherissuers.example.com/x"}, want: false},
		"cert-manager's own issuers": {signerNames: []string{"issuers.cert-manager.io/*", "issuers.cert-manager.io/kube-system.x"}, want: true},
		"a look-alike group":         {signerNames: []string{"antreaissuers.certificates.antrea.io.evil.com/*", "antreaissuers.certificates.antrea.io.evil.com/x"}, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			allowed := false
			for _, signer := range tc.signerNames {
				attr := authorizationv1.ResourceAttributes{Group: "cert-manager.io", Resource: "signers", Verb: "approve", Name: signer}
				if allowedTo(ctx, t, certManager, attr) {
					allowed = true
				}
			}
			if allowed != tc.want {
				t.Errorf("cert-manager may approve for %v: %v, want %v", tc.signerNames, allowed, tc.want)
			}
		})
	}
}

// TestIssuerLeastPrivilege asks the real authorizer what antrea-issuer's shipped roles allow.
func TestIssuerLeastPrivilege(t *testing.T) {
	ctx := testenv.Context(t)
	issuer := "system:serviceaccount:" + localcluster.IssuerNamespace + ":" + localcluster.IssuerServiceAccount
	tests := map[string]struct {
		user string
		attr authorizationv1.ResourceAttributes
		want bool
	}{
		"antrea-issuer reads CA Secrets in its namespace": {
			user: issuer, want: true,
			attr: authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "get", Namespace: localcluster.IssuerNamespace, Name: "antrea-ca"},
		},
		"antrea-issuer reads Antrea's Secret": {
			user: issuer, want: true,
			attr: authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "get", Namespace: "kube-system", Name: "antrea-controller-tls"},
		},
		"antrea-issuer may not read other kube-system Secrets": {
			user: issuer, want: false,
			attr: authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "get", Namespace: "kube-system", Name: "bootstrap-token-abcdef"},
		},
		"antrea-issuer may not list Secrets cluster-wide": {
			user: issuer, want: false,
			attr: authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list"},
		},
		"antrea-issuer may not read Secrets in default": {
			user: issuer, want: false,
			attr: authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "get", Namespace: "default", Name: "x"},
		},
		"antrea-issuer may not write CertificateRequest specs": {
			user: issuer, want: false,
			attr: authorizationv1.ResourceAttributes{Group: "cert-manager.io", Resource: "certificaterequests", Verb: "update", Namespace: "kube-system"},
		},
		"antrea-issuer may not patch other APIServices": {
			user: issuer, want: false,
			attr: authorizationv1.ResourceAttributes{Group: "apiregistration.k8s.io", Resource: "apiservices", Verb: "patch", Name: "v1.apps"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := allowedTo(ctx, t, tc.user, tc.attr); got != tc.want {
				t.Errorf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func allowedTo(ctx context.Context, t *testing.T, user string, attr authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             []string{"system:serviceaccounts", "system:authenticated"},
		ResourceAttributes: &attr,
	}}
	got, err := suite.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.Allowed
}
