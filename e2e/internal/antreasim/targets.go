package antreasim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of the webhook configurations and the CRD with a conversion webhook that Antrea ships.
const (
	CRDMutatorName    = "crdmutator.antrea.io"
	LabelsMutatorName = "labelsmutator.antrea.io"
	CRDValidatorName  = "crdvalidator.antrea.io"
	IPPoolCRDName     = "ippools.crd.antrea.io"
)

// webhook is one webhook entry of Antrea's configurations: its name, the path antrea-controller
// serves it on and the crd.antrea.io resource it watches.
type webhook struct{ name, path, resource, scope string }

var (
	crdMutatorWebhooks = []webhook{
		{"acnpmutator.antrea.io", "/mutate/acnp", "clusternetworkpolicies", "Cluster"},
		{"annpmutator.antrea.io", "/mutate/annp", "networkpolicies", "Namespaced"},
	}
	labelsMutatorWebhooks = []webhook{
		// Antrea's namelabelmutator watches Namespaces; here it is pointed at an Antrea resource
		// nothing creates, so the stand-in webhook can never get in the way of a test.
		{"namelabelmutator.antrea.io", "/mutate/namespace", "groups", "Namespaced"},
	}
	crdValidatorWebhooks = []webhook{
		{"tiervalidator.antrea.io", "/validate/tier", "tiers", "Cluster"},
		{"acnpvalidator.antrea.io", "/validate/acnp", "clusternetworkpolicies", "Cluster"},
		{"annpvalidator.antrea.io", "/validate/annp", "networkpolicies", "Namespaced"},
		{"ippoolvalidator.antrea.io", "/validate/ippool", "ippools", "Cluster"},
	}
)

func rules(w webhook) []admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.ScopeType(w.scope)
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"crd.antrea.io"}, APIVersions: []string{"v1beta1"},
			Resources: []string{w.resource}, Scope: &scope,
		},
	}}
}

func clientConfig(namespace, path string) admissionregistrationv1.WebhookClientConfig {
	return admissionregistrationv1.WebhookClientConfig{
		Service: &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: ServiceName, Path: ptr.To(path)},
	}
}

// MutatingWebhookConfigurations are crdmutator.antrea.io and labelsmutator.antrea.io as Antrea
// ships them (labels, service <ns>/antrea, empty caBundle), except that every webhook has
// failurePolicy Ignore and matches only crd.antrea.io resources no test creates, so they never
// block the test API server.
func MutatingWebhookConfigurations(namespace string) []*admissionregistrationv1.MutatingWebhookConfiguration {
	build := func(name string, hooks []webhook) *admissionregistrationv1.MutatingWebhookConfiguration {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: Labels()}}
		for _, w := range hooks {
			cfg.Webhooks = append(cfg.Webhooks, admissionregistrationv1.MutatingWebhook{
				Name:                    w.name,
				ClientConfig:            clientConfig(namespace, w.path),
				Rules:                   rules(w),
				FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1", "v1beta1"},
				TimeoutSeconds:          ptr.To[int32](5),
			})
		}
		return cfg
	}
	return []*admissionregistrationv1.MutatingWebhookConfiguration{
		build(CRDMutatorName, crdMutatorWebhooks),
		build(LabelsMutatorName, labelsMutatorWebhooks),
	}
}

// ValidatingWebhookConfigurations is crdvalidator.antrea.io with a few of Antrea's validators,
// made harmless like MutatingWebhookConfigurations.
func ValidatingWebhookConfigurations(namespace string) []*admissionregistrationv1.ValidatingWebhookConfiguration {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: CRDValidatorName, Labels: Labels()}}
	for _, w := range crdValidatorWebhooks {
		cfg.Webhooks = append(cfg.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name:                    w.name,
			ClientConfig:            clientConfig(namespace, w.path),
			Rules:                   rules(w),
			FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			TimeoutSeconds:          ptr.To[int32](5),
		})
	}
	return []*admissionregistrationv1.ValidatingWebhookConfiguration{cfg}
}

