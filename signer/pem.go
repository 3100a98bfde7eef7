package signer

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
)

const (
	pemTypeCertificate = "CERTIFICATE"
	pemTypePrivateKey  = "PRIVATE KEY"
)

// pemBlocks splits data into PEM blocks. Text outside blocks is ignored (people keep
// comments and openssl's "subject=" lines there), but a block that starts and does not
// decode is an error: pem.Decode would skip it silently and hide a truncated file.
func pemBlocks(data []byte, what string) ([]*pem.Block, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if starts := bytes.Count(data, []byte("-----BEGIN")); starts != len(blocks) {
		return nil, newError(ErrMalformedPEM, "%s: %d PEM blocks start but %d decode; a block is truncated or corrupt", what, starts, len(blocks))
	}
	if len(blocks) == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, newError(ErrMalformedPEM, "%s is not PEM encoded", what)
	}
	return blocks, nil
}

// encodeCerts renders certificates the one way pem.EncodeToMemory does (64 columns, no
// headers, trailing newline), so equal inputs always give equal bytes: Antrea rewrites
// its caBundles from ca.crt and any byte difference would make two writers fight.
func encodeCerts(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: pemTypeCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}
