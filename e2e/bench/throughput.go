package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// controllerRun is one antrea-issuer run with the bare-client ceiling measured next to it.
type controllerRun struct {
	setting    setting
	ceiling    *crRunResult
	controller *crRunResult
	// refBefore and refAfter are the target's reference runs just before and after it.
	refBefore, refAfter *crRunResult
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

// referenceCPU is the mean CPU per request of the reference runs just before and after r.
func (r *controllerRun) referenceCPU() time.Duration {
	return (r.refBefore.cpuPerRequest() + r.refAfter.cpuPerRequest()) / 2
}

// throughputScenario measures, on the same API server:
//   - the target: antrea-issuer with the default flags against the bare client making issuer-lib's
//     writes with the controller's watch and token, alternating (reference, antrea-issuer,
//     reference, ...) so that the machine's drift falls on both sides; CPU per request of each
//     antrea-issuer run is divided by the mean of the references just before and after it. Both
//     sides are paced at -target-rate; the same alternation as fast as they go is reported
//     beside it (saturated);
//   - what the bare client's figure is made of: the ceiling (one status write), issuer-lib's writes
//     alone, without its Initializing write, with the watch, with the token;
//   - the rate of every setting of -sweep against a ceiling measured just before it.
type throughputScenario struct {
	// paced is the target: the alternation at -target-rate. saturated is the same as fast as
	// -concurrency allows: on this machine every such run is CPU-bound, so its CPU per request
	// is about the busy cores divided by its rate, and moves as the rate does.
	paced, saturated *alternation
	ceiling          *crRunResult
	protocol         *crRunResult
	// explain are bare-client protocol runs with one of the controller's differences added or
	// one of issuer-lib's writes left out.
	explain []explainRun
	// runs are the first saturated run (with the ceiling) and the sweep's runs.
	runs []*controllerRun
	best *controllerRun
	// issuerIdle is each process's CPU use (cores) while antrea-issuer runs with nothing to do.
	issuerIdle map[string]float64
	// issuerIdleAPI is what the API server served meanwhile (10 s).
	issuerIdleAPI apiWork
	// idle is the control plane's without antrea-issuer.
	idle map[string]float64
}

type explainRun struct {
	what string
	res  *crRunResult
}

// alternation is one series of rounds at one pace: the reference, then antrea-issuer with the
// default flags and each -compare binary, then the reference again.
type alternation struct {
	// rate is the pace of every run in requests per second; 0: as fast as they go.
	rate float64
	// refs are the reference runs around the others, in order.
	refs []*crRunResult
	// targets are antrea-issuer's runs with the default flags, one per round; compares are each
	// -compare binary's, one per round.
	targets  []*controllerRun
	compares [][]*controllerRun
}

// meanCPU is the mean CPU per request of runs and of the references around each.
func meanCPU(runs []*controllerRun) (controller, reference time.Duration) {
	for _, run := range runs {
		controller += run.controller.cpuPerRequest()
		reference += run.referenceCPU()
	}
	k := time.Duration(max(len(runs), 1))
	return controller / k, reference / k
}

// ratios are each round's CPU per request divided by its own references'.
func ratios(runs []*controllerRun) string {
	var out []string
	for _, run := range runs {
		out = append(out, fmt.Sprintf("%.2f", float64(run.controller.cpuPerRequest())/float64(run.referenceCPU())))
	}
	return strings.Join(out, ", ")
}

// offPace lists the runs that fell below 95% of the pace: they were CPU-bound, and their CPU per
// request includes the contention the pace is there to keep out.
func (a *alternation) offPace() []string {
	var out []string
	slow := func(what string, r *crRunResult) {
		if belowPace(r.rate(), a.rate) {
			out = append(out, fmt.Sprintf("%s %.1f CR/s", what, r.rate()))
		}
	}
	for _, r := range a.refs {
		slow("reference", r)
	}
	for _, run := range a.targets {
		slow("antrea-issuer", run.controller)
	}
	for _, runs := range a.compares {
		for _, run := range runs {
			slow(run.setting.Name, run.controller)
		}
	}
	return out
}

// belowPace reports whether a run at rate fell below 95% of pace (0: unpaced, never).
func belowPace(rate, pace float64) bool { return pace > 0 && rate < 0.95*pace }

// pacedVerdict is a target's verdict, or why there is none: runs that fell below the pace (flag)
// were CPU-bound, which the pace is there to avoid.
func pacedVerdict(ratio, limit float64, offPace []string, flag string) string {
	if len(offPace) > 0 {
		return fmt.Sprintf("NOT MEASURED at the pace: %s fell below it (CPU-bound; lower %s)", strings.Join(offPace, "; "), flag)
	}
	return verdict(ratio <= limit, fmt.Sprintf("%.2f/%.2f", ratio, limit))
}

func (a *alternation) pace() string {
	if a.rate == 0 {
		return "as fast as they go"
	}
	return fmt.Sprintf("paced at %g CR/s", a.rate)
}

// referenceRun is the target's denominator: the bare client making issuer-lib's writes with
// antrea-issuer's watch and token.
func referenceRun(n, concurrency int, rate float64) crRunOptions {
	return crRunOptions{mode: modeProtocol, n: n, concurrency: concurrency, rate: rate, extraWatch: true, asIssuer: true}
}

func runThroughput(ctx context.Context, b *bench) (*throughputScenario, error) {
	ts := &throughputScenario{}
	n, conc := b.opts.n, b.opts.concurrency
	b.stopIssuer()
	// The first writes of a fresh API server are slower (caches, managed fields, connections):
	// a discarded ceiling run first.
	if _, err := b.load.run(ctx, crRunOptions{mode: modeCeiling, n: min(200, n), concurrency: conc}); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	b.load.measureIdle(ctx, 5*time.Second)
	b.p.step("throughput: idle control plane uses %.3f cores (kube-apiserver) and %.3f (etcd); runs are charged only above that",
		b.load.idle["kube-apiserver"], b.load.idle["etcd"])
	ts.idle = b.load.idle
	bare := func(what string, o crRunOptions) (*crRunResult, error) {
		b.stopIssuer()
		r, err := b.load.run(ctx, o)
		if err != nil {
			return nil, err
		}
		b.p.step("  %s: %.1f CR/s (%s); CPU per request %s: %s; %.2f cores busy", what, r.rate(), ms(r.elapsed), ms(r.cpuPerRequest()), r.cpuBreakdown(), r.busyCores())
		b.p.step("    API server: %s", r.api.summary(r.ready))
		return r, nil
	}
	controller := func(s setting, rate float64) (*controllerRun, error) {
		run, err := b.controllerRun(ctx, s, crRunOptions{mode: modeController, n: n, concurrency: conc, rate: rate})
		if err != nil {
			return nil, err
		}
		b.p.step("  antrea-issuer %s: %.1f CR/s (%s); per request %.2f PATCH, %.2f POST; %s",
			s.Name, run.controller.rate(), ms(run.controller.elapsed), run.perRequest("PATCH"), run.perRequest("POST"), run.qpsUse())
		b.p.step("    CPU per request %s: %s; %.2f cores busy", ms(run.controller.cpuPerRequest()), run.controller.cpuBreakdown(), run.controller.busyCores())
		b.p.step("    API server: %s", run.controller.api.summary(run.controller.ready))
		return run, nil
	}

	b.p.step("throughput: what a bare client's request costs, N=%d, %d at once", n, conc)
	var err error
	if ts.ceiling, err = bare("ceiling (create, approve, one status write)", crRunOptions{mode: modeCeiling, n: n, concurrency: conc}); err != nil {
		return nil, err
	}
	if ts.protocol, err = bare("issuer-lib's writes (Initializing, Issued, Event)", crRunOptions{mode: modeProtocol, n: n, concurrency: conc}); err != nil {
		return nil, err
	}
	if b.opts.explain {
		for _, x := range []struct {
			what string
			o    crRunOptions
		}{
			{"without the Initializing write (one status write and an Event, as cert-manager's CA issuer)", crRunOptions{skipInitializing: true}},
			{"+ an unfiltered CertificateRequest watch", crRunOptions{extraWatch: true}},
			{"+ writes with antrea-issuer's ServiceAccount token", crRunOptions{asIssuer: true}},
		} {
			o := x.o
			o.mode, o.n, o.concurrency = modeProtocol, n, conc
			r, err := bare("issuer-lib's writes "+x.what, o)
			if err != nil {
				return nil, err
			}
			ts.explain = append(ts.explain, explainRun{x.what, r})
		}
	}

	// As fast as they go first: its first antrea-issuer run is the one the sweep's rates are
	// compared with, and after it antrea-issuer's idle cost is measured.
	ts.saturated, ts.paced = &alternation{}, &alternation{rate: b.opts.targetRate}
	for _, a := range []*alternation{ts.saturated, ts.paced} {
		rounds := b.opts.rounds
		if a == ts.saturated {
			rounds = b.opts.saturatedRounds
		}
		b.p.step("throughput: %d rounds of antrea-issuer %s %s, each run between two of the reference", rounds, defaultSetting, a.pace())
		ref, err := bare("reference: issuer-lib's writes + the watch + the token", referenceRun(n, conc, a.rate))
		if err != nil {
			return nil, err
		}
		a.refs = append(a.refs, ref)
		a.compares = make([][]*controllerRun, len(b.opts.compares))
		for round := range rounds {
			// Every antrea-issuer run sits between two reference runs; the order of the binaries is
			// reversed every other round so that none always follows the same one.
			order := []int{-1} // -1: the tree's binary; i: b.opts.compares[i]
			for i := range b.opts.compares {
				order = append(order, i)
			}
			if round%2 == 1 {
				slices.Reverse(order)
			}
			for _, k := range order {
				s := defaultSetting
				if k >= 0 {
					s = b.opts.compares[k]
				}
				run, err := controller(s, a.rate)
				if err != nil {
					return nil, err
				}
				run.refBefore = ref
				if k >= 0 {
					a.compares[k] = append(a.compares[k], run)
				} else {
					a.targets = append(a.targets, run)
					if a == ts.saturated && round == 0 {
						ts.measureIssuerIdle(ctx, b)
						run.ceiling = ts.ceiling
						ts.runs = append(ts.runs, run)
						ts.best = run
					}
				}
				if ref, err = bare("reference", referenceRun(n, conc, a.rate)); err != nil {
					return nil, err
				}
				a.refs = append(a.refs, ref)
				run.refAfter = ref
			}
		}
		num, den := meanCPU(a.targets)
		b.p.step("  %s: CPU per signed request %s / %s = %.2f (rounds %s)", a.pace(), ms(num), ms(den), float64(num)/float64(den), ratios(a.targets))
		for _, runs := range a.compares {
			num, den := meanCPU(runs)
			b.p.step("  %s: CPU per signed request %s / %s = %.2f (rounds %s)", runs[0].setting.Name, ms(num), ms(den), float64(num)/float64(den), ratios(runs))
		}
		if slow := a.offPace(); len(slow) > 0 {
			b.p.step("  WARNING: below the pace (CPU-bound): %s", strings.Join(slow, "; "))
		}
	}

	for i, s := range b.opts.sweep {
		b.stopIssuer()
		b.p.step("throughput sweep %d/%d: %s", i+1, len(b.opts.sweep), s)
		ceiling, err := bare("ceiling", crRunOptions{mode: modeCeiling, n: n, concurrency: conc})
		if err != nil {
			return nil, err
		}
		run, err := controller(s, 0)
		if err != nil {
			return nil, err
		}
		run.ceiling = ceiling
		ts.runs = append(ts.runs, run)
		b.p.step("  = %.2f × ceiling", run.ratio())
		if run.ratio() > ts.best.ratio() {
			ts.best = run
		}
	}
	return ts, nil
}

// measureIssuerIdle measures what a running antrea-issuer costs while it has nothing to sign
// (leader election, its watches), against the control plane alone (measured first).
func (ts *throughputScenario) measureIssuerIdle(ctx context.Context, b *bench) {
	// After a run the API server and etcd go on working for a few seconds: the lower of two
	// measurements, as for the control plane alone.
	b.load.waitQuiet(ctx)
	first := b.load.idleUse(ctx, 5*time.Second)
	api0, _ := b.lab.apiServerMetrics(ctx)
	ts.issuerIdle = b.load.idleUse(ctx, 10*time.Second)
	api1, _ := b.lab.apiServerMetrics(ctx)
	for name, cores := range first {
		ts.issuerIdle[name] = min(ts.issuerIdle[name], cores)
	}
	ts.issuerIdleAPI = apiWorkBetween(api0, api1)
	b.p.step("    idle: kube-apiserver %.3f cores (%.3f without antrea-issuer), etcd %.3f (%.3f), antrea-issuer %.3f",
		ts.issuerIdle["kube-apiserver"], b.load.idle["kube-apiserver"], ts.issuerIdle["etcd"], b.load.idle["etcd"], ts.issuerIdle["antrea-issuer"])
	b.p.step("    API server per second: %s", ts.issuerIdleAPI.summary(10))
}

// meanBreakdown is the mean CPU per request by process over runs.
func meanBreakdown(runs []*crRunResult) *crRunResult {
	out := &crRunResult{cpu: map[string]time.Duration{}}
	for _, r := range runs {
		out.ready += r.ready
		for name, d := range r.cpu {
			out.cpu[name] += d
		}
	}
	return out
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
	results := func(runs []*controllerRun) []*crRunResult {
		var out []*crRunResult
		for _, r := range runs {
			out = append(out, r.controller)
		}
		return out
	}
	a := ts.paced
	num, den := meanCPU(a.targets)
	ratio := float64(num) / float64(den)
	v := pacedVerdict(ratio, 1.10, a.offPace(), "-target-rate")
	r.add(sc, fmt.Sprintf("TARGET: CPU per signed request, antrea-issuer default ÷ bare client making issuer-lib's writes with the controller's watch and token, both %s (N=%d × %d rounds, alternating)", a.pace(), n, len(a.targets)),
		fmt.Sprintf("%s / %s = %.2f", ms(num), ms(den), ratio), "≤ 1.10", v)
	r.add(sc, "  rounds", ratios(a.targets), "", "")
	r.add(sc, "  antrea-issuer default, mean of the rounds", "", "", cpu(meanBreakdown(results(a.targets))))
	r.add(sc, "  the reference, mean of the runs around them", "", "", cpu(meanBreakdown(a.refs)))
	for _, runs := range a.compares {
		num, den := meanCPU(runs)
		r.add(sc, "  the same ratio for -compare "+runs[0].setting.Binary,
			fmt.Sprintf("%s / %s = %.2f", ms(num), ms(den), float64(num)/float64(den)), "", "rounds "+ratios(runs)+"; "+cpu(meanBreakdown(results(runs))))
	}
	sat := ts.saturated
	num, den = meanCPU(sat.targets)
	busy := 0.0
	for _, run := range sat.targets {
		busy += run.controller.busyCores() / float64(len(sat.targets))
	}
	r.add(sc, fmt.Sprintf("the same ratio %s (N=%d × %d rounds): CPU-bound, %.2f cores busy on average", sat.pace(), n, len(sat.targets), busy),
		fmt.Sprintf("%s / %s = %.2f", ms(num), ms(den), float64(num)/float64(den)), "", "rounds "+ratios(sat.targets)+"; "+cpu(meanBreakdown(results(sat.targets))))
	for _, runs := range sat.compares {
		num, den := meanCPU(runs)
		r.add(sc, "  the same for -compare "+runs[0].setting.Binary,
			fmt.Sprintf("%s / %s = %.2f", ms(num), ms(den), float64(num)/float64(den)), "", "rounds "+ratios(runs))
	}
	if ts.issuerIdle != nil {
		r.add(sc, "control plane CPU while antrea-issuer runs with nothing to sign (leader election, its watches)",
			fmt.Sprintf("kube-apiserver %.3f cores, etcd %.3f, antrea-issuer %.3f", ts.issuerIdle["kube-apiserver"], ts.issuerIdle["etcd"], ts.issuerIdle["antrea-issuer"]),
			"", fmt.Sprintf("without antrea-issuer: kube-apiserver %.3f, etcd %.3f (subtracted from every run)", ts.idle["kube-apiserver"], ts.idle["etcd"]))
	}
	r.add(sc, fmt.Sprintf("bare-client ceiling: create, approve, one status write (N=%d, %d at once)", n, concurrency),
		fmt.Sprintf("%.1f CR/s", ts.ceiling.rate()), "", cpu(ts.ceiling))
	r.add(sc, "bare client doing issuer-lib's writes (Initializing write, Issued write, Event)",
		fmt.Sprintf("%.1f CR/s = %.2f × ceiling", ts.protocol.rate(), ts.protocol.rate()/ts.ceiling.rate()), "", cpu(ts.protocol))
	for _, x := range ts.explain {
		r.add(sc, "  issuer-lib's writes "+x.what,
			fmt.Sprintf("%.1f CR/s = %.2f × ceiling", x.res.rate(), x.res.rate()/ts.ceiling.rate()), "", cpu(x.res))
	}
	for _, run := range ts.runs {
		label := run.setting.Name
		if run == ts.best && run.setting.Name != defaultSetting.Name {
			label += ", best"
		}
		if run.setting != defaultSetting {
			r.add(sc, fmt.Sprintf("  bare-client ceiling before %s", label), fmt.Sprintf("%.1f CR/s", run.ceiling.rate()), "", cpu(run.ceiling))
		}
		r.add(sc, fmt.Sprintf("antrea-issuer %s [%s]", label, run.setting),
			fmt.Sprintf("%.1f CR/s = %.2f × ceiling", run.controller.rate(), run.ratio()), "", cpu(run.controller))
		r.add(sc, fmt.Sprintf("  %s: API requests per CR, --kube-api-qps used", label),
			fmt.Sprintf("%.2f PATCH + %.2f POST; %s", run.perRequest("PATCH"), run.perRequest("POST"), run.qpsUse()),
			"", run.controller.api.summary(run.controller.ready))
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

// profileThroughput runs the bare client doing issuer-lib's writes (with the controller's watch
// and token) and antrea-issuer with the default flags once more each, with CPU profiles of every
// process taken while they run (-profile): what the controller makes each process do that the
// bare client does not.
func (b *bench) profileThroughput(ctx context.Context) error {
	b.stopIssuer()
	sources := []profileSource{b.lab.apiServerProfile(), b.lab.etcdProfile()}
	if b.opts.cpuprofile == "" {
		sources = append(sources, selfProfile())
	}
	o := crRunOptions{mode: modeProtocol, n: b.opts.n, concurrency: b.opts.concurrency, extraWatch: true, asIssuer: true}
	b.p.step("profiling: bare client doing issuer-lib's writes with the watch and token, N=%d", b.opts.n)
	var res *crRunResult
	files, err := b.profileDuring(ctx, "protocol", sources, func() (err error) {
		res, err = b.load.run(ctx, o)
		return err
	})
	if err != nil {
		return err
	}
	b.p.step("  %.1f CR/s under the profilers; CPU per request %s: %s", res.rate(), ms(res.cpuPerRequest()), res.cpuBreakdown())
	b.p.step("  %s", profileHint(files))

	s := defaultSetting
	p, err := b.lab.startProfiledIssuer(ctx, s)
	if err != nil {
		return err
	}
	b.issuer = p
	if err := b.lab.waitIssuerReady(ctx); err != nil {
		return err
	}
	if _, err := b.load.run(ctx, crRunOptions{mode: modeController, n: min(50, b.opts.n), concurrency: b.opts.concurrency}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	b.p.step("profiling: antrea-issuer %s --profiler-address, N=%d", s, b.opts.n)
	files, err = b.profileDuring(ctx, "throughput", append(sources, p.profile()), func() (err error) {
		res, err = b.load.run(ctx, crRunOptions{mode: modeController, n: b.opts.n, concurrency: b.opts.concurrency})
		return err
	})
	if err != nil {
		return err
	}
	b.stopIssuer()
	b.p.step("  %.1f CR/s under the profilers; CPU per request %s: %s", res.rate(), ms(res.cpuPerRequest()), res.cpuBreakdown())
	b.p.step("  %s", profileHint(files))
	return nil
}
