package diagnose

import (
	"testing"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func forbidden(resource string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", nil)
}

func TestCheckController(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"a leader renewed 2s ago": {func(*State) {}, want{status: StatusOK, message: []string{"antrea-issuer-7d9f_1234", "2s ago"}}},
		"forbidden": {func(s *State) { s.Lease, s.LeaseErr = nil, forbidden("leases") },
			want{status: StatusSkipped, message: []string{"forbidden: you may not read"}}},
		"no Lease": {func(s *State) { s.Lease = nil },
			want{status: StatusWarning, message: []string{"no leader Lease"}, fix: []string{"--issuer-namespace"}}},
		"released": {func(s *State) { s.Lease.Spec.HolderIdentity = ptr.To("") },
			want{status: StatusError, message: []string{"no replica", "holds"}, fix: []string{"logs deployment/antrea-issuer"}}},
		"stale": {func(s *State) { s.Lease.Spec.RenewTime = &metav1.MicroTime{Time: testNow.Add(-5 * time.Minute)} },
			want{status: StatusError, message: []string{"last renewed 5m0s ago"}}},
		"renewed within the Lease's duration": {func(s *State) { s.Lease.Spec.RenewTime = &metav1.MicroTime{Time: testNow.Add(-50 * time.Second)} },
			want{status: StatusOK, message: []string{"50s ago"}}},
		"expired": {func(s *State) { s.Lease.Spec.RenewTime = &metav1.MicroTime{Time: testNow.Add(-61 * time.Second)} },
			want{status: StatusError, message: []string{"last renewed 1m0s ago"}}},
		"expired by its own shorter duration": {func(s *State) {
			s.Lease.Spec.LeaseDurationSeconds = ptr.To[int32](15)
			s.Lease.Spec.RenewTime = &metav1.MicroTime{Time: testNow.Add(-20 * time.Second)}
		}, want{status: StatusError, message: []string{"last renewed 20s ago"}}},
		"never renewed": {func(s *State) { s.Lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("x")} },
			want{status: StatusError}},
	}
	w := newWorld(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkController(s, DefaultOptions()), tc.want)
		})
	}
}

func notReady(reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: 1}}
}

