package issuer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// The CA Secret's labels and annotations. The Secret holds the CA generations (signer's format)
// and the rotation state; these name its owner and record the phase.
const (
	// LabelCASecret marks a CA Secret antrea-issuer may read. Generated CA Secrets carry it; in a
	// namespace of --ca-secret-namespaces, a provided CA Secret is used only if its owner labelled
	// it so (and the controller caches only such Secrets there).
	LabelCASecret = v1alpha1.GroupName + "/ca"
	// AnnotationIssuer names the one issuer a CA Secret serves (v1alpha1.Kind.Ref). An issuer
	// refuses a Secret that names another; it claims a provided Secret that names none.
	AnnotationIssuer = v1alpha1.GroupName + "/issuer"
	// AnnotationPhase and AnnotationPhaseSince record the rotation phase the Secret is in and
	// when it began (RFC 3339): a phase the issuer did not start itself (a next CA added to a
	// provided Secret) begins when the issuer first sees it.
	AnnotationPhase      = v1alpha1.GroupName + "/phase"
	AnnotationPhaseSince = v1alpha1.GroupName + "/phase-since"
	// AnnotationRotate on an issuer asks for a CA rotation: set it to a new value (for example
	// the current time) to rotate now. Each distinct value rotates once.
	AnnotationRotate = v1alpha1.GroupName + "/rotate"
	// AnnotationRotateHandled on the CA Secret is the last AnnotationRotate value acted upon. A CA
	// created while the issuer carries a rotate value has handled it: it is a new CA already.
	AnnotationRotateHandled = v1alpha1.GroupName + "/rotate-handled"
)

var (
	// ErrCASecretNotFound is a missing provided CA Secret.
	ErrCASecretNotFound = errors.New("CA Secret not found")
	// ErrCASecretUnusable is a CA Secret that does not hold a usable CA.
	ErrCASecretUnusable = errors.New("CA Secret is not usable")
	// ErrCASecretNotLabelled is a Secret in a namespace of --ca-secret-namespaces that its owner
	// has not opted in with LabelCASecret.
	ErrCASecretNotLabelled = errors.New("CA Secret is not labelled for antrea-issuer")
	// ErrCASecretOwned is a CA Secret that serves another issuer.
	ErrCASecretOwned = errors.New("CA Secret belongs to another issuer")
	// ErrNamespaceNotWatched is a CA Secret in a namespace the controller may not read.
	ErrNamespaceNotWatched = errors.New("CA Secret namespace is not watched by antrea-issuer")
)

// CAStore reads CA Secrets through the (namespace- and label-restricted) cache and keeps each
// Secret's parsed form per resourceVersion, so that signing does not parse keys again. It never
// creates a CA: Check does (see generateCA).
type CAStore struct {
	client client.Client
	// apiReader reads past the cache: only the metadata of a Secret the cache does not hold, to
	// tell "missing" from "not labelled".
	apiReader client.Reader
	clock     clock.PassiveClock
	// namespaces whose Secrets are cached; labelled: only those with LabelCASecret.
	namespaces map[string]secretScope

	mu     sync.Mutex
	parsed map[types.NamespacedName]parsedCA
}

type secretScope int

const (
	allSecrets secretScope = iota + 1
	labelledSecrets
)

type parsedCA struct {
	resourceVersion string
	generations     signer.Generations
}

// NewCAStore reads Secrets of the cluster resource namespace and of the labelled namespaces.
func NewCAStore(c client.Client, apiReader client.Reader, clk clock.PassiveClock, clusterResourceNamespace string, labelled []string) *CAStore {
	s := &CAStore{client: c, apiReader: apiReader, clock: clk, namespaces: map[string]secretScope{}, parsed: map[types.NamespacedName]parsedCA{}}
	for _, ns := range labelled {
		s.namespaces[ns] = labelledSecrets
	}
	s.namespaces[clusterResourceNamespace] = allSecrets
	return s
}

// Get returns an issuer's CA Secret and the generations it holds. The errors say what to fix:
// ErrNamespaceNotWatched, ErrCASecretNotFound, ErrCASecretNotLabelled, ErrCASecretOwned (the
// Secret names another issuer) or ErrCASecretUnusable.
func (s *CAStore) Get(ctx context.Context, cfg Config) (*corev1.Secret, signer.Generations, error) {
	secret, err := s.read(ctx, cfg)
	if err != nil {
		return nil, signer.Generations{}, err
	}
	switch owner := secret.Annotations[AnnotationIssuer]; {
	case owner != "" && owner != cfg.Ref:
		return nil, signer.Generations{}, fmt.Errorf("%w: %s serves %s (annotation %s); one CA Secret serves one issuer: give %s a Secret of its own",
			ErrCASecretOwned, cfg.Secret, owner, AnnotationIssuer, cfg.Ref)
	case owner == "" && cfg.Generate:
		// A generated CA is rotated and rewritten by the issuer: it must be one the issuer
		// created, never a Secret that happens to have the name.
		return nil, signer.Generations{}, fmt.Errorf("%w: %s exists but was not generated by antrea-issuer (no annotation %s): name another secretName, or sign with it as spec.ca.provided",
			ErrCASecretOwned, cfg.Secret, AnnotationIssuer)
	}
	gens, err := s.Parse(secret)
	return secret, gens, err
}

