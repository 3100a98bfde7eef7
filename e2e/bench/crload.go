package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"antrea.io/antrea-issuer/signer"
)

// crMode is what the load generator does for each CertificateRequest.
type crMode int

const (
	// modeController: create and approve; the running antrea-issuer signs.
	modeController crMode = iota
	// modeCeiling: create, approve and one status write of the size a signed request gets
	// (Ready=True, certificate, ca), done by the load generator itself: no controller runs.
	modeCeiling
	// modeProtocol: create, approve, then the writes issuer-lib makes for one request (a
	// Ready=Unknown "Initializing" status write, the Issued status write and an Event), done
	// by the load generator itself: what an issuer-lib based issuer could at best reach.
	modeProtocol
)

func (m crMode) String() string {
	return [...]string{"antrea-issuer", "bare client: create+approve+status", "bare client: issuer-lib's writes"}[m]
}

// runLabel marks every CertificateRequest of one run.
const runLabel = "bench.antrea.io/run"

// crLoad creates, approves and (in the bare-client modes) completes CertificateRequests, and
// watches them become Ready.
type crLoad struct {
	l *lab
	// certPEM and caPEM are a signed chain and CA of exactly the shape antrea-issuer produces
	// (signer.Sign with an ECDSA P-256 CA), written by the bare-client modes.
	certPEM, caPEM []byte
	runs           atomic.Int64
	// procs lists the processes whose CPU time a run accounts for, by name.
	procs func() map[string]int
	// idle is each process's CPU use (cores) with nothing to do, subtracted from a run's CPU
	// time so that a slower run is not charged for the control plane's background work.
	idle map[string]float64
}

// measureIdle records the control plane's CPU use while nothing runs.
// It takes the lower of two measurements: a freshly started or just busy API server and etcd
// go on working for a few seconds.
func (w *crLoad) measureIdle(ctx context.Context, d time.Duration) {
	first, second := w.idleUse(ctx, d), w.idleUse(ctx, d)
	w.idle = map[string]float64{}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		w.idle[name] = min(first[name], second[name])
	}
}

// waitQuiet waits, for at most 30 s, until the processes of the run together use less than
// 0.1 cores above the control plane's idle use over half a second: the work a previous run left
// behind (its deletions reaching every watcher, the API server's and etcd's own catching up)
// must not be charged to the next.
func (w *crLoad) waitQuiet(ctx context.Context) {
	idle := w.idle["kube-apiserver"] + w.idle["etcd"]
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var busy float64
		for _, cores := range w.idleUse(ctx, 500*time.Millisecond) {
			busy += cores
		}
		if busy < idle+0.1 {
			return
		}
	}
}

// idleUse is each process's CPU use (cores) over d while the load generator does nothing.
func (w *crLoad) idleUse(ctx context.Context, d time.Duration) map[string]float64 {
	c0 := w.cpuSnapshot()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	c1 := w.cpuSnapshot()
	out := map[string]float64{}
	for name, v := range c1 {
		if v0, ok := c0[name]; ok {
			out[name] = (v - v0).Seconds() / d.Seconds()
		}
	}
	return out
}

func newCRLoad(l *lab) (*crLoad, error) {
	now := time.Now()
	ca, err := signer.GenerateCA(now, signer.CAOptions{})
	if err != nil {
		return nil, err
	}
	csrs, err := makeCSRs("size", 1)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(csrs[0])
	csr, err := pki.DecodeX509CertificateRequestBytes(pem.EncodeToMemory(block))
	if err != nil {
		return nil, err
	}
	tmpl, err := pki.CertificateTemplateFromCSR(csr, pki.CertificateTemplateOverrideDuration(90*24*time.Hour))
	if err != nil {
		return nil, err
	}
	res, err := signer.Sign(now, ca, signer.Bundle{}, tmpl, signer.SignOptions{})
	if err != nil {
		return nil, err
	}
	return &crLoad{l: l, certPEM: res.ChainPEM, caPEM: res.CAPEM}, nil
}

