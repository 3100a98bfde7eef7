package antreasim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Antrea's own timings (ANTREA.md), the defaults of DefaultControllerOptions.
const (
	// DefaultFileLag is how long the mounted Secret files trail the Secret: kubelet refreshes a
	// mounted Secret within about a minute, and Antrea reloads its files about every minute.
	DefaultFileLag = time.Minute
	// DefaultResyncPeriod is how often antrea-controller republishes its CA bundle unasked.
	DefaultResyncPeriod = 2 * time.Minute
	// DefaultMinValidDuration: in selfSignedCert: true mode a pair with less left is replaced.
	DefaultMinValidDuration = 90 * 24 * time.Hour
	// DefaultSelfSignedCheckPeriod: selfSignedCert: true mode re-checks the Secret this often
	// besides on every event.
	DefaultSelfSignedCheckPeriod = time.Hour
	// DefaultCertReadyTimeout: with selfSignedCert: false antrea-controller waits this long for
	// ca.crt, tls.crt and tls.key, then exits.
	DefaultCertReadyTimeout = 2 * time.Minute
	// FieldManager is the field manager of the stand-in's writes.
	FieldManager = "antrea-controller"
)

// ControllerOptions configure the stand-in antrea-controller. DefaultControllerOptions holds
// Antrea's own values; tests scale the durations down but keep their order (the file lag longer
// than the CA bundle sync's reaction).
type ControllerOptions struct {
	// Namespace is Antrea's namespace (the Secret, antrea-ca and the server name).
	Namespace string
	// SelfSignedCert runs Antrea's default mode (selfSignedCert: true) instead of reading the
	// Secret's files.
	SelfSignedCert bool
	// FileLag: with selfSignedCert: false the server and the published bundle follow the Secret
	// as it was FileLag ago (kubelet's refresh of the mounted Secret and Antrea's reload).
	FileLag time.Duration
	// ResyncPeriod: the CA bundle is republished this often besides on every change; 0 only on
	// change.
	ResyncPeriod time.Duration
	// MinValidDuration: selfSignedCert: true mode serves a pair from the Secret only with at
	// least this much validity left, and replaces it otherwise.
	MinValidDuration time.Duration
	// SelfSignedCheckPeriod: selfSignedCert: true mode re-reads the Secret this often besides
	// on every event; 0 only on events.
	SelfSignedCheckPeriod time.Duration
	// CertReadyTimeout: selfSignedCert: false waits this long for all three files, then the run
	// fails (Err says so); 0 waits forever.
	CertReadyTimeout time.Duration
	// Logf, when set, receives a line for each thing the stand-in does (t.Logf).
	Logf func(format string, args ...any)
}

// DefaultControllerOptions are Antrea's defaults in namespace kube-system, selfSignedCert: false.
func DefaultControllerOptions() ControllerOptions {
	return ControllerOptions{
		Namespace:             Namespace,
		FileLag:               DefaultFileLag,
		ResyncPeriod:          DefaultResyncPeriod,
		MinValidDuration:      DefaultMinValidDuration,
		SelfSignedCheckPeriod: DefaultSelfSignedCheckPeriod,
		CertReadyTimeout:      DefaultCertReadyTimeout,
	}
}

// ControllerStats count what the stand-in did since it was created (across restarts).
type ControllerStats struct {
	// Starts counts Start calls; Failures the runs that ended on their own (no certificate
	// files within CertReadyTimeout).
	Starts, Failures int
	// SecretWrites counts the Secret's creations and updates (selfSignedCert: true mode).
	SecretWrites int
	// Generated counts the self-signed pairs generated.
	Generated int
	// Reloads counts changes of the served certificate.
	Reloads int
	// Rounds counts the publishing rounds completed (on a CA change and every ResyncPeriod).
	Rounds int
	// Writes counts the Updates and Creates of targets that succeeded, by "<Kind>/<name>".
	Writes map[string]int
	// Conflicts and Errors count failed target writes and Secret writes.
	Conflicts, Errors int
	LastError         error
}

// TotalWrites sums Writes.
func (s ControllerStats) TotalWrites() int {
	n := 0
	for _, v := range s.Writes {
		n += v
	}
	return n
}

