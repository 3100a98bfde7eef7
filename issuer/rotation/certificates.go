package rotation

import (
	"bytes"
	"sort"
	"strconv"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// certificateStates derives, from the CertificateRequests an issuer received, the state of each
// Certificate that uses it: the rotation's view of Certificates comes from the requests the
// issuer controllers already watch, so CA rotation needs no Certificate watch of its own.
//
// A Certificate's current certificate is its issued request of the highest revision; a request
// of a higher revision still pending means cert-manager is issuing it; one that failed or was
// denied after phaseSince means cert-manager backs off, and re-triggering it at every look would
// defeat that back-off. Requests not owned by a Certificate have nothing to re-issue and are
// left out, as are Certificates never issued (they will be issued with the current bundle).
// signedByActive tells whether an issued request's certificate was signed by the active CA.
func certificateStates(crs []cmapi.CertificateRequest, signedByActive func(*cmapi.CertificateRequest) bool, phaseSince time.Time) []certificateState {
	byCert := map[types.NamespacedName][]*cmapi.CertificateRequest{}
	for i := range crs {
		cr := &crs[i]
		name := owningCertificate(cr)
		if name == "" || revision(cr) < 0 {
			continue
		}
		key := types.NamespacedName{Namespace: cr.Namespace, Name: name}
		byCert[key] = append(byCert[key], cr)
	}
	out := make([]certificateState, 0, len(byCert))
	for key, reqs := range byCert {
		sort.Slice(reqs, func(i, j int) bool { return revision(reqs[i]) < revision(reqs[j]) })
		var current *cmapi.CertificateRequest
		for _, cr := range reqs {
			if len(cr.Status.Certificate) > 0 {
				current = cr
			}
		}
		if current == nil {
			continue
		}
		st := certificateState{Key: key, Revision: revision(current), Issued: true, CA: current.Status.CA, SignedByActive: signedByActive(current), IssuedAt: issuedAt(current)}
		for _, cr := range reqs {
			if revision(cr) <= st.Revision {
				continue
			}
			switch failed, at := failure(cr); {
			case failed && !at.Before(phaseSince):
				st.FailedRecently = true
			case !failed && !finished(cr):
				st.Issuing = true
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

// owningCertificate is the name of the Certificate a request was made for: its controller owner,
// as cert-manager sets it.
func owningCertificate(cr *cmapi.CertificateRequest) string {
	for _, ref := range cr.OwnerReferences {
		if ref.Kind == "Certificate" && ref.Controller != nil && *ref.Controller {
			return ref.Name
		}
	}
	return ""
}

// revision is the request's cert-manager revision, or -1 when it has none.
func revision(cr *cmapi.CertificateRequest) int {
	r, err := strconv.Atoi(cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey])
	if err != nil {
		return -1
	}
	return r
}

// issuedAt is when a request was signed: its Ready condition's transition to True (to the
// second, as the API stores it); zero when it does not say.
func issuedAt(cr *cmapi.CertificateRequest) time.Time {
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil && c.Status == cmmeta.ConditionTrue && c.LastTransitionTime != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// failure reports whether a request failed or was denied, and when.
func failure(cr *cmapi.CertificateRequest) (bool, time.Time) {
	for _, c := range cr.Status.Conditions {
		switch {
		case c.Type == cmapi.CertificateRequestConditionDenied && c.Status == cmmeta.ConditionTrue,
			c.Type == cmapi.CertificateRequestConditionReady && c.Status == cmmeta.ConditionFalse &&
				(c.Reason == cmapi.CertificateRequestReasonFailed || c.Reason == cmapi.CertificateRequestReasonDenied):
			at := time.Time{}
			if c.LastTransitionTime != nil {
				at = c.LastTransitionTime.Time
			}
			if cr.Status.FailureTime != nil {
				at = cr.Status.FailureTime.Time
			}
			return true, at
		}
	}
	return false, time.Time{}
}

// finished reports whether a request reached a final state (issued, failed, denied, invalid).
func finished(cr *cmapi.CertificateRequest) bool {
	if len(cr.Status.Certificate) > 0 {
		return true
	}
	for _, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionInvalidRequest && c.Status == cmmeta.ConditionTrue {
			return true
		}
	}
	failed, _ := failure(cr)
	return failed
}

// requestEventMatters passes the CertificateRequest events that can change what
// certificateStates derives: a request of a Certificate created or deleted, or one whose owner,
// revision, certificate, CA or outcome changed. The approval and issuer-lib's Initializing
// condition change none of these: with two of a request's four updates filtered out, and
// requests that no Certificate owns ignored, the rotation looks at requests only when their
// Certificates' state can have moved (measured in docs/benchmarks.md).
var requestEventMatters = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return ofCertificate(e.Object) },
	DeleteFunc: func(e event.DeleteEvent) bool { return ofCertificate(e.Object) },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*cmapi.CertificateRequest)
		cur, okNew := e.ObjectNew.(*cmapi.CertificateRequest)
		if !okOld || !okNew {
			return true
		}
		if !ofCertificate(old) && !ofCertificate(cur) {
			return false
		}
		return stateChanged(old, cur)
	},
	GenericFunc: func(event.GenericEvent) bool { return true },
}

// ofCertificate reports whether o is a request certificateStates can use: a CertificateRequest
// of a Certificate, with a revision (anything else passes, to be safe).
func ofCertificate(o any) bool {
	cr, ok := o.(*cmapi.CertificateRequest)
	return !ok || owningCertificate(cr) != "" && revision(cr) >= 0
}

// stateChanged reports whether anything certificateStates reads differs between two versions of
// a request.
func stateChanged(old, cur *cmapi.CertificateRequest) bool {
	if old.Spec.IssuerRef != cur.Spec.IssuerRef || owningCertificate(old) != owningCertificate(cur) || revision(old) != revision(cur) {
		return true
	}
	if !bytes.Equal(old.Status.Certificate, cur.Status.Certificate) || !bytes.Equal(old.Status.CA, cur.Status.CA) {
		return true
	}
	oldFailed, oldAt := failure(old)
	curFailed, curAt := failure(cur)
	return oldFailed != curFailed || !oldAt.Equal(curAt) || finished(old) != finished(cur)
}
