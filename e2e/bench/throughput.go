package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// controllerRun is one antrea-issuer run with the bare-client ceiling measured next to it.
type controllerRun struct {
	setting    setting
	ceiling    *crRunResult
	controller *crRunResult
	// cpu is the issuer process's CPU time (user+system) during the controller run.
	cpu time.Duration
	// sign is the process's antrea_issuer_sign_duration_seconds observations during the run.
	sign histogram
	// requests is the number of API requests the process made during the run, by verb
	// (controller-runtime exposes no client-side throttling metric: requests per second
	// against --kube-api-qps shows it).
	requests map[string]float64
}

// perRequest is the number of API requests of verb per CertificateRequest.
func (r *controllerRun) perRequest(verb string) float64 {
	return r.requests[verb] / float64(r.controller.ready)
}

// limitedRate is the rate of the requests --kube-api-qps limits (events have a limiter of
// their own: POSTs are left out).
func (r *controllerRun) limitedRate() float64 {
	var n float64
	for verb, v := range r.requests {
		if verb != "POST" {
			n += v
		}
	}
	return n / r.controller.elapsed.Seconds()
}

// qpsUse says how much of the client-side limit the run used.
func (r *controllerRun) qpsUse() string {
	if !r.setting.limited() {
		return fmt.Sprintf("%.0f requests/s, no client-side limit", r.limitedRate())
	}
	return fmt.Sprintf("%.0f%% of QPS %g", 100*r.limitedRate()/r.setting.QPS, r.setting.QPS)
}

func (r *controllerRun) ratio() float64 { return r.controller.rate() / r.ceiling.rate() }

// throughputScenario measures, for the default flags and each candidate setting, N approved
// requests signed by antrea-issuer against the bare-client ceiling measured just before on the
// same API server, and once the bare-client figure for issuer-lib's own write pattern.
type throughputScenario struct {
	runs     []*controllerRun
	protocol *crRunResult
	// explain are bare-client protocol runs with one of the controller's differences added.
	explain []explainRun
	best    *controllerRun
}

type explainRun struct {
	what string
	res  *crRunResult
}

func runThroughput(ctx context.Context, b *bench) (*throughputScenario, error) {
	ts := &throughputScenario{}
	b.stopIssuer()
	b.load.measureIdle(ctx, 5*time.Second)
	b.p.step("throughput: idle control plane uses %.3f cores (kube-apiserver) and %.3f (etcd); runs are charged only above that",
		b.load.idle["kube-apiserver"], b.load.idle["etcd"])
	// The first writes of a fresh API server are slower (caches, managed fields, connections):
	// a discarded ceiling run first.
	if _, err := b.load.run(ctx, crRunOptions{mode: modeCeiling, n: min(200, b.opts.n), concurrency: b.opts.concurrency}); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	settings := append([]setting{defaultSetting}, b.opts.sweep...)
	for i, s := range settings {
		b.stopIssuer()
		b.p.step("throughput %d/%d: bare-client ceiling, N=%d, %d at once", i+1, len(settings), b.opts.n, b.opts.concurrency)
		ceiling, err := b.load.run(ctx, crRunOptions{mode: modeCeiling, n: b.opts.n, concurrency: b.opts.concurrency})
		if err != nil {
			return nil, err
		}
		b.p.step("  ceiling: %.1f CR/s (%s); CPU per request %s: %s", ceiling.rate(), ms(ceiling.elapsed), ms(ceiling.cpuPerRequest()), ceiling.cpuBreakdown())
		if i == 0 {
			b.p.step("throughput: bare client doing issuer-lib's writes (initializing, issued, event), N=%d", b.opts.n)
			if ts.protocol, err = b.load.run(ctx, crRunOptions{mode: modeProtocol, n: b.opts.n, concurrency: b.opts.concurrency}); err != nil {
				return nil, err
			}
			b.p.step("  issuer-lib's writes: %.1f CR/s (%s); CPU per request %s: %s", ts.protocol.rate(), ms(ts.protocol.elapsed), ms(ts.protocol.cpuPerRequest()), ts.protocol.cpuBreakdown())
			if b.opts.explain {
				for _, x := range []struct {
					what string
					o    crRunOptions
				}{
					{"+ an unfiltered CertificateRequest watch", crRunOptions{extraWatch: true}},
					{"+ writes with antrea-issuer's ServiceAccount token", crRunOptions{asIssuer: true}},
					{"+ both", crRunOptions{extraWatch: true, asIssuer: true}},
				} {
					o := x.o
					o.mode, o.n, o.concurrency = modeProtocol, b.opts.n, b.opts.concurrency
					r, err := b.load.run(ctx, o)
					if err != nil {
						return nil, err
					}
					ts.explain = append(ts.explain, explainRun{x.what, r})
					b.p.step("  issuer-lib's writes %s: %.1f CR/s; CPU per request %s: %s", x.what, r.rate(), ms(r.cpuPerRequest()), r.cpuBreakdown())
				}
			}
		}
		run, err := b.controllerRun(ctx, s, crRunOptions{mode: modeController, n: b.opts.n, concurrency: b.opts.concurrency})
		if err != nil {
			return nil, err
		}
		run.ceiling = ceiling
		ts.runs = append(ts.runs, run)
		b.p.step("  antrea-issuer %s: %.1f CR/s (%s) = %.2f × ceiling; %s CPU/request; per request %.2f PATCH, %.2f POST; %s",
			s, run.controller.rate(), ms(run.controller.elapsed), run.ratio(), ms(run.cpu/time.Duration(b.opts.n)),
			run.perRequest("PATCH"), run.perRequest("POST"), run.qpsUse())
		b.p.step("  CPU per request %s: %s", ms(run.controller.cpuPerRequest()), run.controller.cpuBreakdown())
		if ts.best == nil || run.ratio() > ts.best.ratio() {
			ts.best = run
		}
	}
	return ts, nil
}

