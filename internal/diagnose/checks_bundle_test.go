package diagnose

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"antrea.io/antrea-issuer/internal/testpki"
)

func TestCheckMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	antreaCA := newTestCA(t, "antrea-ca@1700000000", nil)
	antreaLeaf := newLeaf(t, antreaCA)
	selfSigned := testpki.Concat(antreaLeaf.CertPEM, antreaCA.CertPEM)
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"cert-manager's shape": {func(*State) {}, want{status: StatusOK, message: []string{"selfSignedCert: false"}}},
		"tls.crt without ca.crt, issued by antrea-ca@": {func(s *State) {
			s.Secret.CA, s.Secret.TLS = nil, selfSigned
			s.Secret.Keys[keyCA] = false
		}, want{status: StatusError, message: []string{"(SelfSignedMode)", `"antrea-ca@1700000000"`},
			fix: []string{"selfSignedCert: false", "re-issues", docAntreaSide, docTakeover}}},
		"tls.crt without ca.crt, another issuer": {func(s *State) { s.Secret.CA = nil }, want{status: StatusError, message: []string{"(SelfSignedMode)"}}},
		"tls.crt not chaining to a stale ca.crt": {func(s *State) { s.Secret.TLS = selfSigned },
			want{status: StatusError, message: []string{"(CertificateNotChained)", "antrea-ca@1700000000"}, fix: []string{"selfSignedCert: false"}}},
		"antrea-ca holds the served tls.crt verbatim": {func(s *State) {
			s.Secret.TLS = testpki.Concat(w.leaf.CertPEM, w.ca.CertPEM)
			s.ConfigMap.Data["ca.crt"] = string(s.Secret.TLS)
		}, want{status: StatusWarning, message: []string{"is in ConfigMap/kube-system/antrea-ca", "Clients trust it", "90 days"}, fix: []string{"selfSignedCert: false", "publishes ca.crt itself"}}},
		"a webhook holds the served tls.crt verbatim": {func(s *State) {
			s.Mutating[0].Webhooks[1].ClientConfig.CABundle = s.Secret.TLS
		}, want{status: StatusWarning, message: []string{"is in MutatingWebhookConfiguration/crdmutator.antrea.io webhook annpmutator.antrea.io"}}},
		"a target holds an older leaf and the CA (Antrea republishes after a renewal)": {func(s *State) {
			s.APIServices[1].Spec.CABundle = testpki.Concat(newLeaf(t, w.ca).CertPEM, w.ca.CertPEM)
		}, want{status: StatusWarning, message: []string{"is in APIService/v1beta1.system.antrea.io"}}},
		"an APIService holds Antrea's own CA": {func(s *State) {
			s.APIServices[0].Spec.CABundle = antreaCA.CertPEM
		}, want{status: StatusError, message: []string{`Antrea's own self-signed CA is in APIService/v1beta2.controlplane.antrea.io ("antrea-ca@1700000000")`}}},
		"targets of another namespace do not count": {func(s *State) {
			s.APIServices = append(s.APIServices, apiService("v1.other.example", "elsewhere", s.Secret.TLS, apiregistrationv1.ConditionTrue, "", ""))
		}, want{status: StatusOK}},
		"no keys yet":        {func(s *State) { s.Secret.CA, s.Secret.TLS = nil, nil }, want{status: StatusSkipped, message: []string{"CAMissing"}}},
		"no Secret":          {func(s *State) { s.Secret = nil }, want{status: StatusSkipped}},
		"Secret forbidden":   {func(s *State) { s.Secret, s.SecretErr = nil, forbidden("secrets") }, want{status: StatusSkipped, message: []string{"forbidden"}}},
		"unparsable ca.crt":  {func(s *State) { s.Secret.CA = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }, want{status: StatusError, message: []string{"refuses"}}},
		"unparsable tls.crt": {func(s *State) { s.Secret.TLS = []byte("junk") }, want{status: StatusError, message: []string{"ServingCertInvalid"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkMode(s, DefaultOptions()), tc.want)
		})
	}
}

