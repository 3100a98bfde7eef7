package rotation

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestCoalescingMapperJoinsABurst: a burst of events for one issuer gives one reconcile, after
// the delay, not one per event.
func TestCoalescingMapperJoinsABurst(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
		workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Clock: clk})
	defer q.ShutDown()
	issuerA := reconcile.Request{NamespacedName: types.NamespacedName{Name: "a"}}
	issuerB := reconcile.Request{NamespacedName: types.NamespacedName{Name: "b"}}
	h := coalescingMapper(time.Second, func(_ context.Context, o client.Object) []reconcile.Request {
		if o.GetName() == "for-b" {
			return []reconcile.Request{issuerB}
		}
		return []reconcile.Request{issuerA}
	})
	ctx := context.Background()
	obj := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}

	h.Create(ctx, event.CreateEvent{Object: obj("x")}, q)
	for range 100 {
		h.Update(ctx, event.UpdateEvent{ObjectOld: obj("x"), ObjectNew: obj("x")}, q)
		clk.Step(5 * time.Millisecond)
	}
	h.Delete(ctx, event.DeleteEvent{Object: obj("y")}, q)
	h.Generic(ctx, event.GenericEvent{Object: obj("for-b")}, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("%d requests ready before the delay, want none", n)
	}

	clk.Step(time.Second)
	waitForQueueLen(t, q, 2)
	got := map[reconcile.Request]bool{}
	for range 2 {
		req, _ := q.Get()
		got[req] = true
		q.Done(req)
	}
	if !got[issuerA] || !got[issuerB] {
		t.Errorf("reconciles %v, want one for each issuer", got)
	}
	clk.Step(time.Minute)
	if n := q.Len(); n != 0 {
		t.Errorf("%d more requests after the burst, want none", n)
	}
}

// waitForQueueLen waits for the queue's own goroutine to move items that became ready.
func waitForQueueLen(t *testing.T, q workqueue.TypedRateLimitingInterface[reconcile.Request], want int) {
	t.Helper()
	for i := 0; q.Len() != want; i++ {
		if i == 5000 {
			t.Fatalf("queue holds %d requests, want %d", q.Len(), want)
		}
		time.Sleep(time.Millisecond)
	}
}