// controllerRun (re)starts antrea-issuer with s, warms it up, and measures one run.
func (b *bench) controllerRun(ctx context.Context, s setting, o crRunOptions) (*controllerRun, error) {
	if err := b.ensureIssuer(ctx, s); err != nil {
		return nil, err
	}
	// Warm-up: connections, informers and the parsed CA are in place before timing.
	if _, err := b.load.run(ctx, crRunOptions{mode: modeController, n: min(50, o.n), concurrency: o.concurrency}); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	before, err := b.issuer.metrics()
	if err != nil {
		return nil, err
	}
	cpu0, err := b.issuer.cpuTime()
	if err != nil {
		return nil, err
	}
	res, err := b.load.run(ctx, o)
	if err != nil {
		return nil, err
	}
	cpu1, err := b.issuer.cpuTime()
	if err != nil {
		return nil, err
	}
	after, err := b.issuer.metrics()
	if err != nil {
		return nil, err
	}
	run := &controllerRun{setting: s, controller: res, cpu: cpu1 - cpu0, requests: map[string]float64{}}
	run.sign = after.histogram("antrea_issuer_sign_duration_seconds").minus(before.histogram("antrea_issuer_sign_duration_seconds"))
	for _, verb := range []string{"GET", "LIST", "POST", "PUT", "PATCH", "DELETE"} {
		run.requests[verb] = after.sumOf("rest_client_requests_total", `method="`+verb+`"`) - before.sumOf("rest_client_requests_total", `method="`+verb+`"`)
	}
	return run, nil
}

func (ts *throughputScenario) report(r *report, n, concurrency int) {
	const sc = "1 throughput"
	cpu := func(x *crRunResult) string {
		return fmt.Sprintf("CPU/request %s (%s)", ms(x.cpuPerRequest()), x.cpuBreakdown())
	}
	for i, run := range ts.runs {
		label := run.setting.Name
		if run == ts.best && run.setting.Name != defaultSetting.Name {
			label += ", best"
		}
		r.add(sc, fmt.Sprintf("bare-client ceiling before %s (N=%d, %d at once)", label, n, concurrency),
			fmt.Sprintf("%.1f CR/s", run.ceiling.rate()), "", cpu(run.ceiling))
		if i == 0 && ts.protocol != nil {
			r.add(sc, "bare client doing issuer-lib's writes (+initializing write, +event)",
				fmt.Sprintf("%.1f CR/s = %.2f × ceiling", ts.protocol.rate(), ts.protocol.rate()/run.ceiling.rate()), "", cpu(ts.protocol))
			for _, x := range ts.explain {
				r.add(sc, "  issuer-lib's writes "+x.what,
					fmt.Sprintf("%.1f CR/s = %.2f × ceiling", x.res.rate(), x.res.rate()/run.ceiling.rate()), "", cpu(x.res))
			}
		}
		r.add(sc, fmt.Sprintf("antrea-issuer %s [%s]", label, run.setting),
			fmt.Sprintf("%.1f CR/s = %.2f × ceiling", run.controller.rate(), run.ratio()), "≥ 0.80 × ceiling",
			verdict(run.ratio() >= 0.8, fmt.Sprintf("%.2f/0.80", run.ratio())))
		r.add(sc, fmt.Sprintf("  %s: API requests per CR, --kube-api-qps used", label),
			fmt.Sprintf("%.2f PATCH + %.2f POST; %s", run.perRequest("PATCH"), run.perRequest("POST"), run.qpsUse()),
			"", cpu(run.controller))
	}
}

// parseSweep reads "workers:qps:burst,..." into settings.
func parseSweep(s string) ([]setting, error) {
	var out []setting
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("setting %q: want workers:qps:burst", part)
		}
		w, err1 := strconv.Atoi(f[0])
		q, err2 := strconv.ParseFloat(f[1], 64)
		bu, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil || w <= 0 || q < 0 || bu < 0 {
			return nil, fmt.Errorf("setting %q: want workers:qps:burst, workers positive, qps 0 for no limit", part)
		}
		name := fmt.Sprintf("w%d/q%g/b%d", w, q, bu)
		if q == 0 {
			name = fmt.Sprintf("w%d/unlimited", w)
		}
		out = append(out, setting{Name: name, Workers: w, QPS: q, Burst: bu})
	}
	return out, nil
}

// profileIssuer runs the best setting once more with antrea-issuer's profiler on, and leaves
// its CPU profiles in -profile-issuer.
func (b *bench) profileIssuer(ctx context.Context) error {
	s := b.bestSetting()
	b.stopIssuer()
	b.p.step("profiling: antrea-issuer %s --profiler-address, N=%d", s, b.opts.n)
	prefix, err := filepath.Abs(filepath.Join(b.opts.profileIssuer, "throughput"))
	if err != nil {
		return err
	}
	p, err := b.lab.startProfiledIssuer(ctx, s)
	if err != nil {
		return err
	}
	b.issuer = p
	if err := b.lab.waitIssuerReady(ctx); err != nil {
		return err
	}
	var res *crRunResult
	files, err := p.profileDuring(ctx, prefix, func() (err error) {
		res, err = b.load.run(ctx, crRunOptions{mode: modeController, n: b.opts.n, concurrency: b.opts.concurrency})
		return err
	})
	if err != nil {
		return err
	}
	b.stopIssuer()
	b.p.step("  %.1f CR/s under the profiler; CPU per request %s: %s", res.rate(), ms(res.cpuPerRequest()), res.cpuBreakdown())
	b.p.step("  profile: go tool pprof -top %s", strings.Join(files, " "))
	return nil
}
