package issuer

import (
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// TestRequestEventFilter: the CertificateRequest controller sees every event issuer-lib acts on,
// and not those it would read and ignore.
func TestRequestEventFilter(t *testing.T) {
	t.Parallel()
	request := func(group string, conds ...cmapi.CertificateRequestConditionType) *cmapi.CertificateRequest {
		cr := &cmapi.CertificateRequest{Spec: cmapi.CertificateRequestSpec{
			IssuerRef: cmmeta.IssuerReference{Group: group, Kind: v1alpha1.AntreaClusterIssuerKind.Name, Name: "ca"},
		}}
		for _, c := range conds {
			cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{Type: c, Status: cmmeta.ConditionTrue})
		}
		return cr
	}
	ours, theirs := v1alpha1.GroupName, "cert-manager.io"
	for name, tc := range map[string]struct {
		create, update, delete bool
		cr                     *cmapi.CertificateRequest
	}{
		"ours, not yet approved":  {cr: request(ours), create: false, update: true, delete: true},
		"ours, approved":          {cr: request(ours, cmapi.CertificateRequestConditionApproved), create: true, update: true, delete: true},
		"ours, denied":            {cr: request(ours, cmapi.CertificateRequestConditionDenied), create: true, update: true, delete: true},
		"another issuer's":        {cr: request(theirs), create: false, update: false, delete: false},
		"another issuer's, ready": {cr: request(theirs, cmapi.CertificateRequestConditionApproved, cmapi.CertificateRequestConditionReady)},
		"ours, group left empty":  {cr: request(""), create: false, update: false, delete: false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := requestEventFilter.Create(event.CreateEvent{Object: tc.cr}); got != tc.create {
				t.Errorf("Create = %v, want %v", got, tc.create)
			}
			if got := requestEventFilter.Update(event.UpdateEvent{ObjectOld: tc.cr, ObjectNew: tc.cr}); got != tc.update {
				t.Errorf("Update = %v, want %v", got, tc.update)
			}
			if got := requestEventFilter.Delete(event.DeleteEvent{Object: tc.cr}); got != tc.delete {
				t.Errorf("Delete = %v, want %v", got, tc.delete)
			}
		})
	}
	t.Run("issuers pass", func(t *testing.T) {
		t.Parallel()
		iss := &v1alpha1.AntreaClusterIssuer{}
		if !requestEventFilter.Create(event.CreateEvent{Object: iss}) || !requestEventFilter.Update(event.UpdateEvent{ObjectOld: iss, ObjectNew: iss}) {
			t.Error("an issuer event was filtered out")
		}
	})
}
