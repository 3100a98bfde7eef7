package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cminformers "github.com/cert-manager/cert-manager/pkg/client/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Helpers of the reliability and security tests: load (many CertificateRequests), what they
// went through (watched, not sampled), and extra antrea-issuer processes.

var antreaNames = []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"}

// extraLogs are the logs of the antrea-issuer processes these tests start besides the suite's,
// so that the key hygiene test reads every log antrea-issuer wrote: files of running processes,
// and the content of those whose test ended (their file is then removed, unless the test failed).
var extraLogs struct {
	sync.Mutex
	paths    []string
	contents map[string]string
}

// newLogFile returns a log file for an extra process started by t.
func newLogFile(t *testing.T, name string) io.Writer {
	t.Helper()
	f, err := os.CreateTemp("", "antrea-issuer-e2e-"+name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	extraLogs.Lock()
	extraLogs.paths = append(extraLogs.paths, path)
	extraLogs.Unlock()
	t.Logf("%s logs to %s", name, path)
	// Registered before the process's Stop (cleanups run last first): runs after it.
	t.Cleanup(func() {
		_ = f.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		extraLogs.Lock()
		defer extraLogs.Unlock()
		if extraLogs.contents == nil {
			extraLogs.contents = map[string]string{}
		}
		extraLogs.contents[path] = string(data)
		if !t.Failed() {
			_ = os.Remove(path)
		}
	})
	return f
}

// allExtraLogs returns every extra process's log by path.
func allExtraLogs(t *testing.T) map[string]string {
	t.Helper()
	extraLogs.Lock()
	defer extraLogs.Unlock()
	out := map[string]string{}
	for _, p := range extraLogs.paths {
		if c, ok := extraLogs.contents[p]; ok {
			out[p] = c
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}

// ensureNamespace creates a namespace if it does not exist.
func ensureNamespace(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	if err := localcluster.Apply(ctx, suite.client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// createReadyClusterIssuer creates an AntreaClusterIssuer with a generated CA and waits until it is
// Ready; it is deleted when the test ends (its CA Secret stays, as in a cluster).
func createReadyClusterIssuer(ctx context.Context, t *testing.T, name string) *v1alpha1.AntreaClusterIssuer {
	t.Helper()
	iss := &v1alpha1.AntreaClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := suite.client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), iss) })
	waitIssuerReady(ctx, t, iss, 60*time.Second)
	return iss
}

// waitIssuerReady waits until an issuer's Ready condition is True for its current generation.
func waitIssuerReady(ctx context.Context, t *testing.T, iss client.Object, timeout time.Duration) {
	t.Helper()
	testenv.WaitIssuerReady(ctx, t, suite.client, iss, metav1.ConditionTrue, "", timeout)
}

// caSecretsOf lists the CA Secrets antrea-issuer generated for an issuer ("<Kind>/<name>" or
// "<Kind>/<namespace>/<name>"), in every namespace.
func caSecretsOf(ctx context.Context, t *testing.T, owner string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := suite.client.List(ctx, &list, client.MatchingLabels{issuer.LabelCASecret: "true"}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Secret
	for _, s := range list.Items {
		if s.Annotations[issuer.AnnotationIssuer] == owner {
			out = append(out, s)
		}
	}
	return out
}

// theCASecret returns the one CA Secret of an issuer, failing when there is not exactly one.
func theCASecret(ctx context.Context, t *testing.T, owner string) corev1.Secret {
	t.Helper()
	s := caSecretsOf(ctx, t, owner)
	if len(s) != 1 {
		t.Fatalf("%d CA Secrets for %s, want exactly 1", len(s), owner)
	}
	return s[0]
}

// request is a CertificateRequest the test made, with the key its CSR holds.
type request struct {
	name string
	key  crypto.PublicKey
}

// newAntreaCR returns a CertificateRequest for Antrea's two names, signed by a fresh key.
func newAntreaCR(t *testing.T, ns, name string, ref cmmeta.IssuerReference) (*cmapi.CertificateRequest, request) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: antreaNames[0]}, DNSNames: antreaNames,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cmapi.CertificateRequestSpec{
			Request:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			IssuerRef: ref,
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
			Duration:  &metav1.Duration{Duration: 24 * time.Hour},
		},
	}
	return cr, request{name: name, key: key.Public()}
}

