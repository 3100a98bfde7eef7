package issuer

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// recheckScheduler asks for an issuer to be checked again at a point in time (the CA's expiry),
// because issuer-lib re-runs Check only on spec changes and errors. One timer per issuer; a new
// request replaces the old one.
type recheckScheduler struct {
	clock  clock.WithDelayedExecution
	events map[string]chan event.GenericEvent // per issuer kind

	mu     sync.Mutex
	timers map[recheckKey]clock.Timer
}

type recheckKey struct {
	kind string
	name types.NamespacedName
}

func newRecheckScheduler(clk clock.WithDelayedExecution) *recheckScheduler {
	return &recheckScheduler{
		clock:  clk,
		events: map[string]chan event.GenericEvent{},
		timers: map[recheckKey]clock.Timer{},
	}
}

// channel is the event source for one issuer kind; created before the controllers start.
func (r *recheckScheduler) channel(kind string) chan event.GenericEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, ok := r.events[kind]
	if !ok {
		ch = make(chan event.GenericEvent, 64)
		r.events[kind] = ch
	}
	return ch
}

func (r *recheckScheduler) at(iss v1alpha1.Issuer, when time.Time) {
	kind := iss.IssuerKind().Name
	key := recheckKey{kind: kind, name: types.NamespacedName{Namespace: iss.GetNamespace(), Name: iss.GetName()}}
	ch := r.channel(kind)
	obj := iss.DeepCopyObject().(client.Object)
	delay := max(when.Sub(r.clock.Now()), 0) + time.Second

	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.timers[key]; ok {
		t.Stop()
	}
	r.timers[key] = r.clock.AfterFunc(delay, func() { ch <- event.GenericEvent{Object: obj} })
}