func (s *CAStore) read(ctx context.Context, cfg Config) (*corev1.Secret, error) {
	scope := s.namespaces[cfg.Secret.Namespace]
	if scope == 0 {
		return nil, fmt.Errorf("%w: %s (add it to --ca-secret-namespaces, and to the chart's caSecretNamespaces)",
			ErrNamespaceNotWatched, cfg.Secret.Namespace)
	}
	secret := &corev1.Secret{}
	err := s.client.Get(ctx, cfg.Secret, secret)
	switch {
	case err == nil:
		return secret, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading CA Secret %s: %w", cfg.Secret, err)
	}
	// Not in the cache. It may still exist without the label (the cache holds only labelled
	// Secrets there): read its metadata, never its data, to say which.
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := s.apiReader.Get(ctx, cfg.Secret, meta); err == nil && meta.Labels[LabelCASecret] != "true" {
		switch {
		case meta.Annotations[AnnotationIssuer] == cfg.Ref:
			return nil, fmt.Errorf("%w: %s is this issuer's but lost its label %s=true, without which antrea-issuer does not read it: restore the label",
				ErrCASecretNotLabelled, cfg.Secret, LabelCASecret)
		case cfg.Generate:
			return nil, fmt.Errorf("%w: %s exists but was not generated by antrea-issuer: name another secretName",
				ErrCASecretOwned, cfg.Secret)
		case scope == labelledSecrets:
			return nil, fmt.Errorf("%w: %s exists but antrea-issuer reads only Secrets labelled %s=true in namespace %s; its owner opts it in with `kubectl label secret -n %s %s %s=true`",
				ErrCASecretNotLabelled, cfg.Secret, LabelCASecret, cfg.Secret.Namespace, cfg.Secret.Namespace, cfg.Secret.Name, LabelCASecret)
		default:
			// Cached namespace but just created: the cache has not seen it yet.
			return nil, fmt.Errorf("CA Secret %s is not in the cache yet; retrying", cfg.Secret)
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrCASecretNotFound, cfg.Secret)
}

// Parse returns the generations a CA Secret holds, parsed once per resourceVersion. Expiry still
// matters between parses: signer.Sign re-checks validity at signing time.
func (s *CAStore) Parse(secret *corev1.Secret) (signer.Generations, error) {
	key := client.ObjectKeyFromObject(secret)
	s.mu.Lock()
	cached, ok := s.parsed[key]
	s.mu.Unlock()
	if ok && cached.resourceVersion == secret.ResourceVersion && secret.ResourceVersion != "" {
		return cached.generations, nil
	}
	gens, err := signer.ParseGenerations(secret.Data, s.clock.Now())
	if err != nil {
		return signer.Generations{}, fmt.Errorf("%w: %s: %w", ErrCASecretUnusable, key, err)
	}
	s.mu.Lock()
	s.parsed[key] = parsedCA{resourceVersion: secret.ResourceVersion, generations: gens}
	s.mu.Unlock()
	return gens, nil
}

// claim records cfg's issuer as the owner of a Secret that names none (a provided CA Secret),
// with the Secret's resourceVersion: of two issuers claiming at once, one wins and the other
// reads the winner's annotation on retry.
func (s *CAStore) claim(ctx context.Context, cfg Config, secret *corev1.Secret) error {
	if secret.Annotations[AnnotationIssuer] != "" {
		return nil
	}
	claimed := secret.DeepCopy()
	if claimed.Annotations == nil {
		claimed.Annotations = map[string]string{}
	}
	claimed.Annotations[AnnotationIssuer] = cfg.Ref
	if err := s.client.Update(ctx, claimed); err != nil {
		return fmt.Errorf("recording %s as the owner of CA Secret %s: %w", cfg.Ref, cfg.Secret, err)
	}
	return nil
}

// create writes a new CA Secret holding gens, create-only: an existing Secret is never
// overwritten, so two replicas racing end up with the one that was created first.
func (s *CAStore) create(ctx context.Context, cfg Config, gens signer.Generations, rotateHandled string, now time.Time) error {
	data, err := gens.SecretData()
	if err != nil {
		return fmt.Errorf("encoding CA: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      cfg.Secret.Name,
			Namespace: cfg.Secret.Namespace,
			Labels:    map[string]string{LabelCASecret: "true"},
			Annotations: map[string]string{
				AnnotationIssuer:     cfg.Ref,
				AnnotationPhase:      string(gens.Phase()),
				AnnotationPhaseSince: now.UTC().Format(time.RFC3339Nano),
			},
		},
		Type: corev1.SecretTypeTLS,
		Data: data,
	}
	if rotateHandled != "" {
		secret.Annotations[AnnotationRotateHandled] = rotateHandled
	}
	if err := s.client.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another replica (or a restarted us) won the race: the cache has not seen its Secret
			// yet. Retry; the next attempt reads the winner's CA and never overwrites it.
			return fmt.Errorf("CA Secret %s was created concurrently; reading it on retry: %w", cfg.Secret, err)
		}
		return fmt.Errorf("creating CA Secret %s: %w", cfg.Secret, err)
	}
	return nil
}

// KnownCA is the CA an issuer's status recorded as active (status.ca.active.certificate), when it
// is still valid at now: the CA clients trust. nil when there is none.
func KnownCA(st *v1alpha1.IssuerStatus, now time.Time) *x509.Certificate {
	if st == nil || st.CA == nil || st.CA.Active == nil || st.CA.Active.Certificate == "" {
		return nil
	}
	b, err := signer.ParseBundle([]byte(st.CA.Active.Certificate))
	if err != nil || b.Len() != 1 {
		return nil
	}
	cert := b.Certificates()[0]
	if !now.Before(cert.NotAfter) || !cert.IsCA {
		return nil
	}
	return cert
}