// makeCSRs returns n PEM requests as cert-manager builds them (pki.GenerateCSR from a
// Certificate spec), each for its own name <prefix>-<i>.bench.svc with a fresh ECDSA P-256 key.
func makeCSRs(prefix string, n int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		name := fmt.Sprintf("%s-%d%s", prefix, i, benchDNSSuffix)
		crt := &cmapi.Certificate{Spec: cmapi.CertificateSpec{
			CommonName: name,
			DNSNames:   []string{name},
			Usages:     []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
		}}
		key, err := pki.GeneratePrivateKeyForCertificate(crt)
		if err != nil {
			return nil, err
		}
		tmpl, err := pki.GenerateCSR(crt)
		if err != nil {
			return nil, err
		}
		der, err := pki.EncodeCSR(tmpl, key)
		if err != nil {
			return nil, err
		}
		out[i] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	return out, nil
}

// crRunOptions shape one run.
type crRunOptions struct {
	mode crMode
	n    int
	// concurrency is how many requests the load generator works on at once.
	concurrency int
	// rate, when positive, paces the requests (open loop, requests per second).
	rate float64
	// waitEach makes each worker wait for its request to be Ready before the next one (with
	// concurrency 1: an idle issuer).
	waitEach bool
	// asIssuer makes the bare-client modes send the issuer's writes (status writes and the
	// event) with antrea-issuer's ServiceAccount token instead of admin credentials.
	asIssuer bool
	// extraWatch adds a second, unfiltered watch on CertificateRequests that decodes every
	// event, as a controller's informer does.
	extraWatch bool
	// skipInitializing leaves issuer-lib's Initializing status write out of modeProtocol: one
	// status write and an Event per request, as cert-manager's own CA issuer makes.
	skipInitializing bool
}

// crRunResult is what one run measured.
type crRunResult struct {
	opts    crRunOptions
	elapsed time.Duration // first create to last Ready
	ready   int
	failed  int
	// latencies are approval (the approve call returned) to Ready seen by the watch.
	latencies []time.Duration
	// server-side rejections the bare-client modes met (should be 0)
	errors int
	// cpu is the CPU time each process used during the run (first create to last Ready).
	cpu map[string]time.Duration
	// api is what the API server served during the run.
	api apiWork
}

// cpuPerRequest is the CPU time of all processes together per Ready request.
func (r *crRunResult) cpuPerRequest() time.Duration {
	var sum time.Duration
	for _, d := range r.cpu {
		sum += d
	}
	return sum / time.Duration(max(r.ready, 1))
}

// cpuBreakdown lists each process's CPU time per request.
func (r *crRunResult) cpuBreakdown() string {
	var parts []string
	for _, name := range []string{"kube-apiserver", "etcd", "bench", "antrea-issuer"} {
		if d, ok := r.cpu[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", name, ms(d/time.Duration(max(r.ready, 1)))))
		}
	}
	return strings.Join(parts, ", ")
}

