package cainject

import "sync"

// SyncedBundle remembers the CA bundle that every target carried at the last complete sync. CA
// rotation in the same process reads it to know that Antrea's clients (antrea-ca, APIServices,
// webhooks, the conversion CRD) trust a new CA before it starts signing with it.
type SyncedBundle struct {
	mu  sync.RWMutex
	pem []byte
}

// Get returns the bundle every target carried at the last complete sync; nil before the first.
func (s *SyncedBundle) Get() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pem
}

func (s *SyncedBundle) set(pem []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pem = pem
}
