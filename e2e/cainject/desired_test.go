package cainject_test

import (
	"antrea.io/antrea-issuer/issuer/cainject"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

func mustMaterial(t *testing.T, cn string) *antreasim.Material {
	t.Helper()
	m, err := antreasim.NewMaterial(cn, "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDesiredBundle(t *testing.T) {
	t.Parallel()
	good := mustMaterial(t, "antrea-issuer-ca")
	other := mustMaterial(t, "another-ca")
	antreaSelf := mustMaterial(t, "antrea-ca@1700000000")
	// An intermediate between the CA and the leaf, the leaf's chain in tls.crt.
	inter := mustIntermediate(t, good.CA)
	interLeaf, err := inter.IssueServing("kube-system")
	if err != nil {
		t.Fatal(err)
	}

	secret := func(data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "antrea-controller-tls"}, Data: data}
	}
	withCA := func(s *corev1.Secret, ca []byte) *corev1.Secret { s.Data["ca.crt"] = ca; return s }
	twoCAs := append(append([]byte(nil), other.CA.CertPEM...), good.CA.CertPEM...)

	tests := map[string]struct {
		secret       *corev1.Secret
		key          string
		wantReason   cainject.Reason
		wantTakeover bool
		wantWaiting  bool
		wantMessage  string
		wantPEM      []byte
		wantCerts    int
	}{
		"missing secret": {secret: nil, wantReason: cainject.ReasonSecretNotFound, wantWaiting: true},
		"empty secret":   {secret: secret(map[string][]byte{}), wantReason: cainject.ReasonCAMissing, wantWaiting: true},
		"empty ca.crt and no tls.crt": {
			secret: secret(map[string][]byte{"ca.crt": {}}), wantReason: cainject.ReasonCAMissing, wantWaiting: true,
		},
		"self-signed mode shape (Antrea's own CA)": {
			secret: antreaSelf.SelfSignedModeSecret("kube-system", "antrea-controller-tls"), wantReason: cainject.ReasonSelfSignedMode,
			wantTakeover: true, wantMessage: "antrea-ca@1700000000",
		},
		"tls.crt without ca.crt (issuer publishing no CA)": {
			secret: secret(map[string][]byte{"tls.crt": good.Serving.CertPEM}), wantReason: cainject.ReasonSelfSignedMode,
			wantTakeover: true, wantMessage: "selfSignedCert: false",
		},
		"tls.crt not chaining to ca.crt": {
			secret: withCA(good.CertManagerSecret("kube-system", "x"), other.CA.CertPEM), wantReason: cainject.ReasonNotChained,
			wantTakeover: true, wantMessage: "does not chain",
		},
		"Antrea's self-signed tls.crt beside a stale ca.crt": {
			secret: withCA(antreaSelf.SelfSignedModeSecret("kube-system", "x"), good.CA.CertPEM), wantReason: cainject.ReasonNotChained,
			wantTakeover: true, wantMessage: "selfSignedCert: false",
		},
		"unparsable ca.crt": {
			secret:     withCA(good.CertManagerSecret("kube-system", "x"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
			wantReason: cainject.ReasonCAInvalid,
		},
		"ca.crt without PEM": {
			secret: withCA(good.CertManagerSecret("kube-system", "x"), []byte("not pem")), wantReason: cainject.ReasonCAInvalid,
		},
		"unparsable tls.crt": {
			secret: secret(map[string][]byte{"ca.crt": good.CA.CertPEM, "tls.crt": []byte("garbage")}), wantReason: cainject.ReasonServingCertInvalid,
		},
		"good (cert-manager shape)": {
			secret: good.CertManagerSecret("kube-system", "x"), wantPEM: good.CA.CertPEM, wantCerts: 1,
		},
		"good: ca.crt only, tls.crt not written yet": {
			secret: secret(map[string][]byte{"ca.crt": good.CA.CertPEM}), wantPEM: good.CA.CertPEM, wantCerts: 1,
		},
		"good: two CAs during a rotation, leaf under the second": {
			secret: withCA(good.CertManagerSecret("kube-system", "x"), twoCAs), wantPEM: twoCAs, wantCerts: 2,
		},
		"good: leaf through an intermediate in tls.crt": {
			secret: secret(map[string][]byte{
				"ca.crt":  good.CA.CertPEM,
				"tls.crt": append(append([]byte(nil), interLeaf.CertPEM...), inter.CertPEM...),
			}),
			wantPEM: good.CA.CertPEM, wantCerts: 1,
		},
		"good: bytes kept verbatim (comments and trailing whitespace)": {
			secret:  withCA(good.CertManagerSecret("kube-system", "x"), append([]byte("# antrea CA\n"), append(good.CA.CertPEM, "\n\n"...)...)),
			wantPEM: append([]byte("# antrea CA\n"), append(good.CA.CertPEM, "\n\n"...)...), wantCerts: 1,
		},
		"custom key": {
			secret: secret(map[string][]byte{"bundle.pem": good.CA.CertPEM, "tls.crt": good.Serving.CertPEM}), key: "bundle.pem",
			wantPEM: good.CA.CertPEM, wantCerts: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := tc.key
			if key == "" {
				key = "ca.crt"
			}
			got, err := cainject.DesiredBundle(tc.secret, key)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if string(got.PEM) != string(tc.wantPEM) || got.Certificates != tc.wantCerts {
					t.Fatalf("bundle = %d bytes, %d certs; want %d bytes verbatim, %d certs", len(got.PEM), got.Certificates, len(tc.wantPEM), tc.wantCerts)
				}
				return
			}
			var se *cainject.SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SourceError", err)
			}
			if se.Reason != tc.wantReason || se.Takeover != tc.wantTakeover || se.Waiting != tc.wantWaiting {
				t.Fatalf("got reason %s takeover %v waiting %v; want %s %v %v (%s)", se.Reason, se.Takeover, se.Waiting,
					tc.wantReason, tc.wantTakeover, tc.wantWaiting, se.Message)
			}
			if !strings.Contains(se.Message, tc.wantMessage) {
				t.Fatalf("message %q does not contain %q", se.Message, tc.wantMessage)
			}
			if got.PEM != nil {
				t.Fatalf("a bundle came with the error")
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := cainject.DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := map[string]struct {
		mutate func(*cainject.Options)
		want   string
	}{
		"bad namespace":       {func(o *cainject.Options) { o.Namespace = "Kube_System" }, "namespace"},
		"empty secret name":   {func(o *cainject.Options) { o.SecretName = "" }, "secret name"},
		"bad secret key":      {func(o *cainject.Options) { o.SecretKey = "ca/crt" }, "secret key"},
		"bad configmap name":  {func(o *cainject.Options) { o.ConfigMapName = "-x" }, "configmap name"},
		"unparsable selector": {func(o *cainject.Options) { o.TargetSelector = "app in (" }, "target selector"},
		"empty selector":      {func(o *cainject.Options) { o.TargetSelector = "" }, "must select something"},
		"empty field owner":   {func(o *cainject.Options) { o.FieldOwner = "" }, "field owner"},
		"long field owner":    {func(o *cainject.Options) { o.FieldOwner = strings.Repeat("x", 129) }, "field owner"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := cainject.DefaultOptions()
			tc.mutate(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
