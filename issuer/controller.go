// Package issuer adapts antrea-issuer's signer onto cert-manager's issuer-lib: AntreaIssuer and
// AntreaClusterIssuer are checked (their CA exists, is theirs and can sign) and sign
// CertificateRequests. issuer-lib owns CertificateRequest and issuer Ready conditions, retries and
// events; CA rotation is a controller of its own (issuer/rotation) that reads CA Secrets through
// this package's CAStore.
package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	"github.com/cert-manager/issuer-lib/controllers"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/issuer/handover"
)

// FieldOwner is the field manager issuer-lib uses for CertificateRequest and issuer status.
const FieldOwner = "antrea-issuer"

// Options configure the issuer controllers.
type Options struct {
	// ClusterResourceNamespace holds the CA Secrets of AntreaClusterIssuers.
	ClusterResourceNamespace string
	// CASecretNamespaces are further namespaces where namespaced AntreaIssuers may keep CA
	// Secrets. There the controller caches, and uses, only Secrets labelled LabelCASecret=true.
	// An AntreaIssuer elsewhere is reported not Ready.
	CASecretNamespaces []string
	// MaxRetryDuration bounds how long a CertificateRequest is retried on ordinary errors before
	// it is failed (issuer-lib has no default: 0 fails at the first error).
	MaxRetryDuration time.Duration
	// Workers is the number of concurrent reconciles per controller.
	Workers int
	// Clock is injected for tests; defaults to the real clock.
	Clock clock.WithDelayedExecution
	// Registerer receives the metrics; defaults to controller-runtime's registry.
	Registerer prometheus.Registerer
	// Handover, when set, holds back the first certificate for Antrea's Secret while Antrea
	// runs its default mode (issuer/handover).
	Handover *handover.Gate
}

// DefaultMaxRetryDuration leaves room for API server hiccups and a CA Secret being fixed, but
// still fails a request that cannot progress well before cert-manager's own back-off.
const DefaultMaxRetryDuration = 5 * time.Minute

// LabelledSecretNamespaces are the namespaces where only Secrets labelled LabelCASecret=true are
// cached and used: the CA Secret namespaces other than the cluster resource namespace.
func (o Options) LabelledSecretNamespaces() []string {
	var out []string
	for _, ns := range o.CASecretNamespaces {
		if ns != "" && ns != o.ClusterResourceNamespace && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// SecretNamespaces is every namespace whose (possibly label-selected) Secrets are cached.
func (o Options) SecretNamespaces() []string {
	return append([]string{o.ClusterResourceNamespace}, o.LabelledSecretNamespaces()...)
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
	store    *CAStore
	rechecks *recheckScheduler
	metrics  *Metrics
	// lastRefusal is the last reason logged per issuer, so that a retried refusal is one line.
	lastRefusal sync.Map
	// held are the UIDs of requests already logged as held, so that a held request is one line.
	held sync.Map
}

// New builds the controller; SetupWithManager registers it.
func New(mgr ctrl.Manager, opts Options) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Registerer == nil {
		opts.Registerer = metrics.Registry
	}
	return &Controller{
		opts:     opts,
		client:   mgr.GetClient(),
		clock:    opts.Clock,
		recorder: mgr.GetEventRecorder(FieldOwner),
		store:    NewCAStore(mgr.GetClient(), mgr.GetAPIReader(), opts.Clock, opts.ClusterResourceNamespace, opts.LabelledSecretNamespaces()),
		rechecks: newRecheckScheduler(opts.Clock),
		metrics:  NewMetrics(opts.Registerer, mgr.GetCache()),
	}, nil
}

// CAStore is the store Check and Sign read CA Secrets through; CA rotation shares it.
func (c *Controller) CAStore() *CAStore { return c.store }

// SetupWithManager registers the AntreaIssuer, AntreaClusterIssuer and CertificateRequest
// controllers (issuer-lib's CombinedController) with the manager.
func (c *Controller) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	var namespaced, cluster []issuerlibapi.Issuer
	for _, k := range v1alpha1.Kinds {
		if k.Namespaced {
			namespaced = append(namespaced, k.New())
		} else {
			cluster = append(cluster, k.New())
		}
	}
	return (&controllers.CombinedController{
		IssuerTypes:        namespaced,
		ClusterIssuerTypes: cluster,
		FieldOwner:         FieldOwner,
		MaxRetryDuration:   c.opts.MaxRetryDuration,
		Check:              c.check,
		Sign:               c.sign,
		EventRecorder:      c.recorder,
		Clock:              c.clock,
		// Antrea consumes cert-manager Certificates; signing Kubernetes CSRs would need
		// cluster-wide CSR approval RBAC for no user of this project.
		DisableKubernetesCSRController: true,
		// cert-manager reads ca.crt from status.ca; Antrea needs ca.crt in its Secret.
		SetCAOnCertificateRequest: true,
		PreSetupWithManager:       c.preSetup,
		ControllerOptions:         controller.Options{MaxConcurrentReconciles: max(c.opts.Workers, 1)},
	}).SetupWithManager(ctx, mgr)
}

