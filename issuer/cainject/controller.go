package cainject

import (
	"context"
	"errors"
	"fmt"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ControllerName names the controller (logs, controller-runtime metrics, event source).
const ControllerName = "cainject"

// SetupWithManager registers the controller. It must NOT require the manager's default cache to
// hold Secrets/ConfigMaps/APIServices cluster-wide: it builds this controller's own narrow cache
// (only the one Secret and the one ConfigMap, by field selector on metadata.name in Antrea's
// namespace, and label-selected APIServices, webhook configurations and CRDs), added to the
// manager with mgr.Add so it starts and stops with it. The manager's client is used for writes
// only.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("cainject options: %w", err)
	}
	narrow, err := newNarrowCache(mgr, opts)
	if err != nil {
		return err
	}
	if err := mgr.Add(narrow); err != nil {
		return fmt.Errorf("adding the cainject cache to the manager: %w", err)
	}
	r := newReconciler(opts, narrow, mgr.GetClient(), mgr.GetEventRecorder(ControllerName))

	b := ctrl.NewControllerManagedBy(mgr).Named(ControllerName).
		WatchesRawSource(source.Kind(narrow, &corev1.Secret{}, enqueue(r.request, r.report.observe)))
	b = b.WatchesRawSource(source.Kind(narrow, &corev1.ConfigMap{}, enqueue[*corev1.ConfigMap](r.request, nil)))
	b = b.WatchesRawSource(source.Kind(narrow, &apiregistrationv1.APIService{}, enqueue[*apiregistrationv1.APIService](r.request, nil)))
	b = b.WatchesRawSource(source.Kind(narrow, &admissionregistrationv1.MutatingWebhookConfiguration{},
		enqueue[*admissionregistrationv1.MutatingWebhookConfiguration](r.request, nil)))
	b = b.WatchesRawSource(source.Kind(narrow, &admissionregistrationv1.ValidatingWebhookConfiguration{},
		enqueue[*admissionregistrationv1.ValidatingWebhookConfiguration](r.request, nil)))
	b = b.WatchesRawSource(source.Kind(narrow, &apiextensionsv1.CustomResourceDefinition{},
		enqueue[*apiextensionsv1.CustomResourceDefinition](r.request, nil)))
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("building the cainject controller: %w", err)
	}
	logf.FromContext(ctx).V(1).Info("cainject controller registered", "namespace", opts.Namespace,
		"secret", opts.SecretName, "key", opts.SecretKey, "configMap", opts.ConfigMapName, "selector", opts.TargetSelector)
	return nil
}

// narrowCache is this controller's cache. GetCache puts it in the manager's cache group: it starts
// before the controllers (also before leader election: it is small) and the manager waits for it
// to sync.
type narrowCache struct{ cache.Cache }

func (c narrowCache) GetCache() cache.Cache { return c.Cache }

// newNarrowCache caches only what this controller owns or selects. Secrets and ConfigMaps are
// listed and watched with a metadata.name field selector in Antrea's namespace, which RBAC
// authorizes against resourceNames; the private key is dropped before the Secret enters the cache
// (only ca.crt and tls.crt are read); managedFields and CRD schemas are dropped too.
func newNarrowCache(mgr ctrl.Manager, opts Options) (narrowCache, error) {
	sel, err := opts.selector()
	if err != nil {
		return narrowCache{}, err
	}
	byName := func(name string) map[string]cache.Config {
		return map[string]cache.Config{opts.Namespace: {FieldSelector: fields.OneTermEqualSelector("metadata.name", name)}}
	}
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:                  mgr.GetHTTPClient(),
		Scheme:                      mgr.GetScheme(),
		Mapper:                      mgr.GetRESTMapper(),
		ReaderFailOnMissingInformer: true,
		DefaultTransform:            stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Namespaces: byName(opts.SecretName), Transform: stripSecret},
			&corev1.ConfigMap{}:             {Namespaces: byName(opts.ConfigMapName)},
			&apiregistrationv1.APIService{}: {Label: sel},
			&admissionregistrationv1.MutatingWebhookConfiguration{}:   {Label: sel},
			&admissionregistrationv1.ValidatingWebhookConfiguration{}: {Label: sel},
			&apiextensionsv1.CustomResourceDefinition{}:               {Label: sel, Transform: stripCRD},
		},
	})
	if err != nil {
		return narrowCache{}, fmt.Errorf("building the cainject cache: %w", err)
	}
	return narrowCache{c}, nil
}

func stripManagedFields(obj any) (any, error) {
	if o, ok := obj.(client.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}

// stripSecret keeps the private key out of this process's memory: the sync never needs it.
func stripSecret(obj any) (any, error) {
	if s, ok := obj.(*corev1.Secret); ok {
		delete(s.Data, corev1.TLSPrivateKeyKey)
		s.SetManagedFields(nil)
	}
	return obj, nil
}

// stripCRD drops the schemas (often most of a CRD's size); only the conversion settings are read.
func stripCRD(obj any) (any, error) {
	if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
		for i := range crd.Spec.Versions {
			crd.Spec.Versions[i].Schema = nil
		}
		crd.SetManagedFields(nil)
	}
	return obj, nil
}

