package cainject

import (
	"bytes"
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1ac "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	admissionregistrationv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1ac "k8s.io/kube-aggregator/pkg/client/applyconfiguration/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// target is one kind of object carrying a CA bundle (cert-manager cainjector's InjectTarget
// idea): it lists the selected objects from the narrow cache, tells whether one already carries
// the bundle, and builds the apply configuration that sets the bundle and nothing else.
type target interface {
	// kind names the target kind in logs, events and metrics.
	kind() string
	// list returns the selected objects of this kind, read from the narrow cache.
	list(ctx context.Context, r client.Reader) ([]client.Object, error)
	// check reports whether obj carries bundle; skip is non-empty when obj is selected but
	// cannot carry a bundle (it is then reported, never written).
	check(obj client.Object, bundle []byte) (inSync bool, skip string)
	// applyConfig sets bundle on obj and owns nothing else. Existing objects are applied with
	// their resourceVersion as a precondition: a write is based on what was checked, so an
	// object changed (or deleted) since is re-read instead of being patched blindly.
	applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration
}

// configMapTarget is the antrea-ca ConfigMap: key ca.crt and label app=antrea are owned, other
// keys are left alone. It is created when missing (agents wait for it: Antrea issue #3167).
type configMapTarget struct {
	namespace, name, key string
}

func (t configMapTarget) kind() string { return "ConfigMap" }

func (t configMapTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: t.name}, cm)
	if apierrors.IsNotFound(err) {
		// Missing: returned without resourceVersion, so the apply creates it.
		return []client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.name}}}, nil
	}
	if err != nil {
		return nil, err
	}
	return []client.Object{cm}, nil
}

func (t configMapTarget) check(obj client.Object, bundle []byte) (bool, string) {
	cm := obj.(*corev1.ConfigMap)
	v, ok := cm.Data[t.key]
	return ok && v == string(bundle) && cm.Labels[antreaAppLabel] == antreaAppValue, ""
}

const (
	antreaAppLabel = "app"
	antreaAppValue = "antrea"
)

func (t configMapTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	ac := corev1ac.ConfigMap(t.name, t.namespace).
		WithLabels(map[string]string{antreaAppLabel: antreaAppValue}).
		WithData(map[string]string{t.key: string(bundle)})
	if rv := obj.GetResourceVersion(); rv != "" {
		ac.WithResourceVersion(rv)
	}
	return ac
}

// apiServiceTarget is spec.caBundle of selected APIServices.
type apiServiceTarget struct{}

func (apiServiceTarget) kind() string { return "APIService" }

func (apiServiceTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	l := &apiregistrationv1.APIServiceList{}
	if err := r.List(ctx, l); err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out, nil
}

func (apiServiceTarget) check(obj client.Object, bundle []byte) (bool, string) {
	as := obj.(*apiregistrationv1.APIService)
	switch {
	case as.Spec.Service == nil:
		return false, "served locally by kube-apiserver (no spec.service): no caBundle to set"
	case as.Spec.InsecureSkipTLSVerify:
		return false, "insecureSkipTLSVerify is true: the API refuses a caBundle beside it"
	}
	return bytes.Equal(as.Spec.CABundle, bundle), ""
}

func (apiServiceTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	return apiregistrationv1ac.APIService(obj.GetName()).
		WithResourceVersion(obj.GetResourceVersion()).
		WithSpec(apiregistrationv1ac.APIServiceSpec().WithCABundle(bundle...))
}

// mutatingWebhookTarget is clientConfig.caBundle of every webhook of selected
// MutatingWebhookConfigurations (webhooks is a list map keyed by name: only name and caBundle are
// applied).
type mutatingWebhookTarget struct{}

func (mutatingWebhookTarget) kind() string { return "MutatingWebhookConfiguration" }

func (mutatingWebhookTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	l := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := r.List(ctx, l); err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out, nil
}

func (mutatingWebhookTarget) check(obj client.Object, bundle []byte) (bool, string) {
	cfg := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
	if len(cfg.Webhooks) == 0 {
		return false, "no webhooks"
	}
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			return false, ""
		}
	}
	return true, ""
}

func (mutatingWebhookTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	cfg := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
	ac := admissionregistrationv1ac.MutatingWebhookConfiguration(cfg.Name).WithResourceVersion(cfg.ResourceVersion)
	for _, w := range cfg.Webhooks {
		ac.WithWebhooks(admissionregistrationv1ac.MutatingWebhook().
			WithName(w.Name).
			WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
	}
	return ac
}

// validatingWebhookTarget is mutatingWebhookTarget for ValidatingWebhookConfigurations.
type validatingWebhookTarget struct{}

func (validatingWebhookTarget) kind() string { return "ValidatingWebhookConfiguration" }

func (validatingWebhookTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	l := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := r.List(ctx, l); err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out, nil
}

func (validatingWebhookTarget) check(obj client.Object, bundle []byte) (bool, string) {
	cfg := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
	if len(cfg.Webhooks) == 0 {
		return false, "no webhooks"
	}
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			return false, ""
		}
	}
	return true, ""
}

func (validatingWebhookTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	cfg := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
	ac := admissionregistrationv1ac.ValidatingWebhookConfiguration(cfg.Name).WithResourceVersion(cfg.ResourceVersion)
	for _, w := range cfg.Webhooks {
		ac.WithWebhooks(admissionregistrationv1ac.ValidatingWebhook().
			WithName(w.Name).
			WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
	}
	return ac
}

// crdTarget is spec.conversion.webhook.clientConfig.caBundle of selected CRDs whose conversion
// strategy is Webhook; a selected CRD with another strategy is skipped (reported, not touched).
type crdTarget struct{}

func (crdTarget) kind() string { return "CustomResourceDefinition" }

func (crdTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	l := &apiextensionsv1.CustomResourceDefinitionList{}
	if err := r.List(ctx, l); err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out, nil
}

func (crdTarget) check(obj client.Object, bundle []byte) (bool, string) {
	crd := obj.(*apiextensionsv1.CustomResourceDefinition)
	conv := crd.Spec.Conversion
	if conv == nil || conv.Strategy != apiextensionsv1.WebhookConverter {
		strategy := apiextensionsv1.NoneConverter
		if conv != nil {
			strategy = conv.Strategy
		}
		return false, fmt.Sprintf("conversion strategy is %s, not Webhook: no caBundle to set", strategy)
	}
	if conv.Webhook == nil || conv.Webhook.ClientConfig == nil {
		return false, ""
	}
	return bytes.Equal(conv.Webhook.ClientConfig.CABundle, bundle), ""
}

func (crdTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	return apiextensionsv1ac.CustomResourceDefinition(obj.GetName()).
		WithResourceVersion(obj.GetResourceVersion()).
		WithSpec(apiextensionsv1ac.CustomResourceDefinitionSpec().
			WithConversion(apiextensionsv1ac.CustomResourceConversion().
				WithWebhook(apiextensionsv1ac.WebhookConversion().
					WithClientConfig(apiextensionsv1ac.WebhookClientConfig().WithCABundle(bundle...)))))
}
