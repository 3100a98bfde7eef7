package main

import (
	"context"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	// cert-manager's CA issuer and ClusterIssuer controllers register themselves in init();
	// internal/localcluster imports the Certificate controllers and the approver.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	// The CA issuer's setup (checked by the ClusterIssuer controller) registers itself too.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/signer"
)

const (
	caIssuerName = "bench-ca" // cert-manager's own CA ClusterIssuer
	// cert-manager's controller defaults (its config API): client QPS 20, burst 50, 5 workers.
	cmDefaultQPS   = 20
	cmDefaultBurst = 50
	// cert-manager's published figure: 500 certificates in 417 s (design doc on memory
	// management, measured at its default client limits).
	cmPublishedCerts   = 500
	cmPublishedSeconds = 417
)

// cmControllers are the cert-manager controllers of a real installation that the two flows
// need: the Certificate life cycle, the approver, the ClusterIssuer controller (marks the CA
// ClusterIssuer Ready) and the CA issuer's CertificateRequest controller.
var cmControllers = append(append([]string{}, localcluster.CertManagerControllers...),
	"clusterissuers", "certificaterequests-issuer-ca")

func runCertManager(ctx context.Context, b *bench) error {
	const sc = "3 cert-manager"
	l := b.lab
	if b.load.idle == nil { // the throughput scenario did not run: the control plane's idle use
		b.stopIssuer()
		b.load.measureIdle(ctx, 5*time.Second)
	}
	if err := b.ensureIssuer(ctx, defaultSetting); err != nil {
		return err
	}
	cmCfg, err := localcluster.ServiceAccountConfig(ctx, l.env.Config, localcluster.CertManagerNamespace, localcluster.CertManagerServiceAccount)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(l.dir, "cert-manager.kubeconfig")
	if err := testenv.WriteKubeconfig(cmCfg, kubeconfig); err != nil {
		return err
	}
	if err := createCAIssuer(ctx, l); err != nil {
		return err
	}

	b.p.step("cert-manager: starting its controllers in-process (%d workers each) as ServiceAccount cert-manager", b.opts.cmWorkers)
	cmCtx, stopCM := context.WithCancel(ctx)
	defer stopCM()
	if err := startCertManager(cmCtx, kubeconfig, b.opts.cmWorkers, l.cmLog); err != nil {
		return err
	}
	if err := poll(ctx, 60*time.Second, "ClusterIssuer "+caIssuerName+" Ready", func() (bool, error) {
		ci := &cmapi.ClusterIssuer{}
		if err := l.c.Get(ctx, client.ObjectKey{Name: caIssuerName}, ci); err != nil {
			return false, err
		}
		return apiutil.IssuerHasCondition(ci, cmapi.IssuerCondition{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionTrue}), nil
	}); err != nil {
		return err
	}

	antreaRef := cmmeta.IssuerReference{Group: "certificates.antrea.io", Kind: "AntreaClusterIssuer", Name: benchIssuerName}
	caRef := cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: caIssuerName}
	b.p.step("cert-manager: warming up both flows with 20 Certificates each")
	for _, ref := range []cmmeta.IssuerReference{antreaRef, caRef} {
		if _, err := certRun(ctx, b, "bench-cm-warmup", ref, 20, 0); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	// The flows alternate (A B, then B A, ...): on a shared machine the second of two runs in a
	// row can be faster or slower for reasons of its own (one run of each gave ratios from 0.79
	// to 1.08 for the same code), and alternating cancels that out of the sums.
	var antrea, ca, bare certRunResult
	compares := make([]certRunResult, len(b.opts.compares))
	// antreaByRound and caByRound are the two flows' CPU per certificate by round, for the
	// per-round ratios; offPace names the runs that fell below -cm-rate.
	var antreaByRound, caByRound []time.Duration
	var offPace []string
	for round := range b.opts.cmRounds {
		type flow struct {
			name string
			ref  cmmeta.IssuerReference
			// issuer is the antrea-issuer running during the flow (nil: none): it watches every
			// request whichever issuer signs it, as in the clusters it is made for, where it is
			// installed for Antrea's own certificate whatever issues the others.
			issuer *setting
			// bare runs the bare issuer during the flow, in antrea-issuer's place.
			bare bool
			sum  *certRunResult
			// byRound, when set, receives the run's CPU per certificate.
			byRound *[]time.Duration
		}
		def := defaultSetting
		flows := []flow{
			{name: "AntreaClusterIssuer (antrea-issuer " + defaultSetting.String() + ")", ref: antreaRef, issuer: &def, sum: &antrea, byRound: &antreaByRound},
			{name: "CA ClusterIssuer", ref: caRef, issuer: &def, sum: &ca, byRound: &caByRound},
		}
		if b.opts.cmBare {
			flows = append(flows, flow{name: "bare issuer (issuer-lib's writes, antrea-issuer's watch and token; antrea-issuer stopped)", ref: bareIssuerRef, bare: true, sum: &bare})
		}
		for i := range b.opts.compares {
			c := &b.opts.compares[i]
			flows = append(flows, flow{name: "AntreaClusterIssuer (-compare " + c.Binary + ")", ref: antreaRef, issuer: c, sum: &compares[i]})
		}
		if round%2 == 1 {
			slices.Reverse(flows)
		}
		for fi, f := range flows {
			if f.issuer != nil {
				if err := b.ensureIssuer(ctx, *f.issuer); err != nil {
					return err
				}
			} else {
				b.stopIssuer()
			}
			var bi *bareIssuer
			if f.bare {
				if bi, err = startBareIssuer(ctx, l); err != nil {
					return err
				}
			}
			b.p.step("cert-manager round %d/%d: %d Certificates issued by the %s", round+1, b.opts.cmRounds, b.opts.cmN, f.name)
			r, err := certRun(ctx, b, fmt.Sprintf("bench-cm-%s-%d-%d", strings.ToLower(f.ref.Kind), round, fi), f.ref, b.opts.cmN, b.opts.cmRate)
			if bi != nil {
				bi.stop()
			}
			if err != nil {
				return err
			}
			if bi != nil {
				// This process's requests are cert-manager's, less the bare issuer's.
				r.requests["PATCH"] -= float64(bi.patches.Load())
				r.requests["POST"] -= float64(bi.posts.Load())
			}
			b.p.step("  %.2f certificates/s (%s); CPU per certificate %s; cert-manager's requests per certificate %s", r.rate(), ms(r.elapsed), r.cpuPerCert(), r.requestsPerCert())
			b.p.step("  API server, per certificate: %s", r.api.summary(r.n))
			*f.sum = f.sum.add(r)
			if f.byRound != nil {
				*f.byRound = append(*f.byRound, r.cpuPerCertificate())
			}
			if belowPace(r.rate(), b.opts.cmRate) {
				offPace = append(offPace, fmt.Sprintf("%s %.2f certificates/s", f.ref.Kind, r.rate()))
			}
		}
	}
	var roundRatios []string
	for i := range antreaByRound {
		roundRatios = append(roundRatios, fmt.Sprintf("%.2f", float64(antreaByRound[i])/float64(caByRound[i])))
	}
	if err := b.ensureIssuer(ctx, defaultSetting); err != nil {
		return err
	}
	cpuRatio := float64(antrea.cpuPerCertificate()) / float64(ca.cpuPerCertificate())
	b.p.step("  target: CPU per certificate %s / %s = %.2f (rounds %s)", ms(antrea.cpuPerCertificate()), ms(ca.cpuPerCertificate()), cpuRatio, strings.Join(roundRatios, ", "))
	if len(offPace) > 0 {
		b.p.step("  WARNING: below the pace of %g certificates/s (CPU-bound): %s", b.opts.cmRate, strings.Join(offPace, "; "))
	}
	if b.opts.cmBare {
		b.p.step("  bare issuer: CPU per certificate %s = %.2f × CA issuer", ms(bare.cpuPerCertificate()), float64(bare.cpuPerCertificate())/float64(ca.cpuPerCertificate()))
	}
	if b.opts.profile != "" {
		b.stopIssuer()
		p, err := l.startProfiledIssuer(ctx, defaultSetting)
		if err != nil {
			return err
		}
		b.issuer = p
		sources := []profileSource{l.apiServerProfile(), l.etcdProfile(), p.profile()}
		if b.opts.cpuprofile == "" {
			sources = append(sources, selfProfile())
		}
		for _, f := range []struct {
			run string
			ref cmmeta.IssuerReference
		}{{"certmanager-antrea", antreaRef}, {"certmanager-ca", caRef}} {
			b.p.step("profiling: %d Certificates by the %s, every process profiled", b.opts.cmN, f.ref.Kind)
			var r certRunResult
			files, err := b.profileDuring(ctx, f.run, sources, func() (err error) {
				r, err = certRun(ctx, b, "bench-"+f.run, f.ref, b.opts.cmN, 0)
				return err
			})
			if err != nil {
				return err
			}
			b.p.step("  %.2f certificates/s under the profilers; CPU per certificate %s", r.rate(), r.cpuPerCert())
			b.p.step("  %s", profileHint(files))
		}
		b.stopIssuer()
		if err := b.ensureIssuer(ctx, defaultSetting); err != nil { // the runs below need it
			return err
		}
	}
	var best *certRunResult
	if bs := b.bestSetting(); b.opts.cmBest && bs != defaultSetting {
		if err := b.ensureIssuer(ctx, bs); err != nil {
			return err
		}
		b.p.step("cert-manager: %d Certificates by the AntreaClusterIssuer, antrea-issuer %s", b.opts.cmN, bs)
		r, err := certRun(ctx, b, "bench-cm-antrea-best", antreaRef, b.opts.cmN, 0)
		if err != nil {
			return err
		}
		best = &r
		b.p.step("  AntreaClusterIssuer (%s): %.2f certificates/s (%s); CPU per certificate %s", bs.Name, r.rate(), ms(r.elapsed), r.cpuPerCert())
		if err := b.ensureIssuer(ctx, defaultSetting); err != nil {
			return err
		}
	}
	stopCM()
	ratio := antrea.rate() / ca.rate()
	limits := "no client limits: the API server has priority and fairness, which cert-manager detects"
	pace := "created 16 at once"
	if b.opts.cmRate > 0 {
		pace = fmt.Sprintf("created at %g/s", b.opts.cmRate)
	}
	v := pacedVerdict(cpuRatio, 1.05, offPace, "-cm-rate")
	b.r.add(sc, fmt.Sprintf("TARGET: CPU per certificate through cert-manager, AntreaClusterIssuer ÷ cert-manager's CA ClusterIssuer (N=%d × %d rounds, %s, order alternating)", b.opts.cmN, b.opts.cmRounds, pace),
		fmt.Sprintf("%s / %s = %.2f", ms(antrea.cpuPerCertificate()), ms(ca.cpuPerCertificate()), cpuRatio), "≤ 1.05", v)
	b.r.add(sc, "  rounds", strings.Join(roundRatios, ", "), "", "")
	b.r.add(sc, "  CPU per certificate, AntreaClusterIssuer flow", antrea.cpuPerCert(), "", "API server per certificate: "+antrea.api.summary(antrea.n))
	b.r.add(sc, "  CPU per certificate, CA ClusterIssuer flow", ca.cpuPerCert(), "", "API server per certificate: "+ca.api.summary(ca.n))
	if b.opts.cmBare {
		b.r.add(sc, "  CPU per certificate, bare issuer flow (issuer-lib's writes with antrea-issuer's watch and token, nothing else; antrea-issuer stopped)",
			fmt.Sprintf("%s = %.2f × CA issuer flow; AntreaClusterIssuer flow = %.2f × this", ms(bare.cpuPerCertificate()),
				float64(bare.cpuPerCertificate())/float64(ca.cpuPerCertificate()), float64(antrea.cpuPerCertificate())/float64(bare.cpuPerCertificate())),
			"", bare.cpuPerCert()+"; API server per certificate: "+bare.api.summary(bare.n))
	}
	for i, c := range b.opts.compares {
		k := compares[i]
		b.r.add(sc, "  the same ratio for -compare "+c.Binary,
			fmt.Sprintf("%s / %s = %.2f", ms(k.cpuPerCertificate()), ms(ca.cpuPerCertificate()), float64(k.cpuPerCertificate())/float64(ca.cpuPerCertificate())), "", k.cpuPerCert())
	}
	b.r.add(sc, fmt.Sprintf("Certificates to Ready via cert-manager's CA ClusterIssuer (%s; %s)", limits, pace),
		fmt.Sprintf("%.2f certificates/s (%s)", ca.rate(), ms(ca.elapsed)), "", "cert-manager's requests/certificate "+ca.requestsPerCert())
	b.r.add(sc, fmt.Sprintf("Certificates to Ready via the AntreaClusterIssuer (same cert-manager, antrea-issuer default flags; %s)", pace),
		fmt.Sprintf("%.2f certificates/s (%s) = %.2f × CA issuer", antrea.rate(), ms(antrea.elapsed), ratio), "", "cert-manager's requests/certificate "+antrea.requestsPerCert())
	if best != nil {
		value := fmt.Sprintf("%.2f certificates/s (%s)", best.rate(), ms(best.elapsed))
		if b.opts.cmRate == 0 {
			value += fmt.Sprintf(" = %.2f × CA issuer", best.rate()/ca.rate())
		}
		b.r.add(sc, fmt.Sprintf("same via the AntreaClusterIssuer, antrea-issuer %s (one run, created 16 at once)", b.bestSetting().Name),
			value, "", best.cpuPerCert())
	}

	if b.opts.cmDefaultN > 0 {
		b.p.step("cert-manager at its default client limits (QPS %d, burst %d): %d Certificates by the AntreaClusterIssuer (about 1/s: minutes)",
			cmDefaultQPS, cmDefaultBurst, b.opts.cmDefaultN)
		proxy, err := startAPFHidingProxy(l.env.Config)
		if err != nil {
			return err
		}
		defer proxy.close()
		limited := proxy.config(cmCfg)
		limitedKubeconfig := filepath.Join(l.dir, "cert-manager-limited.kubeconfig")
		if err := testenv.WriteKubeconfig(limited, limitedKubeconfig); err != nil {
			return err
		}
		cmCtx2, stopCM2 := context.WithCancel(ctx)
		defer stopCM2()
		if err := startCertManager(cmCtx2, limitedKubeconfig, b.opts.cmWorkers, l.cmLog); err != nil {
			return err
		}
		def, err := certRun(ctx, b, "bench-cm-default", antreaRef, b.opts.cmDefaultN, 0)
		if err != nil {
			return err
		}
		stopCM2()
		published := float64(cmPublishedCerts) / cmPublishedSeconds
		b.p.step("  at QPS %d/burst %d: %.2f certificates/s (%s); cert-manager's requests per certificate %s", cmDefaultQPS, cmDefaultBurst, def.rate(), ms(def.elapsed), def.requestsPerCert())
		b.r.add(sc, fmt.Sprintf("same via the AntreaClusterIssuer, cert-manager at its defaults QPS %d/burst %d (N=%d)", cmDefaultQPS, cmDefaultBurst, b.opts.cmDefaultN),
			fmt.Sprintf("%.2f certificates/s (%s)", def.rate(), ms(def.elapsed)),
			fmt.Sprintf("published: %d in %d s = %.2f/s", cmPublishedCerts, cmPublishedSeconds, published),
			fmt.Sprintf("%.2f × published", def.rate()/published))
	}
	b.r.section(sc)
	return nil
}

