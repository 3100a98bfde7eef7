package cainject

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ControllerName names the controller (logs, controller-runtime metrics, event source).
const ControllerName = "cainject"

// Event reasons, on the source Secret.
const (
	EventReasonSynced     = "CABundleSynced"
	EventReasonSyncFailed = "CABundleSyncFailed"
	EventReasonRecovered  = "SourceUsable"
)

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
		WatchesRawSource(source.Kind(narrow, &corev1.Secret{}, enqueue(r.request, r.noteSecret)))
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
	opts     Options
	request  reconcile.Request
	reader   client.Reader
	writer   client.Client
	recorder events.EventRecorder
	targets  []target
	now      func() time.Time

	mu sync.Mutex
	// pendingFP/pendingSince: a ca.crt seen in the Secret and not yet in every target.
	pendingFP    string
	pendingSince time.Time
	// syncedFP: the bundle last seen in every target.
	syncedFP string
	// lastReason: the source problem last reported ("" when the source is usable).
	lastReason Reason
	failing    bool
	skipped    map[string]string
}

func newReconciler(opts Options, reader client.Reader, writer client.Client, recorder events.EventRecorder) *reconciler {
	return &reconciler{
		opts:     opts,
		request:  reconcile.Request{NamespacedName: types.NamespacedName{Namespace: opts.Namespace, Name: opts.SecretName}},
		reader:   reader,
		writer:   writer,
		recorder: recorder,
		targets: []target{
			configMapTarget{namespace: opts.Namespace, name: opts.ConfigMapName, key: ConfigMapKey},
			apiServiceTarget{},
			mutatingWebhookTarget{},
			validatingWebhookTarget{},
			crdTarget{},
		},
		now:     time.Now,
		skipped: map[string]string{},
	}
}

// noteSecret starts the propagation clock when the Secret carries a ca.crt not yet propagated.
func (r *reconciler) noteSecret(s *corev1.Secret) {
	fp := fingerprint(s.Data[r.opts.SecretKey])
	r.mu.Lock()
	defer r.mu.Unlock()
	if fp != r.syncedFP && fp != r.pendingFP {
		r.pendingFP, r.pendingSince = fp, r.now()
	}
}

// syncStats counts targets after one pass.
type syncStats struct {
	inSync, outOfSync, skipped, written int
}

// Reconcile computes the desired bundle from the Secret and applies it to every selected target
// that differs.
func (r *reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	log := logf.FromContext(ctx).WithValues("secret", r.request.String())

	secret := &corev1.Secret{}
	if err := r.reader.Get(ctx, r.request.NamespacedName, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("reading the source Secret: %w", err)
		}
		secret = nil
	}
	bundle, err := DesiredBundle(secret, r.opts.SecretKey)
	var srcErr *SourceError
	if errors.As(err, &srcErr) {
		r.reportSourceProblem(ctx, secret, srcErr)
		return reconcile.Result{}, nil
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	r.reportSourceUsable(ctx, secret)
	log = log.WithValues("bundle", bundle.Fingerprint())
	ctx = logf.IntoContext(ctx, log)

	st, errs, retry := r.syncTargets(ctx, bundle)
	targetsGauge.WithLabelValues(StateInSync).Set(float64(st.inSync))
	targetsGauge.WithLabelValues(StateOutOfSync).Set(float64(st.outOfSync))
	targetsGauge.WithLabelValues(StateSkipped).Set(float64(st.skipped))

	if st.outOfSync == 0 {
		lastSync.SetToCurrentTime()
		if r.opts.Synced != nil {
			r.opts.Synced.set(bundle.PEM)
		}
		r.reportSynced(ctx, secret, bundle, st)
		return reconcile.Result{}, nil
	}
	if len(errs) == 0 {
		// Only objects that changed since they were read: their watch event re-enqueues us;
		// the requeue is a safety net.
		log.V(1).Info("targets changed while being written; retrying", "outOfSync", st.outOfSync)
		return reconcile.Result{RequeueAfter: retry}, nil
	}
	err = errors.Join(errs...)
	if ctx.Err() != nil {
		return reconcile.Result{}, ctx.Err() // shutting down: not a failure to report
	}
	r.reportFailure(secret, st, err)
	return reconcile.Result{}, err
}

