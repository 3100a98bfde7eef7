package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Collector reads a State through the caller's credentials. It only reads (apart from access
// reviews, which change nothing), and never reads a CA Secret.
type Collector struct {
	// Client reads typed and unstructured objects (no cache).
	Client client.Client
	// Kube reads Antrea's Secret as raw JSON and makes access reviews.
	Kube    kubernetes.Interface
	Options Options
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Collect reads everything the checks need. It does not fail: what could not be read is
// recorded beside each field.
func (c *Collector) Collect(ctx context.Context) *State {
	o := c.Options
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	s := &State{Now: now()}
	sel, _ := labels.Parse(o.TargetSelector) // Options.Validate checked it
	byLabel := client.MatchingLabelsSelector{Selector: sel}

	lease := &coordinationv1.Lease{}
	s.Lease, s.LeaseErr = getOrNil(ctx, c.Client, client.ObjectKey{Namespace: o.IssuerNamespace, Name: LeaderElectionLease}, lease)

	var certs cmapi.CertificateList
	if s.CertificatesErr = c.Client.List(ctx, &certs, client.InNamespace(o.AntreaNamespace)); s.CertificatesErr == nil {
		for _, crt := range certs.Items {
			if crt.Spec.SecretName == o.SecretName {
				s.Certificates = append(s.Certificates, crt)
			}
		}
	}
	var reqs cmapi.CertificateRequestList
	if s.RequestsErr = c.Client.List(ctx, &reqs, client.InNamespace(o.AntreaNamespace)); s.RequestsErr == nil {
		s.Requests = reqs.Items
	}
	c.collectIssuers(ctx, s)

	s.Secret, s.SecretErr = c.readSecret(ctx)
	cm := &corev1.ConfigMap{}
	s.ConfigMap, s.ConfigMapErr = getOrNil(ctx, c.Client, client.ObjectKey{Namespace: o.AntreaNamespace, Name: o.ConfigMapName}, cm)

	var as apiregistrationv1.APIServiceList
	if s.APIServicesErr = c.Client.List(ctx, &as, byLabel); s.APIServicesErr == nil {
		s.APIServices = as.Items
	}
	var mw admissionregistrationv1.MutatingWebhookConfigurationList
	if s.MutatingErr = c.Client.List(ctx, &mw, byLabel); s.MutatingErr == nil {
		s.Mutating = mw.Items
	}
	var vw admissionregistrationv1.ValidatingWebhookConfigurationList
	if s.ValidatingErr = c.Client.List(ctx, &vw, byLabel); s.ValidatingErr == nil {
		s.Validating = vw.Items
	}
	var crds apiextensionsv1.CustomResourceDefinitionList
	if s.CRDsErr = c.Client.List(ctx, &crds, byLabel); s.CRDsErr == nil {
		s.CRDs = crds.Items
	}

	s.Approval = c.collectApproval(ctx, s)
	return s
}

// getOrNil gets obj; a missing object is (nil, nil).
func getOrNil[T client.Object](ctx context.Context, c client.Client, key client.ObjectKey, obj T) (T, error) {
	var zero T
	if err := c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return zero, nil
		}
		return zero, err
	}
	return obj, nil
}

// readSecret reads Antrea's Secret as raw JSON and keeps only what DecodeSecret keeps; the
// response buffer, which holds tls.key, is zeroed before returning.
func (c *Collector) readSecret(ctx context.Context) (*AntreaSecret, error) {
	o := c.Options
	raw, err := c.Kube.CoreV1().RESTClient().Get().
		Namespace(o.AntreaNamespace).Resource("secrets").Name(o.SecretName).
		SetHeader("Accept", "application/json").
		DoRaw(ctx)
	defer clear(raw)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodeSecret(raw)
}