func TestCheckIssuers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"Ready": {func(*State) {}, []want{{status: StatusOK, object: "AntreaClusterIssuer/antrea", message: []string{"Ready (Checked)"}}}},
		"provided CA Secret not found": {func(s *State) {
			s.Issuers[0].Provided = true
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret not found: Secret antrea-issuer/mine")
		}, []want{{status: StatusError, message: []string{"Ready=False (Pending): CA Secret not found: Secret antrea-issuer/mine"},
			fix: []string{"create the CA Secret with tls.crt and tls.key", `row False, Pending, "CA Secret not found"`}}}},
		"CA Secret unusable": {func(s *State) {
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret is not usable: tls.key does not match tls.crt")
		}, []want{{status: StatusError, fix: []string{"fix the CA Secret", `"CA Secret is not usable: …"`}}}},
		"generated CA expired": {func(s *State) {
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret is not usable: the CA certificate expired at 2030-01-01")
		}, []want{{status: StatusError, fix: []string{"delete the CA Secret", "on a generated CA"}}}},
		"provided CA expired is fixed, not deleted": {func(s *State) {
			s.Issuers[0].Provided = true
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret is not usable: the CA certificate expired at 2030-01-01")
		}, []want{{status: StatusError, fix: []string{"fix the CA Secret"}}}},
		"namespace not watched": {func(s *State) {
			s.Certificates[0].Spec.IssuerRef = cmmeta.IssuerReference{Group: "certificates.antrea.io", Kind: KindIssuer, Name: "antrea"}
			s.Issuers = append(s.Issuers, Issuer{Kind: KindIssuer, Namespace: "kube-system", Name: "antrea", Conditions: notReady("Pending", "CA Secret namespace is not watched by antrea-issuer: kube-system")})
		}, []want{
			{status: StatusError, object: "AntreaIssuer/kube-system/antrea", fix: []string{"add namespace kube-system to the chart's caSecretNamespaces"}},
			{status: StatusOK, object: "AntreaClusterIssuer/antrea"},
		}},
		"a CA Secret of another issuer": {func(s *State) {
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret belongs to another issuer: antrea-issuer/shared serves AntreaClusterIssuer/other")
		}, []want{{status: StatusError, fix: []string{"a CA Secret of its own", `"CA Secret belongs to another issuer: … serves <issuer>"`}}}},
		"a provided CA Secret without the opt-in label": {func(s *State) {
			s.Issuers[0].Provided = true
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret is not labelled for antrea-issuer: team/mine")
		}, []want{{status: StatusError, fix: []string{"certificates.antrea.io/ca=true", `"CA Secret is not labelled for antrea-issuer"`}}}},
		"being deleted": {func(s *State) {
			s.Issuers[0].Conditions = notReady("Pending", "the issuer is being deleted and has no CA Secret")
		}, []want{{status: StatusError, fix: []string{"finalizer", `"the issuer is being deleted"`}}}},
		"invalid spec": {func(s *State) { s.Issuers[0].Conditions = notReady("Failed", "policy.dnsNames[0]: bad pattern") },
			[]want{{status: StatusError, fix: []string{"fix the issuer's spec", "kubectl describe antreaclusterissuer antrea", "row False, Failed"}}}},
		"a reason this version does not know flows through": {func(s *State) {
			s.Issuers[0].Conditions = notReady("CASecretForeign", "the CA Secret is owned by AntreaClusterIssuer other")
		}, []want{{status: StatusError, message: []string{"(CASecretForeign): the CA Secret is owned by AntreaClusterIssuer other"},
			fix: []string{"reason CASecretForeign", "kubectl describe antreaclusterissuer antrea"}}}},
		"initializing is a warning": {func(s *State) {
			s.Issuers[0].Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionUnknown, Reason: "Initializing"}}
		}, []want{{status: StatusWarning, fix: []string{"Unknown, Initializing"}}}},
		"no condition yet":       {func(s *State) { s.Issuers[0].Conditions = nil }, []want{{status: StatusError, message: []string{"no Ready condition"}}}},
		"a spec not checked yet": {func(s *State) { s.Issuers[0].Generation = 2 }, []want{{status: StatusOK, message: []string{"generation 1", "now at 2"}}}},
		"the referenced issuer first; another not Ready is a warning": {func(s *State) {
			other := readyClusterIssuer("aaa", w.ca.Cert)
			other.Conditions = notReady("Pending", "CA Secret not found")
			s.Issuers = append([]Issuer{other}, s.Issuers...)
		}, []want{{status: StatusOK, object: "AntreaClusterIssuer/antrea"}, {status: StatusWarning, object: "AntreaClusterIssuer/aaa"}}},
		"without Antrea's Certificate every issuer counts": {func(s *State) {
			s.Certificates = nil
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret not found")
		}, []want{{status: StatusError}}},
		"no issuer": {func(s *State) { s.Issuers = nil }, []want{{status: StatusError, message: []string{"no AntreaClusterIssuer or AntreaIssuer in the cluster"}, fix: []string{"clusterIssuer.enabled=true"}}}},
		"cluster issuers forbidden, namespaced ones listed in two namespaces": {func(s *State) {
			s.Issuers, s.ClusterIssuersErr, s.IssuerNamespaces = nil, forbidden("antreaclusterissuers"), []string{"kube-system", "antrea-issuer"}
		}, []want{{status: StatusSkipped, message: []string{"forbidden: you may not read", "AntreaClusterIssuers"}}}},
		"nothing readable": {func(s *State) {
			s.Issuers, s.ClusterIssuersErr, s.IssuersErr = nil, forbidden("antreaclusterissuers"), forbidden("antreaissuers")
		}, []want{{status: StatusSkipped}, {status: StatusSkipped}}},
		"a foreign issuerRef makes no issuer Antrea's": {func(s *State) {
			s.Certificates[0].Spec.IssuerRef = cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: "ca"}
			s.Issuers[0].Conditions = notReady("Pending", "CA Secret not found")
		}, []want{{status: StatusError}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkIssuers(s, DefaultOptions()), tc.want...)
		})
	}
}

func TestCheckCAExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	day := 24 * time.Hour
	active := func(s *State, notAfter time.Duration) {
		s.Issuers[0].CA.Active.NotAfter = metav1.NewTime(testNow.Add(notAfter))
	}
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"years left":           {func(s *State) { active(s, 1500*day) }, want{status: StatusOK, message: []string{"antrea-issuer-ca@1900000000", "1500 days left"}}},
		"no status.ca":         {func(s *State) { s.Issuers[0].CA = nil }, want{status: StatusSkipped, message: []string{"status.ca"}}},
		"expired generated CA": {func(s *State) { active(s, -day) }, want{status: StatusError, message: []string{"expired"}, fix: []string{"delete the CA Secret"}}},
		"expired provided CA": {func(s *State) { active(s, -day); s.Issuers[0].Provided = true },
			want{status: StatusError, fix: []string{"replace the provided CA"}}},
		"not yet valid": {func(s *State) { s.Issuers[0].CA.Active.NotBefore = metav1.NewTime(testNow.Add(time.Hour)) },
			want{status: StatusError, message: []string{"not valid before"}}},
		"provided CA within 30 days": {func(s *State) { active(s, 20*day); s.Issuers[0].Provided = true },
			want{status: StatusWarning, message: []string{"20 days left"}, fix: []string{"next.tls.crt"}}},
		"provided CA far from expiry": {func(s *State) { active(s, 200*day); s.Issuers[0].Provided = true }, want{status: StatusOK}},
		"rotation due, not started": {func(s *State) { active(s, 300*day) },
			want{status: StatusWarning, message: []string{"rotation is due (renewBefore 8760h0m0s) but has not started"}, fix: []string{"ca-rotation"}}},
		"rotation due under a custom renewBefore": {func(s *State) { active(s, 300*day); s.Issuers[0].RenewBefore = 100 * day }, want{status: StatusOK}},
		"rotation in progress": {func(s *State) {
			active(s, 300*day)
			s.Issuers[0].CA.Phase = "Prepared"
			s.Issuers[0].CA.Next = &CAGeneration{Subject: "CN=next", NotAfter: metav1.NewTime(testNow.Add(1800 * day))}
		}, want{status: StatusOK, message: []string{`next CA "CN=next"`}}},
		"expires before the remaining phases can run": {func(s *State) { active(s, 12*time.Minute) },
			want{status: StatusError, message: []string{"3 remaining rotation phases"}}},
		"the last phase still fits": {func(s *State) {
			active(s, 12*time.Minute)
			s.Issuers[0].CA.Phase = "Activated"
			s.Issuers[0].CA.Next = &CAGeneration{Subject: "CN=next", NotAfter: metav1.NewTime(testNow.Add(1800 * day))}
		}, want{status: StatusOK}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkCAExpiry(s, DefaultOptions()), tc.want)
		})
	}
}

func TestCheckRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	waiting := func(phase string, since time.Duration, msg string) func(*State) {
		return func(s *State) {
			s.Issuers[0].CA.Phase, s.Issuers[0].CA.PhaseSince = phase, metav1.NewTime(testNow.Add(-since))
			s.Issuers[0].Conditions[1] = metav1.Condition{Type: "CARotation", Status: metav1.ConditionTrue, Reason: "Waiting", Message: "Phase " + phase + ": " + msg}
		}
	}
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"steady": {func(*State) {}, []want{{status: StatusOK, message: []string{"phase Steady since", "No CA rotation in progress (Idle)"}}}},
		"waiting, young": {waiting("Prepared", 3*time.Minute, "waiting for 1 Certificate to be re-issued: kube-system/antrea-controller-tls"),
			[]want{{status: StatusOK, message: []string{"phase Prepared", "waiting for 1 Certificate", "kube-system/antrea-controller-tls"}}}},
		"stuck": {waiting("Activated", 3*time.Hour, "waiting for Antrea's CA bundles"),
			[]want{{status: StatusWarning, message: []string{"more than 1h", "waiting for Antrea's CA bundles"}, fix: []string{"kubectl get certificates -A"}}}},
		"stuck is relative to minPhaseDuration": {func(s *State) {
			waiting("Prepared", 3*time.Hour, "waiting")(s)
			s.Issuers[0].MinPhaseDuration = time.Hour
		}, []want{{status: StatusOK}}},
		"no status.ca: no line": {func(s *State) { s.Issuers[0].CA = nil }, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkRotation(s, DefaultOptions()), tc.want...)
		})
	}
}

func TestDecodeIssuer(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		json string
		want Issuer
	}{
		"metav1.Duration's spelling": {
			`{"kind":"AntreaClusterIssuer","metadata":{"name":"a","generation":3},"spec":{"ca":{"generated":{"renewBefore":"8760h0m0s","minPhaseDuration":"5m0s"}}}}`,
			Issuer{Kind: KindClusterIssuer, Name: "a", Generation: 3, RenewBefore: 8760 * time.Hour, MinPhaseDuration: 5 * time.Minute},
		},
		"a plain string, provided": {
			`{"kind":"AntreaIssuer","metadata":{"namespace":"n","name":"b"},"spec":{"ca":{"provided":{"secretName":"s","minPhaseDuration":"1h"}}}}`,
			Issuer{Kind: KindIssuer, Namespace: "n", Name: "b", Provided: true, MinPhaseDuration: time.Hour},
		},
		"an unreadable duration falls back to the default": {
			`{"kind":"AntreaClusterIssuer","metadata":{"name":"c"},"spec":{"ca":{"generated":{"renewBefore":"one year"}}}}`,
			Issuer{Kind: KindClusterIssuer, Name: "c"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeIssuer([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.want.Kind || got.Namespace != tc.want.Namespace || got.Name != tc.want.Name || got.Generation != tc.want.Generation ||
				got.Provided != tc.want.Provided || got.RenewBefore != tc.want.RenewBefore || got.MinPhaseDuration != tc.want.MinPhaseDuration {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("status", func(t *testing.T) {
		t.Parallel()
		got, err := DecodeIssuer([]byte(`{"kind":"AntreaClusterIssuer","metadata":{"name":"a"},"status":{
			"conditions":[{"type":"Ready","status":"False","reason":"Pending","message":"CA Secret not found","lastTransitionTime":"2031-05-17T09:00:00Z"}],
			"ca":{"phase":"Prepared","phaseSince":"2031-05-17T09:00:00Z","active":{"subject":"CN=a","sha256":"ab","notBefore":"2031-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z","certificate":"-----BEGIN CERTIFICATE-----"}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Conditions) != 1 || got.Conditions[0].Message != "CA Secret not found" || got.CA == nil || got.CA.Phase != "Prepared" ||
			got.CA.Active == nil || got.CA.Active.Subject != "CN=a" || got.CA.Active.NotAfter.Year() != 2036 {
			t.Errorf("got %+v (CA %+v)", got, got.CA)
		}
	})
}
