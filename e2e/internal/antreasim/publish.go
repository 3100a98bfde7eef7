package antreasim

import (
	"bytes"
	"context"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// publishLoop is antrea-controller's CACertController: it publishes the bundle on every change
// and every ResyncPeriod; a failed round is retried a second later.
func (r *run) publishLoop() {
	var resync <-chan time.Time
	if p := r.c.opts.ResyncPeriod; p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.publishQ:
		case <-resync:
		}
		r.mu.Lock()
		bundle := r.bundle
		r.mu.Unlock()
		if len(bundle) == 0 {
			continue
		}
		err := r.c.publish(r.ctx, bundle)
		r.c.count(func(s *ControllerStats) { s.Rounds++ })
		if err != nil && r.ctx.Err() == nil {
			r.c.recordErr(err)
			r.c.logf("publishing: %v; retrying", err)
			time.AfterFunc(time.Second, func() { kick(r.publishQ) })
		}
	}
}

// publish writes bundle, byte for byte, to antrea-ca (its data replaced wholesale; created when
// missing) and to the caBundle of every APIService, webhook and conversion webhook carrying
// Antrea's labels, with a full Update of each object that does not carry it yet. It stops at the
// first error, as Antrea does.
func (c *Controller) publish(ctx context.Context, bundle []byte) error {
	ns := c.opts.Namespace
	cm := &corev1.ConfigMap{}
	switch err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: CAConfigMapName}, cm); {
	case apierrors.IsNotFound(err):
		if err := c.write(ctx, CAConfigMap(ns, bundle), true); err != nil {
			return err
		}
	case err != nil:
		return err
	case cm.Data == nil || cm.Data[CAKey] != string(bundle):
		cm.Data = map[string]string{CAKey: string(bundle)}
		if err := c.write(ctx, cm, false); err != nil {
			return err
		}
	}

	for _, list := range []client.ObjectList{
		&apiregistrationv1.APIServiceList{},
		&admissionregistrationv1.MutatingWebhookConfigurationList{},
		&admissionregistrationv1.ValidatingWebhookConfigurationList{},
		&apiextensionsv1.CustomResourceDefinitionList{},
	} {
		if err := c.client.List(ctx, list, client.MatchingLabels(Labels())); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj := item.(client.Object)
			changed := false
			for _, slot := range bundleSlots(obj) {
				changed = setBundle(slot, bundle) || changed
			}
			if changed {
				if err := c.write(ctx, obj, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bundleSlots points at every caBundle of obj that antrea-controller maintains: an APIService's
// (unless served locally), every webhook's, a CRD's conversion webhook's.
func bundleSlots(obj client.Object) []*[]byte {
	var out []*[]byte
	switch o := obj.(type) {
	case *apiregistrationv1.APIService:
		if o.Spec.Service != nil {
			out = append(out, &o.Spec.CABundle)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range o.Webhooks {
			out = append(out, &o.Webhooks[i].ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range o.Webhooks {
			out = append(out, &o.Webhooks[i].ClientConfig.CABundle)
		}
	case *apiextensionsv1.CustomResourceDefinition:
		if cv := o.Spec.Conversion; cv != nil && cv.Strategy == apiextensionsv1.WebhookConverter && cv.Webhook != nil && cv.Webhook.ClientConfig != nil {
			out = append(out, &cv.Webhook.ClientConfig.CABundle)
		}
	}
	return out
}

// setBundle sets *dst to bundle and reports whether it differed.
func setBundle(dst *[]byte, bundle []byte) bool {
	if bytes.Equal(*dst, bundle) {
		return false
	}
	*dst = bundle
	return true
}

// write creates or updates obj and counts it.
func (c *Controller) write(ctx context.Context, obj client.Object, create bool) error {
	id := kindName(obj) + "/" + obj.GetName()
	var err error
	if create {
		err = c.client.Create(ctx, obj, client.FieldOwner(FieldManager))
	} else {
		err = c.client.Update(ctx, obj, client.FieldOwner(FieldManager))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", id, err)
	}
	c.count(func(s *ControllerStats) { s.Writes[id]++ })
	c.logf("wrote %s", id)
	return nil
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
