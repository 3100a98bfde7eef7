package antreasim

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PublisherFieldManager is the field manager of the stand-in antrea-controller's writes.
const PublisherFieldManager = "antrea-controller"

// Publisher behaves like antrea-controller's CACertController: it reads the Secret's ca.crt and
// rewrites antrea-ca (its data replaced wholesale, created when missing), the caBundle of Antrea's
// APIServices, of every webhook of its webhook configurations and of the IPPool CRD's conversion
// webhook, with full Updates (Get, modify, Update). Antrea skips objects that already match;
// with Always set the Publisher updates every object on every round, a harsher neighbour.
type Publisher struct {
	Client    client.Client
	Namespace string
	// Interval between rounds (antrea-controller: 2 minutes; tests: a few hundred ms).
	Interval time.Duration
	// Always sends an Update even when the object already carries the bundle.
	Always bool

	mu    sync.Mutex
	stats PublisherStats
}

// PublisherStats count what a Publisher did.
type PublisherStats struct {
	Rounds int
	// Updates is the number of Update (and Create) requests sent.
	Updates int
	// Changed counts the requests that changed the stored object (new resourceVersion), per
	// "<Kind>/<name>".
	Changed map[string]int
	// Conflicts and Errors count failed requests (a conflict is an object changed meanwhile).
	Conflicts, Errors int
	LastError         error
}

// TotalChanged sums Changed.
func (s PublisherStats) TotalChanged() int {
	n := 0
	for _, v := range s.Changed {
		n += v
	}
	return n
}

// Stats returns a copy of the counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Changed = make(map[string]int, len(p.stats.Changed))
	for k, v := range p.stats.Changed {
		s.Changed[k] = v
	}
	return s
}

// Run publishes every Interval until ctx ends (the first round at once).
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		p.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round publishes once; without a Secret or ca.crt it does nothing (Antrea waits too).
func (p *Publisher) Round(ctx context.Context) {
	p.mu.Lock()
	p.stats.Rounds++
	p.mu.Unlock()
	s := &corev1.Secret{}
	if err := p.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: SecretName}, s); err != nil {
		p.record("Secret/"+SecretName, "", "", err)
		return
	}
	ca := s.Data[CAKey]
	if len(ca) == 0 {
		return
	}
	p.configMap(ctx, ca)
	for _, as := range APIServices(p.Namespace) {
		p.update(ctx, as, func() bool {
			same := bytes.Equal(as.Spec.CABundle, ca)
			as.Spec.CABundle = ca
			return same
		})
	}
	for _, cfg := range MutatingWebhookConfigurations(p.Namespace) {
		p.update(ctx, cfg, func() bool {
			same := true
			for i := range cfg.Webhooks {
				same = same && bytes.Equal(cfg.Webhooks[i].ClientConfig.CABundle, ca)
				cfg.Webhooks[i].ClientConfig.CABundle = ca
			}
			return same
		})
	}
	for _, cfg := range ValidatingWebhookConfigurations(p.Namespace) {
		p.update(ctx, cfg, func() bool {
			same := true
			for i := range cfg.Webhooks {
				same = same && bytes.Equal(cfg.Webhooks[i].ClientConfig.CABundle, ca)
				cfg.Webhooks[i].ClientConfig.CABundle = ca
			}
			return same
		})
	}
	crd := IPPoolCRD(p.Namespace)
	p.update(ctx, crd, func() bool {
		cc := crd.Spec.Conversion.Webhook.ClientConfig
		same := bytes.Equal(cc.CABundle, ca)
		cc.CABundle = ca
		return same
	})
}

func (p *Publisher) configMap(ctx context.Context, ca []byte) {
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: p.Namespace, Name: CAConfigMapName}
	err := p.Client.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		cm = CAConfigMap(p.Namespace, ca)
		err = p.Client.Create(ctx, cm, client.FieldOwner(PublisherFieldManager))
		p.count()
		p.record("ConfigMap/"+CAConfigMapName, "", cm.ResourceVersion, err)
		return
	}
	if err != nil {
		p.record("ConfigMap/"+CAConfigMapName, "", "", err)
		return
	}
	if cm.Data[CAKey] == string(ca) && !p.Always {
		return
	}
	before := cm.ResourceVersion
	cm.Data = map[string]string{CAKey: string(ca)} // replaced wholesale, as Antrea does
	err = p.Client.Update(ctx, cm, client.FieldOwner(PublisherFieldManager))
	p.count()
	p.record("ConfigMap/"+CAConfigMapName, before, cm.ResourceVersion, err)
}

// update gets obj, lets set put the bundle in (it reports whether it was already there), and
// sends an Update unless the object matched and Always is off.
func (p *Publisher) update(ctx context.Context, obj client.Object, set func() (same bool)) {
	id := fmt.Sprintf("%s/%s", kindName(obj), obj.GetName())
	if err := p.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		p.record(id, "", "", err)
		return
	}
	before := obj.GetResourceVersion()
	if set() && !p.Always {
		return
	}
	err := p.Client.Update(ctx, obj, client.FieldOwner(PublisherFieldManager))
	p.count()
	p.record(id, before, obj.GetResourceVersion(), err)
}

func (p *Publisher) count() {
	p.mu.Lock()
	p.stats.Updates++
	p.mu.Unlock()
}

func (p *Publisher) record(id, before, after string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil:
		if after != before {
			if p.stats.Changed == nil {
				p.stats.Changed = map[string]int{}
			}
			p.stats.Changed[id]++
		}
	case apierrors.IsConflict(err):
		p.stats.Conflicts++
	case apierrors.IsNotFound(err):
		// Not created (yet): antrea-controller fails and retries too.
	default:
		p.stats.Errors++
		p.stats.LastError = err
	}
}

func kindName(obj client.Object) string {
	switch obj.(type) {
	case *apiregistrationv1.APIService:
		return "APIService"
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return "MutatingWebhookConfiguration"
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return "ValidatingWebhookConfiguration"
	case *apiextensionsv1.CustomResourceDefinition:
		return "CustomResourceDefinition"
	case *corev1.ConfigMap:
		return "ConfigMap"
	}
	return fmt.Sprintf("%T", obj)
}
