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
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	cluster := func(spec v1alpha1.IssuerSpec) *v1alpha1.AntreaClusterIssuer {
		return &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ci"}, Spec: spec}
	}
	namespaced := func(spec v1alpha1.IssuerSpec) *v1alpha1.AntreaIssuer {
		return &v1alpha1.AntreaIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ni", Namespace: "team"}, Spec: spec}
	}
	tests := map[string]struct {
		issuer  interface{ GetName() string }
		check   func(t *testing.T, cfg issuerConfig)
		wantErr string
	}{
		"empty cluster spec: generated ECDSA CA in the cluster resource namespace, Antrea policy": {
			issuer: cluster(v1alpha1.IssuerSpec{}),
			check: func(t *testing.T, cfg issuerConfig) {
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
			check: func(t *testing.T, cfg issuerConfig) {
				if cfg.Secret != (types.NamespacedName{Namespace: "team", Name: "mine"}) || cfg.Generate {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
		"policy overrides": {
			issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{
				AntreaNamespace: "antrea", ClusterDomain: "corp.example", AllowIPAddresses: true,
				Usages:      []v1alpha1.KeyUsage{"digital signature", "server auth", "client auth"},
				MaxDuration: dur(48 * time.Hour),
			}}),
			check: func(t *testing.T, cfg issuerConfig) {
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
		"renewBefore too big": {issuer: cluster(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Generated: &v1alpha1.GeneratedCA{Duration: dur(24 * time.Hour), RenewBefore: dur(48 * time.Hour)}}}), wantErr: "renewBefore"},
		"unknown usage":       {issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{Usages: []v1alpha1.KeyUsage{"teleport"}}}), wantErr: "usages"},
		"bad DNS pattern":     {issuer: cluster(v1alpha1.IssuerSpec{Policy: v1alpha1.PolicySpec{DNSNames: []string{"a..b"}}}), wantErr: "spec.policy"},
		"provided, no name":   {issuer: cluster(v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{}}}), wantErr: "secretName"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cfg issuerConfig
			var err error
			switch iss := tc.issuer.(type) {
			case *v1alpha1.AntreaClusterIssuer:
				cfg, err = resolveConfig(iss, "crn")
			case *v1alpha1.AntreaIssuer:
				cfg, err = resolveConfig(iss, "crn")
			}
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
