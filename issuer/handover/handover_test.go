package handover

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/signer"
)

func TestSelfSignedCert(t *testing.T) {
	for conf, want := range map[string]bool{
		"":                        true, // Antrea's default
		"#selfSignedCert: true\n": true,
		"selfSignedCert: false\n": false,
		"selfSignedCert: true\n":  true,
		"featureGates:\n  Foo: true\nselfSignedCert: false\n": false,
		"apiPort: 10349\n": true,
	} {
		got, err := selfSignedCert(conf)
		if err != nil || got != want {
			t.Errorf("selfSignedCert(%q) = %v, %v; want %v", conf, got, err, want)
		}
	}
	if _, err := selfSignedCert("selfSignedCert: [nope"); err == nil {
		t.Error("malformed YAML read without error")
	}
}

func TestDecide(t *testing.T) {
	now := time.Now()
	ca, err := signer.GenerateCA(now, signer.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := signer.GenerateCA(now, signer.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leafFrom := func(ca *signer.CA) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		res, err := signer.Sign(now, ca, signer.Bundle{}, &x509.Certificate{
			Subject: pkix.Name{CommonName: "antrea"}, DNSNames: []string{"antrea.kube-system.svc"},
			NotBefore: now, NotAfter: now.Add(24 * time.Hour), PublicKey: key.Public(),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}, signer.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.ChainPEM
	}
	config := func(conf string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "antrea-config"},
			Data: map[string]string{DefaultConfigKey: conf}}
	}
	secret := func(tlsCrt []byte) *corev1.Secret {
		return &corev1.Secret{Data: map[string][]byte{"tls.crt": tlsCrt}}
	}
	trusted := signer.NewBundle(ca.Cert)

	for _, tc := range []struct {
		name   string
		in     inputs
		secret *corev1.Secret // nil: none
		held   bool
		reason string // a part of the message when held
	}{
		{name: "no Antrea configuration", in: inputs{trusted: trusted}, secret: secret(leafFrom(other))},
		{name: "selfSignedCert: false", in: inputs{config: config("selfSignedCert: false\n"), trusted: trusted}, secret: secret(leafFrom(other))},
		{name: "default mode, Antrea's own pair", in: inputs{config: config("selfSignedCert: true\n"), trusted: trusted}, secret: secret(leafFrom(other)),
			held: true, reason: "selfSignedCert: true"},
		{name: "default mode by omission, no Secret yet", in: inputs{config: config("#selfSignedCert: true\n"), trusted: trusted},
			held: true, reason: "stop antrea-controller"},
		{name: "default mode, Secret without tls.crt", in: inputs{config: config(""), trusted: trusted}, secret: secret(nil), held: true},
		{name: "default mode, Secret holding garbage", in: inputs{config: config(""), trusted: trusted}, secret: secret([]byte("not PEM")), held: true},
		{name: "default mode, renewal of a certificate from this CA", in: inputs{config: config(""), trusted: trusted}, secret: secret(leafFrom(ca))},
		{name: "default mode, certificate from the other CA of a rotation", in: inputs{config: config(""), trusted: signer.NewBundle(ca.Cert, other.Cert)}, secret: secret(leafFrom(other))},
		{name: "unreadable configuration", in: inputs{config: config("selfSignedCert: [\n"), trusted: trusted}, secret: secret(leafFrom(ca)),
			held: true, reason: "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.configKey = DefaultConfigKey
			err := decide(tc.in, func() (*corev1.Secret, error) { return tc.secret, nil })
			if got := errors.Is(err, ErrHeld); got != tc.held || (!tc.held && err != nil) {
				t.Fatalf("decide = %v, want held %v", err, tc.held)
			}
			if tc.held && !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("message %q does not say %q", err, tc.reason)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{Namespace: "kube-system", SecretName: "antrea-controller-tls", ConfigMapName: "antrea-config", ConfigKey: DefaultConfigKey, RetryAfter: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Options{Namespace: "Kube_System", ConfigKey: "a/b"}
	err := bad.Validate()
	for _, want := range []string{"namespace", "secret name", "configmap name", "configmap key", "retry period"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", bad, err, want)
		}
	}
}