// Controller stands in for antrea-controller, as ANTREA.md describes it: it serves Antrea's API
// (a Server the real aggregator can judge) with the certificate Antrea would serve, and publishes
// the CA bundle Antrea would publish (its CACertController: antrea-ca, APIServices, webhook
// configurations and the IPPool CRD, selected by Antrea's labels, with full Updates on every
// change and every ResyncPeriod, skipping objects that already carry the bytes).
//
// With selfSignedCert: false it reads a file view of the Secret that trails the API by FileLag:
// it starts serving once ca.crt, tls.crt and tls.key are all there, serves tls.crt/tls.key and
// publishes the ca.crt bytes as the files show them. With selfSignedCert: true it reads the
// Secret from the API on every event of its watch and every SelfSignedCheckPeriod: a pair with at
// least MinValidDuration left is served whoever signed it; otherwise it generates an
// antrea-ca@<unix> CA and leaf and Updates only tls.crt and tls.key (creating the Secret when
// missing). It publishes the served tls.crt verbatim.
//
// Start and Stop model the Pod: stopped, nothing listens (connections are refused) and nothing is
// published; a start mounts the Secret's current content. The address stays the same across
// restarts, so the aggregator's routing stays valid.
type Controller struct {
	opts   ControllerOptions
	kube   kubernetes.Interface
	client client.Client
	addr   string
	counts *serverCounts

	mu         sync.Mutex
	selfSigned bool
	run        *run
	stats      ControllerStats
	lastErr    error
}

// NewController prepares a stand-in talking to the API server of cfg; Start runs it. The port it
// will listen on is chosen now.
func NewController(cfg *rest.Config, opts ControllerOptions) (*Controller, error) {
	if opts.Namespace == "" {
		opts.Namespace = Namespace
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, apiregistrationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	// Reserve a port: listen once on a random one and keep its number.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("choosing a port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return &Controller{
		opts: opts, kube: kube, client: c, addr: addr, counts: newServerCounts(),
		selfSigned: opts.SelfSignedCert, stats: ControllerStats{Writes: map[string]int{}},
	}, nil
}

// Addr is host:port the stand-in serves on while it runs.
func (c *Controller) Addr() string { return c.addr }

// Port is the TCP port of Addr.
func (c *Controller) Port() int32 {
	_, p, _ := net.SplitHostPort(c.addr)
	var n int32
	_, _ = fmt.Sscan(p, &n)
	return n
}

// URL is the stand-in's base URL.
func (c *Controller) URL() string { return "https://" + c.addr }

// Handshakes counts the TLS handshakes the stand-in's servers started (all runs).
func (c *Controller) Handshakes() int64 { return c.counts.handshakes.Load() }

// RequestsTo counts the HTTP requests for path (all runs).
func (c *Controller) RequestsTo(path string) int64 { return c.counts.requestsTo(path) }

// Start runs the stand-in (a new Pod) until Stop or ctx's end. It returns at once; the server
// listens once there is a certificate to serve.
func (c *Controller) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != nil {
		return errors.New("antreasim: controller already running")
	}
	c.stats.Starts++
	c.lastErr = nil
	c.run = c.newRun(ctx, c.selfSigned)
	return nil
}

// Stop ends the running Pod, if any, and waits until it has stopped: nothing listens any more.
func (c *Controller) Stop() {
	c.mu.Lock()
	r := c.run
	c.run = nil
	c.mu.Unlock()
	if r != nil {
		r.stop()
	}
}

// Restart stops the stand-in, waits gap (Antrea's Deployment is Recreate: the new Pod starts
// after the old one is gone), switches to selfSignedCert, and starts it again.
func (c *Controller) Restart(ctx context.Context, gap time.Duration, selfSignedCert bool) error {
	c.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(gap):
	}
	c.mu.Lock()
	c.selfSigned = selfSignedCert
	c.mu.Unlock()
	return c.Start(ctx)
}

// Running reports whether a run is in progress.
func (c *Controller) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run != nil
}

// SelfSignedCert reports the mode the stand-in runs (or will run) in.
func (c *Controller) SelfSignedCert() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.selfSigned
}

// Err is why the last run ended on its own (nil while it runs or after Stop).
func (c *Controller) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Served is the certificate chain (tls.crt) served now; nil when nothing is served.
func (c *Controller) Served() []byte { return c.current(func(r *run) []byte { return r.servedCert }) }

// Bundle is the CA bundle the stand-in publishes now; nil before it has one.
func (c *Controller) Bundle() []byte { return c.current(func(r *run) []byte { return r.bundle }) }

// Files is the file view of the Secret (selfSignedCert: false): what the mounted files hold now.
func (c *Controller) Files() map[string][]byte {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.files)
}

func (c *Controller) current(get func(*run) []byte) []byte {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(get(r))
}

// Resync publishes now, as the periodic resync does (a test places it where it wants, such as
// inside the file lag after a CA change).
func (c *Controller) Resync() {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r != nil {
		kick(r.publishQ)
	}
}

// Stats returns a copy of the counters.
func (c *Controller) Stats() ControllerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Writes = maps.Clone(c.stats.Writes)
	return s
}

