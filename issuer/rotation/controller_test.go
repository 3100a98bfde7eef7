package rotation

import (
	"testing"
	"time"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// TestReplacedCA: a Steady Secret holding another CA than the status's active one is a
// replacement to keep trusted, unless it is the CA the status recorded as next (the issuer's own
// rotation, its status lagging the Secret after a restart).
func TestReplacedCA(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	newCA := func() *signer.CA { return generateCA(t, now.Add(-time.Hour), 365*24*time.Hour) }
	old, rotated, provided := newCA(), newCA(), newCA()
	issuerWith := func(st *v1alpha1.CAStatus) v1alpha1.Issuer {
		return &v1alpha1.AntreaClusterIssuer{Status: v1alpha1.IssuerStatus{CA: st}}
	}
	for name, tc := range map[string]struct {
		iss  v1alpha1.Issuer
		gens signer.Generations
		want *signer.CA
	}{
		"no status yet":            {iss: issuerWith(nil), gens: signer.Generations{Active: old}},
		"the recorded CA":          {iss: issuerWith(&v1alpha1.CAStatus{Active: generationOf(old.Cert)}), gens: signer.Generations{Active: old}},
		"mid-rotation":             {iss: issuerWith(&v1alpha1.CAStatus{Active: generationOf(old.Cert)}), gens: signer.Generations{Active: rotated, Previous: old.Cert}},
		"another CA put in place":  {iss: issuerWith(&v1alpha1.CAStatus{Active: generationOf(old.Cert)}), gens: signer.Generations{Active: provided}, want: old},
		"the CA recorded as next":  {iss: issuerWith(&v1alpha1.CAStatus{Active: generationOf(old.Cert), Next: generationOf(rotated.Cert)}), gens: signer.Generations{Active: rotated}},
		"another CA than the next": {iss: issuerWith(&v1alpha1.CAStatus{Active: generationOf(old.Cert), Next: generationOf(rotated.Cert)}), gens: signer.Generations{Active: provided}, want: old},
	} {
		got := replacedCA(tc.iss, tc.gens, now)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s: replacedCA = %s, want none", name, got.Subject)
		case tc.want != nil && (got == nil || !got.Equal(tc.want.Cert)):
			t.Errorf("%s: replacedCA = %v, want the status's active CA", name, got)
		}
	}
}

// generateCA is a CA of the issuer's own making, valid from notBefore for lifetime.
func generateCA(t testing.TB, notBefore time.Time, lifetime time.Duration) *signer.CA {
	t.Helper()
	ca, err := signer.GenerateCA(notBefore, signer.CAOptions{Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