// preSetup completes issuer-lib's controllers before they are built: the CertificateRequest
// controller's workers and event filter, and the issuer controllers' CA sources.
func (c *Controller) preSetup(_ context.Context, gvk schema.GroupVersionKind, _ ctrl.Manager, b *builder.Builder) error {
	if gvk.GroupKind() == cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateRequestKind).GroupKind() {
		// issuer-lib v0.11.0's CombinedController passes ControllerOptions to the issuer
		// controllers only: its CertificateRequest controller ran one reconcile at a time,
		// whatever --workers said. It sets no other option there, so this replaces nothing.
		b.WithOptions(controller.Options{MaxConcurrentReconciles: max(c.opts.Workers, 1)})
		// Requests for other issuers, and new requests not yet approved or denied, are ignored by
		// issuer-lib after a cache read and a reconcile each; filtered here, they cost only the
		// watch event (measured in docs/benchmarks.md).
		b.WithEventFilter(requestEventFilter)
		if c.opts.Handover != nil {
			// A request held while Antrea runs its default mode is signed as soon as Antrea's
			// configuration says otherwise.
			b.Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(c.requestsInNamespaceOf))
		}
		return nil
	}
	return c.watchCASources(gvk, b)
}

// requestsInNamespaceOf lists the unfinished CertificateRequests for this API group's issuers in
// obj's namespace (Antrea's, for its configuration): the ones the handover gate may hold.
func (c *Controller) requestsInNamespaceOf(ctx context.Context, obj client.Object) []reconcile.Request {
	var list cmapi.CertificateRequestList
	if err := c.client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing CertificateRequests to wake after a change of Antrea's configuration")
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		cr := &list.Items[i]
		if mayBeOurs(cr) && !finished(cr) && apiutil.CertificateRequestIsApproved(cr) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cr)})
		}
	}
	return out
}

// requestEventFilter lets through every event but those issuer-lib would only read and ignore:
// events of CertificateRequests for another API group's issuers; the creation of a request
// nobody approved or denied yet (issuer-lib acts on a request only once it is approved or denied,
// which is an update, or, for a request approved while the controller was down, how the
// informer's initial list presents it); any event of a finished request (issuer-lib is done with
// it; the informer's initial list presents every old request in the cluster as a creation, at
// each start and each change of leader); and deletions (issuer-lib finds nothing to read).
// issuer-lib's own predicate already drops an update that changes only the Ready condition.
var requestEventFilter = predicate.And(
	predicate.NewPredicateFuncs(mayBeOurs),
	predicate.NewPredicateFuncs(func(o client.Object) bool {
		cr, ok := o.(*cmapi.CertificateRequest)
		return !ok || !finished(cr)
	}),
	predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			cr, ok := e.Object.(*cmapi.CertificateRequest)
			return !ok || apiutil.CertificateRequestIsApproved(cr) || apiutil.CertificateRequestIsDenied(cr)
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			_, ok := e.Object.(*cmapi.CertificateRequest)
			return !ok
		},
	},
)

