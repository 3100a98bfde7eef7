package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestGenerateCA(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		opts         CAOptions
		wantCNPrefix string
		wantOrg      []string
		wantLifetime time.Duration
		checkKey     func(any) bool
	}{
		"defaults": {
			wantCNPrefix: "antrea-issuer-ca@",
			wantLifetime: DefaultCALifetime,
			checkKey:     func(k any) bool { p, ok := k.(*ecdsa.PublicKey); return ok && p.Curve == elliptic.P256() },
		},
		"custom name, organization and lifetime": {
			opts:         CAOptions{CommonName: "my-ca", Organization: "Antrea", Lifetime: 2 * time.Hour},
			wantCNPrefix: "my-ca@",
			wantOrg:      []string{"Antrea"},
			wantLifetime: 2 * time.Hour,
		},
		"minimum lifetime": {opts: CAOptions{Lifetime: MinCALifetime}, wantCNPrefix: "antrea-issuer-ca@", wantLifetime: MinCALifetime},
		"ECDSAP384": {
			opts: CAOptions{KeyAlgorithm: ECDSAP384}, wantCNPrefix: "antrea-issuer-ca@", wantLifetime: DefaultCALifetime,
			checkKey: func(k any) bool { p, ok := k.(*ecdsa.PublicKey); return ok && p.Curve == elliptic.P384() },
		},
		"RSA2048": {
			opts: CAOptions{KeyAlgorithm: RSA2048}, wantCNPrefix: "antrea-issuer-ca@", wantLifetime: DefaultCALifetime,
			checkKey: func(k any) bool { p, ok := k.(*rsa.PublicKey); return ok && p.N.BitLen() == 2048 },
		},
		"RSA3072": {
			opts: CAOptions{KeyAlgorithm: RSA3072}, wantCNPrefix: "antrea-issuer-ca@", wantLifetime: DefaultCALifetime,
			checkKey: func(k any) bool { p, ok := k.(*rsa.PublicKey); return ok && p.N.BitLen() == 3072 },
		},
		"Ed25519": {
			opts: CAOptions{KeyAlgorithm: Ed25519}, wantCNPrefix: "antrea-issuer-ca@", wantLifetime: DefaultCALifetime,
			checkKey: func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ca, err := GenerateCA(testNow, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := ca.Cert
			if want := fmt.Sprintf("%s%d", tc.wantCNPrefix, testNow.Unix()); c.Subject.CommonName != want {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, want)
			}
			if fmt.Sprint(c.Subject.Organization) != fmt.Sprint(tc.wantOrg) {
				t.Errorf("O = %v, want %v", c.Subject.Organization, tc.wantOrg)
			}
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("basic constraints: IsCA=%v valid=%v pathlen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; c.KeyUsage != want {
				t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, want)
			}
			if !c.NotBefore.Equal(testNow.Add(-time.Hour)) || !c.NotAfter.Equal(testNow.Add(tc.wantLifetime)) {
				t.Errorf("validity %s..%s", c.NotBefore, c.NotAfter)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %x not a positive 128-bit number", c.SerialNumber)
			}
			skid, err := subjectKeyID(c.PublicKey)
			if err != nil || !bytes.Equal(c.SubjectKeyId, skid) {
				t.Errorf("SubjectKeyId = %x, want %x (%v)", c.SubjectKeyId, skid, err)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if tc.checkKey != nil && !tc.checkKey(c.PublicKey) {
				t.Errorf("unexpected public key %T", c.PublicKey)
			}
			if len(ca.Chain) != 1 || ca.Chain[0] != c {
				t.Errorf("Chain = %v, want [Cert]", ca.Chain)
			}
			// What GenerateCA makes, LoadCA accepts and renders identically.
			keyPEM, err := ca.KeyPEM()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("key is not PKCS#8 PEM")
			}
			loaded, err := LoadCA(ca.CertPEM(), keyPEM, testNow)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := loaded.KeyPEM()
			if !bytes.Equal(loaded.CertPEM(), ca.CertPEM()) || !bytes.Equal(again, keyPEM) {
				t.Errorf("LoadCA round trip changed the bytes")
			}
		})
	}
}

func TestGenerateCAErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		opts    CAOptions
		wantMsg string
	}{
		"lifetime below one hour": {opts: CAOptions{Lifetime: 59 * time.Minute}, wantMsg: "CA lifetime 59m0s is shorter than the minimum 1h0m0s"},
		"negative lifetime":       {opts: CAOptions{Lifetime: -time.Hour}, wantMsg: "shorter than the minimum"},
		"unknown key algorithm":   {opts: CAOptions{KeyAlgorithm: "DSA1024"}, wantMsg: `unknown key algorithm "DSA1024" (supported: ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096, Ed25519)`},
		"lowercase algorithm":     {opts: CAOptions{KeyAlgorithm: "ecdsap256"}, wantMsg: "unknown key algorithm"},
		"common name too long":    {opts: CAOptions{CommonName: strings.Repeat("c", 60)}, wantMsg: "longer than 64 characters"},
		"organization too long":   {opts: CAOptions{Organization: strings.Repeat("o", 65)}, wantMsg: "organization is longer than 64"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := GenerateCA(testNow, tc.opts)
			if !errors.Is(err, ErrInvalidCAOptions) {
				t.Fatalf("err = %v, want ErrInvalidCAOptions", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

// Two generations created in the same second must still be distinguishable and unrelated.
func TestGenerateCAGenerationsDiffer(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ gap time.Duration }{
		"same second":    {gap: 0},
		"a second later": {gap: time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, err := GenerateCA(testNow, CAOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := GenerateCA(testNow.Add(tc.gap), CAOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 || bytes.Equal(a.Cert.SubjectKeyId, b.Cert.SubjectKeyId) {
				t.Errorf("two generations share serial or key")
			}
			if (a.Cert.Subject.CommonName != b.Cert.Subject.CommonName) != (tc.gap != 0) {
				t.Errorf("CNs %q and %q", a.Cert.Subject.CommonName, b.Cert.Subject.CommonName)
			}
		})
	}
}

func TestKeyAlgorithmValid(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		alg  KeyAlgorithm
		want bool
	}{
		"ECDSAP256": {ECDSAP256, true}, "ECDSAP384": {ECDSAP384, true}, "RSA2048": {RSA2048, true},
		"RSA3072": {RSA3072, true}, "RSA4096": {RSA4096, true}, "Ed25519": {Ed25519, true},
		"empty": {"", false}, "RSA1024": {"RSA1024", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.alg.Valid(); got != tc.want {
				t.Errorf("Valid() = %v", got)
			}
		})
	}
}
