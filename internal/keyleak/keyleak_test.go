package keyleak

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestQuoted(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	body := string(keyPEM[len("-----BEGIN PRIVATE KEY-----\n"):])
	for text, want := range map[string]bool{
		"tls.key: invalid key":            false,
		"bad key " + body[:40]:            true,
		"bad key " + body[20:60] + " end": true,
		string(keyPEM):                    true,
	} {
		if got := Quoted(text, keyPEM); got != want {
			t.Errorf("Quoted(%.50q) = %v, want %v", text, got, want)
		}
	}
}
