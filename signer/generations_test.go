package signer

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// rotationCAs returns three distinct generated CAs: the one before, the current one and
// the one prepared next.
func rotationCAs(t *testing.T) (prev, active, next *CA) {
	t.Helper()
	var err error
	if prev, err = GenerateCA(testNow.Add(-400*day), CAOptions{}); err != nil {
		t.Fatal(err)
	}
	if active, err = GenerateCA(testNow.Add(-10*day), CAOptions{}); err != nil {
		t.Fatal(err)
	}
	if next, err = GenerateCA(testNow, CAOptions{KeyAlgorithm: ECDSAP384}); err != nil {
		t.Fatal(err)
	}
	return prev, active, next
}

func TestGenerationsPhase(t *testing.T) {
	t.Parallel()
	prev, active, next := rotationCAs(t)
	tests := map[string]struct {
		g         Generations
		want      Phase
		wantValid bool
	}{
		"only active":          {g: Generations{Active: active}, want: PhaseSteady, wantValid: true},
		"next prepared":        {g: Generations{Active: active, Next: next}, want: PhasePrepared, wantValid: true},
		"previous kept":        {g: Generations{Active: next, Previous: active.Cert}, want: PhaseActivated, wantValid: true},
		"next and previous":    {g: Generations{Active: active, Next: next, Previous: prev.Cert}, want: PhasePrepared},
		"no active":            {g: Generations{Next: next}, want: PhasePrepared},
		"next is active":       {g: Generations{Active: active, Next: active}, want: PhasePrepared},
		"previous is active":   {g: Generations{Active: active, Previous: active.Cert}, want: PhaseActivated},
		"active without a key": {g: Generations{Active: &CA{Cert: active.Cert}}, want: PhaseSteady},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.g.Phase(); got != tc.want {
				t.Errorf("Phase() = %q, want %q", got, tc.want)
			}
			err := tc.g.Validate()
			if (err == nil) != tc.wantValid {
				t.Fatalf("Validate() = %v, want valid %v", err, tc.wantValid)
			}
			if err != nil && !errors.Is(err, ErrInvalidGenerations) {
				t.Errorf("Validate() = %v, want ErrInvalidGenerations", err)
			}
			if _, sdErr := tc.g.SecretData(); (sdErr == nil) != tc.wantValid {
				t.Errorf("SecretData() error = %v, want valid %v", sdErr, tc.wantValid)
			}
		})
	}
}

