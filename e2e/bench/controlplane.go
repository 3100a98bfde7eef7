package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// What the API server did during a run, from its own /metrics (scraped by the admin client
// outside the timed window, so the scrapes are not charged to the run).

// apiServerMetrics scrapes kube-apiserver's /metrics.
func (l *lab) apiServerMetrics(ctx context.Context) (promMetrics, error) {
	body, err := l.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping kube-apiserver's metrics: %w", err)
	}
	return parseProm(bytes.NewReader(body))
}

// apiWork is what the API server served during one run: requests by verb and resource, and
// watch events sent (the fan-out of every write to every watcher) by resource, with their bytes.
type apiWork struct {
	requests    map[string]float64 // "PATCH certificaterequests/status" → count
	watchEvents map[string]float64 // "certificaterequests" → events sent to watchers
	watchBytes  map[string]float64 // "certificaterequests" → bytes of those events
}

// apiWorkBetween is the API server's work between two scrapes.
func apiWorkBetween(before, after promMetrics) apiWork {
	w := apiWork{requests: map[string]float64{}, watchEvents: map[string]float64{}, watchBytes: map[string]float64{}}
	if before == nil || after == nil {
		return w
	}
	for key, v := range after {
		name, lbls := splitSample(key)
		d := v - before[key]
		if d <= 0 {
			continue
		}
		switch name {
		case "apiserver_request_total":
			res := lbls["resource"]
			if res == "" || lbls["verb"] == "WATCH" {
				continue // the scrapes themselves (non-resource), and watches opened
			}
			if sub := lbls["subresource"]; sub != "" {
				res += "/" + sub
			}
			w.requests[lbls["verb"]+" "+res] += d
		case "apiserver_watch_events_total":
			w.watchEvents[watchResource(lbls)] += d
		case "apiserver_watch_events_sizes_sum":
			w.watchBytes[watchResource(lbls)] += d
		}
	}
	return w
}

func watchResource(lbls map[string]string) string {
	if r := lbls["resource"]; r != "" {
		return r
	}
	return strings.ToLower(lbls["kind"])
}

// summary describes the work per request (n requests), the largest items first.
func (w apiWork) summary(n int) string {
	if len(w.requests) == 0 && len(w.watchEvents) == 0 {
		return "(no API server metrics)"
	}
	per := func(m map[string]float64, min float64) []string {
		keys := make([]string, 0, len(m))
		for k, v := range m {
			if v/float64(n) >= min {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
		return keys
	}
	var reqs []string
	for _, k := range per(w.requests, 0.05) {
		reqs = append(reqs, fmt.Sprintf("%.2f %s", w.requests[k]/float64(n), k))
	}
	var watches []string
	for _, k := range per(w.watchEvents, 0.05) {
		watches = append(watches, fmt.Sprintf("%.1f %s (%.1f KB)", w.watchEvents[k]/float64(n), k, w.watchBytes[k]/float64(n)/1000))
	}
	return fmt.Sprintf("requests: %s; watch events sent: %s", strings.Join(reqs, ", "), strings.Join(watches, ", "))
}

// splitSample splits a sample key `name{a="b",c="d"}` into its name and labels.
func splitSample(key string) (string, map[string]string) {
	name, rest, ok := strings.Cut(key, "{")
	lbls := map[string]string{}
	if !ok {
		return name, lbls
	}
	rest = strings.TrimSuffix(rest, "}")
	for rest != "" {
		k, after, ok := strings.Cut(rest, `="`)
		if !ok {
			break
		}
		// Values are quoted; escaped quotes do not occur in the labels read here.
		v, tail, _ := strings.Cut(after, `"`)
		lbls[strings.TrimPrefix(k, ",")] = v
		rest = strings.TrimPrefix(tail, ",")
	}
	return name, lbls
}

// CPU profiles of the processes of a run, taken while it goes on.

// profileSource takes one CPU profile of a process for d and writes it to w.
type profileSource struct {
	name string
	take func(ctx context.Context, d time.Duration, w io.Writer) error
}

// profileChunk is the length of each CPU profile taken while a profiled run goes on.
const profileChunk = 5 * time.Second

// apiServerProfile profiles kube-apiserver through its /debug/pprof (served to an admin client).
func (l *lab) apiServerProfile() profileSource {
	return profileSource{name: "kube-apiserver", take: func(ctx context.Context, d time.Duration, w io.Writer) error {
		body, err := l.kube.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", fmt.Sprint(int(d.Seconds()))).DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("profiling kube-apiserver: %w", err)
		}
		_, err = w.Write(body)
		return err
	}}
}

// etcdProfile profiles etcd through its /debug/pprof (testenv.Options.EtcdProfiling).
func (l *lab) etcdProfile() profileSource {
	return profileSource{name: "etcd", take: func(ctx context.Context, d time.Duration, w io.Writer) error {
		return httpProfile(ctx, l.env.EtcdURL(), d, w)
	}}
}

// selfProfile profiles this process (the load generator, its watches, and cert-manager's
// controllers in scenario 3). Not with -cpuprofile, which holds the process's one profiler.
func selfProfile() profileSource {
	return profileSource{name: "bench", take: func(ctx context.Context, d time.Duration, w io.Writer) error {
		if err := pprof.StartCPUProfile(w); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		return nil
	}}
}

// issuerProfile profiles antrea-issuer through its --profiler-address.
func (p *issuerProc) profile() profileSource {
	return profileSource{name: "antrea-issuer", take: func(ctx context.Context, d time.Duration, w io.Writer) error {
		return httpProfile(ctx, "http://"+p.profilerAddr, d, w)
	}}
}

func httpProfile(ctx context.Context, base string, d time.Duration, w io.Writer) error {
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(base, "/"), int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling %s: %s", base, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// profileDuring takes CPU profiles of every source, one after another per source and all sources
// at once, for as long as run runs, into DIR/<run>-<source>-NN.pprof; `go tool pprof` merges the
// files it is given. The last profile ends at most profileChunk after run. It returns the files
// by source.
func (b *bench) profileDuring(ctx context.Context, runName string, sources []profileSource, run func() error) (map[string][]string, error) {
	dir, err := filepath.Abs(b.opts.profile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	var mu sync.Mutex
	files := map[string][]string{}
	var firstErr error
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				file := filepath.Join(dir, fmt.Sprintf("%s-%s-%02d.pprof", runName, src.name, i))
				err := writeProfile(ctx, src, file)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				files[src.name] = append(files[src.name], file)
				mu.Unlock()
			}
		})
	}
	runErr := run()
	close(stop)
	wg.Wait()
	if runErr != nil {
		return files, runErr
	}
	return files, firstErr
}

func writeProfile(ctx context.Context, src profileSource, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := src.take(ctx, profileChunk, f); err != nil {
		_ = f.Close()
		_ = os.Remove(file)
		return err
	}
	return f.Close()
}

// profileHint says how to read the profiles of one run.
func profileHint(files map[string][]string) string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		fs := files[name]
		if len(fs) == 0 {
			continue
		}
		pattern := strings.TrimSuffix(fs[0], "-00.pprof") + "-*.pprof"
		parts = append(parts, fmt.Sprintf("%s: go tool pprof -top %s", name, pattern))
	}
	return strings.Join(parts, "; ")
}