// createRequests creates n CertificateRequests named <prefix>-<i> from 8 goroutines; cert-manager's
// approver approves them.
func createRequests(ctx context.Context, t *testing.T, ns, prefix string, n int, ref cmmeta.IssuerReference) []request {
	t.Helper()
	out := make([]request, n)
	crs := make([]*cmapi.CertificateRequest, n)
	for i := range n {
		crs[i], out[i] = newAntreaCR(t, ns, fmt.Sprintf("%s-%03d", prefix, i), ref)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := suite.client.Create(ctx, crs[i]); err != nil {
					errs <- fmt.Errorf("creating %s: %w", crs[i].Name, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// crHistory is what a watch saw of one CertificateRequest.
type crHistory struct {
	certificates [][32]byte // distinct status.certificate values, in order
	readyTrue    int        // transitions into Ready=True
	failed       bool       // Ready=False reason Failed was seen
	wasReady     bool
	readyAt      time.Time
}

// crWatch records every version of the CertificateRequests of a namespace that a watch delivers,
// from before the first is created until the test ends: a request signed twice, or marked Ready
// twice, shows up even if its final state looks fine.
type crWatch struct {
	mu      sync.Mutex
	history map[string]*crHistory
}

func watchRequests(ctx context.Context, t *testing.T, ns string) *crWatch {
	t.Helper()
	cs, err := cmclient.NewForConfig(suite.config)
	if err != nil {
		t.Fatal(err)
	}
	w := &crWatch{history: map[string]*crHistory{}}
	f := cminformers.NewSharedInformerFactoryWithOptions(cs, 0, cminformers.WithNamespace(ns))
	inf := f.Certmanager().V1().CertificateRequests().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.observe(obj) },
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	runInformer(ctx, t, "CertificateRequest", f.Start, inf.HasSynced)
	return w
}

func (w *crWatch) observe(obj any) {
	cr, ok := obj.(*cmapi.CertificateRequest)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.history[cr.Name]
	if h == nil {
		h = &crHistory{}
		w.history[cr.Name] = h
	}
	if len(cr.Status.Certificate) > 0 {
		sum := sha256.Sum256(cr.Status.Certificate)
		if len(h.certificates) == 0 || h.certificates[len(h.certificates)-1] != sum {
			h.certificates = append(h.certificates, sum)
		}
	}
	ready := false
	for _, c := range cr.Status.Conditions {
		if c.Type != cmapi.CertificateRequestConditionReady {
			continue
		}
		ready = c.Status == cmmeta.ConditionTrue
		if c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonFailed {
			h.failed = true
		}
	}
	if ready && !h.wasReady {
		h.readyTrue++
		if h.readyAt.IsZero() {
			h.readyAt = time.Now()
		}
	}
	h.wasReady = ready
}

// ready counts the requests seen Ready.
func (w *crWatch) ready() int { return w.count(func(h *crHistory) bool { return h.wasReady }) }

// failed counts the requests seen Failed.
func (w *crWatch) failed() int { return w.count(func(h *crHistory) bool { return h.failed }) }

func (w *crWatch) count(seen func(*crHistory) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, h := range w.history {
		if seen(h) {
			n++
		}
	}
	return n
}

// lastReadyAt is when the last of the requests became Ready.
func (w *crWatch) lastReadyAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var last time.Time
	for _, h := range w.history {
		if h.readyAt.After(last) {
			last = h.readyAt
		}
	}
	return last
}

// waitAllReady waits until every request was seen Ready.
func (w *crWatch) waitAllReady(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("%d CertificateRequests Ready", n), func() error {
		if got := w.ready(); got < n {
			return fmt.Errorf("%d of %d Ready", got, n)
		}
		return nil
	})
}

// onceOnly checks what the watch saw: every request signed once, Ready once, never failed.
// It returns the number of requests that were not (duplicates).
func (w *crWatch) onceOnly(t *testing.T, reqs []request) (duplicates int) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range reqs {
		h := w.history[r.name]
		switch {
		case h == nil:
			t.Errorf("%s: never seen", r.name)
		case len(h.certificates) != 1 || h.readyTrue != 1:
			duplicates++
			t.Errorf("%s: %d different certificates, Ready %d times", r.name, len(h.certificates), h.readyTrue)
		case h.failed:
			t.Errorf("%s: was marked Failed", r.name)
		}
	}
	return duplicates
}

// verifyIssued checks every request's final state: Ready, a leaf for its own key that verifies
// against the issuer's one CA for Antrea's names, status.ca equal to the CA Secret's ca.crt,
// and no two requests sharing a serial number.
func verifyIssued(ctx context.Context, t *testing.T, ns string, reqs []request, caSecret corev1.Secret) {
	t.Helper()
	roots := x509.NewCertPool()
	for _, c := range parseCertsPEM(t, caSecret.Data["tls.crt"]) {
		roots.AddCert(c)
	}
	serials := map[string]string{}
	for _, r := range reqs {
		cr := &cmapi.CertificateRequest{}
		if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: r.name}, cr); err != nil {
			t.Fatal(err)
		}
		leaf := parseCertsPEM(t, cr.Status.Certificate)[0]
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: antreaNames[0], Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: the leaf does not verify against the issuer's CA: %v", r.name, err)
		}
		if pk, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(r.key) {
			t.Errorf("%s: the leaf is not for the request's key", r.name)
		}
		if !bytes.Equal(cr.Status.CA, caSecret.Data["ca.crt"]) {
			t.Errorf("%s: status.ca differs from the CA Secret's ca.crt", r.name)
		}
		if other, dup := serials[leaf.SerialNumber.String()]; dup {
			t.Errorf("%s and %s share serial %s", r.name, other, leaf.SerialNumber.Text(16))
		}
		serials[leaf.SerialNumber.String()] = r.name
	}
}

