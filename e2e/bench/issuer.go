package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
)

// setting is one set of antrea-issuer flags under test.
type setting struct {
	Name    string
	Workers int
	QPS     float64
	Burst   int
	// Binary, when set, is an antrea-issuer binary to run instead of the one built from the tree
	// (-compare: another commit's, measured side by side).
	Binary string
}

func (s setting) args() []string {
	return []string{
		"--workers=" + strconv.Itoa(s.Workers),
		"--kube-api-qps=" + strconv.FormatFloat(s.QPS, 'f', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(s.Burst),
	}
}

func (s setting) String() string {
	flags := fmt.Sprintf("--workers=%d --kube-api-qps=%g --kube-api-burst=%d", s.Workers, s.QPS, s.Burst)
	if s.Binary != "" {
		return s.Binary + " " + flags
	}
	return flags
}

// limited reports whether the setting has a client-side rate limit (--kube-api-qps 0 has none).
func (s setting) limited() bool { return s.QPS > 0 }

// defaultSetting is what cmd/antrea-issuer and the chart default to: no client-side limit.
var defaultSetting = setting{Name: "default", Workers: 4}

// issuerProc is the antrea-issuer binary running as its own process with the chart's arguments,
// its ServiceAccount's token, and a metrics endpoint the bench scrapes.
type issuerProc struct {
	*localcluster.IssuerProcess
	// profilerAddr serves pprof when the process was started with --profiler-address.
	profilerAddr string
	setting      setting
}

// startIssuer starts antrea-issuer with the chart's arguments followed by s's flags (later flags
// win) and waits until it is ready.
func (l *lab) startIssuer(ctx context.Context, s setting) (*issuerProc, error) {
	return l.startProcess(ctx, append(append([]string{}, l.chartArgs...), s.args()...), s)
}

// startProfiledIssuer starts antrea-issuer as startIssuer does, with its pprof endpoints on
// (--profiler-address): the profile is of the very binary the other runs measure.
func (l *lab) startProfiledIssuer(ctx context.Context, s setting) (*issuerProc, error) {
	port, err := localcluster.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append(append(append([]string{}, l.chartArgs...), s.args()...), "--profiler-address="+addr)
	p, err := l.startProcess(ctx, args, s)
	if err != nil {
		return nil, err
	}
	p.profilerAddr = addr
	// The profiler is one of the manager's runnables: it may start just after /readyz answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/debug/pprof/")
		if err == nil {
			_ = resp.Body.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("antrea-issuer's profiler not serving on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProcess runs antrea-issuer with args, its ServiceAccount's kubeconfig and local ports for
// metrics and health, and waits until it reports ready and serves its own metrics. The ports are
// picked free a moment before the process binds them, and other processes on a shared machine
// may take one meanwhile: then the process exits just after reporting ready, and is started again.
func (l *lab) startProcess(ctx context.Context, args []string, s setting) (*issuerProc, error) {
	bin := l.bin
	if s.Binary != "" {
		bin = s.Binary
		var err error
		if args, err = argsKnownTo(ctx, bin, args); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for range 3 {
		p := &localcluster.IssuerProcess{Binary: bin, Kubeconfig: l.issuerKubeconfig, Args: args, Log: l.issuerLog, MetricsBindAddress: "127.0.0.1:0"}
		fmt.Fprintf(l.issuerLog, "\n==== %s antrea-issuer %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
		if err := p.Start(ctx); err != nil {
			return nil, fmt.Errorf("%w (log: %s)", err, l.issuerLog.Name())
		}
		proc := &issuerProc{IssuerProcess: p, setting: s}
		if lastErr = proc.servesOwnMetrics(ctx); lastErr == nil {
			return proc, nil
		}
		proc.stop()
	}
	return nil, fmt.Errorf("antrea-issuer did not stay up: %w (log: %s)", lastErr, l.issuerLog.Name())
}

// argsKnownTo drops from args the flags an older binary (-compare) does not define: the chart's
// arguments come from the tree, and a flag added since would stop the older binary at start. The
// older binary then runs with its own default for what the flag sets, as it would in a release
// of its time.
func argsKnownTo(ctx context.Context, bin string, args []string) ([]string, error) {
	usage, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput() // flag's usage, then exit 0 or 2
	known := map[string]bool{}
	for _, line := range strings.Split(string(usage), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			known[strings.Fields(name)[0]] = true
		}
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("%s -h listed no flags", bin)
	}
	var out []string
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || known[name] {
			out = append(out, a)
		}
	}
	return out, nil
}

// servesOwnMetrics checks, for up to 5 s, that the process serves antrea-issuer's metrics and is
// still alive.
func (p *issuerProc) servesOwnMetrics(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		text, err := p.Metrics(ctx)
		if err == nil && !strings.Contains(text, `controller="certificaterequest"`) {
			err = fmt.Errorf("the metrics endpoint is not antrea-issuer's")
		}
		if err == nil && !alive(p.pid()) {
			err = fmt.Errorf("antrea-issuer exited after start-up")
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// stop sends SIGTERM (the process releases its leader Lease) and waits for it to exit.
func (p *issuerProc) stop() {
	if p != nil {
		_ = p.Stop(false)
	}
}

func (p *issuerProc) pid() int { return p.PID() }

// rss is the process's resident set size (VmRSS) and its peak (VmHWM), in bytes.
func (p *issuerProc) rss() (rss, hwm int64, err error) { return procRSS(p.pid()) }

func procRSS(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v * 1024
		case "VmHWM:":
			hwm = v * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// cpuTime is the CPU time (user + system) the process has used.
func (p *issuerProc) cpuTime() (time.Duration, error) { return procCPU(p.pid()) }

func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// childPID finds a direct child of this process by command name (the envtest control plane).
func childPID(comm string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self && s[open+1:closing] == comm {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %q", comm)
}

// metrics scrapes the process's /metrics (Prometheus text format).
func (p *issuerProc) metrics() (promMetrics, error) {
	text, err := p.Metrics(context.Background())
	if err != nil {
		return nil, err
	}
	return parseProm(strings.NewReader(text))
}

// promMetrics maps a sample's name with its labels as printed (`name{a="b"}`) to its value.
type promMetrics map[string]float64

// parseProm reads the Prometheus text exposition format; it needs no dependency beyond what
// go.mod already lists directly.
func parseProm(r io.Reader) (promMetrics, error) {
	out := promMetrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// get returns the value of the sample whose name is name and whose labels include every
// label given as `k="v"`.
func (m promMetrics) get(name string, labels ...string) float64 {
	for k, v := range m {
		if sampleMatches(k, name, labels) {
			return v
		}
	}
	return 0
}

// sumOf adds every sample of name whose labels include all of labels.
func (m promMetrics) sumOf(name string, labels ...string) float64 {
	var sum float64
	for k, v := range m {
		if sampleMatches(k, name, labels) {
			sum += v
		}
	}
	return sum
}

// sampleMatches reports whether the sample key (`name{a="b"}`) has name and every label.
func sampleMatches(key, name string, labels []string) bool {
	base, lbls, _ := strings.Cut(key, "{")
	if base != name {
		return false
	}
	for _, l := range labels {
		if !strings.Contains(lbls, l) {
			return false
		}
	}
	return true
}

// histogram is a Prometheus histogram's cumulative buckets, sum and count.
type histogram struct {
	buckets map[float64]float64 // upper bound -> cumulative count
	sum     float64
	count   float64
}

func (m promMetrics) histogram(name string, labels ...string) histogram {
	h := histogram{buckets: map[float64]float64{}}
	for k, v := range m {
		base, lbls, _ := strings.Cut(k, "{")
		match := true
		for _, l := range labels {
			if !strings.Contains(lbls, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch base {
		case name + "_sum":
			h.sum = v
		case name + "_count":
			h.count = v
		case name + "_bucket":
			_, le, _ := strings.Cut(lbls, `le="`)
			le, _, _ = strings.Cut(le, `"`)
			ub, err := strconv.ParseFloat(le, 64)
			if le == "+Inf" {
				ub, err = inf, nil
			}
			if err == nil {
				h.buckets[ub] = v
			}
		}
	}
	return h
}

// minus is the histogram of the observations made between before and h.
func (h histogram) minus(before histogram) histogram {
	out := histogram{buckets: map[float64]float64{}, sum: h.sum - before.sum, count: h.count - before.count}
	for ub, v := range h.buckets {
		out.buckets[ub] = v - before.buckets[ub]
	}
	return out
}

func (h histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / h.count * float64(time.Second))
}

// quantileUpperBound is the upper bound of the bucket holding quantile q: the histogram
// cannot say more precisely.
func (h histogram) quantileUpperBound(q float64) float64 {
	bounds := make([]float64, 0, len(h.buckets))
	for ub := range h.buckets {
		bounds = append(bounds, ub)
	}
	sort.Float64s(bounds)
	for _, ub := range bounds {
		if h.buckets[ub] >= q*h.count {
			return ub
		}
	}
	return inf
}

var inf = math.Inf(1)
