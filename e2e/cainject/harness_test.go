package cainject_test

// The integration harness: one real control plane for the package (TestMain), a controller
// started with a real controller-runtime manager per test, and bounded polling helpers.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/cainject"
)

const ns = antreasim.Namespace

var (
	env      *testenv.Env
	envErr   error
	envStart sync.Once
)

func TestMain(m *testing.M) {
	// Managers log through testr (per test); anything logging through the global logger is
	// dropped rather than warned about.
	logf.SetLogger(logr.Discard())
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

// startEnv starts the package's control plane on first use (unit tests alone never pay for it).
func startEnv() {
	env, envErr = testenv.New(testenv.Options{WithoutCertManagerCRDs: true})
	if envErr != nil {
		return
	}
	// The tests poll many objects: their client is not rate limited (client-go's default of 5
	// requests/s would make every measured latency the test's own).
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1
	env.Client, envErr = client.New(cfg, client.Options{Scheme: env.Scheme})
}

// cluster returns the shared control plane, with every Antrea object of previous tests removed.
func cluster(t *testing.T) (*testenv.Env, context.Context) {
	t.Helper()
	envStart.Do(startEnv)
	if envErr != nil {
		t.Fatalf("control plane: %v", envErr)
	}
	ctx := testenv.Context(t)
	reset := func() {
		if err := antreasim.DeleteAntreaTargets(ctx, env.Client, ns); err != nil {
			t.Fatalf("removing Antrea objects: %v", err)
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: antreasim.SecretName}}
		if err := env.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("removing the Secret: %v", err)
		}
	}
	reset()
	t.Cleanup(func() {
		if err := antreasim.DeleteAntreaTargets(context.Background(), env.Client, ns); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: antreasim.SecretName}})
	})
	return env, ctx
}