// cpuSnapshot reads the CPU time of every process procs names.
func (w *crLoad) cpuSnapshot() map[string]time.Duration {
	out := map[string]time.Duration{}
	if w.procs == nil {
		return out
	}
	for name, pid := range w.procs() {
		if d, err := procCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// cpuAboveIdle is each process's CPU time since cpu0, taken at start, less the control plane's
// idle use over that time: a run is charged only for what it made the processes do.
func (w *crLoad) cpuAboveIdle(cpu0 map[string]time.Duration, start time.Time) map[string]time.Duration {
	cpu1 := w.cpuSnapshot()
	window := time.Since(start)
	out := map[string]time.Duration{}
	for name, d := range cpu1 {
		if d0, ok := cpu0[name]; ok {
			out[name] = max(d-d0-time.Duration(w.idle[name]*float64(window)), 0)
		}
	}
	return out
}

// waitTurn sleeps until the i-th of a series paced at rate per second, begun at start, is due
// (rate 0: at once).
func waitTurn(start time.Time, i int, rate float64) {
	if rate <= 0 {
		return
	}
	if d := time.Until(start.Add(time.Duration(float64(i) * float64(time.Second) / rate))); d > 0 {
		time.Sleep(d)
	}
}

func (r *crRunResult) rate() float64 { return float64(r.ready) / r.elapsed.Seconds() }

// busyCores is the CPU the run used above the idle control plane, in cores: near the machine's
// core count, the run was CPU-bound, and its CPU per request is those cores divided by its rate.
func (r *crRunResult) busyCores() float64 {
	return r.cpuPerRequest().Seconds() * float64(max(r.ready, 1)) / r.elapsed.Seconds()
}

// run performs one run; every request it creates is deleted before it returns.
func (w *crLoad) run(ctx context.Context, o crRunOptions) (*crRunResult, error) {
	id := fmt.Sprintf("r%d", w.runs.Add(1))
	csrs, err := makeCSRs(id, o.n) // before timing: key generation is the client's cost
	if err != nil {
		return nil, err
	}
	defer w.cleanup(context.WithoutCancel(ctx), id)

	watcher, err := w.watchReady(ctx, id, o.n)
	if err != nil {
		return nil, err
	}
	defer watcher.stop()
	if o.extraWatch {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wi, err := w.l.cm.CertmanagerV1().CertificateRequests("").Watch(wctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		go func() {
			for range wi.ResultChan() {
			}
		}()
	}
	writer := w.l.cm
	events := w.l.kube
	if o.asIssuer {
		writer, events = w.l.issuerCM, w.l.issuerKube
	}

	res := &crRunResult{opts: o, latencies: make([]time.Duration, 0, o.n)}
	var mu sync.Mutex
	var firstErr error
	var errCount atomic.Int64
	note := func(err error) {
		errCount.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	approvedAt := make([]time.Time, o.n)

	work := make(chan int)
	var wg sync.WaitGroup
	w.waitQuiet(ctx)
	api0, _ := w.l.apiServerMetrics(ctx)
	cpu0 := w.cpuSnapshot()
	start := time.Now()
	for range max(o.concurrency, 1) {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("%s-%d", id, i)
				t, err := w.one(ctx, o.mode, o.skipInitializing, name, id, csrs[i], writer, events)
				if err != nil {
					note(fmt.Errorf("%s: %w", name, err))
					watcher.giveUp(name)
					continue
				}
				approvedAt[i] = t
				if o.waitEach {
					watcher.wait(ctx, name)
				}
			}
		})
	}
	for i := range o.n {
		waitTurn(start, i, o.rate)
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()

	timeout := 10*time.Minute + time.Duration(o.n)*time.Second/2
	if err := watcher.waitAll(ctx, timeout); err != nil {
		return nil, fmt.Errorf("%s run %s: %w (client errors: %d, first: %v)", o.mode, id, err, errCount.Load(), firstErr)
	}
	res.cpu = w.cpuAboveIdle(cpu0, start)
	api1, _ := w.l.apiServerMetrics(ctx)
	res.api = apiWorkBetween(api0, api1)
	ready, failed, last := watcher.results()
	res.elapsed = last.Sub(start)
	res.failed = len(failed)
	res.ready = len(ready)
	res.errors = int(errCount.Load())
	for i := range o.n {
		if t, ok := ready[fmt.Sprintf("%s-%d", id, i)]; ok && !approvedAt[i].IsZero() {
			res.latencies = append(res.latencies, t.Sub(approvedAt[i]))
		}
	}
	if res.failed > 0 || res.errors > 0 {
		var why string
		for _, v := range failed {
			why = v
			break
		}
		return res, fmt.Errorf("%s run %s: %d requests failed (%s), %d client errors (first: %v)", o.mode, id, res.failed, why, res.errors, firstErr)
	}
	return res, nil
}

// one creates and approves a request (and completes it in the bare-client modes). It returns
// when the approval was accepted by the API server.
func (w *crLoad) one(ctx context.Context, mode crMode, skipInitializing bool, name, id string, csr []byte, writer cmclient.Interface, events kubernetes.Interface) (time.Time, error) {
	crs := w.l.cm.CertmanagerV1().CertificateRequests(benchNamespace)
	group := "certificates.antrea.io"
	if mode != modeController {
		group = "certificates.nobody.io" // no controller may touch these (same length)
	}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: name, Labels: map[string]string{runLabel: id}},
		Spec: cmapi.CertificateRequestSpec{
			Request:   csr,
			IssuerRef: cmmeta.IssuerReference{Group: group, Kind: "AntreaClusterIssuer", Name: benchIssuerName},
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
			Duration:  &metav1.Duration{Duration: 90 * 24 * time.Hour},
		},
	}
	created, err := crs.Create(ctx, cr, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("create: %w", err)
	}
	// cert-manager's approver writes the Approved condition with an UpdateStatus.
	apiutil.SetCertificateRequestCondition(created, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue,
		"cert-manager.io", "Certificate request has been approved by cert-manager.io")
	if _, err := crs.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return time.Time{}, fmt.Errorf("approve: %w", err)
	}
	approved := time.Now()
	switch mode {
	case modeCeiling:
		if err := w.applyStatus(ctx, writer, name, w.issued()); err != nil {
			return approved, err
		}
	case modeProtocol:
		if skipInitializing {
			// (the Issued write and the Event below)
		} else if err := w.applyStatus(ctx, writer, name, w.initializing()); err != nil {
			return approved, err
		}
		if err := w.applyStatus(ctx, writer, name, w.issued()); err != nil {
			return approved, err
		}
		if err := w.event(ctx, events, created); err != nil {
			return approved, err
		}
	}
	return approved, nil
}

