// Package handover holds back the first certificate for Antrea's Secret while antrea-controller
// runs its default mode (selfSignedCert: true).
//
// In that mode antrea-controller serves any pair its Secret holds with at least 90 days left the
// moment it sees it, and publishes it to antrea-ca only a moment later: the CA its agents trust
// changes with no overlap, and an agent connecting in between fails with "x509: certificate
// signed by unknown authority". So while Antrea's configuration says selfSignedCert: true and the
// Secret does not already hold a certificate from the issuer's CA, the issuer leaves the request
// pending and says why; it signs once the configuration says selfSignedCert: false (after
// antrea-controller was stopped, docs/migration.md). Renewals of a certificate Antrea already
// serves from this CA are never held: its clients trust that CA already.
package handover

import (
	"context"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"antrea.io/antrea-issuer/signer"
)

// RBAC: Antrea's configuration, read by name, and watched (through a cache restricted to its
// name) so that a held request is signed as soon as it says selfSignedCert: false. The Secret
// itself is readable through the CA bundle sync's rule, Certificates through rotation's.
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=configmaps,verbs=get;list;watch,resourceNames=antrea-config

// Defaults: Antrea's own names.
const (
	DefaultConfigMapName = "antrea-config"
	DefaultConfigKey     = "antrea-controller.conf"
	// DefaultRetryAfter is how often a held request is looked at again besides when Antrea's
	// configuration changes (watched): each look is three GETs and an occurrence of issuer-lib's
	// pending Warning event on the request.
	DefaultRetryAfter = 10 * time.Minute
)

// ErrHeld marks a request held back because Antrea runs its default mode.
var ErrHeld = errors.New("held while Antrea runs its default mode")

// Options name Antrea's objects.
type Options struct {
	Namespace     string // Antrea's namespace
	SecretName    string // antrea-controller-tls
	ConfigMapName string // antrea-config; empty disables the gate
	ConfigKey     string // antrea-controller.conf
	RetryAfter    time.Duration
}

// Validate reports every invalid option.
func (o Options) Validate() error {
	var errs []error
	for _, f := range []struct {
		field string
		msgs  []string
	}{
		{"namespace", validation.IsDNS1123Label(o.Namespace)},
		{"secret name", validation.IsDNS1123Subdomain(o.SecretName)},
		{"configmap name", validation.IsDNS1123Subdomain(o.ConfigMapName)},
		{"configmap key", validation.IsConfigMapKey(o.ConfigKey)},
	} {
		for _, m := range f.msgs {
			errs = append(errs, fmt.Errorf("antrea configuration %s: %s", f.field, m))
		}
	}
	if o.RetryAfter <= 0 {
		errs = append(errs, fmt.Errorf("antrea configuration retry period must be positive, got %s", o.RetryAfter))
	}
	return errors.Join(errs...)
}

// CacheByObject restricts a cache of ConfigMaps to Antrea's configuration, the one ConfigMap the
// gate watches (list and watch by metadata.name, which RBAC's resourceNames authorizes).
func (o Options) CacheByObject() cache.ByObject {
	return cache.ByObject{Namespaces: map[string]cache.Config{
		o.Namespace: {FieldSelector: fields.OneTermEqualSelector("metadata.name", o.ConfigMapName)},
	}}
}

// Gate decides, per CertificateRequest, whether signing must wait.
type Gate struct {
	reader client.Reader // the Certificate and the Secret: read rarely, by name, uncached
	config client.Reader // Antrea's configuration: the cache that watches it (CacheByObject)
	opts   Options
}

// New returns a Gate reading the Certificate and the Secret with reader (the manager's API
// reader) and Antrea's configuration with config (the manager's cache).
func New(reader, config client.Reader, o Options) (*Gate, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Gate{reader: reader, config: config, opts: o}, nil
}

// RetryAfter is how long a held request waits before it is looked at again, unless Antrea's
// configuration changes first.
func (g *Gate) RetryAfter() time.Duration { return g.opts.RetryAfter }

