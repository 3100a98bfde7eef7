package rotation

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// requestEventDelay is how long the rotation controller lets CertificateRequest events gather
// before it looks at their issuer. cert-manager and issuer-lib update a request several times
// per issuance, and each look reads every request of the issuer: enqueued at once, 500
// certificates issued together cost thousands of looks (measured by `make bench` when the
// rotation still watched Certificates), the work growing with the square of the certificates.
// Delayed, the events of a burst share one look.
const requestEventDelay = time.Second

// coalescingMapper enqueues the requests mapFn gives for an object after delay. The work queue
// keeps one pending entry per request at its earliest time, so every event during the delay
// joins the same reconcile.
func coalescingMapper(delay time.Duration, mapFn handler.MapFunc) handler.EventHandler {
	add := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range mapFn(ctx, o) {
			q.AddAfter(req, delay)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
	}
}