// deleteRequests removes a test's CertificateRequests (envtest has no namespace controller to
// empty a deleted namespace).
func deleteRequests(ns string) {
	_ = suite.client.DeleteAllOf(context.Background(), &cmapi.CertificateRequest{}, client.InNamespace(ns))
}

// secretEvents counts, per Secret name, what a watch saw happen to the Secrets of a namespace.
type secretEvents struct {
	mu                       sync.Mutex
	added, modified, deleted map[string]int
	resourceVersionsByName   map[string][]string
}

func watchSecrets(ctx context.Context, t *testing.T, ns string) *secretEvents {
	t.Helper()
	e := &secretEvents{added: map[string]int{}, modified: map[string]int{}, deleted: map[string]int{}, resourceVersionsByName: map[string][]string{}}
	f := informers.NewSharedInformerFactoryWithOptions(suite.kube, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Secrets().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s := obj.(*corev1.Secret)
			e.mu.Lock()
			e.added[s.Name]++
			e.resourceVersionsByName[s.Name] = append(e.resourceVersionsByName[s.Name], s.ResourceVersion)
			e.mu.Unlock()
		},
		UpdateFunc: func(oldObj, obj any) {
			o, s := oldObj.(*corev1.Secret), obj.(*corev1.Secret)
			if o.ResourceVersion == s.ResourceVersion {
				return // a resync, not a write
			}
			e.mu.Lock()
			e.modified[s.Name]++
			e.resourceVersionsByName[s.Name] = append(e.resourceVersionsByName[s.Name], s.ResourceVersion)
			e.mu.Unlock()
		},
		DeleteFunc: func(obj any) {
			if s, ok := obj.(*corev1.Secret); ok {
				e.mu.Lock()
				e.deleted[s.Name]++
				e.mu.Unlock()
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	runInformer(ctx, t, "Secret", f.Start, inf.HasSynced)
	return e
}

// writtenOnce checks that a Secret was created once and never modified or deleted while watched.
func (e *secretEvents) writtenOnce(t *testing.T, name string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.added[name] != 1 || e.modified[name] != 0 || e.deleted[name] != 0 {
		t.Errorf("Secret %s: added %d, modified %d, deleted %d times (resourceVersions %v); want created once, never rewritten",
			name, e.added[name], e.modified[name], e.deleted[name], e.resourceVersionsByName[name])
	}
}

// killAndRestart SIGKILLs p, keeps it down for down, and starts it again, its Lease's expiry
// fast-forwarded: a killed leader keeps its Lease until it expires (the chart's 60 s), which the
// restarted process would otherwise wait out. The takeover time itself is measured by
// TestTwoReplicasOneCAAndTakeover.
func killAndRestart(ctx context.Context, p *localcluster.IssuerProcess, down time.Duration) error {
	if err := p.Stop(true); err != nil {
		return fmt.Errorf("killing antrea-issuer: %w", err)
	}
	time.Sleep(down)
	if err := deleteLease(ctx); err != nil {
		return fmt.Errorf("deleting the killed leader's Lease: %w", err)
	}
	if err := p.Start(ctx); err != nil {
		return fmt.Errorf("restarting antrea-issuer: %w", err)
	}
	return nil
}

// deleteLease removes antrea-issuer's leader Lease: what its expiry does a lease duration (the
// chart's 60 s) after a leader dies, without the wait.
func deleteLease(ctx context.Context) error {
	err := suite.kube.CoordinationV1().Leases(localcluster.IssuerNamespace).Delete(ctx, localcluster.LeaderElectionLease, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// stopSuiteIssuer stops the suite's antrea-issuer gracefully (it releases its Lease) and starts
// it again when the test ends, for tests that run their own processes.
func stopSuiteIssuer(t *testing.T) {
	t.Helper()
	if err := suite.local.Issuer.Stop(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := suite.local.Issuer.Start(context.Background()); err != nil {
			t.Errorf("restarting the suite's antrea-issuer: %v", err)
		}
	})
}

// runInformer starts an informer factory until the test ends and waits for its cache to sync.
func runInformer(ctx context.Context, t *testing.T, what string, start func(stop <-chan struct{}), synced cache.InformerSynced) {
	t.Helper()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), synced) {
		t.Fatalf("the %s watch did not sync", what)
	}
}

// underLoad prepares a test that signs many requests while something fails: namespace name, a
// Ready AntreaClusterIssuer of the same name, its one CA Secret as it is now, and a watch on the
// namespace's requests (deleted when the test ends).
func underLoad(ctx context.Context, t *testing.T, name string) (iss *v1alpha1.AntreaClusterIssuer, owner string, caBefore corev1.Secret, watch *crWatch) {
	t.Helper()
	ensureNamespace(ctx, t, name)
	iss = createReadyClusterIssuer(ctx, t, name)
	owner = "AntreaClusterIssuer/" + iss.Name
	caBefore = theCASecret(ctx, t, owner)
	watch = watchRequests(ctx, t, name)
	t.Cleanup(func() { deleteRequests(name) })
	return iss, owner, caBefore, watch
}