// enqueue folds every event into the one request; note, when set, sees the object first.
func enqueue[T client.Object](req reconcile.Request, note func(T)) handler.TypedEventHandler[T, reconcile.Request] {
	add := func(obj T, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if note != nil {
			note(obj)
		}
		q.Add(req)
	}
	return handler.TypedFuncs[T, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.TypedCreateEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.TypedUpdateEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, _ event.TypedDeleteEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(req)
		},
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
	}
}

type reconciler struct {
	opts    Options
	request reconcile.Request
	reader  client.Reader
	writer  client.Client
	targets []target
	report  *reporter
}

func newReconciler(opts Options, reader client.Reader, writer client.Client, recorder events.EventRecorder) *reconciler {
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(metrics.Registry)
	}
	var c clock.PassiveClock = clock.RealClock{}
	if opts.Clock != nil {
		c = opts.Clock
	}
	return &reconciler{
		opts:    opts,
		request: reconcile.Request{NamespacedName: types.NamespacedName{Namespace: opts.Namespace, Name: opts.SecretName}},
		reader:  reader,
		writer:  writer,
		targets: targetsFor(opts),
		report:  newReporter(opts, m, c, recorder),
	}
}

// Reconcile reads the Secret, computes the bundle every target must trust, applies it where a
// target differs, and reports.
func (r *reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	ctx = logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("secret", r.request.String()))

	secret, err := r.readSecret(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	bundle, err := DesiredBundle(secret, r.opts.SecretKey)
	if srcErr := (*SourceError)(nil); errors.As(err, &srcErr) {
		r.report.refused(ctx, secret, srcErr)
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}
	if wait := r.report.settling(ctx, secret); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	r.report.usable(ctx, secret, bundle)

	ctx = logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("bundle", bundle.Fingerprint()))
	return r.report.applied(ctx, secret, bundle, r.apply(ctx, bundle))
}

// readSecret returns the source Secret from the cache, nil when it does not exist.
func (r *reconciler) readSecret(ctx context.Context) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	if err := r.reader.Get(ctx, r.request.NamespacedName, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the source Secret: %w", err)
	}
	return secret, nil
}

// passStats counts targets after one pass.
type passStats struct {
	inSync, outOfSync, skipped, written int
}

// pass is the outcome of applying a bundle to every target.
type pass struct {
	stats   passStats
	writes  []pendingApply
	skipped map[string]string // "<kind>/<name>" → why it cannot carry a bundle
	errs    []error
}

// pendingApply is one target whose bundle must be written, and the outcome of writing it.
type pendingApply struct {
	kind, name string
	config     runtime.ApplyConfiguration
	err        error
}

// apply writes bundle to every selected target that does not already trust exactly it
// (Bundle.Equivalent).
func (r *reconciler) apply(ctx context.Context, bundle Bundle) pass {
	p := pass{skipped: map[string]string{}}
	for _, t := range r.targets {
		objs, err := t.list(ctx, r.reader)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("listing %s targets: %w", t.kind(), err))
			continue
		}
		for _, obj := range objs {
			inSync, skip := t.check(obj, bundle.Equivalent)
			switch {
			case skip != "":
				p.stats.skipped++
				p.skipped[t.kind()+"/"+obj.GetName()] = skip
			case inSync:
				p.stats.inSync++
			default:
				p.writes = append(p.writes, pendingApply{kind: t.kind(), name: obj.GetName(), config: t.applyConfig(obj, bundle.PEM)})
			}
		}
	}
	r.applyAll(ctx, p.writes)
	for _, w := range p.writes {
		switch {
		case w.err == nil:
			p.stats.inSync++
			p.stats.written++
		case apierrors.IsConflict(w.err) || apierrors.IsNotFound(w.err):
			p.stats.outOfSync++
		default:
			p.stats.outOfSync++
			p.errs = append(p.errs, fmt.Errorf("applying the CA bundle to %s %s: %w", w.kind, w.name, w.err))
		}
	}
	return p
}

// maxConcurrentApplies bounds the writes of one pass in flight at once. Antrea has 8 targets:
// applied together, the last arrives about when the slowest single apply does, where one after
// another they formed a staircase (measured by `make bench`: p50 59 ms for the last of 8).
const maxConcurrentApplies = 8

// applyAll applies every pending write, up to maxConcurrentApplies at once, and records each
// outcome. Each apply names a single object, so their order does not matter.
func (r *reconciler) applyAll(ctx context.Context, pending []pendingApply) {
	slots := make(chan struct{}, maxConcurrentApplies)
	var wg sync.WaitGroup
	for i := range pending {
		p := &pending[i]
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := ctx.Err(); err != nil {
				p.err = err
				return
			}
			p.err = r.writer.Apply(ctx, p.config, client.FieldOwner(r.opts.FieldOwner), client.ForceOwnership)
		})
	}
	wg.Wait()
}