// createCAIssuer creates cert-manager's CA ClusterIssuer with an ECDSA P-256 CA (the type the
// AntreaClusterIssuer generates) in cert-manager's cluster resource namespace.
func createCAIssuer(ctx context.Context, l *lab) error {
	ca, err := signer.GenerateCA(time.Now(), signer.CAOptions{CommonName: "bench cert-manager CA"})
	if err != nil {
		return err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.CertManagerNamespace, Name: caIssuerName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: ca.CertPEM(), corev1.TLSPrivateKeyKey: keyPEM},
	}
	ci := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: caIssuerName},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: caIssuerName}}},
	}
	return localcluster.Apply(ctx, l.c, secret, ci)
}

// startCertManager runs cert-manager's controllers in this process until ctx ends, built the way
// cert-manager's controller binary builds them: one context factory (client QPS 20/burst 50,
// which cert-manager drops when the API server has priority and fairness), every controller
// constructed before the informers start.
func startCertManager(ctx context.Context, kubeconfig string, workers int, logw io.Writer) error {
	// client-go and cert-manager's event broadcasters log through klog: into the log file too,
	// errors included (klog copies them to stderr by default).
	kfs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(kfs)
	for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		_ = kfs.Set(k, v)
	}
	klog.SetOutput(logw)
	var mu sync.Mutex
	ctx = logr.NewContext(ctx, funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(logw, time.Now().Format(time.RFC3339Nano), "cert-manager", prefix, args)
	}, funcr.Options{}))
	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   cmDefaultQPS,
		KubernetesAPIBurst: cmDefaultBurst,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: localcluster.CertManagerNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		return fmt.Errorf("cert-manager context: %w", err)
	}
	return localcluster.RunCertManagerControllers(ctx, factory, cmControllers, workers)
}

