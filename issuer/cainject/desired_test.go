package cainject

import (
	"errors"
	"strings"
	"testing"

	"antrea.io/antrea-issuer/internal/testpki"
)

func TestDesiredBundle(t *testing.T) {
	t.Parallel()
	good := newTestCA(t, "antrea-issuer-ca", nil)
	other := newTestCA(t, "another-ca", nil)
	antreaSelf := newTestCA(t, "antrea-ca@1700000000", nil)
	inter := newTestCA(t, "intermediate", good)
	goodLeaf, antreaLeaf := leafOf(t, good), leafOf(t, antreaSelf)
	twoCAs := testpki.Concat(other.CertPEM, good.CertPEM)
	privateKey := []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n")

	tests := map[string]struct {
		data         map[string][]byte
		nilSecret    bool
		key          string
		wantReason   Reason
		wantTakeover bool
		wantWaiting  bool
		wantMessage  string
		wantPEM      []byte
		wantCerts    int
	}{
		"missing secret":              {nilSecret: true, wantReason: ReasonSecretNotFound, wantWaiting: true},
		"empty secret":                {wantReason: ReasonCAMissing, wantWaiting: true},
		"empty ca.crt and no tls.crt": {data: map[string][]byte{"ca.crt": {}}, wantReason: ReasonCAMissing, wantWaiting: true},
		"self-signed mode shape (Antrea's own CA)": {
			data: map[string][]byte{"tls.crt": testpki.Concat(antreaLeaf, antreaSelf.CertPEM)}, wantReason: ReasonSelfSignedMode,
			wantTakeover: true, wantMessage: "antrea-ca@1700000000",
		},
		"tls.crt without ca.crt (issuer publishing no CA)": {
			data: map[string][]byte{"tls.crt": goodLeaf}, wantReason: ReasonSelfSignedMode, wantTakeover: true, wantMessage: "selfSignedCert: false",
		},
		"tls.crt not chaining to ca.crt": {
			data: map[string][]byte{"ca.crt": other.CertPEM, "tls.crt": goodLeaf}, wantReason: ReasonNotChained,
			wantTakeover: true, wantMessage: "does not chain",
		},
		"Antrea's self-signed tls.crt beside a stale ca.crt": {
			data: map[string][]byte{"ca.crt": good.CertPEM, "tls.crt": testpki.Concat(antreaLeaf, antreaSelf.CertPEM)}, wantReason: ReasonNotChained,
			wantTakeover: true, wantMessage: "selfSignedCert: false",
		},
		"ca.crt with a private key after the CA": {
			data: map[string][]byte{"ca.crt": testpki.Concat(good.CertPEM, privateKey), "tls.crt": goodLeaf}, wantReason: ReasonCANonCertificateBlock,
			wantMessage: `"PRIVATE KEY" (block 2)`,
		},
		"ca.crt that is only a private key": {
			data: map[string][]byte{"ca.crt": privateKey, "tls.crt": goodLeaf}, wantReason: ReasonCANonCertificateBlock, wantMessage: "private key there",
		},
		"ca.crt with a certificate request": {
			data:       map[string][]byte{"ca.crt": testpki.Concat(good.CertPEM, []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))},
			wantReason: ReasonCANonCertificateBlock, wantMessage: "CERTIFICATE REQUEST",
		},
		"unparsable ca.crt": {
			data:       map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "tls.crt": goodLeaf},
			wantReason: ReasonCAInvalid,
		},
		"ca.crt without PEM":           {data: map[string][]byte{"ca.crt": []byte("not pem"), "tls.crt": goodLeaf}, wantReason: ReasonCAInvalid},
		"unparsable tls.crt":           {data: map[string][]byte{"ca.crt": good.CertPEM, "tls.crt": []byte("garbage")}, wantReason: ReasonServingCertInvalid},
		"ca.crt, no tls.crt":           {data: map[string][]byte{"ca.crt": good.CertPEM}, wantReason: ReasonServingCertMissing, wantWaiting: true, wantMessage: "not published until"},
		"unrelated ca.crt, no tls.crt": {data: map[string][]byte{"ca.crt": other.CertPEM}, wantReason: ReasonServingCertMissing, wantWaiting: true},
		"good (cert-manager shape)": {
			data: map[string][]byte{"ca.crt": good.CertPEM, "tls.crt": testpki.Concat(goodLeaf, good.CertPEM)}, wantPEM: good.CertPEM, wantCerts: 1,
		},
		"good: two CAs during a rotation, leaf under the second": {
			data: map[string][]byte{"ca.crt": twoCAs, "tls.crt": goodLeaf}, wantPEM: twoCAs, wantCerts: 2,
		},
		"good: leaf through an intermediate in tls.crt": {
			data: map[string][]byte{"ca.crt": good.CertPEM, "tls.crt": testpki.Concat(leafOf(t, inter), inter.CertPEM)}, wantPEM: good.CertPEM, wantCerts: 1,
		},
		"good: bytes kept verbatim (comments and trailing whitespace)": {
			data:    map[string][]byte{"ca.crt": testpki.Concat([]byte("# antrea CA\n"), good.CertPEM, []byte("\n\n")), "tls.crt": goodLeaf},
			wantPEM: testpki.Concat([]byte("# antrea CA\n"), good.CertPEM, []byte("\n\n")), wantCerts: 1,
		},
		"custom key": {
			data: map[string][]byte{"bundle.pem": good.CertPEM, "tls.crt": goodLeaf}, key: "bundle.pem", wantPEM: good.CertPEM, wantCerts: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := tc.key
			if key == "" {
				key = "ca.crt"
			}
			secret := secretWith(tc.data)
			if tc.nilSecret {
				secret = nil
			}
			got, err := DesiredBundle(secret, key)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if string(got.PEM) != string(tc.wantPEM) || got.Certificates != tc.wantCerts {
					t.Fatalf("bundle = %d bytes, %d certs; want %d bytes verbatim, %d certs", len(got.PEM), got.Certificates, len(tc.wantPEM), tc.wantCerts)
				}
				return
			}
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SourceError", err)
			}
			if se.Reason != tc.wantReason || se.Takeover != tc.wantTakeover || se.Waiting != tc.wantWaiting || se.Reason.waiting() != tc.wantWaiting {
				t.Fatalf("got reason %s takeover %v waiting %v; want %s %v %v (%s)", se.Reason, se.Takeover, se.Waiting,
					tc.wantReason, tc.wantTakeover, tc.wantWaiting, se.Message)
			}
			if !strings.Contains(se.Message, tc.wantMessage) {
				t.Fatalf("message %q does not contain %q", se.Message, tc.wantMessage)
			}
			if strings.Contains(se.Message, "MIGHAgEA") {
				t.Fatalf("message carries key material: %q", se.Message)
			}
			if got.PEM != nil {
				t.Fatalf("a bundle came with the error")
			}
		})
	}
}