// syncTargets applies bundle to every target that differs.
func (r *reconciler) syncTargets(ctx context.Context, bundle Bundle) (syncStats, []error, time.Duration) {
	log := logf.FromContext(ctx)
	var st syncStats
	var errs []error
	var retry time.Duration
	seenSkipped := map[string]bool{}
	var pending []pendingApply
	for _, t := range r.targets {
		objs, err := t.list(ctx, r.reader)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s targets: %w", t.kind(), err))
			continue
		}
		for _, obj := range objs {
			id := t.kind() + "/" + obj.GetName()
			inSync, skip := t.check(obj, bundle.PEM)
			switch {
			case skip != "":
				st.skipped++
				seenSkipped[id] = true
				r.noteSkipped(ctx, id, skip)
			case inSync:
				st.inSync++
			default:
				pending = append(pending, pendingApply{kind: t.kind(), name: obj.GetName(), config: t.applyConfig(obj, bundle.PEM)})
			}
		}
	}
	r.applyAll(ctx, pending)
	for _, p := range pending {
		switch err := p.err; {
		case err == nil:
			writes.WithLabelValues(p.kind, "success").Inc()
			st.inSync++
			st.written++
			log.Info("wrote CA bundle", "kind", p.kind, "name", p.name)
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			// Changed or deleted since read: the next pass reads it again.
			writes.WithLabelValues(p.kind, "conflict").Inc()
			st.outOfSync++
			retry = time.Second
			log.V(1).Info("target changed since read", "kind", p.kind, "name", p.name, "error", err.Error())
		default:
			writes.WithLabelValues(p.kind, "error").Inc()
			st.outOfSync++
			errs = append(errs, fmt.Errorf("applying the CA bundle to %s %s: %w", p.kind, p.name, err))
		}
	}
	r.mu.Lock()
	for id := range r.skipped {
		if !seenSkipped[id] {
			delete(r.skipped, id)
		}
	}
	r.mu.Unlock()
	return st, errs, retry
}

// pendingApply is one target whose bundle must be written, and the outcome of writing it.
type pendingApply struct {
	kind, name string
	config     runtime.ApplyConfiguration
	err        error
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

func (r *reconciler) noteSkipped(ctx context.Context, id, why string) {
	r.mu.Lock()
	prev, ok := r.skipped[id]
	r.skipped[id] = why
	r.mu.Unlock()
	if !ok || prev != why {
		logf.FromContext(ctx).Info("selected target cannot carry a CA bundle; left untouched", "target", id, "why", why)
	}
}

// reportSourceProblem records why nothing is written: metric always, log and event on change.
func (r *reconciler) reportSourceProblem(ctx context.Context, secret *corev1.Secret, e *SourceError) {
	setSourceProblem(e.Reason)
	r.mu.Lock()
	changed := r.lastReason != e.Reason
	r.lastReason = e.Reason
	r.mu.Unlock()
	if !changed {
		return
	}
	log := logf.FromContext(ctx)
	switch {
	case e.Takeover:
		log.Error(e, "source Secret must not be propagated; targets keep their current bundle", "reason", e.Reason)
	default:
		log.Info("not syncing CA bundles yet", "reason", e.Reason, "message", e.Message)
	}
	if secret == nil {
		return // nothing to attach an event to
	}
	eventType := corev1.EventTypeWarning
	if e.Waiting {
		eventType = corev1.EventTypeNormal
	}
	r.recorder.Eventf(secret, nil, eventType, string(e.Reason), "SyncCABundle", "%s", truncate(e.Message))
}

func (r *reconciler) reportSourceUsable(ctx context.Context, secret *corev1.Secret) {
	setSourceProblem("")
	r.mu.Lock()
	prev := r.lastReason
	r.lastReason = ""
	r.mu.Unlock()
	if prev == "" || prev == ReasonSecretNotFound || prev == ReasonCAMissing {
		return
	}
	logf.FromContext(ctx).Info("source Secret usable again", "previousReason", prev)
	r.recorder.Eventf(secret, nil, corev1.EventTypeNormal, EventReasonRecovered, "SyncCABundle",
		"%s: %s chains to %s again; propagating it", prev, corev1.TLSCertKey, r.opts.SecretKey)
}

// reportSynced closes the propagation clock and announces a newly propagated bundle.
func (r *reconciler) reportSynced(ctx context.Context, secret *corev1.Secret, bundle Bundle, st syncStats) {
	fp := bundle.Fingerprint()
	now := r.now()
	r.mu.Lock()
	var latency time.Duration
	measured := r.pendingFP == fp
	if measured {
		latency = now.Sub(r.pendingSince)
		r.pendingFP = ""
	}
	isNew := r.syncedFP != fp
	r.syncedFP = fp
	wasFailing := r.failing
	r.failing = false
	r.mu.Unlock()

	if measured {
		propagation.Observe(latency.Seconds())
	}
	if !isNew && !wasFailing {
		if st.written > 0 {
			logf.FromContext(ctx).Info("repaired CA bundle drift", "written", st.written, "inSync", st.inSync)
		}
		return
	}
	logf.FromContext(ctx).Info("CA bundle in sync in every target", "certificates", bundle.Certificates,
		"targets", st.inSync, "written", st.written, "skipped", st.skipped, "latency", latency.String())
	r.recorder.Eventf(secret, nil, corev1.EventTypeNormal, EventReasonSynced, "SyncCABundle",
		"%s %s (%d certificates) is in all %d targets (%d written, %d skipped)",
		r.opts.SecretKey, fp, bundle.Certificates, st.inSync, st.written, st.skipped)
}

func (r *reconciler) reportFailure(secret *corev1.Secret, st syncStats, err error) {
	r.mu.Lock()
	first := !r.failing
	r.failing = true
	r.mu.Unlock()
	if !first {
		return // controller-runtime logs every failed attempt already
	}
	r.recorder.Eventf(secret, nil, corev1.EventTypeWarning, EventReasonSyncFailed, "SyncCABundle",
		"%d targets out of sync: %s", st.outOfSync, truncate(err.Error()))
}

// truncate keeps an event note under the API's 1 kB limit.
func truncate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit-3], "") + "..."
}
