package issuer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Labels and annotations antrea-issuer puts on the CA Secrets it generates.
const (
	// LabelCASecret marks a CA Secret that antrea-issuer generated.
	LabelCASecret = v1alpha1.GroupName + "/ca"
	// AnnotationIssuer names the issuer a generated CA Secret belongs to (<Kind>/<namespace>/<name>).
	AnnotationIssuer = v1alpha1.GroupName + "/issuer"
)

var (
	// ErrCASecretNotFound is a missing provided CA Secret.
	ErrCASecretNotFound = errors.New("CA Secret not found")
	// ErrCASecretUnusable is a CA Secret that does not hold a usable CA.
	ErrCASecretUnusable = errors.New("CA Secret is not usable")
	// ErrNamespaceNotWatched is a CA Secret in a namespace the controller may not read.
	ErrNamespaceNotWatched = errors.New("CA Secret namespace is not watched by antrea-issuer")
)

// caStore reads CA Secrets through the (namespace-restricted) cache, creates generated CAs
// exactly once, and keeps each Secret's parsed form per resourceVersion so signing does not
// re-parse keys.
type caStore struct {
	client     client.Client
	namespaces map[string]bool // namespaces whose Secrets are cached

	mu     sync.Mutex
	parsed map[types.NamespacedName]parsedCA
}

type parsedCA struct {
	resourceVersion string
	generations     signer.Generations
}

func newCAStore(c client.Client, namespaces []string) *caStore {
	s := &caStore{client: c, namespaces: map[string]bool{}, parsed: map[types.NamespacedName]parsedCA{}}
	for _, ns := range namespaces {
		s.namespaces[ns] = true
	}
	return s
}

// load returns the CA generations held in cfg.Secret. For a generated CA that does not exist yet
// it creates the Secret (create-only: an existing Secret is never overwritten, so two replicas
// racing end up with the one that was created first). created reports whether this call made it.
func (s *caStore) load(ctx context.Context, cfg issuerConfig, owner string, now time.Time) (gens signer.Generations, created bool, err error) {
	if !s.namespaces[cfg.Secret.Namespace] {
		return signer.Generations{}, false, fmt.Errorf("%w: %s (add it to --ca-secret-namespaces, and to the chart's caSecretNamespaces)",
			ErrNamespaceNotWatched, cfg.Secret.Namespace)
	}
	secret := &corev1.Secret{}
	err = s.client.Get(ctx, cfg.Secret, secret)
	switch {
	case apierrors.IsNotFound(err) && cfg.Generate:
		secret, err = s.create(ctx, cfg, owner, now)
		if err != nil {
			return signer.Generations{}, false, err
		}
		created = true
	case apierrors.IsNotFound(err):
		return signer.Generations{}, false, fmt.Errorf("%w: %s; create it with the CA certificate in tls.crt and its key in tls.key",
			ErrCASecretNotFound, cfg.Secret)
	case err != nil:
		return signer.Generations{}, false, fmt.Errorf("reading CA Secret %s: %w", cfg.Secret, err)
	}
	gens, err = s.parse(secret, now)
	return gens, created, err
}

func (s *caStore) parse(secret *corev1.Secret, now time.Time) (signer.Generations, error) {
	key := client.ObjectKeyFromObject(secret)
	s.mu.Lock()
	cached, ok := s.parsed[key]
	s.mu.Unlock()
	if ok && cached.resourceVersion == secret.ResourceVersion && secret.ResourceVersion != "" {
		// Expiry still matters between parses; signer.Sign re-checks validity at signing time.
		return cached.generations, nil
	}
	gens, err := signer.ParseGenerations(secret.Data, now)
	if err != nil {
		return signer.Generations{}, fmt.Errorf("%w: %s: %w", ErrCASecretUnusable, key, err)
	}
	s.mu.Lock()
	s.parsed[key] = parsedCA{resourceVersion: secret.ResourceVersion, generations: gens}
	s.mu.Unlock()
	return gens, nil
}

func (s *caStore) create(ctx context.Context, cfg issuerConfig, owner string, now time.Time) (*corev1.Secret, error) {
	ca, err := signer.GenerateCA(now, signer.CAOptions{KeyAlgorithm: cfg.KeyAlgorithm, Lifetime: cfg.CADuration})
	if err != nil {
		return nil, fmt.Errorf("generating CA: %w", err)
	}
	data, err := signer.Generations{Active: ca}.SecretData()
	if err != nil {
		return nil, fmt.Errorf("encoding CA: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        cfg.Secret.Name,
			Namespace:   cfg.Secret.Namespace,
			Labels:      map[string]string{LabelCASecret: "true"},
			Annotations: map[string]string{AnnotationIssuer: owner},
		},
		Type: corev1.SecretTypeTLS,
		Data: data,
	}
	if err := s.client.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another replica (or a restarted us) won the race: the cache has not seen its Secret
			// yet. Retry; the next attempt reads the winner's CA and never overwrites it.
			return nil, fmt.Errorf("CA Secret %s was created concurrently; reading it on retry: %w", cfg.Secret, err)
		}
		return nil, fmt.Errorf("creating CA Secret %s: %w", cfg.Secret, err)
	}
	log.FromContext(ctx).Info("generated a new CA", "secret", cfg.Secret.String(),
		"subject", ca.Cert.Subject.String(), "notAfter", ca.Cert.NotAfter, "keyAlgorithm", string(cfg.KeyAlgorithm))
	return secret, nil
}
