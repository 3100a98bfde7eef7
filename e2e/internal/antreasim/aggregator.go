package antreasim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EndpointSliceName is the EndpointSlice RegisterWithAggregator creates for the antrea Service.
const EndpointSliceName = "antrea-sim"

// APIServices are Antrea's three APIServices as its manifests create them: labels app=antrea and
// served-by=antrea-controller, backed by Service <ns>/antrea port 443, TLS verified
// (insecureSkipTLSVerify false) and an empty caBundle, which antrea-controller fills in.
func APIServices(namespace string) []*apiregistrationv1.APIService {
	out := make([]*apiregistrationv1.APIService, 0, len(GroupVersions))
	for _, gv := range GroupVersions {
		out = append(out, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.APIService, Labels: Labels()},
			Spec: apiregistrationv1.APIServiceSpec{
				Group:                 gv.Group,
				Version:               gv.Version,
				Service:               &apiregistrationv1.ServiceReference{Namespace: namespace, Name: ServiceName, Port: ptr.To[int32](443)},
				InsecureSkipTLSVerify: false,
				GroupPriorityMinimum:  100,
				VersionPriority:       100,
			},
		})
	}
	return out
}

// Backend is what the aggregator is routed to: a Server or a Controller (whose port stays the
// same across restarts).
type Backend interface{ Port() int32 }

// RegisterWithAggregator routes kube-aggregator to srv: Service <ns>/antrea (ClusterIP, no
// selector, port https/443), an EndpointSlice for it with addressType FQDN and address 127.0.0.1
// (the API refuses loopback IPs in IP slices; the API server must run with
// enable-aggregator-routing=true) on srv's port, and Antrea's APIServices when they do not exist
// yet. Existing Service and EndpointSlice are updated to point at srv, so a test can swap servers.
func RegisterWithAggregator(ctx context.Context, c client.Client, srv Backend, namespace string) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ServiceName}}
	if err := createOrMutate(ctx, c, svc, func() {
		svc.Labels = map[string]string{LabelApp: AppAntrea}
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		svc.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}
	}); err != nil {
		return fmt.Errorf("service %s/%s: %w", namespace, ServiceName, err)
	}

	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: EndpointSliceName}}
	if err := createOrMutate(ctx, c, slice, func() {
		slice.Labels = map[string]string{discoveryv1.LabelServiceName: ServiceName}
		slice.AddressType = discoveryv1.AddressTypeFQDN
		slice.Endpoints = []discoveryv1.Endpoint{{
			Addresses:  []string{"127.0.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}}
		slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(srv.Port()), Protocol: ptr.To(corev1.ProtocolTCP)}}
	}); err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", namespace, EndpointSliceName, err)
	}

	for _, as := range APIServices(namespace) {
		if err := c.Create(ctx, as); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiservice %s: %w", as.Name, err)
		}
	}
	return nil
}

// UnregisterFromAggregator deletes what RegisterWithAggregator created except the APIServices
// (DeleteAntreaTargets removes those).
func UnregisterFromAggregator(ctx context.Context, c client.Client, namespace string) error {
	for _, obj := range []client.Object{
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: EndpointSliceName}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ServiceName}},
	} {
		if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// APIServiceAvailable returns the Available condition of APIService name (nil when it has none).
func APIServiceAvailable(ctx context.Context, c client.Reader, name string) (*apiregistrationv1.APIServiceCondition, error) {
	as := &apiregistrationv1.APIService{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
		return nil, err
	}
	for i := range as.Status.Conditions {
		if as.Status.Conditions[i].Type == apiregistrationv1.Available {
			return &as.Status.Conditions[i], nil
		}
	}
	return nil, nil
}

// WaitAPIServiceCondition polls APIService name until its Available condition has status want
// and, when messageContains is not empty, a message containing it; it returns the last condition
// seen, and an error naming it when timeout passes first.
func WaitAPIServiceCondition(ctx context.Context, c client.Reader, name string, want apiregistrationv1.ConditionStatus,
	messageContains string, timeout time.Duration,
) (*apiregistrationv1.APIServiceCondition, error) {
	var last *apiregistrationv1.APIServiceCondition
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last, lastErr = APIServiceAvailable(ctx, c, name)
		if lastErr != nil || last == nil || last.Status != want {
			return false, nil
		}
		return messageContains == "" || contains(last.Message, messageContains), nil
	})
	if err != nil {
		return last, fmt.Errorf("apiservice %s: Available=%s (message containing %q) not seen in %s; last condition %s, last error %v: %w",
			name, want, messageContains, timeout, describeCondition(last), lastErr, err)
	}
	return last, nil
}

// WaitAPIServiceAvailable waits until APIService name reports Available=True.
func WaitAPIServiceAvailable(ctx context.Context, c client.Reader, name string, timeout time.Duration) error {
	_, err := WaitAPIServiceCondition(ctx, c, name, apiregistrationv1.ConditionTrue, "", timeout)
	return err
}

func describeCondition(c *apiregistrationv1.APIServiceCondition) string {
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s=%s reason=%s message=%q", c.Type, c.Status, c.Reason, c.Message)
}

func createOrMutate(ctx context.Context, c client.Client, obj client.Object, mutate func()) error {
	key := client.ObjectKeyFromObject(obj)
	if err := c.Get(ctx, key, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		mutate()
		return c.Create(ctx, obj)
	}
	mutate()
	return c.Update(ctx, obj)
}