func (w *crLoad) initializing() cmapi.CertificateRequestStatus {
	return cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{{
		Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionUnknown, Reason: "Initializing",
		Message: "antrea-issuer has started reconciling this CertificateRequest", LastTransitionTime: ptrNow(),
	}}}
}

func (w *crLoad) issued() cmapi.CertificateRequestStatus {
	return cmapi.CertificateRequestStatus{
		Certificate: w.certPEM,
		CA:          w.caPEM,
		Conditions: []cmapi.CertificateRequestCondition{{
			Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionTrue, Reason: cmapi.CertificateRequestReasonIssued,
			Message: "Succeeded signing the CertificateRequest", LastTransitionTime: ptrNow(),
		}},
	}
}

func ptrNow() *metav1.Time { t := metav1.Now(); return &t }

// applyStatus sends the server-side apply of the status subresource issuer-lib sends.
func (w *crLoad) applyStatus(ctx context.Context, writer cmclient.Interface, name string, st cmapi.CertificateRequestStatus) error {
	return applyRequestStatus(ctx, writer, benchNamespace, name, st)
}

// applyRequestStatus sends issuer-lib's server-side apply of a CertificateRequest's status.
func applyRequestStatus(ctx context.Context, writer cmclient.Interface, namespace, name string, st cmapi.CertificateRequestStatus) error {
	body, err := json.Marshal(map[string]any{
		"apiVersion": cmapi.SchemeGroupVersion.Identifier(),
		"kind":       cmapi.CertificateRequestKind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"status":     st,
	})
	if err != nil {
		return err
	}
	force := true
	_, err = writer.CertmanagerV1().CertificateRequests(namespace).Patch(ctx, name, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: benchFieldOwner, Force: &force}, "status")
	if err != nil {
		return fmt.Errorf("status apply: %w", err)
	}
	return nil
}

// event creates the events.k8s.io Event issuer-lib's recorder creates for an issued request.
func (w *crLoad) event(ctx context.Context, events kubernetes.Interface, cr *cmapi.CertificateRequest) error {
	return issuedEvent(ctx, events, cr)
}

