// Command bench measures antrea-issuer on a real local control plane (etcd and kube-apiserver
// from bin/k8s, cert-manager's real controllers in-process, antrea-issuer as its own process)
// and prints one table. Every figure is a ratio against something measured in the same run on
// the same machine: `make bench`, or `go run ./bench -h`. docs/benchmarks.md explains the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"antrea.io/antrea-issuer/internal/testenv"
)

var allScenarios = []string{"throughput", "latency", "cpu", "propagation", "certmanager", "memory"}

type options struct {
	n           int
	rounds      int
	concurrency int
	scenarios   []string
	sweep       []setting
	best        setting // used by latency when throughput is not run

	idleN     int
	pacedN    int
	pacedRate float64
	// targetRate is the pace of the throughput target's runs, both sides, in requests per second.
	targetRate float64
	// saturatedRounds are rounds of the same alternation as fast as -concurrency allows.
	saturatedRounds int

	cmN        int
	cmRate     float64
	cmRounds   int
	cmDefaultN int
	cmWorkers  int
	cmBest     bool
	cmBare     bool

	changes int

	secretMiB  int
	configMaps int
	settle     time.Duration

	explain       bool
	issuerMetrics bool
	out           string
	cpuprofile    string
	profile       string
	// compares are the settings running the -compare binaries.
	compares []setting
}

func main() {
	if err := run(); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "interrupted")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

