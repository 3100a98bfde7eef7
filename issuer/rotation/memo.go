package rotation

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// maxRememberedSignatures bounds signatureMemo: one entry per CertificateRequest, about 100
// bytes each. Requests deleted by cert-manager's revision history limit leave entries behind;
// past the bound the memo starts again empty rather than grow with every request ever seen.
const maxRememberedSignatures = 50_000

// signatureKey is what a remembered answer depends on: the request's version and the CA.
type signatureKey struct {
	version string
	ca      [32]byte
}

type signatureAnswer struct {
	key    signatureKey
	signed bool
}

// signatureMemo remembers, per CertificateRequest, the last signature check made on it. Only
// the latest answer per request is kept, so a CA rotation replaces entries instead of adding.
type signatureMemo struct {
	mu      sync.Mutex
	answers map[types.UID]signatureAnswer
}

func (m *signatureMemo) get(uid types.UID, key signatureKey) (signed, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, found := m.answers[uid]
	if !found || a.key != key {
		return false, false
	}
	return a.signed, true
}

func (m *signatureMemo) put(uid types.UID, key signatureKey, signed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.answers == nil || len(m.answers) >= maxRememberedSignatures {
		m.answers = make(map[types.UID]signatureAnswer)
	}
	m.answers[uid] = signatureAnswer{key: key, signed: signed}
}