func (c *Controller) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf("antrea-controller stand-in: "+format, args...)
	}
}

func (c *Controller) count(f func(*ControllerStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.stats)
}

func (c *Controller) recordErr(err error) {
	c.count(func(s *ControllerStats) {
		if apierrors.IsConflict(err) {
			s.Conflicts++
			return
		}
		s.Errors++
		s.LastError = err
	})
}

// fail ends run r on its own, as antrea-controller exits.
func (c *Controller) fail(r *run, err error) {
	c.mu.Lock()
	if c.run != r {
		c.mu.Unlock()
		return
	}
	c.run = nil
	c.lastErr = err
	c.stats.Failures++
	c.mu.Unlock()
	c.logf("exiting: %v", err)
	go r.stop()
}

// run is one Pod of antrea-controller.
type run struct {
	c          *Controller
	selfSigned bool
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	rotateQ  chan struct{} // selfSignedCert: true: re-read the Secret
	publishQ chan struct{} // publish the bundle

	mu         sync.Mutex
	files      map[string][]byte // selfSignedCert: false: the mounted Secret
	seq, shown uint64            // versions seen by the watch, and the last one the files show
	ready      bool              // all three files were there once
	servedCert []byte
	servedKey  []byte
	bundle     []byte
	server     *Server
}

func (c *Controller) newRun(parent context.Context, selfSigned bool) *run {
	ctx, cancel := context.WithCancel(parent)
	r := &run{c: c, selfSigned: selfSigned, ctx: ctx, cancel: cancel,
		rotateQ: make(chan struct{}, 1), publishQ: make(chan struct{}, 1)}
	c.logf("starting (selfSignedCert: %v)", selfSigned)
	r.wg.Go(r.main)
	return r
}

func (r *run) stop() {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	srv := r.server
	r.server = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func kick(q chan struct{}) {
	select {
	case q <- struct{}{}:
	default:
	}
}

func (r *run) main() {
	c := r.c
	if !r.selfSigned {
		// The Pod starts with the Secret as it is now (kubelet mounts the current content).
		s, err := c.kube.CoreV1().Secrets(c.opts.Namespace).Get(r.ctx, SecretName, metav1.GetOptions{})
		switch {
		case err == nil:
			r.show(0, s.Data)
		case apierrors.IsNotFound(err): // an optional volume: empty until the Secret exists
		default:
			c.recordErr(err)
		}
		if c.opts.CertReadyTimeout > 0 {
			t := time.AfterFunc(c.opts.CertReadyTimeout, func() {
				r.mu.Lock()
				ready := r.ready
				r.mu.Unlock()
				if !ready && r.ctx.Err() == nil {
					c.fail(r, fmt.Errorf("ca.crt, tls.crt and tls.key not all present in the mounted Secret after %s (selfSignedCert: false)", c.opts.CertReadyTimeout))
				}
			})
			defer t.Stop()
		}
	} else {
		kick(r.rotateQ) // the provider reads the Secret before serving anything
	}

	factory := informers.NewSharedInformerFactoryWithOptions(c.kube, 0,
		informers.WithNamespace(c.opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", SecretName).String()
		}))
	inf := factory.Core().V1().Secrets().Informer()
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.secretEvent(obj) },
		UpdateFunc: func(_, obj any) { r.secretEvent(obj) },
		DeleteFunc: func(any) { r.secretEvent(nil) },
	})
	factory.Start(r.ctx.Done())
	defer factory.Shutdown()

	if r.selfSigned {
		r.wg.Go(r.provide)
	}
	r.wg.Go(r.publishLoop)
	<-r.ctx.Done()
}

// secretEvent: with selfSignedCert: true the provider re-reads the Secret; with false the
// files show this version FileLag later.
func (r *run) secretEvent(obj any) {
	if r.selfSigned {
		kick(r.rotateQ)
		return
	}
	var data map[string][]byte
	if s, ok := obj.(*corev1.Secret); ok {
		data = maps.Clone(s.Data)
	}
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	if lag := r.c.opts.FileLag; lag > 0 {
		time.AfterFunc(lag, func() { r.show(seq, data) })
		return
	}
	r.show(seq, data)
}