// requestLog records every request a manager makes, and the status of its answer.
type requestLog struct {
	mu     sync.Mutex
	reqs   []*http.Request
	status map[*http.Request]int
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := r.Clone(context.Background())
		l.mu.Lock()
		l.reqs = append(l.reqs, rec)
		l.mu.Unlock()
		resp, err := rt.RoundTrip(r)
		if err == nil {
			l.mu.Lock()
			if l.status == nil {
				l.status = map[*http.Request]int{}
			}
			l.status[rec] = resp.StatusCode
			l.mu.Unlock()
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// matching returns the requests for which keep is true.
func (l *requestLog) matching(keep func(*http.Request) bool) []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*http.Request
	for _, r := range l.reqs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func isApply(r *http.Request) bool {
	return r.Method == http.MethodPatch && r.URL.Query().Get("fieldManager") == cainject.DefaultFieldOwner
}

// applies counts server-side applies by this controller's field owner, by URL path.
func (l *requestLog) applies() map[string]int {
	out := map[string]int{}
	for _, r := range l.matching(isApply) {
		out[r.URL.Path]++
	}
	return out
}

// writes counts the applies the API server accepted, by "<Kind>/<name>" (the stand-in
// antrea-controller's keys).
func (l *requestLog) writes() map[string]int {
	out := map[string]int{}
	for _, r := range l.matching(isApply) {
		l.mu.Lock()
		status := l.status[r]
		l.mu.Unlock()
		if status >= 200 && status < 300 {
			out[objectID(r.URL.Path)]++
		}
	}
	return out
}

// objectID turns an object's URL path into "<Kind>/<name>".
func objectID(path string) string {
	kinds := map[string]string{
		"configmaps": "ConfigMap", "apiservices": "APIService",
		"mutatingwebhookconfigurations":   "MutatingWebhookConfiguration",
		"validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
		"customresourcedefinitions":       "CustomResourceDefinition",
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 {
		return path
	}
	return kinds[parts[len(parts)-2]] + "/" + parts[len(parts)-1]
}

type controllerHandle struct {
	requests *requestLog
	// metrics is the controller's own registry.
	metrics *prometheus.Registry
	stop    func()
}

type startOptions struct {
	opts   cainject.Options
	config *rest.Config
}

// testSettlePeriod is the settle period of the tests: Antrea's 2 minutes scaled down.
const testSettlePeriod = time.Second

// testOptions are the defaults with the settle period scaled down.
func testOptions() cainject.Options {
	o := cainject.DefaultOptions()
	o.SettlePeriod = testSettlePeriod
	return o
}

// startController runs the controller in a real manager on the control plane until the test
// ends, with its metrics in a registry of its own.
func startController(t *testing.T, ctx context.Context, so ...startOptions) *controllerHandle {
	t.Helper()
	o := startOptions{opts: testOptions(), config: env.Config}
	if len(so) > 0 {
		if so[0].opts != (cainject.Options{}) {
			o.opts = so[0].opts
		}
		if so[0].config != nil {
			o.config = so[0].config
		}
	}
	h := &controllerHandle{requests: &requestLog{}, metrics: prometheus.NewRegistry()}
	o.opts.Metrics = cainject.NewMetrics(h.metrics)
	cfg := rest.CopyConfig(o.config)
	cfg.Wrap(h.requests.wrap)
	cfg.QPS = -1 // the binary's default (cmd/antrea-issuer): no client-side limit

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testenv.Scheme(),
		Logger:                 testr.NewWithOptions(t, testr.Options{Verbosity: 1}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating the manager: %v", err)
	}
	if err := cainject.SetupWithManager(ctx, mgr, o.opts); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// metricValue reads the gauge or counter name whose labels include every pair of labels ("k", "v",
// ...), from the controller's registry; 0 when absent.
func (h *controllerHandle) metricValue(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func (h *controllerHandle) problem(t *testing.T, r cainject.Reason) float64 {
	t.Helper()
	return h.metricValue(t, "antrea_issuer_cainject_source_problem", "reason", string(r))
}

func (h *controllerHandle) targets(t *testing.T, state string) float64 {
	t.Helper()
	return h.metricValue(t, "antrea_issuer_cainject_targets", "state", state)
}

// inSync reports whether the controller's last pass found every one of Antrea's 8 targets in sync.
func (h *controllerHandle) inSync(t *testing.T) (bool, string) {
	t.Helper()
	in, out := h.targets(t, cainject.StateInSync), h.targets(t, cainject.StateOutOfSync)
	return in == 8 && out == 0, fmt.Sprintf("targets in_sync=%v out_of_sync=%v", in, out)
}

// conflicts counts applies refused because the object changed since it was read.
func (h *controllerHandle) conflicts(t *testing.T) int {
	t.Helper()
	n := 0
	for _, k := range []string{"ConfigMap", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "CustomResourceDefinition"} {
		n += int(h.metricValue(t, "antrea_issuer_cainject_writes_total", "kind", k, "result", "conflict"))
	}
	return n
}

// propagationSamples returns the histogram's sample count and sum (seconds).
func (h *controllerHandle) propagationSamples(t *testing.T) (uint64, float64) {
	t.Helper()
	mfs, err := h.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "antrea_issuer_cainject_propagation_seconds" && len(mf.GetMetric()) == 1 {
			hist := mf.GetMetric()[0].GetHistogram()
			return hist.GetSampleCount(), hist.GetSampleSum()
		}
	}
	return 0, 0
}

func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// eventually polls every 10 ms (the latency tests log what they see) a condition that describes
// what it saw.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.EventuallyEvery(t, timeout, 10*time.Millisecond, what, func() error {
		if ok, last := cond(); !ok {
			return errors.New(last)
		}
		return nil
	})
}

// bundles reads the CA bundle every Antrea target carries, keyed "<kind>/<name>[/<webhook>]";
// a missing ConfigMap (or key) is absent from the map.
func bundles(ctx context.Context, t *testing.T, c client.Client) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.CAConfigMapName}, cm); err == nil {
		if v, ok := cm.Data[antreasim.CAKey]; ok {
			out["ConfigMap/"+cm.Name] = []byte(v)
		}
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, name := range antreasim.APIServiceNames() {
		as := &apiregistrationv1.APIService{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			t.Fatal(err)
		}
		out["APIService/"+name] = as.Spec.CABundle
	}
	for _, cfg := range antreasim.MutatingWebhookConfigurations(ns) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg); err != nil {
			t.Fatal(err)
		}
		for _, w := range cfg.Webhooks {
			out["MutatingWebhookConfiguration/"+cfg.Name+"/"+w.Name] = w.ClientConfig.CABundle
		}
	}
	for _, cfg := range antreasim.ValidatingWebhookConfigurations(ns) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg); err != nil {
			t.Fatal(err)
		}
		for _, w := range cfg.Webhooks {
			out["ValidatingWebhookConfiguration/"+cfg.Name+"/"+w.Name] = w.ClientConfig.CABundle
		}
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(ctx, client.ObjectKey{Name: antreasim.IPPoolCRDName}, crd); err != nil {
		t.Fatal(err)
	}
	out["CustomResourceDefinition/"+crd.Name] = crd.Spec.Conversion.Webhook.ClientConfig.CABundle
	return out
}