func run() error {
	o := options{}
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.IntVar(&o.n, "n", 1000, "CertificateRequests per throughput run")
	fs.IntVar(&o.rounds, "rounds", 6, "rounds of the throughput target (antrea-issuer with the default flags, then the bare-client reference again), at -target-rate")
	fs.Float64Var(&o.targetRate, "target-rate", 40, "requests per second both sides of the throughput target are paced at; it must stay below both sides' rate as fast as they go, or CPU per request measures the contention of a CPU-bound machine")
	fs.IntVar(&o.saturatedRounds, "saturated-rounds", 2, "rounds of the same alternation as fast as -concurrency allows (at least 1: its first antrea-issuer run gives the rate against the ceiling)")
	fs.IntVar(&o.concurrency, "concurrency", 16, "requests the load generator works on at once")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run: "+strings.Join(allScenarios, ","))
	sweep := fs.String("sweep", "16:0:0", "antrea-issuer settings tried besides the defaults, workers:qps:burst,...")
	best := fs.String("best", "16:500:1000", "setting used by -scenarios=latency when throughput does not run to find the best")
	fs.IntVar(&o.idleN, "idle-n", 100, "requests issued one at a time for the idle latency")
	fs.IntVar(&o.pacedN, "paced-n", 400, "requests for the paced latency")
	fs.Float64Var(&o.pacedRate, "paced-rate", 20, "requests per second for the paced latency")
	fs.IntVar(&o.cmN, "cm-n", 250, "Certificates per flow and round through cert-manager")
	fs.Float64Var(&o.cmRate, "cm-rate", 8, "Certificates per second created in the rounds of the cert-manager flows (target 2), below every flow's rate as fast as it goes; 0: all at once, -concurrency at a time")
	fs.IntVar(&o.cmRounds, "cm-rounds", 4, "rounds of the cert-manager flows (AntreaClusterIssuer, CA issuer, bare issuer, -compare binaries), in reverse order every other round, summed per flow")
	fs.IntVar(&o.cmDefaultN, "cm-default-n", 500, "Certificates through cert-manager at its default client limits (QPS 20, burst 50); 0 skips")
	fs.BoolVar(&o.cmBest, "cm-best", true, "also run the AntreaClusterIssuer flow with the best antrea-issuer setting")
	fs.BoolVar(&o.cmBare, "cm-bare", true, "also run a bare issuer in each cert-manager round: issuer-lib's writes with antrea-issuer's watch and token and nothing else, in this process, antrea-issuer stopped")
	fs.IntVar(&o.cmWorkers, "cm-workers", 5, "workers per cert-manager controller (cert-manager's default: 5)")
	fs.IntVar(&o.changes, "changes", 50, "CA changes for the propagation scenario")
	fs.IntVar(&o.secretMiB, "secret-mib", 1024, "MiB of unrelated Secrets (1 MiB each) for the memory scenario")
	fs.IntVar(&o.configMaps, "configmaps", 10000, "unrelated ConfigMaps for the memory scenario")
	fs.DurationVar(&o.settle, "settle", 15*time.Second, "how long the issuer settles before its memory is sampled")
	quick := fs.Bool("quick", false, "a small smoke run (N=100, 50 Certificates, 10 changes, 64 MiB of Secrets...): minutes, not a record")
	fs.StringVar(&o.out, "out", "", "also write the final table (Markdown) to this file")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the bench process (load generator and in-process cert-manager) to this file")
	fs.BoolVar(&o.explain, "explain", true, "in the throughput scenario, also run issuer-lib's writes from a bare client without the Initializing write, and with each of the controller's other costs added (its watch, its credentials)")
	fs.BoolVar(&o.issuerMetrics, "issuer-metrics", false, "print antrea-issuer's metrics that grew by at least N/2 during each cert-manager run (which controllers reconciled how often)")
	compare := fs.String("compare", "", "comma-separated antrea-issuer binaries (built from other commits) to run next to the tree's with the default flags, in each round of the throughput target and of the cert-manager flows")
	fs.StringVar(&o.profile, "profile", "", "run the throughput and cert-manager flows once more each with CPU profiles of kube-apiserver, etcd, this process and antrea-issuer (--profiler-address) taken while they run, 5 s each, into this folder as <run>-<process>-NN.pprof")
	_ = fs.Parse(os.Args[1:])

	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("n", func() { o.n = 100 })
		def("rounds", func() { o.rounds = 1 })
		def("saturated-rounds", func() { o.saturatedRounds = 1 })
		def("sweep", func() { *sweep = "" })
		def("idle-n", func() { o.idleN = 20 })
		def("paced-n", func() { o.pacedN = 100 })
		def("cm-n", func() { o.cmN = 50 })
		def("cm-rounds", func() { o.cmRounds = 1 })
		def("cm-default-n", func() { o.cmDefaultN = 10 })
		def("changes", func() { o.changes = 10 })
		def("secret-mib", func() { o.secretMiB = 64 })
		def("configmaps", func() { o.configMaps = 1000 })
		def("settle", func() { o.settle = 5 * time.Second })
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ","))
		}
		o.scenarios = append(o.scenarios, s)
	}
	if o.saturatedRounds < 1 || o.rounds < 1 || o.targetRate <= 0 || o.cmRate < 0 {
		return fmt.Errorf("-rounds and -saturated-rounds must be at least 1, -target-rate above 0, -cm-rate 0 or more")
	}
	var err error
	if o.sweep, err = parseSweep(*sweep); err != nil {
		return err
	}
	for _, path := range strings.Split(*compare, ",") {
		if path = strings.TrimSpace(path); path == "" {
			continue
		}
		bin, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("-compare: %w", err)
		}
		o.compares = append(o.compares, setting{Name: "compare " + filepath.Base(bin), Workers: defaultSetting.Workers, Binary: bin})
	}
	bs, err := parseSweep(*best)
	if err != nil || len(bs) != 1 {
		return fmt.Errorf("-best: want one workers:qps:burst (%v)", err)
	}
	o.best = bs[0]

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// Libraries in this process (controller-runtime clients, the Antrea stand-ins) log through
	// controller-runtime's logger: nothing of theirs belongs in the table.
	crlog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opts: o, p: &progress{out: os.Stdout, start: time.Now()}, r: &report{out: os.Stdout}}
	return b.run(ctx)
}

// bench is one run: the lab, the current antrea-issuer process, and the report.
type bench struct {
	opts   options
	p      *progress
	r      *report
	lab    *lab
	load   *crLoad
	issuer *issuerProc

	throughput *throughputScenario
}

