package cainject

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1ac "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	admissionregistrationv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1ac "k8s.io/kube-aggregator/pkg/client/applyconfiguration/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// target is one kind of object carrying a CA bundle (cert-manager cainjector's InjectTarget
// idea): it lists the selected objects from the narrow cache, tells whether one already trusts
// the bundle, and builds the apply configuration that sets the bundle and nothing else.
type target interface {
	// kind names the target kind in logs, events and metrics.
	kind() string
	// list returns the selected objects of this kind, read from the narrow cache.
	list(ctx context.Context, r client.Reader) ([]client.Object, error)
	// check reports whether every bundle obj carries satisfies ok; skip is non-empty when obj is
	// selected but cannot carry a bundle (it is then reported, never written).
	check(obj client.Object, ok func([]byte) bool) (inSync bool, skip string)
	// applyConfig sets bundle on obj and owns nothing else. Existing objects are applied with
	// their resourceVersion as a precondition: a write is based on what was checked, so an
	// object changed (or deleted) since is re-read instead of being patched blindly.
	applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration
}

// targetsFor lists every kind of target, the antrea-ca ConfigMap first.
func targetsFor(opts Options) []target {
	return []target{
		configMapTarget{namespace: opts.Namespace, name: opts.ConfigMapName, key: ConfigMapKey},
		apiServiceTarget{},
		webhookTarget{validating: false},
		webhookTarget{validating: true},
		crdTarget{},
	}
}

// listSelected lists every object of list's kind in the narrow cache, which holds only the
// label-selected ones.
func listSelected(ctx context.Context, r client.Reader, list client.ObjectList) ([]client.Object, error) {
	if err := r.List(ctx, list); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		obj, ok := it.(client.Object)
		if !ok {
			return nil, fmt.Errorf("listing %T: item %T is not an object", list, it)
		}
		out = append(out, obj)
	}
	return out, nil
}

// configMapTarget is the antrea-ca ConfigMap: key ca.crt and label app=antrea are owned, other
// keys are left alone. It is created when missing (agents wait for it: Antrea issue #3167).
type configMapTarget struct {
	namespace, name, key string
}

const (
	antreaAppLabel = "app"
	antreaAppValue = "antrea"
)

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

func (t configMapTarget) check(obj client.Object, ok func([]byte) bool) (bool, string) {
	cm := obj.(*corev1.ConfigMap)
	v, has := cm.Data[t.key]
	return has && ok([]byte(v)) && cm.Labels[antreaAppLabel] == antreaAppValue, ""
}

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
	return listSelected(ctx, r, &apiregistrationv1.APIServiceList{})
}

func (apiServiceTarget) check(obj client.Object, ok func([]byte) bool) (bool, string) {
	as := obj.(*apiregistrationv1.APIService)
	switch {
	case as.Spec.Service == nil:
		return false, "served locally by kube-apiserver (no spec.service): no caBundle to set"
	case as.Spec.InsecureSkipTLSVerify:
		return false, "insecureSkipTLSVerify is true: the API refuses a caBundle beside it"
	}
	return ok(as.Spec.CABundle), ""
}

func (apiServiceTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	return apiregistrationv1ac.APIService(obj.GetName()).
		WithResourceVersion(obj.GetResourceVersion()).
		WithSpec(apiregistrationv1ac.APIServiceSpec().WithCABundle(bundle...))
}

// webhookTarget is clientConfig.caBundle of every webhook of selected Mutating (or, when
// validating is set, Validating) WebhookConfigurations. webhooks is a list map keyed by name:
// only name and caBundle are applied.
type webhookTarget struct{ validating bool }

func (t webhookTarget) kind() string {
	if t.validating {
		return "ValidatingWebhookConfiguration"
	}
	return "MutatingWebhookConfiguration"
}

func (t webhookTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	if t.validating {
		return listSelected(ctx, r, &admissionregistrationv1.ValidatingWebhookConfigurationList{})
	}
	return listSelected(ctx, r, &admissionregistrationv1.MutatingWebhookConfigurationList{})
}

// webhookBundles returns each webhook's name and caBundle, in order.
func webhookBundles(obj client.Object) (names []string, bundles [][]byte) {
	switch cfg := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for _, w := range cfg.Webhooks {
			names, bundles = append(names, w.Name), append(bundles, w.ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for _, w := range cfg.Webhooks {
			names, bundles = append(names, w.Name), append(bundles, w.ClientConfig.CABundle)
		}
	}
	return names, bundles
}

func (t webhookTarget) check(obj client.Object, ok func([]byte) bool) (bool, string) {
	_, bundles := webhookBundles(obj)
	if len(bundles) == 0 {
		return false, "no webhooks"
	}
	for _, b := range bundles {
		if !ok(b) {
			return false, ""
		}
	}
	return true, ""
}

func (t webhookTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	names, _ := webhookBundles(obj)
	cc := func() *admissionregistrationv1ac.WebhookClientConfigApplyConfiguration {
		return admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)
	}
	if t.validating {
		ac := admissionregistrationv1ac.ValidatingWebhookConfiguration(obj.GetName()).WithResourceVersion(obj.GetResourceVersion())
		for _, n := range names {
			ac.WithWebhooks(admissionregistrationv1ac.ValidatingWebhook().WithName(n).WithClientConfig(cc()))
		}
		return ac
	}
	ac := admissionregistrationv1ac.MutatingWebhookConfiguration(obj.GetName()).WithResourceVersion(obj.GetResourceVersion())
	for _, n := range names {
		ac.WithWebhooks(admissionregistrationv1ac.MutatingWebhook().WithName(n).WithClientConfig(cc()))
	}
	return ac
}

// crdTarget is spec.conversion.webhook.clientConfig.caBundle of selected CRDs whose conversion
// strategy is Webhook; a selected CRD with another strategy is skipped (reported, not touched).
type crdTarget struct{}

func (crdTarget) kind() string { return "CustomResourceDefinition" }

func (crdTarget) list(ctx context.Context, r client.Reader) ([]client.Object, error) {
	return listSelected(ctx, r, &apiextensionsv1.CustomResourceDefinitionList{})
}

func (crdTarget) check(obj client.Object, ok func([]byte) bool) (bool, string) {
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
	return ok(conv.Webhook.ClientConfig.CABundle), ""
}

func (crdTarget) applyConfig(obj client.Object, bundle []byte) runtime.ApplyConfiguration {
	return apiextensionsv1ac.CustomResourceDefinition(obj.GetName()).
		WithResourceVersion(obj.GetResourceVersion()).
		WithSpec(apiextensionsv1ac.CustomResourceDefinitionSpec().
			WithConversion(apiextensionsv1ac.CustomResourceConversion().
				WithWebhook(apiextensionsv1ac.WebhookConversion().
					WithClientConfig(apiextensionsv1ac.WebhookClientConfig().WithCABundle(bundle...)))))
}
