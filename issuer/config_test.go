package issuer

import (
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

func TestResolveConfig(t *testing.T) {
	t.Parallel()
	cluster := func(spec v1alpha1.IssuerSpec) *v1alpha1.AntreaClusterIssuer {
		return &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ci"}, Spec: spec}
	}
	generated := func(g v1alpha1.GeneratedCA) v1alpha1.IssuerSpec {
		return v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &g}}
	}
	namespaced := func(spec v1alpha1.IssuerSpec) *v1alpha1.AntreaIssuer {
		return &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ni", Namespace: "team"}, Spec: spec}
	}
	tests := map[string]struct {
		issuer  v1alpha1.Issuer
		check   func(t *testing.T, cfg Config)
		wantErr string
	}{
		"empty cluster spec: generated ECDSA CA in the cluster resource namespace, Antrea policy": {
			issuer: cluster(v1alpha1.IssuerSpec{}),
			check: func(t *testing.T, cfg Config) {
				want := types.NamespacedName{Namespace: "crn", Name: "ci-ca"}
				if cfg.Secret != want || !cfg.Generate || cfg.KeyAlgorithm != signer.ECDSAP256 {
					t.Errorf("cfg = %+v", cfg)
				}
				if cfg.CADuration != DefaultCADuration || cfg.RenewBefore != DefaultCARenewBefore {
					t.Errorf("durations = %s/%s", cfg.CADuration, cfg.RenewBefore)
				}
				if !slices.Equal(cfg.Policy.DNSNames, []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"}) {
					t.Errorf("DNS names = %v", cfg.Policy.DNSNames)
				}
			},
		},
		"namespaced issuer keeps its CA in its own namespace": {
			issuer: namespaced(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "mine"}}}),
			check: func(t *testing.T, cfg Config) {
				if cfg.Secret != (types.NamespacedName{Namespace: "team", Name: "mine"}) || cfg.Generate {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
		"policy overrides": {
			issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{
				AntreaNamespace: "antrea", ClusterDomain: "corp.example", AllowIPAddresses: true,
				Usages:      []v1alpha1.KeyUsage{"digital signature", "server auth", "client auth"},
				MaxDuration: "48h",
			}}),
			check: func(t *testing.T, cfg Config) {
				p := cfg.Policy
				if !slices.Equal(p.DNSNames, []string{"antrea.antrea.svc", "antrea.antrea.svc.corp.example"}) || !p.AllowIPAddresses {
					t.Errorf("policy = %+v", p)
				}
				if p.KeyUsages != x509.KeyUsageDigitalSignature || len(p.ExtKeyUsages) != 2 || p.MaxDuration != 48*time.Hour {
					t.Errorf("usages/duration = %v %v %s", p.KeyUsages, p.ExtKeyUsages, p.MaxDuration)
				}
			},
		},
		"both CA kinds":       {issuer: cluster(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{}, Provided: &v1alpha1.ProvidedCA{SecretName: "x"}}}), wantErr: "at most one"},
		"unknown algorithm":   {issuer: cluster(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{KeyAlgorithm: "DSA"}}}), wantErr: "keyAlgorithm"},
		"renewBefore too big": {issuer: cluster(generated(v1alpha1.GeneratedCA{Duration: "24h", RenewBefore: "48h"})), wantErr: "must be shorter than the duration 24h"},
		// Objects stored before the API server validated durations: each is refused, never
		// defaulted in silence, and names the field.
		"duration not a duration":        {issuer: cluster(generated(v1alpha1.GeneratedCA{Duration: "banana"})), wantErr: `spec.ca.generated.duration: "banana" is not a duration`},
		"renewBefore overflows":          {issuer: cluster(generated(v1alpha1.GeneratedCA{RenewBefore: "9999999999h"})), wantErr: "spec.ca.generated.renewBefore"},
		"renewBefore zero":               {issuer: cluster(generated(v1alpha1.GeneratedCA{RenewBefore: "0s"})), wantErr: "spec.ca.generated.renewBefore 0s is out of bounds"},
		"minPhaseDuration negative":      {issuer: cluster(generated(v1alpha1.GeneratedCA{MinPhaseDuration: "-5m"})), wantErr: "spec.ca.generated.minPhaseDuration -5m is out of bounds"},
		"minPhaseDuration far too long":  {issuer: cluster(generated(v1alpha1.GeneratedCA{MinPhaseDuration: "100000h"})), wantErr: "minPhaseDuration 100000h is out of bounds"},
		"provided minPhaseDuration typo": {issuer: namespaced(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: "x", MinPhaseDuration: "5 minutes"}}}), wantErr: "spec.ca.provided.minPhaseDuration"},
		"CA duration too long":           {issuer: cluster(generated(v1alpha1.GeneratedCA{Duration: "100000h", RenewBefore: "1000h"})), wantErr: "spec.ca.generated.duration 100000h is out of bounds"},
		"policy maxDuration typo":        {issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{MaxDuration: "1y"}}), wantErr: "spec.policy.maxDuration"},
		"rotation cannot fit": {
			issuer:  cluster(generated(v1alpha1.GeneratedCA{Duration: "2h", RenewBefore: "1h59m50s", MinPhaseDuration: "5h"})),
			wantErr: "renewBefore 1h59m50s leaves no time to rotate: the two phases of minPhaseDuration 5h0m0s and 30m0s for re-issuing need renewBefore >= 10h30m0s",
		},
		"rotation fits exactly": {
			issuer: cluster(generated(v1alpha1.GeneratedCA{Duration: "2h", RenewBefore: "40m", MinPhaseDuration: "5m"})),
			check: func(t *testing.T, cfg Config) {
				if cfg.RenewBefore != 40*time.Minute || cfg.MinPhaseDuration != 5*time.Minute {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
		"namespaced default Secret name differs from the cluster kind's": {
			issuer: namespaced(v1alpha1.IssuerSpec{}),
			check: func(t *testing.T, cfg Config) {
				if cfg.Secret != (types.NamespacedName{Namespace: "team", Name: "ni-ca-keypair"}) || cfg.Ref != "AntreaIssuer/team/ni" {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
		"unknown usage":     {issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{Usages: []v1alpha1.KeyUsage{"teleport"}}}), wantErr: "usages"},
		"bad DNS pattern":   {issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{DNSNames: []string{"a..b"}}}), wantErr: "spec.policy"},
		"provided, no name": {issuer: cluster(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{}}}), wantErr: "secretName"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ResolveConfig(tc.issuer, "crn")
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidSpec mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}
