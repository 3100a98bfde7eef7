package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"antrea.io/antrea-issuer/internal/keyleak"
)

func TestLoadCA(t *testing.T) {
	t.Parallel()
	ecCA := makeCA(t, certSpec{cn: "ec-root"}, nil)
	ecKey := ecCA.Key.(*ecdsa.PrivateKey)
	rsaCA := makeCA(t, certSpec{cn: "rsa-root", key: testKey(t, "rsa2048")}, nil)
	edCA := makeCA(t, certSpec{cn: "ed-root", key: testKey(t, "ed25519")}, nil)
	weakCA := makeCA(t, certSpec{cn: "weak-root", key: testKey(t, "rsa1024")}, nil)
	root := makeCA(t, certSpec{cn: "user-root"}, nil)
	inter := makeCA(t, certSpec{cn: "user-intermediate"}, root)
	otherRoot := makeCA(t, certSpec{cn: "other-root"}, nil)
	sameNameRoot := makeCA(t, certSpec{cn: "user-root"}, nil) // same subject, different key
	expiredRoot := makeCA(t, certSpec{cn: "expired-root", notBefore: testNow.Add(-400 * day), notAfter: testNow.Add(-day)}, nil)
	interOfExpired := makeCA(t, certSpec{cn: "inter-of-expired"}, expiredRoot)
	generated := testCA(t, ECDSAP256)
	underGenerated := makeCA(t, certSpec{cn: "under-generated"}, generated)
	underPathLenZero := makeCA(t, certSpec{cn: "under-pathlen-0"}, makeCA(t, certSpec{cn: "pathlen-0", maxPathLen: 0, pathLenSet: true}, nil))
	pathLenOne := makeCA(t, certSpec{cn: "pathlen-1", maxPathLen: 1, pathLenSet: true}, nil)
	oneBelow := makeCA(t, certSpec{cn: "one-below"}, pathLenOne)
	twoBelow := makeCA(t, certSpec{cn: "two-below"}, oneBelow)

	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaCA.Key.(*rsa.PrivateKey))})
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	mislabelled := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: mustDecode(t, pkcs8PEM(t, rsaCA.Key))})
	garbageBlock := func(typ string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: []byte("not DER at all")})
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("ciphertext")})
	ecCert := certPEM(ecCA.Cert)
	ecPKCS8 := pkcs8PEM(t, ecCA.Key)
	half := func(b []byte) []byte { return b[:len(b)/2] }

	tests := map[string]struct {
		cert, key    []byte
		now          time.Time // default testNow
		wantErr      error
		wantMsg      string
		wantChainLen int
	}{
		"EC key, PKCS#8":                   {cert: ecCert, key: ecPKCS8, wantChainLen: 1},
		"EC key, SEC1":                     {cert: ecCert, key: sec1PEM, wantChainLen: 1},
		"EC key, SEC1 after EC PARAMETERS": {cert: ecCert, key: append(ecParams, sec1PEM...), wantChainLen: 1},
		"RSA key, PKCS#1":                  {cert: certPEM(rsaCA.Cert), key: pkcs1PEM, wantChainLen: 1},
		"RSA key, PKCS#8":                  {cert: certPEM(rsaCA.Cert), key: pkcs8PEM(t, rsaCA.Key), wantChainLen: 1},
		"RSA key, PKCS#8 mislabelled":      {cert: certPEM(rsaCA.Cert), key: mislabelled, wantChainLen: 1},
		"Ed25519 key, PKCS#8":              {cert: certPEM(edCA.Cert), key: pkcs8PEM(t, edCA.Key), wantChainLen: 1},
		"generated CA":                     {cert: generated.CertPEM(), key: mustKeyPEM(t, generated), wantChainLen: 1},
		"text around the blocks is ignored": {
			cert: append(append([]byte("subject=CN = ec-root\n"), ecCert...), "trailing notes\n"...),
			key:  append([]byte("# the key\n"), append(ecPKCS8, " \n"...)...), wantChainLen: 1,
		},
		"same key twice in two formats":  {cert: ecCert, key: append(sec1PEM, ecPKCS8...), wantChainLen: 1},
		"intermediate with its chain":    {cert: certPEM(inter.Chain...), key: pkcs8PEM(t, inter.Key), wantChainLen: 2},
		"intermediate without its chain": {cert: certPEM(inter.Cert), key: pkcs8PEM(t, inter.Key), wantChainLen: 1},

		"empty certificate data":       {cert: nil, key: ecPKCS8, wantErr: ErrNoCertificate, wantMsg: "CA certificate data is empty"},
		"blank certificate data":       {cert: []byte(" \n\t"), key: ecPKCS8, wantErr: ErrNoCertificate},
		"empty key data":               {cert: ecCert, key: nil, wantErr: ErrNoKey, wantMsg: "CA key data holds no private key"},
		"only EC PARAMETERS":           {cert: ecCert, key: ecParams, wantErr: ErrNoKey},
		"certificate data not PEM":     {cert: []byte("hello world"), key: ecPKCS8, wantErr: ErrMalformedPEM, wantMsg: "CA certificate data is not PEM encoded"},
		"key data not PEM":             {cert: ecCert, key: []byte{0x30, 0x82, 0x01}, wantErr: ErrMalformedPEM, wantMsg: "CA key data is not PEM encoded"},
		"truncated certificate":        {cert: half(ecCert), key: ecPKCS8, wantErr: ErrMalformedPEM, wantMsg: "truncated or corrupt"},
		"truncated second certificate": {cert: append(certPEM(inter.Cert), half(certPEM(root.Cert))...), key: pkcs8PEM(t, inter.Key), wantErr: ErrMalformedPEM},
		"truncated key":                {cert: ecCert, key: half(ecPKCS8), wantErr: ErrMalformedPEM},
		"bad base64 in certificate":    {cert: bytes.Replace(ecCert, []byte("M"), []byte("!"), 1), key: ecPKCS8, wantErr: ErrMalformedPEM},
		"key in certificate data":      {cert: append(ecCert, ecPKCS8...), key: ecPKCS8, wantErr: ErrMalformedPEM, wantMsg: `PEM block #2 is "PRIVATE KEY"; only CERTIFICATE blocks are allowed`},
		"certificate in key data":      {cert: ecCert, key: append(ecPKCS8, ecCert...), wantErr: ErrMalformedPEM, wantMsg: `PEM block #2 is "CERTIFICATE"; only private key blocks are allowed`},
		"certificate and key swapped":  {cert: ecPKCS8, key: ecCert, wantErr: ErrMalformedPEM},
		"certificate DER is garbage":   {cert: garbageBlock("CERTIFICATE"), key: ecPKCS8, wantErr: ErrMalformedCertificate, wantMsg: "cannot parse certificate #1"},
		"key DER is garbage":           {cert: ecCert, key: garbageBlock("PRIVATE KEY"), wantErr: ErrMalformedKey},
		"legacy encrypted key":         {cert: ecCert, key: encrypted, wantErr: ErrUnsupportedKey, wantMsg: "encrypted private keys are not supported"},
		"PKCS#8 encrypted key":         {cert: ecCert, key: garbageBlock("ENCRYPTED PRIVATE KEY"), wantErr: ErrUnsupportedKey},
		"second, different key":        {cert: ecCert, key: append(ecPKCS8, pkcs8PEM(t, testKey(t, "other"))...), wantErr: ErrAmbiguousKey},
		"weak RSA key":                 {cert: certPEM(weakCA.Cert), key: pkcs8PEM(t, weakCA.Key), wantErr: ErrUnsupportedKey, wantMsg: "RSA key of 1024 bits is too weak"},
		"key of another CA":            {cert: ecCert, key: pkcs8PEM(t, otherRoot.Key), wantErr: ErrKeyMismatch, wantMsg: `does not match CA certificate "CN=ec-root"`},
		"chain with root first":        {cert: certPEM(root.Cert, inter.Cert), key: pkcs8PEM(t, inter.Key), wantErr: ErrKeyMismatch, wantMsg: "but certificate #2 in the chain"},
		"not a CA": {
			cert: certPEM(makeCA(t, certSpec{cn: "leaf", notCA: true, key: testKey(t, "leafish")}, root).Cert), key: pkcs8PEM(t, testKey(t, "leafish")),
			wantErr: ErrNotCA, wantMsg: `certificate "CN=leaf" (serial `,
		},
		"basic constraints missing": {
			cert: certPEM(makeCA(t, certSpec{cn: "v1ish", noBasicConstraints: true, key: testKey(t, "nobc")}, nil).Cert), key: pkcs8PEM(t, testKey(t, "nobc")),
			wantErr: ErrNotCA,
		},
		"no cert sign usage": {
			cert: certPEM(makeCA(t, certSpec{cn: "no-certsign", ku: x509.KeyUsageDigitalSignature, key: testKey(t, "nocs")}, nil).Cert), key: pkcs8PEM(t, testKey(t, "nocs")),
			wantErr: ErrNoCertSign, wantMsg: "lacks the certificate-sign key usage",
		},
		"expired": {
			cert: certPEM(expiredRoot.Cert), key: pkcs8PEM(t, expiredRoot.Key),
			wantErr: ErrCAExpired, wantMsg: "expired at 2026-05-31T12:00:00Z",
		},
		"expired one second ago":      {cert: ecCert, key: ecPKCS8, now: ecCA.Cert.NotAfter.Add(time.Second), wantErr: ErrCAExpired},
		"valid until the last second": {cert: ecCert, key: ecPKCS8, now: ecCA.Cert.NotAfter, wantChainLen: 1},
		"not yet valid": {
			cert: ecCert, key: ecPKCS8, now: ecCA.Cert.NotBefore.Add(-time.Second),
			wantErr: ErrCANotYetValid, wantMsg: "is not valid before 2026-06-01T11:00:00Z",
		},
		"chain with an unrelated root": {
			cert: certPEM(inter.Cert, otherRoot.Cert), key: pkcs8PEM(t, inter.Key),
			wantErr: ErrBrokenChain, wantMsg: `certificate #1 "CN=user-intermediate"`,
		},
		"chain with a same-name impostor root": {
			cert: certPEM(inter.Cert, sameNameRoot.Cert), key: pkcs8PEM(t, inter.Key),
			wantErr: ErrBrokenChain, wantMsg: "is not signed by the next certificate #2",
		},
		"root forbids intermediates": {
			cert: certPEM(underPathLenZero.Chain...), key: pkcs8PEM(t, underPathLenZero.Key),
			wantErr: ErrBrokenChain, wantMsg: "allows 0 CA certificates below it, but the chain has 1",
		},
		"generated CA forbids intermediates": {
			cert: certPEM(underGenerated.Chain...), key: pkcs8PEM(t, underGenerated.Key),
			wantErr: ErrBrokenChain,
		},
		"path length one allows one":  {cert: certPEM(oneBelow.Chain...), key: pkcs8PEM(t, oneBelow.Key), wantChainLen: 2},
		"path length one forbids two": {cert: certPEM(twoBelow.Chain...), key: pkcs8PEM(t, twoBelow.Key), wantErr: ErrBrokenChain, wantMsg: `"CN=pathlen-1"`},
		"chain with an expired root": {
			cert: certPEM(interOfExpired.Chain...), key: pkcs8PEM(t, interOfExpired.Key),
			wantErr: ErrCAExpired, wantMsg: `"CN=expired-root"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			ca, err := LoadCA(tc.cert, tc.key, now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("err = %q, want it to contain %q", err, tc.wantMsg)
				}
				assertNoKeyMaterial(t, err, tc.key)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ca.Chain) != tc.wantChainLen || ca.Chain[0] != ca.Cert {
				t.Fatalf("chain length %d, want %d with Cert first", len(ca.Chain), tc.wantChainLen)
			}
			if !publicKeysEqual(ca.Key.Public(), ca.Cert.PublicKey) {
				t.Errorf("key does not match")
			}
			// The chain re-renders as the certificates it was read from.
			if want := certPEM(ca.Chain...); !bytes.Equal(ca.CertPEM(), want) || !bytes.Contains(tc.cert, want) {
				t.Errorf("CertPEM does not reproduce the input chain")
			}
		})
	}
}

// assertNoKeyMaterial fails if the error quotes any 16-character run of the base64 of a
// PEM block found in the key data.
func assertNoKeyMaterial(t *testing.T, err error, keyPEM []byte) {
	t.Helper()
	if msg := err.Error(); keyleak.Quoted(msg, keyPEM) {
		t.Fatalf("error message leaks key material: %q", msg)
	}
}

func mustDecode(t testing.TB, pemBytes []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

func mustKeyPEM(t testing.TB, ca *CA) []byte {
	t.Helper()
	k, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
