package diagnose

import (
	"errors"
	"slices"
	"testing"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	clusterWildcard = "antreaclusterissuers.certificates.antrea.io/*"
	issuerWildcard  = "antreaissuers.certificates.antrea.io/*"
)

// approverRBAC is what the chart installs: config/rbac/cert-manager-approver.yaml.
func approverRBAC(subject rbacv1.Subject, resourceNames ...string) ApprovalEvidence {
	return ApprovalEvidence{
		Method: MethodRBAC,
		Bindings: []rbacv1.ClusterRoleBinding{
			{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "system:masters"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "antrea-issuer:cert-manager-approver"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "antrea-issuer:cert-manager-approver"},
				Subjects: []rbacv1.Subject{subject}},
		},
		Roles: []rbacv1.ClusterRole{
			{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "antrea-issuer:cert-manager-approver"}, Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"approve"}, ResourceNames: resourceNames},
			}},
		},
	}
}

func TestCheckApproval(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	certManager := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "cert-manager", Name: "cert-manager"}
	both := []string{issuerWildcard, clusterWildcard}
	tests := map[string]struct {
		mutate func(*State)
		opts   func(*Options)
		want   []want
	}{
		"SubjectAccessReview allows": {func(*State) {}, nil,
			[]want{{status: StatusOK, message: []string{"system:serviceaccount:cert-manager:cert-manager may approve signers " + clusterWildcard, "SubjectAccessReview"}}}},
		"SubjectAccessReview allows only the issuer's own name": {func(s *State) {
			s.Approval.Allowed = map[string]bool{"antreaclusterissuers.certificates.antrea.io/antrea": true}
		}, nil, []want{{status: StatusOK}}},
		"SubjectAccessReview denies": {func(s *State) { s.Approval.Allowed = map[string]bool{} }, nil,
			[]want{{status: StatusError, message: []string{"may not approve signers " + clusterWildcard + " or antreaclusterissuers.certificates.antrea.io/antrea", "AntreaClusterIssuers stay unapproved"},
				fix: []string{"certManager.approverRBAC.enabled=true", "config/rbac/cert-manager-approver.yaml", "row False, Pending"}}}},
		"both kinds when both have issuers": {func(s *State) {
			s.Issuers = append(s.Issuers, Issuer{Kind: KindIssuer, Namespace: "team", Name: "x"})
			s.Approval = approverRBAC(certManager, both...)
		}, nil, []want{{status: StatusOK, message: []string{clusterWildcard}}, {status: StatusOK, message: []string{issuerWildcard}}}},
		"RBAC read: granted by the chart's role": {func(s *State) { s.Approval = approverRBAC(certManager, both...) }, nil,
			[]want{{status: StatusOK, message: []string{"granted by ClusterRoleBinding antrea-issuer:cert-manager-approver", "SubjectAccessReview is forbidden"}}}},
		"RBAC read: bound to another ServiceAccount": {func(s *State) {
			s.Approval = approverRBAC(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "cert-manager", Name: "cm"}, both...)
		}, nil, []want{{status: StatusError, message: []string{"read from the ClusterRoleBindings"}}}},
		"RBAC read: diagnose told of another ServiceAccount": {func(s *State) {
			s.Approval = approverRBAC(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "certs", Name: "cm"}, both...)
		}, func(o *Options) { o.CertManagerNamespace, o.CertManagerServiceAccount = "certs", "cm" }, []want{{status: StatusOK}}},
		"RBAC read: through the namespace's group": {func(s *State) {
			s.Approval = approverRBAC(rbacv1.Subject{Kind: rbacv1.GroupKind, Name: "system:serviceaccounts:cert-manager"}, both...)
		}, nil, []want{{status: StatusOK}}},
		"RBAC read: as a user name": {func(s *State) {
			s.Approval = approverRBAC(rbacv1.Subject{Kind: rbacv1.UserKind, Name: "system:serviceaccount:cert-manager:cert-manager"}, both...)
		}, nil, []want{{status: StatusOK}}},
		"RBAC read: other signers only": {func(s *State) { s.Approval = approverRBAC(certManager, "issuers.cert-manager.io/*") }, nil,
			[]want{{status: StatusError}}},
		"RBAC read: every signer": {func(s *State) { s.Approval = approverRBAC(certManager) }, nil, []want{{status: StatusOK}}},
		"RBAC read: a look-alike name": {func(s *State) {
			s.Approval = approverRBAC(certManager, "antreaclusterissuers.certificates.antrea.io.evil.com/*")
		}, nil,
			[]want{{status: StatusError}}},
		"LocalSubjectAccessReview": {func(s *State) {
			s.Approval = ApprovalEvidence{Method: MethodLocalSAR, Namespace: "kube-system", Allowed: map[string]bool{clusterWildcard: true}}
		}, nil, []want{{status: StatusOK, message: []string{"LocalSubjectAccessReview in namespace kube-system", "RoleBinding there"}}}},
		"nothing allowed to the caller": {func(s *State) {
			s.Approval = ApprovalEvidence{Err: errors.Join(forbidden("subjectaccessreviews"), forbidden("clusterrolebindings"), forbidden("localsubjectaccessreviews"))}
		}, nil, []want{{status: StatusSkipped, message: []string{"forbidden: you may not read"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			o := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			expect(t, checkApproval(s, o), tc.want...)
		})
	}
}

func TestSignerNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := map[string]struct {
		mutate func(*State)
		want   []string
	}{
		"the cluster issuer Antrea uses": {func(*State) {}, []string{clusterWildcard, "antreaclusterissuers.certificates.antrea.io/antrea"}},
		"a namespaced issuer Antrea uses, and a cluster issuer": {func(s *State) {
			s.Certificates[0].Spec.IssuerRef = cmmeta.IssuerReference{Group: "certificates.antrea.io", Kind: KindIssuer, Name: "mine"}
		}, []string{clusterWildcard, issuerWildcard, "antreaissuers.certificates.antrea.io/kube-system.mine"}},
		"nothing known: both kinds": {func(s *State) { s.Issuers, s.Certificates = nil, nil }, []string{clusterWildcard, issuerWildcard}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			if got := SignerNames(s); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