// bundleSlots is how many bundles bundles() reports for Antrea's targets: the ConfigMap, three
// APIServices, 2+1 mutating and 4 validating webhooks, one CRD.
const bundleSlots = 1 + 3 + 3 + 4 + 1

// allCarry reports whether every target carries want byte for byte, describing the others.
func allCarry(ctx context.Context, t *testing.T, c client.Client, want []byte) (bool, string) {
	t.Helper()
	got := bundles(ctx, t, c)
	var wrong []string
	for k, v := range got {
		if !bytes.Equal(v, want) {
			wrong = append(wrong, fmt.Sprintf("%s (%d bytes, %s)", k, len(v), fingerprint(v)))
		}
	}
	if len(got) != bundleSlots {
		wrong = append(wrong, fmt.Sprintf("%d of %d targets exist", len(got), bundleSlots))
	}
	sort.Strings(wrong)
	return len(wrong) == 0, fmt.Sprintf("want %s in all; differing: %s", fingerprint(want), strings.Join(wrong, ", "))
}

// waitAllCarry waits until every target carries want and returns how long that took.
func waitAllCarry(ctx context.Context, t *testing.T, c client.Client, want []byte, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, "every target carries the Secret's ca.crt", func() (bool, string) { return allCarry(ctx, t, c, want) })
	return time.Since(start)
}

// secretEvents lists the events.k8s.io Events regarding the source Secret as it exists now (the
// same name in earlier tests is another object) with reason.
func secretEvents(ctx context.Context, t *testing.T, c client.Client, reason string) []eventsv1.Event {
	t.Helper()
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: antreasim.SecretName}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	l := &eventsv1.EventList{}
	if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range l.Items {
		if e.Regarding.Kind == "Secret" && e.Regarding.UID == s.UID && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func newMaterial(t *testing.T, cn string) *antreasim.Material {
	t.Helper()
	m, err := antreasim.NewMaterial(cn, ns)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// putSecret creates or replaces the source Secret's data.
func putSecret(ctx context.Context, t *testing.T, c client.Client, s *corev1.Secret) {
	t.Helper()
	cur := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKeyFromObject(s), cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, s.DeepCopy()); err != nil {
			t.Fatalf("creating the Secret: %v", err)
		}
	case err != nil:
		t.Fatal(err)
	case cur.Type != s.Type && s.Type != "":
		// A Secret's type is immutable: replace it.
		if err := c.Delete(ctx, cur); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, "the Secret deleted", func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), &corev1.Secret{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
		if err := c.Create(ctx, s.DeepCopy()); err != nil {
			t.Fatalf("creating the Secret: %v", err)
		}
	default:
		cur.Data = s.Data
		if err := c.Update(ctx, cur); err != nil {
			t.Fatalf("updating the Secret: %v", err)
		}
	}
}

func nameOnly(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

type restConfig = rest.Config

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
