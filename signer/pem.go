package signer

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
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

// encodeCerts renders certificates exactly as pem.EncodeToMemory does (64 columns, no
// headers, trailing newline), so equal inputs always give equal bytes: Antrea rewrites its
// caBundles from ca.crt and any byte difference would make two writers fight.
func encodeCerts(certs []*x509.Certificate) []byte {
	size := 0
	for _, c := range certs {
		size += pemSize(pemTypeCertificate, len(c.Raw))
	}
	if size == 0 {
		return nil
	}
	out := make([]byte, 0, size)
	for _, c := range certs {
		out = appendPEM(out, pemTypeCertificate, c.Raw)
	}
	return out
}

// pemLineBytes is the input of one 64-character base64 line.
const pemLineBytes = 48

// appendPEM appends one header-less PEM block, byte for byte what pem.Encode writes. It
// exists because pem.Encode's line breaker cost several percent of a whole signature.
func appendPEM(dst []byte, typ string, der []byte) []byte {
	dst = append(dst, "-----BEGIN "...)
	dst = append(dst, typ...)
	dst = append(dst, "-----\n"...)
	for len(der) > 0 {
		n := min(pemLineBytes, len(der))
		dst = base64.StdEncoding.AppendEncode(dst, der[:n])
		dst = append(dst, '\n')
		der = der[n:]
	}
	dst = append(dst, "-----END "...)
	dst = append(dst, typ...)
	return append(dst, "-----\n"...)
}

// pemSize is len(appendPEM(nil, typ, der)) for a der of n bytes.
func pemSize(typ string, n int) int {
	lines := (n + pemLineBytes - 1) / pemLineBytes
	return 2*(len(typ)+len("-----BEGIN -----\n")) - 2 + base64.StdEncoding.EncodedLen(n) + lines
}