// certRunResult is one batch of Certificates through cert-manager.
type certRunResult struct {
	n       int
	elapsed time.Duration
	// cpu is the CPU time each process used during the run.
	cpu map[string]time.Duration
	// requests are the API requests this process made during the run, by verb, less the
	// benchmark's own Certificate creations: cert-manager's requests.
	requests map[string]float64
	// api is what the API server served during the run.
	api apiWork
}

// requestsPerCert describes cert-manager's API requests per certificate.
func (r certRunResult) requestsPerCert() string {
	var parts []string
	var total float64
	for _, verb := range []string{"GET", "LIST", "POST", "PUT", "PATCH", "DELETE"} {
		if v := r.requests[verb]; v > 0 {
			parts = append(parts, fmt.Sprintf("%.1f %s", v/float64(r.n), verb))
			total += v
		}
	}
	return fmt.Sprintf("%.1f (%s)", total/float64(r.n), strings.Join(parts, ", "))
}

// selfRequests counts this process's API requests by verb (client-go reports every request to
// controller-runtime's registry, which this process imports).
func selfRequests() map[string]float64 {
	out := map[string]float64{}
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "rest_client_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// cpuPerCertificate is the CPU time of all processes per certificate.
func (r certRunResult) cpuPerCertificate() time.Duration {
	return (&crRunResult{ready: r.n, cpu: r.cpu}).cpuPerRequest()
}

// cpuPerCert describes the CPU time per certificate, in all and by process.
func (r certRunResult) cpuPerCert() string {
	res := &crRunResult{ready: r.n, cpu: r.cpu}
	return fmt.Sprintf("%s: %s", ms(res.cpuPerRequest()), res.cpuBreakdown())
}

func (r certRunResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// add sums two runs: certificates, time, CPU and requests.
func (r certRunResult) add(o certRunResult) certRunResult {
	sum := certRunResult{n: r.n + o.n, elapsed: r.elapsed + o.elapsed, cpu: map[string]time.Duration{}, requests: map[string]float64{},
		api: apiWork{requests: map[string]float64{}, watchEvents: map[string]float64{}, watchBytes: map[string]float64{}}}
	for _, w := range []apiWork{r.api, o.api} {
		for k, v := range w.requests {
			sum.api.requests[k] += v
		}
		for k, v := range w.watchEvents {
			sum.api.watchEvents[k] += v
		}
		for k, v := range w.watchBytes {
			sum.api.watchBytes[k] += v
		}
	}
	for _, m := range []map[string]time.Duration{r.cpu, o.cpu} {
		for k, v := range m {
			sum.cpu[k] += v
		}
	}
	for _, m := range []map[string]float64{r.requests, o.requests} {
		for k, v := range m {
			sum.requests[k] += v
		}
	}
	return sum
}

// certRun creates n Certificates in namespace ns for issuer (ECDSA P-256, Antrea's usages, each
// for its own name <ns>-<i>.bench.svc and Secret), rate per second (0: as fast as -concurrency
// creators go), and waits until all are Ready. The control plane's idle use is subtracted from
// its CPU, as in the throughput runs. Everything it
// created (Certificates, CertificateRequests, Secrets) is deleted before it returns: the control
// plane has no garbage collector.
func certRun(ctx context.Context, b *bench, ns string, issuer cmmeta.IssuerReference, n int, rate float64) (certRunResult, error) {
	l := b.lab
	if err := l.ensureNamespace(ctx, ns); err != nil {
		return certRunResult{}, err
	}
	defer cleanupNamespace(context.WithoutCancel(ctx), l, ns)
	crts := l.cm.CertmanagerV1().Certificates(ns)
	list, err := crts.List(ctx, metav1.ListOptions{})
	if err != nil {
		return certRunResult{}, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rw, err := watchtools.NewRetryWatcherWithContext(wctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return crts.Watch(ctx, o) },
	})
	if err != nil {
		return certRunResult{}, err
	}
	defer rw.Stop()
	ready := map[string]bool{}
	var last time.Time
	done := make(chan struct{})
	go func() {
		for ev := range rw.ResultChan() {
			crt, ok := ev.Object.(*cmapi.Certificate)
			if !ok || ready[crt.Name] {
				continue
			}
			if apiutil.CertificateHasCondition(crt, cmapi.CertificateCondition{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue}) {
				ready[crt.Name] = true
				last = time.Now()
				if len(ready) == n {
					close(done)
					return
				}
			}
		}
	}()

	b.load.waitQuiet(ctx)
	api0, _ := l.apiServerMetrics(ctx)
	cpu0 := b.load.cpuSnapshot()
	req0 := selfRequests()
	var m0 promMetrics
	if b.opts.issuerMetrics && b.issuer != nil {
		m0, _ = b.issuer.metrics()
	}
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var createErr error
	var errMu sync.Mutex
	for range b.opts.concurrency {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("c-%d", i)
				dns := fmt.Sprintf("%s-%d%s", ns, i, benchDNSSuffix)
				crt := &cmapi.Certificate{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
					Spec: cmapi.CertificateSpec{
						SecretName: name + "-tls",
						DNSNames:   []string{dns},
						Usages:     []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
						Duration:   &metav1.Duration{Duration: 90 * 24 * time.Hour},
						PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmapi.RotationPolicyAlways},
						IssuerRef:  issuer,
					},
				}
				if _, err := crts.Create(ctx, crt, metav1.CreateOptions{}); err != nil {
					errMu.Lock()
					createErr = err
					errMu.Unlock()
				}
			}
		})
	}
	for i := range n {
		waitTurn(start, i, rate)
		work <- i
	}
	close(work)
	wg.Wait()
	if createErr != nil {
		return certRunResult{}, createErr
	}
	timeout := 5*time.Minute + time.Duration(n)*3*time.Second
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-done:
			cpu := b.load.cpuAboveIdle(cpu0, start)
			api1, _ := l.apiServerMetrics(ctx)
			if m0 != nil {
				m1, _ := b.issuer.metrics()
				for k, v := range m1 {
					base, _, _ := strings.Cut(k, "{")
					counter := strings.HasSuffix(base, "_total") || strings.HasSuffix(base, "_count")
					if d := v - m0[k]; counter && d >= float64(n)/2 && !strings.HasPrefix(k, "go_") && !strings.HasPrefix(k, "process_") {
						b.p.step("  antrea-issuer metric +%.0f: %s", d, k)
					}
				}
			}
			res := certRunResult{n: n, elapsed: last.Sub(start), cpu: cpu, requests: map[string]float64{}, api: apiWorkBetween(api0, api1)}
			for verb, v := range selfRequests() {
				res.requests[verb] = v - req0[verb]
			}
			res.requests["POST"] -= float64(n) // the benchmark's Certificate creations
			return res, nil
		case <-ctx.Done():
			return certRunResult{}, ctx.Err()
		case <-progress.C:
			cur, err := crts.List(ctx, metav1.ListOptions{})
			if err == nil {
				r := 0
				for i := range cur.Items {
					if apiutil.CertificateHasCondition(&cur.Items[i], cmapi.CertificateCondition{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue}) {
						r++
					}
				}
				b.p.step("  %d/%d Ready after %s", r, n, time.Since(start).Round(time.Second))
			}
			if time.Since(start) > timeout {
				return certRunResult{}, fmt.Errorf("%s: not all %d Certificates Ready after %s (cert-manager log: %s)", ns, n, timeout, l.cmLog.Name())
			}
		}
	}
}