// collectIssuers lists both kinds. When the cluster-wide list of AntreaIssuers is forbidden it
// lists them in Antrea's and antrea-issuer's namespaces; when AntreaClusterIssuers may not be
// listed, it still gets the one Antrea's Certificate names.
func (c *Collector) collectIssuers(ctx context.Context, s *State) {
	o := c.Options
	gv := v1alpha1.GroupVersion
	list := func(kind string, opts ...client.ListOption) ([]Issuer, error) {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gv.WithKind(kind + "List"))
		if err := c.Client.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		var out []Issuer
		for _, item := range l.Items {
			iss, err := decodeUnstructuredIssuer(&item)
			if err != nil {
				return nil, err
			}
			out = append(out, iss)
		}
		return out, nil
	}

	cluster, err := list(KindClusterIssuer)
	s.ClusterIssuersErr = err
	if apierrors.IsForbidden(err) {
		if crt := antreaCertificate(s); crt != nil && crt.Spec.IssuerRef.Group == v1alpha1.GroupName && crt.Spec.IssuerRef.Kind == KindClusterIssuer {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gv.WithKind(KindClusterIssuer))
			if c.Client.Get(ctx, client.ObjectKey{Name: crt.Spec.IssuerRef.Name}, u) == nil {
				if iss, err := decodeUnstructuredIssuer(u); err == nil {
					cluster = append(cluster, iss)
				}
			}
		}
	}
	s.Issuers = append(s.Issuers, cluster...)

	namespaced, err := list(KindIssuer)
	if apierrors.IsForbidden(err) {
		var errs []error
		for _, ns := range slices.Compact([]string{o.AntreaNamespace, o.IssuerNamespace}) {
			items, nsErr := list(KindIssuer, client.InNamespace(ns))
			if nsErr != nil {
				errs = append(errs, nsErr)
				continue
			}
			namespaced = append(namespaced, items...)
			s.IssuerNamespaces = append(s.IssuerNamespaces, ns)
		}
		err = nil
		if len(s.IssuerNamespaces) == 0 {
			err = errors.Join(errs...)
		}
	}
	s.IssuersErr = err
	s.Issuers = append(s.Issuers, namespaced...)
}

func decodeUnstructuredIssuer(u *unstructured.Unstructured) (Issuer, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return Issuer{}, err
	}
	iss, err := DecodeIssuer(data)
	if err != nil {
		return Issuer{}, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return iss, nil
}

// collectApproval asks whether cert-manager may approve the signers: a SubjectAccessReview,
// else reading the ClusterRoleBindings and ClusterRoles, else a LocalSubjectAccessReview in
// Antrea's namespace (which a namespace admin may create).
func (c *Collector) collectApproval(ctx context.Context, s *State) ApprovalEvidence {
	o := c.Options
	signers := SignerNames(s)
	user := o.certManagerUser()
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + o.CertManagerNamespace, "system:authenticated"}
	attrs := func(signer, ns string) *authorizationv1.ResourceAttributes {
		return &authorizationv1.ResourceAttributes{Group: "cert-manager.io", Resource: "signers", Verb: "approve", Name: signer, Namespace: ns}
	}

	allowed := map[string]bool{}
	var sarErr error
	for _, sn := range signers {
		r, err := c.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: attrs(sn, "")},
		}, metav1.CreateOptions{})
		if err != nil {
			sarErr = fmt.Errorf("SubjectAccessReview: %w", err)
			break
		}
		allowed[sn] = r.Status.Allowed
	}
	if sarErr == nil {
		return ApprovalEvidence{Method: MethodSAR, Allowed: allowed}
	}

	var crbs rbacv1.ClusterRoleBindingList
	var crs rbacv1.ClusterRoleList
	rbacErr := c.Client.List(ctx, &crbs)
	if rbacErr == nil {
		rbacErr = c.Client.List(ctx, &crs)
	}
	if rbacErr == nil {
		return ApprovalEvidence{Method: MethodRBAC, Bindings: crbs.Items, Roles: crs.Items}
	}
	rbacErr = fmt.Errorf("reading RBAC: %w", rbacErr)

	allowed = map[string]bool{}
	var lsarErr error
	for _, sn := range signers {
		r, err := c.Kube.AuthorizationV1().LocalSubjectAccessReviews(o.AntreaNamespace).Create(ctx, &authorizationv1.LocalSubjectAccessReview{
			ObjectMeta: metav1.ObjectMeta{Namespace: o.AntreaNamespace},
			Spec:       authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: attrs(sn, o.AntreaNamespace)},
		}, metav1.CreateOptions{})
		if err != nil {
			lsarErr = fmt.Errorf("LocalSubjectAccessReview: %w", err)
			break
		}
		allowed[sn] = r.Status.Allowed
	}
	if lsarErr == nil {
		return ApprovalEvidence{Method: MethodLocalSAR, Namespace: o.AntreaNamespace, Allowed: allowed}
	}
	return ApprovalEvidence{Err: errors.Join(sarErr, rbacErr, lsarErr)}
}
