package signer

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// appendPEM must be byte for byte pem.EncodeToMemory, the format every consumer expects.
func TestAppendPEMMatchesEncodingPEM(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ string
		n   int
	}{
		"empty": {typ: "CERTIFICATE", n: 0}, "one byte": {typ: "CERTIFICATE", n: 1}, "two bytes": {typ: "CERTIFICATE", n: 2},
		"47 bytes": {typ: "CERTIFICATE", n: 47}, "one line": {typ: "CERTIFICATE", n: 48}, "49 bytes": {typ: "CERTIFICATE", n: 49},
		"two lines": {typ: "CERTIFICATE", n: 96}, "certificate size": {typ: "CERTIFICATE", n: 517}, "key type": {typ: "PRIVATE KEY", n: 138},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			der := make([]byte, tc.n)
			_, _ = rand.Read(der)
			want := pem.EncodeToMemory(&pem.Block{Type: tc.typ, Bytes: der})
			got := appendPEM([]byte("prefix"), tc.typ, der)
			if !bytes.Equal(got[len("prefix"):], want) {
				t.Errorf("appendPEM =\n%s\nwant\n%s", got, want)
			}
			if size := pemSize(tc.typ, tc.n); size != len(want) {
				t.Errorf("pemSize = %d, want %d", size, len(want))
			}
		})
	}
}

func TestEncodeCertsMatchesEncodingPEM(t *testing.T) {
	t.Parallel()
	ca := testCA(t, ECDSAP256)
	rsaCA := testCA(t, RSA2048)
	tests := map[string]struct{ certs []*x509.Certificate }{
		"none": {}, "one": {certs: []*x509.Certificate{ca.Cert}}, "two": {certs: []*x509.Certificate{ca.Cert, rsaCA.Cert}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var want []byte
			for _, c := range tc.certs {
				want = append(want, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
			}
			if got := encodeCerts(tc.certs); !bytes.Equal(got, want) {
				t.Errorf("encodeCerts differs from pem.EncodeToMemory")
			}
		})
	}
}