func TestGenerationsRoundTrip(t *testing.T) {
	t.Parallel()
	prev, active, next := rotationCAs(t)
	root := makeCA(t, certSpec{cn: "user-root"}, nil)
	inter := makeCA(t, certSpec{cn: "user-intermediate"}, root)
	expiredPrev := makeCA(t, certSpec{cn: "expired-previous", notBefore: testNow.Add(-800 * day), notAfter: testNow.Add(-day)}, nil)

	tests := map[string]struct {
		g          Generations
		wantKeys   []string
		wantBundle []*x509.Certificate
	}{
		"steady": {
			g:          Generations{Active: active},
			wantKeys:   []string{"ca.crt", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{active.Cert},
		},
		"prepared": {
			g:          Generations{Active: active, Next: next},
			wantKeys:   []string{"ca.crt", "next.tls.crt", "next.tls.key", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{active.Cert, next.Cert},
		},
		"activated": {
			g:          Generations{Active: next, Previous: active.Cert},
			wantKeys:   []string{"ca.crt", "previous.tls.crt", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{next.Cert, active.Cert},
		},
		"activated with an expired previous": {
			g:          Generations{Active: active, Previous: expiredPrev.Cert},
			wantKeys:   []string{"ca.crt", "previous.tls.crt", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{active.Cert, expiredPrev.Cert},
		},
		"user intermediate with chain": {
			g:          Generations{Active: inter},
			wantKeys:   []string{"ca.crt", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{inter.Cert}, // the intermediate is the anchor, not the user's root
		},
		"user intermediate rotating to a generated CA": {
			g:          Generations{Active: inter, Next: prev},
			wantKeys:   []string{"ca.crt", "next.tls.crt", "next.tls.key", "tls.crt", "tls.key"},
			wantBundle: []*x509.Certificate{inter.Cert, prev.Cert},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := tc.g.SecretData()
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, tc.wantKeys) {
				t.Errorf("keys = %v, want %v", got, tc.wantKeys)
			}
			if !bytes.Equal(data[SecretKeyCABundle], certPEM(tc.wantBundle...)) {
				t.Errorf("ca.crt does not hold %d certificates in order", len(tc.wantBundle))
			}
			if !bytes.Equal(data[SecretKeyTLSCert], certPEM(tc.g.Active.Chain...)) {
				t.Errorf("tls.crt is not the active chain")
			}

			parsed, err := ParseGenerations(data, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Phase() != tc.g.Phase() {
				t.Errorf("phase %q after parsing, want %q", parsed.Phase(), tc.g.Phase())
			}
			again, err := parsed.SecretData()
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(data, again, bytes.Equal) {
				t.Errorf("ParseGenerations(SecretData()) renders different bytes")
			}
			assertCerts(t, "Bundle", parsed.Bundle().Certificates(), tc.wantBundle)

			// ca.crt is derived, so a missing or stale one changes nothing.
			for _, caCrt := range [][]byte{nil, []byte("stale"), certPEM(root.Cert)} {
				d := maps.Clone(data)
				if caCrt == nil {
					delete(d, SecretKeyCABundle)
				} else {
					d[SecretKeyCABundle] = caCrt
				}
				d["unrelated"] = []byte("ignored")
				p, err := ParseGenerations(d, testNow)
				if err != nil {
					t.Fatalf("with ca.crt %q: %v", caCrt, err)
				}
				if !bytes.Equal(p.Bundle().PEM(), data[SecretKeyCABundle]) {
					t.Errorf("with ca.crt %q: bundle not re-derived", caCrt)
				}
			}
		})
	}
}

// A plain kubernetes.io/tls Secret written by hand (PKCS#1 key, no ca.crt) is a valid
// user-provided CA Secret.
func TestParseGenerationsUserSecret(t *testing.T) {
	t.Parallel()
	ca := makeCA(t, certSpec{cn: "user-rsa", key: testKey(t, "rsa2048")}, nil)
	tests := map[string]struct{ key []byte }{
		"PKCS#1 key": {key: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(ca.Key.(*rsa.PrivateKey))})},
		"PKCS#8 key": {key: pkcs8PEM(t, ca.Key)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, err := ParseGenerations(map[string][]byte{"tls.crt": certPEM(ca.Cert), "tls.key": tc.key}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if g.Phase() != PhaseSteady || !bytes.Equal(g.Bundle().PEM(), certPEM(ca.Cert)) {
				t.Errorf("phase %s, bundle %q", g.Phase(), g.Bundle().PEM())
			}
		})
	}
}

func TestParseGenerationsErrors(t *testing.T) {
	t.Parallel()
	prev, active, next := rotationCAs(t)
	nonCA := makeCA(t, certSpec{cn: "not-a-ca", notCA: true}, nil)
	base := func() map[string][]byte {
		return map[string][]byte{"tls.crt": active.CertPEM(), "tls.key": mustKeyPEM(t, active)}
	}
	with := func(kv ...string) map[string][]byte {
		d := base()
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1]; v {
			case "-":
				delete(d, kv[i])
			default:
				d[kv[i]] = []byte(v)
			}
		}
		return d
	}
	s := func(b []byte) string { return string(b) }

	tests := map[string]struct {
		data     map[string][]byte
		now      time.Time
		wantErr  error
		wantKeys []string
		wantMsg  string
	}{
		"tls.crt missing":        {data: with("tls.crt", "-"), wantErr: ErrNoCertificate, wantKeys: []string{"tls.crt"}, wantMsg: "tls.crt: missing from the CA Secret"},
		"tls.key missing":        {data: with("tls.key", "-"), wantErr: ErrNoKey, wantKeys: []string{"tls.key"}, wantMsg: "tls.key: missing from the CA Secret"},
		"both missing":           {data: map[string][]byte{}, wantErr: ErrNoCertificate, wantKeys: []string{"tls.crt"}},
		"tls.crt empty":          {data: with("tls.crt", ""), wantErr: ErrNoCertificate, wantKeys: []string{"tls.crt", "tls.key"}},
		"tls.crt corrupt":        {data: with("tls.crt", "garbage"), wantErr: ErrMalformedPEM, wantKeys: []string{"tls.crt", "tls.key"}, wantMsg: "tls.crt/tls.key: CA certificate data is not PEM encoded"},
		"tls.key of another CA":  {data: with("tls.key", s(mustKeyPEM(t, next))), wantErr: ErrKeyMismatch, wantKeys: []string{"tls.crt", "tls.key"}},
		"tls.crt not a CA":       {data: with("tls.crt", s(nonCA.CertPEM()), "tls.key", s(pkcs8PEM(t, nonCA.Key))), wantErr: ErrNotCA, wantKeys: []string{"tls.crt", "tls.key"}},
		"active expired":         {data: base(), now: active.Cert.NotAfter.Add(time.Minute), wantErr: ErrCAExpired, wantKeys: []string{"tls.crt", "tls.key"}, wantMsg: "tls.crt/tls.key: CA certificate"},
		"next.tls.key missing":   {data: with("next.tls.crt", s(next.CertPEM())), wantErr: ErrNoKey, wantKeys: []string{"next.tls.key"}},
		"next.tls.crt missing":   {data: with("next.tls.key", s(mustKeyPEM(t, next))), wantErr: ErrNoCertificate, wantKeys: []string{"next.tls.crt"}},
		"next key of another CA": {data: with("next.tls.crt", s(next.CertPEM()), "next.tls.key", s(mustKeyPEM(t, prev))), wantErr: ErrKeyMismatch, wantKeys: []string{"next.tls.crt", "next.tls.key"}, wantMsg: "next.tls.crt/next.tls.key: the private key does not match"},
		"next corrupt":           {data: with("next.tls.crt", "-----BEGIN CERTIFICATE-----\nAAA", "next.tls.key", s(mustKeyPEM(t, next))), wantErr: ErrMalformedPEM, wantKeys: []string{"next.tls.crt", "next.tls.key"}},
		"previous corrupt":       {data: with("previous.tls.crt", "junk"), wantErr: ErrMalformedPEM, wantKeys: []string{"previous.tls.crt"}, wantMsg: "previous.tls.crt: previous CA certificate is not PEM encoded"},
		"previous empty":         {data: with("previous.tls.crt", ""), wantErr: ErrNoCertificate, wantKeys: []string{"previous.tls.crt"}},
		"previous holds two":     {data: with("previous.tls.crt", s(certPEM(prev.Cert, next.Cert))), wantErr: ErrInvalidGenerations, wantKeys: []string{"previous.tls.crt"}, wantMsg: "holds 2 certificates, want exactly 1"},
		"next and previous": {
			data:    with("next.tls.crt", s(next.CertPEM()), "next.tls.key", s(mustKeyPEM(t, next)), "previous.tls.crt", s(prev.CertPEM())),
			wantErr: ErrInvalidGenerations, wantKeys: []string{"tls.crt", "next.tls.crt", "previous.tls.crt"}, wantMsg: "finish the running rotation",
		},
		"next is the active CA": {
			data:    with("next.tls.crt", s(active.CertPEM()), "next.tls.key", s(mustKeyPEM(t, active))),
			wantErr: ErrInvalidGenerations, wantKeys: []string{"tls.crt", "next.tls.crt"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			_, err := ParseGenerations(tc.data, now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var keyErr *SecretKeyError
			if !errors.As(err, &keyErr) || !slices.Equal(keyErr.Keys, tc.wantKeys) {
				t.Fatalf("err = %v, want a *SecretKeyError naming %v", err, tc.wantKeys)
			}
			if !strings.HasPrefix(err.Error(), strings.Join(tc.wantKeys, "/")+": ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want prefix %q and %q", err, strings.Join(tc.wantKeys, "/")+": ", tc.wantMsg)
			}
			for _, v := range tc.data {
				if bytes.Contains(v, []byte("PRIVATE KEY")) {
					assertNoKeyMaterial(t, err, v)
				}
			}
		})
	}
}
