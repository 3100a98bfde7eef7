package diagnose

import (
	"encoding/json"
	"fmt"
)

// present records whether a Secret value is non-empty without decoding or keeping it: its
// UnmarshalJSON sees the base64 string token and keeps only a bool.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = len(b) > 2 && b[0] == '"' // "" and null are empty
	return nil
}

// DecodeSecret reads Antrea's Secret from the API server's JSON: its type, the names of its keys
// and the bytes of ca.crt and tls.crt. Every other value, tls.key first, is skipped by the
// decoder: never decoded into memory diagnose keeps, never printed. The caller should clear raw
// afterwards (Collect does).
func DecodeSecret(raw []byte) (*AntreaSecret, error) {
	var keys struct {
		Type string             `json:"type"`
		Data map[string]present `json:"data"`
	}
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("decoding the Secret: %w", err)
	}
	var certs struct {
		Data struct {
			CA  []byte `json:"ca.crt"`
			TLS []byte `json:"tls.crt"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &certs); err != nil {
		return nil, fmt.Errorf("decoding the Secret: %w", err)
	}
	s := &AntreaSecret{Type: keys.Type, Keys: map[string]bool{}, CA: certs.Data.CA, TLS: certs.Data.TLS}
	for k, p := range keys.Data {
		s.Keys[k] = bool(p)
	}
	// encoding/json matches field names case-insensitively; Antrea reads exactly these keys.
	if !s.Keys[keyCA] {
		s.CA = nil
	}
	if !s.Keys[keyTLS] {
		s.TLS = nil
	}
	return s, nil
}