// finished reports whether issuer-lib is done with a request: Ready, or not Ready because it
// failed or was denied. issuer-lib v0.11.0 returns from these before it looks at anything else.
func finished(cr *cmapi.CertificateRequest) bool {
	ready := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady)
	if ready == nil {
		return false
	}
	return ready.Status == cmmeta.ConditionTrue ||
		ready.Status == cmmeta.ConditionFalse && (ready.Reason == cmapi.CertificateRequestReasonFailed || ready.Reason == cmapi.CertificateRequestReasonDenied)
}

// mayBeOurs lets through every object but CertificateRequests for another API group's issuers,
// which issuer-lib would ignore.
func mayBeOurs(o client.Object) bool {
	cr, ok := o.(*cmapi.CertificateRequest)
	return !ok || cr.Spec.IssuerRef.Group == v1alpha1.GroupName
}

// watchCASources makes the issuer controllers re-check an issuer when its CA Secret changes and
// when the recheck scheduler fires (CA expiry).
func (c *Controller) watchCASources(gvk schema.GroupVersionKind, b *builder.Builder) error {
	kind, ok := v1alpha1.KindNamed(gvk.Kind)
	if !ok || gvk.Group != v1alpha1.GroupName {
		return nil
	}
	b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		return IssuersUsingSecret(ctx, c.client, kind, c.opts.ClusterResourceNamespace, obj)
	}))
	b.WatchesRawSource(source.Channel(c.rechecks.channel(kind.Name), &handler.EnqueueRequestForObject{}))
	return nil
}

// IssuersUsingSecret lists the issuers of a kind whose CA Secret is secret.
func IssuersUsingSecret(ctx context.Context, r client.Reader, kind v1alpha1.Kind, clusterResourceNamespace string, secret client.Object) []reconcile.Request {
	var opts []client.ListOption
	switch {
	case kind.Namespaced:
		opts = append(opts, client.InNamespace(secret.GetNamespace()))
	case secret.GetNamespace() != clusterResourceNamespace:
		return nil
	}
	list := kind.NewList()
	if err := r.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing issuers for a CA Secret change", "kind", kind.Name, "secret", client.ObjectKeyFromObject(secret))
		return nil
	}
	var reqs []reconcile.Request
	for _, iss := range list.Issuers() {
		cfg, err := ResolveConfig(iss, clusterResourceNamespace)
		if err == nil && cfg.Secret == client.ObjectKeyFromObject(secret) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(iss)})
		}
	}
	return reqs
}

// errUnexpectedIssuer is an issuer object of a type this package does not know (a bug).
func errUnexpectedIssuer(iss issuerlibapi.Issuer) error {
	return fmt.Errorf("%w: unexpected issuer type %T", ErrInvalidSpec, iss)
}

// CheckNamespace fails when the cluster resource namespace does not exist, with one line that
// says so: otherwise every AntreaClusterIssuer would wait forever for a CA it cannot store.
func CheckNamespace(ctx context.Context, r client.Reader, name string) error {
	err := r.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the cluster resource namespace %q does not exist: create it, or set --cluster-resource-namespace (the chart's clusterResourceNamespace) to an existing one", name)
	case apierrors.IsForbidden(err):
		// RBAC grants get on that one namespace (the chart does); without it, do not block the
		// start on a check that only improves an error message.
		ctrl.LoggerFrom(ctx).Info("cannot check that the cluster resource namespace exists", "namespace", name, "reason", err.Error())
		return nil
	default:
		return fmt.Errorf("checking the cluster resource namespace %q: %w", name, err)
	}
}