func TestCheckConfigMap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := newTestCA(t, "old-ca", nil)
	tests := map[string]struct {
		mutate func(*State)
		want   want
	}{
		"equal": {func(*State) {}, want{status: StatusOK, object: "ConfigMap/kube-system/antrea-ca", message: []string{"sha256:", `"antrea-issuer-ca@1900000000"`}}},
		"differs": {func(s *State) { s.ConfigMap.Data["ca.crt"] = string(other.CertPEM) },
			want{status: StatusError, message: []string{`"old-ca"`, `"antrea-issuer-ca@1900000000"`}, fix: []string{"CA bundle sync", "involvedObject.name=antrea-controller-tls"}}},
		"empty": {func(s *State) { s.ConfigMap.Data = nil }, want{status: StatusError, message: []string{"ca.crt is empty"}}},
		"the served leaf and the CA trust exactly ca.crt": {func(s *State) { s.ConfigMap.Data["ca.crt"] = string(testpki.Concat(w.leaf.CertPEM, w.ca.CertPEM)) },
			want{status: StatusOK, message: []string{"trusts exactly the Secret's ca.crt", "selfSignedCert: true"}}},
		"an extra CA": {func(s *State) { s.ConfigMap.Data["ca.crt"] = string(testpki.Concat(w.ca.CertPEM, other.CertPEM)) }, want{status: StatusError}},
		"a leaf of another CA": {func(s *State) {
			s.ConfigMap.Data["ca.crt"] = string(testpki.Concat(newLeaf(t, other).CertPEM, w.ca.CertPEM))
		}, want{status: StatusError}},
		"missing":   {func(s *State) { s.ConfigMap = nil }, want{status: StatusError, message: []string{"does not exist", "#3167"}}},
		"forbidden": {func(s *State) { s.ConfigMap, s.ConfigMapErr = nil, forbidden("configmaps") }, want{status: StatusSkipped}},
		"no ca.crt": {func(s *State) { s.Secret.CA = nil }, want{status: StatusSkipped}},
		"another name": {func(s *State) {
			s.ConfigMap = &corev1.ConfigMap{Data: map[string]string{"ca.crt": string(w.ca.CertPEM)}}
		},
			want{status: StatusOK, object: "ConfigMap/kube-system/antrea-ca"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkConfigMap(s, DefaultOptions()), tc.want)
		})
	}
}

