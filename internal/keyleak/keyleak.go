// Package keyleak tells whether a text quotes private key material, for tests that must show an
// error message or log line never does. Standard library only: the signer's tests use it too.
package keyleak

import (
	"encoding/base64"
	"encoding/pem"
	"strings"
)

// runLen is how many consecutive base64 characters count as a quote: 96 bits, far beyond
// chance and shorter than any line a message could wrap a key into.
const runLen = 16

// Quoted reports whether text holds any runLen-character run of the base64 of a PEM block of
// keyPEM.
func Quoted(text string, keyPEM []byte) bool {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return false
		}
		enc := base64.StdEncoding.EncodeToString(b.Bytes)
		for i := 0; i+runLen <= len(enc); i += runLen {
			if strings.Contains(text, enc[i:i+runLen]) {
				return true
			}
		}
	}
}