func (b *bench) run(ctx context.Context) error {
	machine := machineInfo()
	fmt.Println("antrea-issuer benchmarks:", strings.Join(b.opts.scenarios, ", "))
	fmt.Println(machine)
	fmt.Println("code:", codeVersion())
	l, err := startLab(ctx, b.p)
	if err != nil {
		return err
	}
	b.lab = l
	defer func() {
		b.stopIssuer()
		l.stop()
	}()
	b.p.step("logs: %s (antrea-issuer), %s (cert-manager)", l.issuerLog.Name(), l.cmLog.Name())
	if b.load, err = newCRLoad(l); err != nil {
		return err
	}
	b.load.procs = b.processes
	started := time.Now()
	for _, s := range b.opts.scenarios {
		if err := b.scenario(ctx, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s, err)
		}
	}
	fmt.Printf("\n## Results (%s; scenarios took %s; load average at end %s)\n\n", machine, time.Since(started).Round(time.Second), loadAverage())
	b.r.print()
	if b.opts.out != "" {
		f, err := os.Create(b.opts.out)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(f, "%s; load average at end %s\n\n", machine, loadAverage())
		printTable(f, b.r.rows)
	}
	return nil
}

func (b *bench) scenario(ctx context.Context, name string) error {
	b.p.step("=== %s", name)
	var err error
	switch name {
	case "throughput":
		b.throughput, err = runThroughput(ctx, b)
		if err == nil {
			b.throughput.report(b.r, b.opts.n, b.opts.concurrency)
			b.r.section("1 throughput")
		}
		if err == nil && b.opts.profile != "" {
			err = b.profileThroughput(ctx)
		}
	case "latency":
		err = runLatency(ctx, b)
	case "cpu":
		err = runCPU(ctx, b)
	case "propagation":
		err = runPropagation(ctx, b)
	case "certmanager":
		err = runCertManager(ctx, b)
	case "memory":
		err = runMemory(ctx, b)
	}
	return err
}

// ensureIssuer makes antrea-issuer run with s (restarting it if it runs with other flags) and
// waits for the bench issuer to be Ready.
func (b *bench) ensureIssuer(ctx context.Context, s setting) error {
	if b.issuer != nil && b.issuer.setting == s {
		return nil
	}
	b.stopIssuer()
	p, err := b.lab.startIssuer(ctx, s)
	if err != nil {
		return err
	}
	b.issuer = p
	return b.lab.waitIssuerReady(ctx)
}

func (b *bench) stopIssuer() {
	if b.issuer != nil {
		b.issuer.stop()
		b.issuer = nil
	}
}

// processes names the processes of the run whose CPU time is accounted: the control plane, this
// process (load generator, watches, in-process cert-manager) and antrea-issuer.
func (b *bench) processes() map[string]int {
	out := map[string]int{"bench": os.Getpid()}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if pid, err := childPID(name); err == nil {
			out[name] = pid
		}
	}
	if b.issuer != nil {
		out["antrea-issuer"] = b.issuer.pid()
	}
	return out
}

// bestSetting is the setting with the best ratio found by the throughput scenario, or -best.
func (b *bench) bestSetting() setting {
	if b.throughput != nil && b.throughput.best != nil {
		return b.throughput.best.setting
	}
	return b.opts.best
}

// machineInfo describes the machine: CPUs, model, memory, Go version and load.
func machineInfo() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		_, _ = fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d CPUs (%s), %s RAM, %s %s/%s, load average at start %s",
		runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())
}

// codeVersion is the commit measured, and whether the tree had local changes.
func codeVersion() string {
	out, err := exec.Command("git", "-C", testenv.RepoRoot(), "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown (no git)"
	}
	return strings.TrimSpace(string(out))
}

func loadAverage() string {
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			return strings.Join(f[:3], " ")
		}
	}
	return "?"
}
