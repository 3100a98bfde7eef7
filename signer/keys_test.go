package signer

import (
	"bytes"
	"testing"
)

// The fast subject key ID must equal the RFC 7093 definition over the encoded SPKI.
func TestSubjectKeyIDMatchesSPKI(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ key string }{
		"P-256": {"p256"}, "P-384": {"p384"}, "P-521": {"p521"}, "RSA-2048": {"rsa2048"}, "Ed25519": {"ed25519"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pub := testKey(t, tc.key).Public()
			fast, err := subjectKeyID(pub)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := subjectKeyIDFromSPKI(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fast, slow) || len(fast) != 20 {
				t.Errorf("subjectKeyID = %x, SPKI method = %x", fast, slow)
			}
		})
	}
}