// show makes the files show version seq (unless a later one is shown already) and reloads what
// changed: the served pair once all three files were there, and the CA bundle.
func (r *run) show(seq uint64, data map[string][]byte) {
	if r.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	if seq != 0 && seq <= r.shown {
		r.mu.Unlock()
		return
	}
	r.shown = max(r.shown, seq)
	r.files = data
	if !r.ready {
		r.ready = len(data[CAKey]) > 0 && len(data[corev1.TLSCertKey]) > 0 && len(data[corev1.TLSPrivateKeyKey]) > 0
		if !r.ready {
			r.mu.Unlock()
			return
		}
	}
	cert, key, ca := data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey], data[CAKey]
	r.mu.Unlock()

	// A file that cannot be loaded keeps the previous content, as Antrea's reloaders do.
	if _, err := tls.X509KeyPair(cert, key); err == nil {
		r.serve(cert, key)
	}
	if hasCertificate(ca) {
		r.setBundle(ca)
	}
}

// serve serves cert/key from now on, starting the server on the first pair.
func (r *run) serve(cert, key []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil || (bytes.Equal(cert, r.servedCert) && bytes.Equal(key, r.servedKey)) {
		return
	}
	if r.server == nil {
		srv, err := NewServer(WithAddr(r.c.addr), withCounts(r.c.counts), WithKeyPair(cert, key))
		if err != nil {
			r.c.recordErr(fmt.Errorf("starting the server: %w", err))
			return
		}
		r.server = srv
	} else if err := r.server.SetKeyPair(cert, key); err != nil {
		r.c.recordErr(err)
		return
	}
	r.servedCert, r.servedKey = bytes.Clone(cert), bytes.Clone(key)
	r.c.count(func(s *ControllerStats) { s.Reloads++ })
	r.c.logf("serving %s", describeChain(cert))
}

func (r *run) setBundle(b []byte) {
	r.mu.Lock()
	changed := !bytes.Equal(b, r.bundle)
	if changed {
		r.bundle = bytes.Clone(b)
	}
	r.mu.Unlock()
	if changed {
		kick(r.publishQ)
	}
}

// provide is selfSignedCert: true mode's certificate provider: it re-reads the Secret on every
// event and every SelfSignedCheckPeriod.
func (r *run) provide() {
	var check <-chan time.Time
	if p := r.c.opts.SelfSignedCheckPeriod; p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		check = t.C
	}
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.rotateQ:
		case <-check:
		}
		if err := r.rotate(); err != nil && r.ctx.Err() == nil {
			r.c.recordErr(err)
			r.c.logf("self-signed certificate: %v; retrying", err)
			time.AfterFunc(100*time.Millisecond, func() { kick(r.rotateQ) })
		}
	}
}

// rotate serves the Secret's pair when it has at least MinValidDuration left, and otherwise
// generates a self-signed pair and writes it to the Secret's tls.crt and tls.key.
func (r *run) rotate() error {
	c := r.c
	secrets := c.kube.CoreV1().Secrets(c.opts.Namespace)
	s, err := secrets.Get(r.ctx, SecretName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the Secret: %w", err)
	}
	if err != nil {
		s = nil
	}
	var cert, key []byte
	if s != nil {
		cert, key = s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	}
	now := time.Now()
	if left, ok := validFor(cert, key, now); !ok || left < c.opts.MinValidDuration {
		if cert, key, err = NewSelfSignedPair(c.opts.Namespace, now); err != nil {
			return err
		}
		if s != nil {
			s.Type = corev1.SecretTypeTLS
			if s.Data == nil {
				s.Data = map[string][]byte{}
			}
			s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey] = cert, key
			_, err = secrets.Update(r.ctx, s, metav1.UpdateOptions{FieldManager: FieldManager})
		} else {
			s = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: c.opts.Namespace, Name: SecretName},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
			}
			_, err = secrets.Create(r.ctx, s, metav1.CreateOptions{FieldManager: FieldManager})
		}
		if err != nil {
			return fmt.Errorf("saving the self-signed pair to the Secret: %w", err)
		}
		c.count(func(s *ControllerStats) { s.Generated++; s.SecretWrites++ })
		c.logf("generated a self-signed pair (%s left on the Secret's one)", left.Round(time.Second))
	}
	r.serve(cert, key)
	r.setBundle(cert)
	return nil
}

// validFor returns how long the first certificate of cert is still valid, and whether cert and
// key form a usable pair.
func validFor(cert, key []byte, now time.Time) (time.Duration, bool) {
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return 0, false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return 0, false
	}
	return leaf.NotAfter.Sub(now), true
}

// hasCertificate reports whether b holds at least one parsable CERTIFICATE block: Antrea's CA
// file loader skips other blocks and keeps the previous content when there is none.
func hasCertificate(b []byte) bool {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(blk.Bytes); err == nil {
				return true
			}
		}
	}
}

func describeChain(b []byte) string {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "nothing"
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "an unparsable certificate"
	}
	return fmt.Sprintf("%q issued by %q", cert.Subject.CommonName, cert.Issuer.CommonName)
}
