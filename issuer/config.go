package issuer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"k8s.io/apimachinery/pkg/types"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Defaults for fields the API server has not defaulted (objects created before a default existed,
// or through clients that skip defaulting). An empty field takes its default; a field that is set
// is never replaced in silence: a zero, negative or out-of-bounds value makes the spec invalid.
const (
	DefaultCADuration       = 5 * 365 * 24 * time.Hour
	DefaultCARenewBefore    = 365 * 24 * time.Hour
	DefaultMinPhaseDuration = 5 * time.Minute
)

// ErrInvalidSpec is an issuer spec that no change outside the spec can fix.
var ErrInvalidSpec = errors.New("invalid issuer spec")

// Config is an issuer's spec resolved against the controller's options: everything checking,
// signing and CA rotation need, computed without any API call so it can be table-tested.
type Config struct {
	// Kind is the issuer's kind, Issuer its namespace (empty for the cluster-scoped kind) and
	// name, and Ref names it in annotations, events and logs ("<Kind>/<namespace>/<name>").
	Kind   v1alpha1.Kind
	Issuer types.NamespacedName
	Ref    string
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

// ResolveConfig computes an issuer's configuration. clusterResourceNamespace holds the CA Secrets
// of cluster issuers; a namespaced issuer's CA Secret is always in its own namespace, so it can
// never be pointed at another namespace's Secret. It checks what the CRD's validation checks, for
// objects stored before that validation existed.
func ResolveConfig(iss v1alpha1.Issuer, clusterResourceNamespace string) (Config, error) {
	kind := iss.IssuerKind()
	spec := iss.GetSpec()
	ns := iss.GetNamespace()
	if !kind.Namespaced {
		ns = clusterResourceNamespace
	}
	cfg := Config{Kind: kind, Issuer: types.NamespacedName{Namespace: iss.GetNamespace(), Name: iss.GetName()},
		Ref: v1alpha1.RefOf(iss), Secret: types.NamespacedName{Namespace: ns}}

	var errs []error
	duration := func(field string, d v1alpha1.Duration, def, lo, hi time.Duration) time.Duration {
		if d == "" {
			return def
		}
		v, err := d.Parse()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		case v < lo || v > hi:
			errs = append(errs, fmt.Errorf("%s %s is out of bounds: from %s to %s", field, d, lo, hi))
		}
		return v
	}

	switch ca := spec.CA; {
	case ca.Generated != nil && ca.Provided != nil:
		errs = append(errs, errors.New("spec.ca: set at most one of generated and provided"))
	case ca.Provided != nil:
		cfg.Secret.Name = ca.Provided.SecretName
		cfg.MinPhaseDuration = duration("spec.ca.provided.minPhaseDuration", ca.Provided.MinPhaseDuration,
			DefaultMinPhaseDuration, v1alpha1.MinPhaseDurationMin, v1alpha1.MaxPhaseDuration)
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
			cfg.Secret.Name = iss.GetName() + kind.DefaultCASecretSuffix
		}
		cfg.KeyAlgorithm = signer.KeyAlgorithm(gen.KeyAlgorithm)
		if cfg.KeyAlgorithm == "" {
			cfg.KeyAlgorithm = signer.ECDSAP256
		}
		if !cfg.KeyAlgorithm.Valid() {
			errs = append(errs, fmt.Errorf("spec.ca.generated.keyAlgorithm %q is not supported", gen.KeyAlgorithm))
		}
		cfg.CADuration = duration("spec.ca.generated.duration", gen.Duration, DefaultCADuration, v1alpha1.MinCADuration, v1alpha1.MaxCADuration)
		cfg.RenewBefore = duration("spec.ca.generated.renewBefore", gen.RenewBefore, DefaultCARenewBefore, time.Nanosecond, v1alpha1.MaxCADuration)
		cfg.MinPhaseDuration = duration("spec.ca.generated.minPhaseDuration", gen.MinPhaseDuration,
			DefaultMinPhaseDuration, v1alpha1.MinPhaseDurationMin, v1alpha1.MaxPhaseDuration)
		if err := RotationFits(cfg.CADuration, cfg.RenewBefore, cfg.MinPhaseDuration); err != nil {
			errs = append(errs, err)
		}
	}

	policy, err := policyFromSpec(spec.Policy)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Policy = policy
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return cfg, nil
}

// RotationFits reports whether a rotation can complete inside renewBefore: both phases last at
// least minPhase, and cert-manager re-issues every certificate three times; it also needs
// renewBefore to be shorter than the CA's lifetime. The message says what would fit.
func RotationFits(caDuration, renewBefore, minPhase time.Duration) error {
	if renewBefore >= caDuration {
		return fmt.Errorf("spec.ca.generated.renewBefore %s must be shorter than the duration %s", renewBefore, caDuration)
	}
	if need := RotationNeeds(minPhase); renewBefore < need {
		return fmt.Errorf("spec.ca.generated.renewBefore %s leaves no time to rotate: the two phases of minPhaseDuration %s and %s for re-issuing need renewBefore >= %s; raise renewBefore or lower minPhaseDuration",
			renewBefore, minPhase, v1alpha1.ReissueAllowance, need)
	}
	return nil
}

// RotationNeeds is the least time a whole rotation takes: two phases of minPhase and the time
// allowed for re-issuing every certificate.
func RotationNeeds(minPhase time.Duration) time.Duration {
	return 2*minPhase + v1alpha1.ReissueAllowance
}

// policyFromSpec turns the API's policy into the signer's.
func policyFromSpec(spec v1alpha1.PolicySpec) (signer.Policy, error) {
	ns := spec.AntreaNamespace
	if ns == "" {
		ns = "kube-system"
	}
	p := signer.AntreaPolicy(ns, spec.ClusterDomain)
	if len(spec.DNSNames) > 0 {
		// Custom DNS names: a common name must be one of them, unless commonNames says otherwise.
		p.DNSNames = slices.Clone(spec.DNSNames)
		p.CommonNames = nil
	}
	if len(spec.CommonNames) > 0 {
		p.CommonNames = slices.Clone(spec.CommonNames)
	}
	p.AllowIPAddresses = spec.AllowIPAddresses
	// A certificate may be identified by its common name or IP addresses alone when the policy
	// says which ones it allows; by default every request carries a DNS name, as Antrea's does.
	p.DNSNamesOptional = len(spec.CommonNames) > 0 || spec.AllowIPAddresses
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
	var errs []error
	policyDuration := func(field string, d v1alpha1.Duration, def time.Duration) time.Duration {
		if d == "" {
			return def
		}
		v, err := d.Parse()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("spec.policy.%s: %w", field, err))
		case v <= 0 || v > v1alpha1.MaxCertificateDuration:
			errs = append(errs, fmt.Errorf("spec.policy.%s %s must be positive and at most %s", field, d, v1alpha1.MaxCertificateDuration))
		}
		return v
	}
	p.MinDuration = policyDuration("minDuration", spec.MinDuration, p.MinDuration)
	p.MaxDuration = policyDuration("maxDuration", spec.MaxDuration, p.MaxDuration)
	if err := errors.Join(errs...); err != nil {
		return signer.Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return signer.Policy{}, fmt.Errorf("spec.policy: %w", err)
	}
	return p, nil
}