// TestBundleEquivalent: a target needs no write when it trusts exactly ca.crt's certificates,
// plus at most leaves they signed (antrea-controller's selfSignedCert: true bundle: the served
// tls.crt, leaf + CA, also the one before a renewal).
func TestBundleEquivalent(t *testing.T) {
	t.Parallel()
	ca, next, other := newTestCA(t, "antrea-issuer-ca", nil), newTestCA(t, "antrea-issuer-ca-2", nil), newTestCA(t, "other", nil)
	leaf, oldLeaf, otherLeaf := leafOf(t, ca), leafOf(t, ca), leafOf(t, other)
	inter := newTestCA(t, "intermediate", ca)
	s := secretWith(map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": testpki.Concat(leaf, ca.CertPEM)})
	b, err := DesiredBundle(s, "ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := DesiredBundle(secretWith(map[string][]byte{"ca.crt": testpki.Concat(next.CertPEM, ca.CertPEM), "tls.crt": leaf}), "ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		bundle Bundle
		target []byte
		want   bool
	}{
		"same bytes":                                   {b, ca.CertPEM, true},
		"served tls.crt verbatim (leaf + CA)":          {b, testpki.Concat(leaf, ca.CertPEM), true},
		"CA then leaf, other whitespace":               {b, testpki.Concat(ca.CertPEM, []byte("\n"), leaf), true},
		"CA twice":                                     {b, testpki.Concat(ca.CertPEM, ca.CertPEM), true},
		"an older leaf of the same CA":                 {b, testpki.Concat(oldLeaf, ca.CertPEM), true},
		"two leaves of the same CA":                    {b, testpki.Concat(leaf, oldLeaf, ca.CertPEM), true},
		"the leaf alone":                               {b, leaf, false},
		"a leaf of another CA":                         {b, testpki.Concat(otherLeaf, ca.CertPEM), false},
		"an intermediate of the CA":                    {b, testpki.Concat(inter.CertPEM, ca.CertPEM), false},
		"another CA":                                   {b, other.CertPEM, false},
		"the CA and another CA":                        {b, testpki.Concat(ca.CertPEM, other.CertPEM), false},
		"empty":                                        {b, nil, false},
		"garbage":                                      {b, []byte("garbage"), false},
		"rotation: only the old CA":                    {rotating, ca.CertPEM, false},
		"rotation: both CAs in another order":          {rotating, testpki.Concat(ca.CertPEM, next.CertPEM), false},
		"rotation: both CAs, a comment between":        {rotating, testpki.Concat(next.CertPEM, []byte("# old\n"), ca.CertPEM), true},
		"rotation: leaf + both CAs":                    {rotating, testpki.Concat(leaf, next.CertPEM, ca.CertPEM), true},
		"rotation: Antrea's adopted leaf + old CA":     {rotating, testpki.Concat(leaf, ca.CertPEM), false},
		"CA and a private key (never equivalent)":      {b, testpki.Concat(ca.CertPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), false},
		"zero bundle is equivalent to nothing but nil": {Bundle{}, ca.CertPEM, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.bundle.Equivalent(tc.target); got != tc.want {
				t.Fatalf("Equivalent = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := map[string]struct {
		mutate func(*Options)
		want   string
	}{
		"bad namespace":          {func(o *Options) { o.Namespace = "Kube_System" }, "namespace"},
		"empty secret name":      {func(o *Options) { o.SecretName = "" }, "secret name"},
		"bad secret key":         {func(o *Options) { o.SecretKey = "ca/crt" }, "secret key"},
		"bad configmap name":     {func(o *Options) { o.ConfigMapName = "-x" }, "configmap name"},
		"unparsable selector":    {func(o *Options) { o.TargetSelector = "app in (" }, "target selector"},
		"empty selector":         {func(o *Options) { o.TargetSelector = "" }, "must select something"},
		"empty field owner":      {func(o *Options) { o.FieldOwner = "" }, "field owner"},
		"long field owner":       {func(o *Options) { o.FieldOwner = strings.Repeat("x", 129) }, "field owner"},
		"negative settle period": {func(o *Options) { o.SettlePeriod = -1 }, "settle period"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := DefaultOptions()
			tc.mutate(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