// issuedEvent creates the events.k8s.io Event issuer-lib's recorder creates for an issued request.
func issuedEvent(ctx context.Context, events kubernetes.Interface, cr *cmapi.CertificateRequest) error {
	now := metav1.NowMicro()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: cr.Namespace, Name: fmt.Sprintf("%s.%x", cr.Name, now.UnixNano())},
		EventTime:           now,
		ReportingController: benchFieldOwner,
		ReportingInstance:   benchFieldOwner + "-bench",
		Action:              "Synced",
		Reason:              "Issued",
		Regarding:           corev1.ObjectReference{Kind: "CertificateRequest", APIVersion: "cert-manager.io/v1", Namespace: cr.Namespace, Name: cr.Name, UID: cr.UID, ResourceVersion: cr.ResourceVersion},
		Note:                "Succeeded signing the CertificateRequest",
		Type:                corev1.EventTypeNormal,
	}
	if _, err := events.EventsV1().Events(cr.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// cleanup deletes the run's requests and waits until they are gone, so that the next run
// starts with the same cluster (and the issuer's cache holds the same objects).
func (w *crLoad) cleanup(ctx context.Context, id string) {
	crs := w.l.cm.CertmanagerV1().CertificateRequests(benchNamespace)
	sel := metav1.ListOptions{LabelSelector: runLabel + "=" + id}
	_ = crs.DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	_ = poll(ctx, 2*time.Minute, "run "+id+" deleted", func() (bool, error) {
		l, err := crs.List(ctx, metav1.ListOptions{LabelSelector: sel.LabelSelector, Limit: 1})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 0, nil
	})
	// Events of the bare-client protocol runs.
	_ = w.l.kube.EventsV1().Events(benchNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
}

// readyWatch records when each request of a run is first seen Ready (or Failed).
type readyWatch struct {
	n      int
	cancel context.CancelFunc

	mu      sync.Mutex
	ready   map[string]time.Time
	failed  map[string]string
	given   map[string]bool
	waiters map[string]chan struct{}
	last    time.Time
	all     chan struct{}
	err     error
}

func (w *crLoad) watchReady(ctx context.Context, id string, n int) (*readyWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	rw := &readyWatch{n: n, cancel: cancel, ready: map[string]time.Time{}, failed: map[string]string{},
		given: map[string]bool{}, waiters: map[string]chan struct{}{}, all: make(chan struct{})}
	crs := w.l.cm.CertmanagerV1().CertificateRequests(benchNamespace)
	sel := runLabel + "=" + id
	list, err := crs.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		cancel()
		return nil, err
	}
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = sel
		return crs.Watch(ctx, o)
	}}
	rwatch, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, lw)
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer rwatch.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rwatch.ResultChan():
				if !ok {
					return
				}
				if ev.Type == watch.Error {
					rw.fail(fmt.Errorf("watch error: %v", ev.Object))
					continue
				}
				if cr, ok := ev.Object.(*cmapi.CertificateRequest); ok {
					rw.observe(cr, time.Now())
				}
			}
		}
	}()
	return rw, nil
}

func (rw *readyWatch) observe(cr *cmapi.CertificateRequest, now time.Time) {
	c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady)
	if c == nil {
		return
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if _, done := rw.ready[cr.Name]; done {
		return
	}
	if _, done := rw.failed[cr.Name]; done {
		return
	}
	switch {
	case c.Status == cmmeta.ConditionTrue:
		rw.ready[cr.Name] = now
	case c.Status == cmmeta.ConditionFalse && (c.Reason == cmapi.CertificateRequestReasonFailed || c.Reason == cmapi.CertificateRequestReasonDenied):
		rw.failed[cr.Name] = c.Message
	default:
		return
	}
	rw.last = now
	if ch, ok := rw.waiters[cr.Name]; ok {
		close(ch)
		delete(rw.waiters, cr.Name)
	}
	rw.checkAllLocked()
}

func (rw *readyWatch) checkAllLocked() {
	if len(rw.ready)+len(rw.failed)+len(rw.given) == rw.n {
		select {
		case <-rw.all:
		default:
			close(rw.all)
		}
	}
}

// giveUp counts a request the load generator could not create or approve.
func (rw *readyWatch) giveUp(name string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.given[name] = true
	rw.checkAllLocked()
}

func (rw *readyWatch) fail(err error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.err == nil {
		rw.err = err
	}
}

// wait blocks until name is Ready or Failed.
func (rw *readyWatch) wait(ctx context.Context, name string) {
	rw.mu.Lock()
	if _, ok := rw.ready[name]; ok {
		rw.mu.Unlock()
		return
	}
	if _, ok := rw.failed[name]; ok {
		rw.mu.Unlock()
		return
	}
	ch, ok := rw.waiters[name]
	if !ok {
		ch = make(chan struct{})
		rw.waiters[name] = ch
	}
	rw.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-time.After(2 * time.Minute):
	}
}

func (rw *readyWatch) waitAll(ctx context.Context, timeout time.Duration) error {
	select {
	case <-rw.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		rw.mu.Lock()
		defer rw.mu.Unlock()
		return fmt.Errorf("timed out after %s: %d of %d Ready, %d failed (watch error: %v)", timeout, len(rw.ready), rw.n, len(rw.failed), rw.err)
	}
}

func (rw *readyWatch) results() (map[string]time.Time, map[string]string, time.Time) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.ready, rw.failed, rw.last
}

func (rw *readyWatch) stop() { rw.cancel() }