// cleanupNamespace deletes what a Certificate run left in ns.
func cleanupNamespace(ctx context.Context, l *lab, ns string) {
	all := metav1.ListOptions{}
	_ = l.cm.CertmanagerV1().Certificates(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
	_ = l.cm.CertmanagerV1().CertificateRequests(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
	_ = l.kube.CoreV1().Secrets(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
	_ = l.kube.EventsV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
	_ = l.kube.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
}

// apfHidingProxy forwards to the API server and removes the priority-and-fairness response
// headers: cert-manager probes for them and drops its client-side limits when it sees them, so
// behind this proxy it enforces QPS 20/burst 50 as on a cluster without priority and fairness.
// Requests keep their own credentials (the Authorization header is passed through; client-go
// sends credentials over TLS only, so the proxy serves TLS with its own certificate).
type apfHidingProxy struct {
	srv *httptest.Server
}

func startAPFHidingProxy(target *rest.Config) (*apfHidingProxy, error) {
	tr, err := rest.TransportFor(rest.AnonymousClientConfig(target))
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(target.Host)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	rp.FlushInterval = -1 // watches stream
	rp.ModifyResponse = func(r *http.Response) error {
		r.Header.Del("X-Kubernetes-PF-FlowSchema-UID")
		r.Header.Del("X-Kubernetes-PF-PriorityLevel-UID")
		return nil
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	return &apfHidingProxy{srv: srv}, nil
}

// config is cfg's credentials pointed at the proxy.
func (p *apfHidingProxy) config(cfg *rest.Config) *rest.Config {
	out := rest.AnonymousClientConfig(cfg)
	out.Host = p.srv.URL
	out.CAData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	out.CAFile = ""
	out.BearerToken = cfg.BearerToken
	return out
}

func (p *apfHidingProxy) close() { p.srv.Close() }