// Check tells whether a request in namespace, made for cert-manager's Certificate
// certificateName, must wait before it is signed with a CA whose bundle is trusted: an error
// wrapping ErrHeld says why and what to do; nil lets it be signed; other errors are API errors.
func (g *Gate) Check(ctx context.Context, namespace, certificateName string, trusted signer.Bundle) error {
	if namespace != g.opts.Namespace || certificateName == "" {
		return nil
	}
	crt := &cmapi.Certificate{}
	if err := g.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: certificateName}, crt); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // a request without its Certificate is not cert-manager's renewal of the Secret
		}
		return fmt.Errorf("reading Certificate %s/%s: %w", namespace, certificateName, err)
	}
	if crt.Spec.SecretName != g.opts.SecretName {
		return nil
	}
	in := inputs{configKey: g.opts.ConfigKey, trusted: trusted}
	cm := &corev1.ConfigMap{}
	switch err := g.config.Get(ctx, types.NamespacedName{Namespace: namespace, Name: g.opts.ConfigMapName}, cm); {
	case err == nil:
		in.config = cm
	case !apierrors.IsNotFound(err):
		// Unable to tell which mode Antrea runs: waiting is safe, failing the request is not.
		return fmt.Errorf("%w: Antrea's configuration %s/%s cannot be read (%w); antrea-issuer needs get on it, or --antrea-config-map= to sign regardless",
			ErrHeld, namespace, g.opts.ConfigMapName, err)
	}
	// The Secret matters only in Antrea's default mode: decide reads it then, and only then.
	return decide(in, func() (*corev1.Secret, error) {
		secret := &corev1.Secret{}
		switch err := g.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: g.opts.SecretName}, secret); {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("%w: Secret %s/%s cannot be read (%w)", ErrHeld, namespace, g.opts.SecretName, err)
		}
		return secret, nil
	})
}

// inputs are what decide looks at besides Antrea's Secret.
type inputs struct {
	config    *corev1.ConfigMap // Antrea's configuration; nil when it does not exist
	configKey string
	trusted   signer.Bundle
}

// decide is the gate's rule: hold when Antrea's configuration says it runs its default mode and
// its Secret (read with secret, nil when it does not exist) does not already hold a certificate
// from a trusted CA (a renewal).
func decide(in inputs, secret func() (*corev1.Secret, error)) error {
	if in.config == nil {
		return nil // no Antrea configuration to go by (Antrea not installed yet, or named otherwise)
	}
	ref := in.config.Namespace + "/" + in.config.Name
	selfSigned, err := selfSignedCert(in.config.Data[in.configKey])
	if err != nil {
		return fmt.Errorf("%w: %s in ConfigMap %s cannot be read (%w), so antrea-controller may run its default mode; fix it, or stop antrea-controller and set selfSignedCert: false (docs/migration.md)",
			ErrHeld, in.configKey, ref, err)
	}
	if !selfSigned {
		return nil
	}
	s, err := secret()
	if err != nil {
		return err
	}
	if s != nil && servesFrom(s.Data["tls.crt"], in.trusted) {
		return nil // a renewal: Antrea's clients trust this CA already
	}
	return fmt.Errorf("%w: ConfigMap %s says selfSignedCert: true, and antrea-controller would serve this certificate the moment cert-manager writes it, before its agents trust the CA; stop antrea-controller, set selfSignedCert: false there, and it is signed within seconds (docs/migration.md)",
		ErrHeld, ref)
}

// servesFrom tells whether the first certificate of tlsCrt was signed by a CA of trusted.
func servesFrom(tlsCrt []byte, trusted signer.Bundle) bool {
	chain, err := signer.ParseBundle(tlsCrt)
	return err == nil && chain.Len() > 0 && trusted.Signed(chain.Certificates()[0])
}

// antreaControllerConf is the one field of antrea-controller.conf the gate reads.
type antreaControllerConf struct {
	SelfSignedCert *bool `json:"selfSignedCert"`
}

// selfSignedCert reads selfSignedCert from antrea-controller.conf; Antrea's default is true.
func selfSignedCert(conf string) (bool, error) {
	var c antreaControllerConf
	if err := yaml.Unmarshal([]byte(conf), &c); err != nil {
		return false, err
	}
	if c.SelfSignedCert == nil {
		return true, nil
	}
	return *c.SelfSignedCert, nil
}
