package diagnose

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// CheckApproval: cert-manager may approve antrea-issuer's CertificateRequests.
const CheckApproval = "approval"

// signerPrefix is "<plural>.<group>" of each issuer kind: cert-manager's approver lets a
// request through when its ServiceAccount may `approve` `signers` named "<prefix>/*" or
// "<prefix>/<issuer>" (for a namespaced issuer "<prefix>/<namespace>.<name>").
var signerPrefix = map[string]string{
	KindClusterIssuer: "antreaclusterissuers." + v1alpha1.GroupName,
	KindIssuer:        "antreaissuers." + v1alpha1.GroupName,
}

// approvalQuery is what to ask for one issuer kind: any one of signers allowed suffices.
type approvalQuery struct {
	kind    string
	signers []string // signers[0] is the kind's wildcard
}

// approvalQueries are the kinds whose requests must be approvable: the kind Antrea's Certificate
// uses and every kind with an issuer; both kinds when neither is known.
func approvalQueries(s *State) []approvalQuery {
	kinds := map[string]bool{}
	ref := referencedIssuer(s)
	for _, iss := range s.Issuers {
		kinds[iss.Kind] = true
	}
	var specific string
	if crt := antreaCertificate(s); ref != "" && crt != nil {
		kinds[crt.Spec.IssuerRef.Kind] = true
		name := crt.Spec.IssuerRef.Name
		if crt.Spec.IssuerRef.Kind == KindIssuer {
			name = crt.Namespace + "." + name
		}
		specific = signerPrefix[crt.Spec.IssuerRef.Kind] + "/" + name
	}
	if len(kinds) == 0 {
		kinds[KindClusterIssuer], kinds[KindIssuer] = true, true
	}
	var out []approvalQuery
	for _, k := range []string{KindClusterIssuer, KindIssuer} {
		if !kinds[k] {
			continue
		}
		q := approvalQuery{kind: k, signers: []string{signerPrefix[k] + "/*"}}
		if strings.HasPrefix(specific, signerPrefix[k]+"/") {
			q.signers = append(q.signers, specific)
		}
		out = append(out, q)
	}
	return out
}

// SignerNames are every signer name an access review should be made for.
func SignerNames(s *State) []string {
	var out []string
	for _, q := range approvalQueries(s) {
		out = append(out, q.signers...)
	}
	return out
}

// checkApproval reads the evidence the collector gathered, one line per issuer kind.
func checkApproval(s *State, o Options) []Result {
	ev := s.Approval
	user := o.certManagerUser()
	if ev.Method == "" {
		err := ev.Err
		if err == nil {
			err = fmt.Errorf("no access review made")
		}
		return []Result{unreadable(CheckApproval, "", "whether "+user+" may approve (SubjectAccessReview, ClusterRoleBindings and LocalSubjectAccessReview all failed)", err)}
	}
	fix := fmt.Sprintf("grant it: the chart's certManager.approverRBAC.enabled=true, with certManager.serviceAccount.name/namespace equal to the ServiceAccount cert-manager runs as "+
		"(kubectl -n %s get deployment cert-manager -o jsonpath='{.spec.template.spec.serviceAccountName}'), or config/rbac/cert-manager-approver.yaml; "+
		"if cert-manager runs as another ServiceAccount, pass --cert-manager-namespace/--cert-manager-service-account %s",
		o.CertManagerNamespace, row("CertificateRequests", "False, Pending"))
	var out []Result
	for _, q := range approvalQueries(s) {
		allowed, how := false, ""
		switch ev.Method {
		case MethodSAR, MethodLocalSAR:
			for _, sn := range q.signers {
				if ev.Allowed[sn] {
					allowed = true
					break
				}
			}
			how = "verified with a SubjectAccessReview"
			if ev.Method == MethodLocalSAR {
				how = fmt.Sprintf("verified with a LocalSubjectAccessReview in namespace %s, as a cluster-wide SubjectAccessReview and reading ClusterRoleBindings are forbidden to you; "+
					"a RoleBinding there granting it would also count", ev.Namespace)
			}
		case MethodRBAC:
			var binding, role string
			for _, sn := range q.signers {
				if binding, role, allowed = rbacAllows(ev.Bindings, ev.Roles, o.CertManagerNamespace, o.CertManagerServiceAccount, sn); allowed {
					break
				}
			}
			how = "read from the ClusterRoleBindings and ClusterRoles, as a SubjectAccessReview is forbidden to you; authorizers other than RBAC are not seen"
			if allowed {
				how = fmt.Sprintf("granted by ClusterRoleBinding %s to ClusterRole %s; %s", binding, role, how)
			}
		}
		if allowed {
			out = append(out, ok(CheckApproval, "", "%s may approve signers %s (%s)", user, q.signers[0], how))
			continue
		}
		out = append(out, problem(CheckApproval, StatusError, "", fix,
			"%s may not approve signers %s: CertificateRequests for %ss stay unapproved (%s)", user, strings.Join(q.signers, " or "), q.kind, how))
	}
	return out
}

// rbacAllows reports whether a ClusterRoleBinding binds the ServiceAccount ns/name (directly, as
// its user name, or through its groups) to a ClusterRole letting it approve signer.
func rbacAllows(bindings []rbacv1.ClusterRoleBinding, roles []rbacv1.ClusterRole, ns, name, signer string) (binding, role string, ok bool) {
	for _, b := range bindings {
		if b.RoleRef.Kind != "ClusterRole" || !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return subjectIs(s, ns, name) }) {
			continue
		}
		i := slices.IndexFunc(roles, func(r rbacv1.ClusterRole) bool { return r.Name == b.RoleRef.Name })
		if i < 0 {
			continue
		}
		for _, r := range roles[i].Rules {
			if ruleAllowsApprove(r, signer) {
				return b.Name, roles[i].Name, true
			}
		}
	}
	return "", "", false
}

func subjectIs(s rbacv1.Subject, ns, name string) bool {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return s.Namespace == ns && s.Name == name
	case rbacv1.UserKind:
		return s.Name == "system:serviceaccount:"+ns+":"+name
	case rbacv1.GroupKind:
		return s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+ns || s.Name == "system:authenticated"
	}
	return false
}

func ruleAllowsApprove(r rbacv1.PolicyRule, signer string) bool {
	has := func(list []string, v string) bool {
		return slices.Contains(list, v) || slices.Contains(list, rbacv1.ResourceAll)
	}
	return has(r.APIGroups, "cert-manager.io") && has(r.Resources, "signers") && has(r.Verbs, "approve") &&
		(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, signer))
}
