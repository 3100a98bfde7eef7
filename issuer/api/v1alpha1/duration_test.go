package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAnyStoredDurationDecodes: an issuer stored before the API server validated durations (or
// through a CRD without the validation) must still decode, whatever its durations hold: with
// metav1.Duration, one such object in any namespace made every list of issuers fail, and the
// controller stopped for every issuer of the cluster. The bad value is reported by Parse, for that
// issuer alone.
func TestAnyStoredDurationDecodes(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		"go duration":  {value: "1h30m", want: 90 * time.Minute},
		"banana":       {value: "banana", wantErr: `"banana" is not a duration`},
		"overflow":     {value: "9999999999h", wantErr: `"9999999999h" is not a duration`},
		"with spaces":  {value: "5 minutes", wantErr: "is not a duration"},
		"empty is 0":   {value: "", want: 0},
		"negative":     {value: "-5m", want: -5 * time.Minute},
		"in days (no)": {value: "3d", wantErr: "is not a duration"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw := `{"apiVersion":"certificates.antrea.io/v1alpha1","kind":"AntreaIssuer","metadata":{"name":"x","namespace":"team"},
				"spec":{"ca":{"generated":{"duration":` + jsonString(tc.value) + `,"renewBefore":` + jsonString(tc.value) + `}},"policy":{"maxDuration":` + jsonString(tc.value) + `}}}`
			var iss AntreaIssuer
			if err := json.Unmarshal([]byte(raw), &iss); err != nil {
				t.Fatalf("decoding failed: %v", err)
			}
			for _, d := range []Duration{iss.Spec.CA.Generated.Duration, iss.Spec.CA.Generated.RenewBefore, iss.Spec.Policy.MaxDuration} {
				got, err := d.Parse()
				switch {
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("Parse(%q) error = %v, want %q", d, err, tc.wantErr)
				case tc.wantErr == "" && (err != nil || got != tc.want):
					t.Errorf("Parse(%q) = %s, %v, want %s", d, got, err, tc.want)
				}
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
