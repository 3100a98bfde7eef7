package rotation

import (
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

type requestOption func(*cmapi.CertificateRequest)

// request builds a CertificateRequest of revision 1 of Certificate "web", approved, with opts.
func request(opts ...requestOption) *cmapi.CertificateRequest {
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "web-1",
			Annotations:     map[string]string{cmapi.CertificateRequestRevisionAnnotationKey: "1"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Certificate", Name: "web", Controller: ptr.To(true)}},
		},
		Spec: cmapi.CertificateRequestSpec{IssuerRef: cmmeta.IssuerReference{Group: "certificates.antrea.io", Kind: "AntreaClusterIssuer", Name: "ca"}},
		Status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{
			{Type: cmapi.CertificateRequestConditionApproved, Status: cmmeta.ConditionTrue},
		}},
	}
	for _, o := range opts {
		o(cr)
	}
	return cr
}

func withoutOwner() requestOption {
	return func(cr *cmapi.CertificateRequest) { cr.OwnerReferences = nil }
}

func withRevision(r string) requestOption {
	return func(cr *cmapi.CertificateRequest) {
		cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey] = r
	}
}

func withReady(status cmmeta.ConditionStatus, reason string, at time.Time) requestOption {
	return func(cr *cmapi.CertificateRequest) {
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: cmapi.CertificateRequestConditionReady, Status: status, Reason: reason, LastTransitionTime: &metav1.Time{Time: at},
		})
	}
}

func withCertificate(cert, ca string) requestOption {
	return func(cr *cmapi.CertificateRequest) {
		cr.Status.Certificate, cr.Status.CA = []byte(cert), []byte(ca)
	}
}

func withLabel() requestOption {
	return func(cr *cmapi.CertificateRequest) { cr.Labels = map[string]string{"any": "label"} }
}

// TestRequestEventMatters: the rotation looks at a request event only when what it derives from
// requests (certificateStates) can have changed.
func TestRequestEventMatters(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	updates := map[string]struct {
		old, cur *cmapi.CertificateRequest
		want     bool
	}{
		"issuer-lib's Initializing condition": {
			old: request(), cur: request(withReady(cmmeta.ConditionUnknown, "Initializing", at)), want: false,
		},
		"the approval": {
			old: request(func(cr *cmapi.CertificateRequest) { cr.Status.Conditions = nil }), cur: request(), want: false,
		},
		"labels only": {old: request(), cur: request(withLabel()), want: false},
		"issued": {
			old:  request(withReady(cmmeta.ConditionUnknown, "Initializing", at)),
			cur:  request(withReady(cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, at), withCertificate("leaf", "ca")),
			want: true,
		},
		"failed": {
			old:  request(withReady(cmmeta.ConditionUnknown, "Initializing", at)),
			cur:  request(withReady(cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, at)),
			want: true,
		},
		"CA changed": {
			old: request(withCertificate("leaf", "ca")), cur: request(withCertificate("leaf", "ca2")), want: true,
		},
		"revision changed": {old: request(), cur: request(withRevision("2")), want: true},
		"owner removed":    {old: request(), cur: request(withoutOwner()), want: true},
		"request of no Certificate, issued": {
			old:  request(withoutOwner()),
			cur:  request(withoutOwner(), withCertificate("leaf", "ca")),
			want: false,
		},
		"request without a revision": {
			old: request(withRevision("")), cur: request(withRevision(""), withCertificate("leaf", "ca")), want: false,
		},
	}
	for name, tc := range updates {
		t.Run("update: "+name, func(t *testing.T) {
			t.Parallel()
			if got := requestEventMatters.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.cur}); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
	for name, tc := range map[string]struct {
		cr   *cmapi.CertificateRequest
		want bool
	}{
		"request of a Certificate":   {cr: request(), want: true},
		"request of no Certificate":  {cr: request(withoutOwner()), want: false},
		"request without a revision": {cr: request(withRevision("x")), want: false},
	} {
		t.Run("create and delete: "+name, func(t *testing.T) {
			t.Parallel()
			if got := requestEventMatters.Create(event.CreateEvent{Object: tc.cr}); got != tc.want {
				t.Errorf("Create = %v, want %v", got, tc.want)
			}
			if got := requestEventMatters.Delete(event.DeleteEvent{Object: tc.cr}); got != tc.want {
				t.Errorf("Delete = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("other kinds pass", func(t *testing.T) {
		t.Parallel()
		if !requestEventMatters.Create(event.CreateEvent{Object: &corev1.Secret{}}) {
			t.Error("a Secret was filtered out")
		}
	})
}

func TestCertificateStates(t *testing.T) {
	t.Parallel()
	phaseSince := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	issued1 := phaseSince.Add(-time.Hour)
	issued2 := phaseSince.Add(time.Minute)
	rev := func(r string, opts ...requestOption) cmapi.CertificateRequest {
		cr := request(append([]requestOption{withRevision(r)}, opts...)...)
		cr.Name = "web-" + r
		return *cr
	}
	states := certificateStates([]cmapi.CertificateRequest{
		rev("1", withReady(cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, issued1), withCertificate("leaf-1", "ca-1")),
		rev("2", withReady(cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, issued2), withCertificate("leaf-2", "ca-2")),
		rev("3"), // cert-manager issuing the next one
	}, func(cr *cmapi.CertificateRequest) bool { return string(cr.Status.Certificate) == "leaf-2" }, phaseSince)
	if len(states) != 1 {
		t.Fatalf("states = %+v, want one Certificate", states)
	}
	got := states[0]
	if got.Revision != 2 || !got.Issued || !got.Issuing || got.FailedRecently || string(got.CA) != "ca-2" || !got.SignedByActive || !got.IssuedAt.Equal(issued2) {
		t.Errorf("state = %+v, want revision 2 issued at %s, signed by the active CA, issuing the next", got, issued2)
	}
}
