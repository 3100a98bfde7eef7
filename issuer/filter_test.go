package issuer

import (
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// TestRequestEventFilter: the CertificateRequest controller sees every event issuer-lib acts on,
// and not those it would read and ignore.
func TestRequestEventFilter(t *testing.T) {
	t.Parallel()
	approved := cmapi.CertificateRequestCondition{Type: cmapi.CertificateRequestConditionApproved, Status: cmmeta.ConditionTrue}
	denied := cmapi.CertificateRequestCondition{Type: cmapi.CertificateRequestConditionDenied, Status: cmmeta.ConditionTrue}
	ready := func(status cmmeta.ConditionStatus, reason string) cmapi.CertificateRequestCondition {
		return cmapi.CertificateRequestCondition{Type: cmapi.CertificateRequestConditionReady, Status: status, Reason: reason}
	}
	request := func(group string, conds ...cmapi.CertificateRequestCondition) *cmapi.CertificateRequest {
		return &cmapi.CertificateRequest{
			Spec: cmapi.CertificateRequestSpec{
				IssuerRef: cmmeta.IssuerReference{Group: group, Kind: v1alpha1.AntreaClusterIssuerKind.Name, Name: "ca"},
			},
			Status: cmapi.CertificateRequestStatus{Conditions: conds},
		}
	}
	ours, theirs := v1alpha1.GroupName, "cert-manager.io"
	for name, tc := range map[string]struct {
		create, update bool
		cr             *cmapi.CertificateRequest
	}{
		"ours, not yet approved": {cr: request(ours), create: false, update: true},
		"ours, approved":         {cr: request(ours, approved), create: true, update: true},
		"ours, denied":           {cr: request(ours, denied), create: true, update: true},
		"ours, initializing":     {cr: request(ours, approved, ready(cmmeta.ConditionUnknown, "Initializing")), create: true, update: true},
		"ours, pending":          {cr: request(ours, approved, ready(cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending)), create: true, update: true},
		// issuer-lib is done with these: Ready, failed, or denied and said so.
		"ours, issued":               {cr: request(ours, approved, ready(cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued))},
		"ours, failed":               {cr: request(ours, approved, ready(cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed))},
		"ours, denied and marked so": {cr: request(ours, denied, ready(cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied))},
		"another issuer's":           {cr: request(theirs), create: false, update: false},
		"another issuer's, approved": {cr: request(theirs, approved)},
		"ours, group left empty":     {cr: request(""), create: false, update: false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := requestEventFilter.Create(event.CreateEvent{Object: tc.cr}); got != tc.create {
				t.Errorf("Create = %v, want %v", got, tc.create)
			}
			if got := requestEventFilter.Update(event.UpdateEvent{ObjectOld: tc.cr, ObjectNew: tc.cr}); got != tc.update {
				t.Errorf("Update = %v, want %v", got, tc.update)
			}
			// issuer-lib finds a deleted request gone, and does nothing.
			if requestEventFilter.Delete(event.DeleteEvent{Object: tc.cr}) {
				t.Error("Delete = true, want false")
			}
		})
	}
	t.Run("other objects pass", func(t *testing.T) {
		t.Parallel()
		// Issuers, and Antrea's configuration: its deletion too wakes held requests.
		for _, o := range []client.Object{&v1alpha1.AntreaClusterIssuer{}, &corev1.ConfigMap{}} {
			if !requestEventFilter.Create(event.CreateEvent{Object: o}) || !requestEventFilter.Update(event.UpdateEvent{ObjectOld: o, ObjectNew: o}) ||
				!requestEventFilter.Delete(event.DeleteEvent{Object: o}) {
				t.Errorf("an event of a %T was filtered out", o)
			}
		}
	})
}
