// Package issuer adapts antrea-issuer's signer onto cert-manager's issuer-lib: AntreaIssuer and
// AntreaClusterIssuer are checked (their CA exists and can sign) and sign CertificateRequests.
// issuer-lib owns CertificateRequest and issuer status conditions, retries and events.
package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	"github.com/cert-manager/issuer-lib/controllers"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// FieldOwner is the field manager issuer-lib uses for CertificateRequest and issuer status.
const FieldOwner = "antrea-issuer"

// Options configure the issuer controllers.
type Options struct {
	// ClusterResourceNamespace holds the CA Secrets of AntreaClusterIssuers.
	ClusterResourceNamespace string
	// CASecretNamespaces are further namespaces whose Secrets the controller caches and may use
	// as CA Secrets of namespaced AntreaIssuers. An AntreaIssuer elsewhere is reported not Ready.
	CASecretNamespaces []string
	// MaxRetryDuration bounds how long a CertificateRequest is retried on ordinary errors before
	// it is failed (issuer-lib has no default: 0 fails at the first error).
	MaxRetryDuration time.Duration
	// Workers is the number of concurrent reconciles per controller.
	Workers int
	// AntreaSecret is Antrea's certificate Secret. When a Certificate of an issuer writes it, CA
	// rotation also waits until AntreaBundle (the bundle the CA bundle sync last wrote to every
	// Antrea target) equals the issuer's bundle. Either empty: no such wait.
	AntreaSecret types.NamespacedName
	AntreaBundle func() []byte
	// Clock is injected for tests; defaults to the real clock.
	Clock clock.WithDelayedExecution
}

// DefaultMaxRetryDuration leaves room for API server hiccups and a CA Secret being fixed, but
// still fails a request that cannot progress well before cert-manager's own back-off.
const DefaultMaxRetryDuration = 5 * time.Minute

// SecretNamespaces is the set of namespaces the manager's cache must hold Secrets for.
func (o Options) SecretNamespaces() []string {
	out := []string{o.ClusterResourceNamespace}
	for _, ns := range o.CASecretNamespaces {
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	var errs []error
	if o.ClusterResourceNamespace == "" {
		errs = append(errs, errors.New("the cluster resource namespace is required"))
	}
	if o.MaxRetryDuration <= 0 {
		errs = append(errs, errors.New("the maximum retry duration must be positive"))
	}
	return errors.Join(errs...)
}

// Controller is antrea-issuer's Check and Sign, plus what they share.
type Controller struct {
	opts     Options
	client   client.Client
	clock    clock.WithDelayedExecution
	recorder events.EventRecorder
	store    *caStore
	rechecks *recheckScheduler
	metrics  *issuerMetrics
}

// SetupWithManager registers the AntreaIssuer, AntreaClusterIssuer and CertificateRequest
// controllers (issuer-lib's CombinedController) with the manager.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	c := &Controller{
		opts:     opts,
		client:   mgr.GetClient(),
		clock:    opts.Clock,
		recorder: mgr.GetEventRecorder(FieldOwner),
		store:    newCAStore(mgr.GetClient(), opts.SecretNamespaces()),
		rechecks: newRecheckScheduler(opts.Clock),
		metrics:  defaultMetrics(),
	}
	if err := c.setupRotation(ctx, mgr); err != nil {
		return fmt.Errorf("setting up CA rotation: %w", err)
	}
	return (&controllers.CombinedController{
		IssuerTypes:        []issuerlibapi.Issuer{&v1alpha1.AntreaIssuer{}},
		ClusterIssuerTypes: []issuerlibapi.Issuer{&v1alpha1.AntreaClusterIssuer{}},
		FieldOwner:         FieldOwner,
		MaxRetryDuration:   opts.MaxRetryDuration,
		Check:              c.check,
		Sign:               c.sign,
		EventRecorder:      c.recorder,
		Clock:              opts.Clock,
		// Antrea consumes cert-manager Certificates; signing Kubernetes CSRs would need
		// cluster-wide CSR approval RBAC for no user of this project.
		DisableKubernetesCSRController: true,
		// cert-manager reads ca.crt from status.ca; Antrea needs ca.crt in its Secret.
		SetCAOnCertificateRequest: true,
		PreSetupWithManager:       c.watchCASources,
		ControllerOptions:         c.controllerOptions(),
	}).SetupWithManager(ctx, mgr)
}

func (c *Controller) controllerOptions() controller.Options {
	return controller.Options{MaxConcurrentReconciles: max(c.opts.Workers, 1)}
}

// watchCASources makes the issuer controllers re-check an issuer when its CA Secret changes and
// when the recheck scheduler fires (CA expiry).
func (c *Controller) watchCASources(_ context.Context, gvk schema.GroupVersionKind, _ ctrl.Manager, b *builder.Builder) error {
	if gvk.Kind != "AntreaIssuer" && gvk.Kind != "AntreaClusterIssuer" {
		return nil // the CertificateRequest controller needs no extra sources
	}
	b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		return c.issuersForSecret(ctx, gvk.Kind, obj)
	}))
	b.WatchesRawSource(source.Channel(c.rechecks.channel(gvk.Kind), &handler.EnqueueRequestForObject{}))
	return nil
}

// issuersForSecret lists the issuers of a kind whose CA Secret is secret.
func (c *Controller) issuersForSecret(ctx context.Context, kind string, secret client.Object) []reconcile.Request {
	var issuers []issuerlibapi.Issuer
	switch kind {
	case "AntreaIssuer":
		var l v1alpha1.AntreaIssuerList
		if err := c.client.List(ctx, &l, client.InNamespace(secret.GetNamespace())); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing issuers for a CA Secret change", "secret", client.ObjectKeyFromObject(secret))
			return nil
		}
		for i := range l.Items {
			issuers = append(issuers, &l.Items[i])
		}
	case "AntreaClusterIssuer":
		if secret.GetNamespace() != c.opts.ClusterResourceNamespace {
			return nil
		}
		var l v1alpha1.AntreaClusterIssuerList
		if err := c.client.List(ctx, &l); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing issuers for a CA Secret change", "secret", client.ObjectKeyFromObject(secret))
			return nil
		}
		for i := range l.Items {
			issuers = append(issuers, &l.Items[i])
		}
	}
	var reqs []reconcile.Request
	for _, iss := range issuers {
		cfg, err := resolveConfig(iss, c.opts.ClusterResourceNamespace)
		if err == nil && cfg.Secret == client.ObjectKeyFromObject(secret) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(iss)})
		}
	}
	return reqs
}
