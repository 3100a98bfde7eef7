package signer

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPolicyErrorMessageIsBounded: thousands of refused names are all in Violations, but the
// message (a CertificateRequest condition, an event, a log line) names what fits, gives each
// allowed list once, counts the rest and stays under the 1 kB an Event's note may hold.
func TestPolicyErrorMessageIsBounded(t *testing.T) {
	tests := map[string]struct {
		names    []string
		wantMore string
	}{
		"3000 short names": {names: numbered("n%d", 3000), wantMore: "and 2980 more violations"},
		"25 long names":    {names: numbered(strings.Repeat("x", 30)+".%d.example.com", 25), wantMore: "and 14 more violations"},
		"one 20 KB name":   {names: []string{strings.Repeat("a.", 10<<10) + "com"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := &x509.Certificate{DNSNames: tc.names, NotBefore: testNow, NotAfter: testNow.Add(24 * time.Hour)}
			err := AntreaPolicy("kube-system", "").Evaluate(tmpl)
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Violations) != len(tc.names) {
				t.Fatalf("err = %.200v, want one violation per name", err)
			}
			msg := err.Error()
			if len(msg) > maxPolicyMessage {
				t.Errorf("message is %d bytes, more than %d", len(msg), maxPolicyMessage)
			}
			if !strings.HasPrefix(msg, ErrPolicyViolation.Error()+": ") {
				t.Errorf("message %.100q does not start with the sentinel", msg)
			}
			if tc.wantMore != "" && !strings.HasSuffix(msg, tc.wantMore) {
				t.Errorf("message %q does not end with %q", msg, tc.wantMore)
			}
			if n := strings.Count(msg, "(allowed: "); n > 1 {
				t.Errorf("the allowed names are given %d times: %q", n, msg)
			}
		})
	}
}

func numbered(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}