// IPPoolCRD is ippools.crd.antrea.io with a Webhook conversion strategy (service <ns>/antrea,
// path /convert/ippool, empty caBundle), versions v1beta1 (storage) and v1alpha2, and a schema
// that accepts anything.
func IPPoolCRD(namespace string) *apiextensionsv1.CustomResourceDefinition {
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object", XPreserveUnknownFields: ptr.To(true),
	}}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: IPPoolCRDName, Labels: Labels()},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "crd.antrea.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "ippools", Singular: "ippool", Kind: "IPPool", ListKind: "IPPoolList",
			},
			Scope: apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1beta1", Served: true, Storage: true, Schema: schema},
				{Name: "v1alpha2", Served: true, Storage: false, Schema: schema},
			},
			Conversion: &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ConversionReviewVersions: []string{"v1", "v1beta1"},
					ClientConfig: &apiextensionsv1.WebhookClientConfig{
						Service: &apiextensionsv1.ServiceReference{Namespace: namespace, Name: ServiceName, Path: ptr.To("/convert/ippool")},
					},
				},
			},
		},
	}
}

// CAConfigMap is an antrea-ca ConfigMap as antrea-controller creates it, holding caPEM (nil for
// no data at all).
func CAConfigMap(namespace string, caPEM []byte) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: CAConfigMapName, Labels: map[string]string{LabelApp: AppAntrea},
	}}
	if caPEM != nil {
		cm.Data = map[string]string{CAKey: string(caPEM)}
	}
	return cm
}

// Targets are the objects whose CA bundle antrea-controller maintains, as CreateAntreaTargets
// created them (with their server-assigned metadata).
type Targets struct {
	APIServices []*apiregistrationv1.APIService
	Mutating    []*admissionregistrationv1.MutatingWebhookConfiguration
	Validating  []*admissionregistrationv1.ValidatingWebhookConfiguration
	CRDs        []*apiextensionsv1.CustomResourceDefinition
}

// Objects lists every created object.
func (t *Targets) Objects() []client.Object {
	var out []client.Object
	for _, o := range t.APIServices {
		out = append(out, o)
	}
	for _, o := range t.Mutating {
		out = append(out, o)
	}
	for _, o := range t.Validating {
		out = append(out, o)
	}
	for _, o := range t.CRDs {
		out = append(out, o)
	}
	return out
}

type targetOptions struct {
	apiServices bool
}

// TargetOption tunes CreateAntreaTargets.
type TargetOption func(*targetOptions)

// WithoutAPIServices leaves the APIServices out (RegisterWithAggregator creates them).
func WithoutAPIServices() TargetOption { return func(o *targetOptions) { o.apiServices = false } }

// CreateAntreaTargets creates, as Antrea's manifests do (empty caBundles, labels app=antrea and
// served-by=antrea-controller), Antrea's three APIServices, its webhook configurations
// crdmutator.antrea.io, labelsmutator.antrea.io and crdvalidator.antrea.io, and the CRD
// ippools.crd.antrea.io with its conversion webhook, all pointing at Service <ns>/antrea.
func CreateAntreaTargets(ctx context.Context, c client.Client, namespace string, opts ...TargetOption) (*Targets, error) {
	o := targetOptions{apiServices: true}
	for _, opt := range opts {
		opt(&o)
	}
	t := &Targets{
		Mutating:   MutatingWebhookConfigurations(namespace),
		Validating: ValidatingWebhookConfigurations(namespace),
		CRDs:       []*apiextensionsv1.CustomResourceDefinition{IPPoolCRD(namespace)},
	}
	if o.apiServices {
		t.APIServices = APIServices(namespace)
	}
	for _, obj := range t.Objects() {
		if err := c.Create(ctx, obj); err != nil {
			return t, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return t, nil
}

// DeleteAntreaTargets deletes every object CreateAntreaTargets and RegisterWithAggregator may have
// created in namespace, and the antrea-ca ConfigMap, and waits until they are gone (a CRD lingers
// while its finalizer runs), so the next test can create them again.
func DeleteAntreaTargets(ctx context.Context, c client.Client, namespace string) error {
	var objs []client.Object
	for _, o := range APIServices(namespace) {
		objs = append(objs, o)
	}
	for _, o := range MutatingWebhookConfigurations(namespace) {
		objs = append(objs, o)
	}
	for _, o := range ValidatingWebhookConfigurations(namespace) {
		objs = append(objs, o)
	}
	objs = append(objs, IPPoolCRD(namespace), CAConfigMap(namespace, nil))
	var errs []error
	for _, obj := range objs {
		if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %T %s: %w", obj, obj.GetName(), err))
		}
	}
	if err := UnregisterFromAggregator(ctx, c, namespace); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var remaining []string
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		remaining = remaining[:0]
		for _, obj := range objs {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err == nil {
				remaining = append(remaining, obj.GetName())
			} else if !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return len(remaining) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("antrea objects not gone (%v): %w", remaining, err)
	}
	return nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
