package issuer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Defaults for fields the API server has not defaulted (objects created before a default existed,
// or through clients that skip defaulting).
const (
	DefaultCADuration    = 5 * 365 * 24 * time.Hour
	DefaultCARenewBefore = 365 * 24 * time.Hour
)

// ErrInvalidSpec is an issuer spec that no change outside the spec can fix.
var ErrInvalidSpec = errors.New("invalid issuer spec")

// issuerConfig is an issuer's spec resolved against the controller's options: everything Check
// and Sign need, computed without any API call so it can be table-tested.
type issuerConfig struct {
	// Secret is where the CA lives.
	Secret types.NamespacedName
	// Generate says the issuer creates (and rotates) the CA itself.
	Generate     bool
	KeyAlgorithm signer.KeyAlgorithm
	CADuration   time.Duration
	RenewBefore  time.Duration
	// MinPhaseDuration is the least time each CA rotation phase lasts.
	MinPhaseDuration time.Duration
	Policy           signer.Policy
}

// resolveConfig computes an issuer's configuration. clusterResourceNamespace holds the CA Secrets
// of cluster issuers; a namespaced issuer's CA Secret is always in its own namespace, so it can
// never be pointed at another namespace's Secret.
func resolveConfig(iss issuerlibapi.Issuer, clusterResourceNamespace string) (issuerConfig, error) {
	spec, err := specOf(iss)
	if err != nil {
		return issuerConfig{}, err
	}
	ns := iss.GetNamespace()
	if _, cluster := iss.(*v1alpha1.AntreaClusterIssuer); cluster {
		ns = clusterResourceNamespace
	}

	cfg := issuerConfig{Secret: types.NamespacedName{Namespace: ns}}
	var errs []error
	switch ca := spec.CA; {
	case ca.Generated != nil && ca.Provided != nil:
		errs = append(errs, errors.New("spec.ca: set at most one of generated and provided"))
	case ca.Provided != nil:
		cfg.Secret.Name = ca.Provided.SecretName
		cfg.MinPhaseDuration = durationOr(ca.Provided.MinPhaseDuration, DefaultMinPhaseDuration)
		if cfg.Secret.Name == "" {
			errs = append(errs, errors.New("spec.ca.provided.secretName is required"))
		}
	default:
		gen := ca.Generated
		if gen == nil {
			gen = &v1alpha1.GeneratedCA{}
		}
		cfg.Generate = true
		cfg.Secret.Name = gen.SecretName
		if cfg.Secret.Name == "" {
			cfg.Secret.Name = iss.GetName() + "-ca"
		}
		cfg.KeyAlgorithm = signer.KeyAlgorithm(gen.KeyAlgorithm)
		if cfg.KeyAlgorithm == "" {
			cfg.KeyAlgorithm = signer.ECDSAP256
		}
		if !cfg.KeyAlgorithm.Valid() {
			errs = append(errs, fmt.Errorf("spec.ca.generated.keyAlgorithm %q is not supported", gen.KeyAlgorithm))
		}
		cfg.CADuration = durationOr(gen.Duration, DefaultCADuration)
		cfg.RenewBefore = durationOr(gen.RenewBefore, DefaultCARenewBefore)
		cfg.MinPhaseDuration = durationOr(gen.MinPhaseDuration, DefaultMinPhaseDuration)
		if cfg.CADuration < 2*time.Hour {
			errs = append(errs, fmt.Errorf("spec.ca.generated.duration %s is too short: at least 2h", cfg.CADuration))
		}
		if cfg.RenewBefore <= 0 || cfg.RenewBefore >= cfg.CADuration {
			errs = append(errs, fmt.Errorf("spec.ca.generated.renewBefore %s must be positive and shorter than the duration %s", cfg.RenewBefore, cfg.CADuration))
		}
	}

	policy, err := policyFromSpec(spec.Policy)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Policy = policy
	if err := errors.Join(errs...); err != nil {
		return issuerConfig{}, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return cfg, nil
}

// policyFromSpec turns the API's policy into the signer's.
func policyFromSpec(spec v1alpha1.PolicySpec) (signer.Policy, error) {
	ns := spec.AntreaNamespace
	if ns == "" {
		ns = "kube-system"
	}
	p := signer.AntreaPolicy(ns, spec.ClusterDomain)
	if len(spec.DNSNames) > 0 {
		p.DNSNames = slices.Clone(spec.DNSNames)
	}
	p.AllowIPAddresses = spec.AllowIPAddresses
	if len(spec.Usages) > 0 {
		usages := make([]cmapi.KeyUsage, 0, len(spec.Usages))
		for _, u := range spec.Usages {
			usages = append(usages, cmapi.KeyUsage(u))
		}
		ku, eku, err := pki.KeyUsagesForCertificateOrCertificateRequest(usages, false)
		if err != nil {
			return signer.Policy{}, fmt.Errorf("spec.policy.usages: %w", err)
		}
		p.KeyUsages, p.ExtKeyUsages = ku, eku
	}
	p.MinDuration = durationOr(spec.MinDuration, p.MinDuration)
	p.MaxDuration = durationOr(spec.MaxDuration, p.MaxDuration)
	if err := p.Validate(); err != nil {
		return signer.Policy{}, fmt.Errorf("spec.policy: %w", err)
	}
	return p, nil
}

func specOf(iss issuerlibapi.Issuer) (v1alpha1.IssuerSpec, error) {
	switch i := iss.(type) {
	case *v1alpha1.AntreaIssuer:
		return i.Spec, nil
	case *v1alpha1.AntreaClusterIssuer:
		return i.Spec, nil
	}
	return v1alpha1.IssuerSpec{}, fmt.Errorf("%w: unexpected issuer type %T", ErrInvalidSpec, iss)
}

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration == 0 {
		return def
	}
	return d.Duration
}
