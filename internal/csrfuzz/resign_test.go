package csrfuzz

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
)

func TestResign(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "original-name"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	// Change the body: the signature no longer matches until Resign.
	broken := bytes.Replace(der, []byte("original-name"), []byte("modified-name"), 1)
	csr, err := x509.ParseCertificateRequest(broken)
	if err != nil || csr.CheckSignature() == nil {
		t.Fatalf("test set-up: parse %v, the edited CSR still verifies", err)
	}
	csr, err = x509.ParseCertificateRequest(Resign(broken, key))
	if err != nil || csr.CheckSignature() != nil || csr.Subject.CommonName != "modified-name" {
		t.Fatalf("Resign: parse %v, signature %v, subject %s", err, csr.CheckSignature(), csr.Subject)
	}

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if got := Resign(broken, other); !bytes.Equal(got, broken) {
		t.Error("a CSR of another key was re-signed")
	}
	if got := Resign([]byte("junk"), key); string(got) != "junk" {
		t.Error("junk was changed")
	}
}