func TestCheckBundles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := newTestCA(t, "old-ca", nil)
	allOK := []want{
		{status: StatusOK, object: "APIService/v1beta2.controlplane.antrea.io"},
		{status: StatusOK, object: "APIService/v1beta1.system.antrea.io"},
		{status: StatusOK, object: "APIService/v1alpha1.stats.antrea.io"},
		{status: StatusOK, object: "MutatingWebhookConfiguration/crdmutator.antrea.io", message: []string{"each of its 2 webhooks"}},
		{status: StatusOK, object: "ValidatingWebhookConfiguration/crdvalidator.antrea.io"},
		{status: StatusOK, object: "CustomResourceDefinition/ippools.crd.antrea.io"},
	}
	with := func(i int, w want) []want {
		out := append([]want(nil), allOK...)
		out[i] = w
		return out
	}
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"all carry ca.crt": {func(*State) {}, allOK},
		"an APIService with another CA": {func(s *State) { s.APIServices[0].Spec.CABundle = other.CertPEM },
			with(0, want{status: StatusError, object: "APIService/v1beta2.controlplane.antrea.io", message: []string{`caBundle is sha256:`, `"old-ca"`}, fix: []string{"CA bundle sync"}})},
		"a webhook holding the served leaf and the CA": {func(s *State) {
			s.Mutating[0].Webhooks[1].ClientConfig.CABundle = testpki.Concat(w.leaf.CertPEM, w.ca.CertPEM)
		},
			with(3, want{status: StatusOK, message: []string{"trusts exactly the Secret's ca.crt", "antrea-mode"}})},
		"one webhook of two empty": {func(s *State) { s.Mutating[0].Webhooks[0].ClientConfig.CABundle = nil },
			with(3, want{status: StatusError, message: []string{"webhook acnpmutator.antrea.io holds empty"}})},
		"the CRD's conversion webhook": {func(s *State) { s.CRDs[0].Spec.Conversion.Webhook.ClientConfig.CABundle = other.CertPEM },
			with(5, want{status: StatusError, object: "CustomResourceDefinition/ippools.crd.antrea.io"})},
		"objects routed elsewhere, webhooks by URL and CRDs without conversion are not Antrea's": {func(s *State) {
			s.APIServices = append(s.APIServices, apiService("v1.x.example", "elsewhere", nil, apiregistrationv1.ConditionTrue, "", ""))
			s.APIServices = append(s.APIServices, apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.local"}})
			s.Validating = append(s.Validating, admissionregistrationv1.ValidatingWebhookConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: "byurl"},
				Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "u", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: new(string)}}},
			})
			s.CRDs = append(s.CRDs, apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "plain.crd.antrea.io"}})
		}, allOK},
		"nothing routed to Antrea's namespace": {func(s *State) { s.APIServices, s.Mutating, s.Validating, s.CRDs = nil, nil, nil, nil },
			[]want{{status: StatusWarning, message: []string{"no APIService, webhook configuration or CRD labelled app=antrea,served-by=antrea-controller"}, fix: []string{"--antrea-namespace"}}}},
		"no ca.crt to compare": {func(s *State) { s.Secret.CA = nil }, []want{{status: StatusSkipped, message: []string{"6 targets"}}}},
		"a kind forbidden": {func(s *State) { s.CRDs, s.CRDsErr = nil, forbidden("customresourcedefinitions") },
			append([]want{{status: StatusSkipped, message: []string{"CustomResourceDefinitions labelled"}}}, allOK[:5]...)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkBundles(s, DefaultOptions()), tc.want...)
		})
	}
}

func TestCheckAPIServices(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := map[string]struct {
		mutate func(*State)
		want   []want
	}{
		"all Available": {func(*State) {}, []want{{status: StatusOK}, {status: StatusOK}, {status: StatusOK}}},
		"a failed discovery check with an x509 error": {func(s *State) {
			s.APIServices = s.APIServices[:1]
			s.APIServices[0].Status.Conditions[0] = apiregistrationv1.APIServiceCondition{Type: apiregistrationv1.Available, Status: apiregistrationv1.ConditionFalse,
				Reason: "FailedDiscoveryCheck", Message: `failing or missing response from https://127.0.0.1:1234/apis/controlplane.antrea.io/v1beta2: Get "…": tls: failed to verify certificate: x509: certificate signed by unknown authority`}
		}, []want{{status: StatusError, object: "APIService/v1beta2.controlplane.antrea.io",
			message: []string{"Available=False (FailedDiscoveryCheck)", "x509: certificate signed by unknown authority"}, fix: []string{"does not trust", "ca-bundle line"}}}},
		"no endpoints": {func(s *State) {
			s.APIServices = s.APIServices[:1]
			s.APIServices[0].Status.Conditions[0] = apiregistrationv1.APIServiceCondition{Type: apiregistrationv1.Available, Status: apiregistrationv1.ConditionFalse,
				Reason: "MissingEndpoints", Message: "endpoints for service/antrea in \"kube-system\" have no addresses"}
		}, []want{{status: StatusError, fix: []string{"is antrea-controller running"}}}},
		"not checked yet": {func(s *State) {
			s.APIServices = s.APIServices[:1]
			s.APIServices[0].Status.Conditions = nil
		}, []want{{status: StatusWarning}}},
		"forbidden": {func(s *State) { s.APIServices, s.APIServicesErr = nil, forbidden("apiservices") }, []want{{status: StatusSkipped}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			tc.mutate(s)
			expect(t, checkAPIServices(s, DefaultOptions()), tc.want...)
		})
	}
}
